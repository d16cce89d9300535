package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-sec/rampart/internal/check"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func sample() (Meta, []check.Result) {
	m := Meta{Tool: "rampart verify", Version: "test", Host: "admin@203.0.113.5", OS: "Debian GNU/Linux 12 (bookworm)", Policy: "/etc/rampart/policy.toml",
		Release: "24.11", Started: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC), Duration: 843 * time.Millisecond}
	rs := []check.Result{
		{ID: "ssh.password-authentication", Title: "SSH password authentication is off for every connection", Area: "ssh",
			Severity: check.Critical, Status: check.Fail,
			Message: "passwordauthentication yes for 2 of 6 connection specs (/etc/ssh/sshd_config (pid 812): user=root,host=100.101.102.103,addr=100.101.102.103); the policy wants no",
			Evidence: []check.Evidence{{Source: "sshd -T -f /etc/ssh/sshd_config -C user=root,host=100.101.102.103,addr=100.101.102.103",
				Text: "passwordauthentication yes\nfor /etc/ssh/sshd_config (pid 812): user=root,host=100.101.102.103,addr=100.101.102.103"}},
			Remediation: check.Remediation{NixOS: "services.openssh.settings.PasswordAuthentication = false;",
				Generic: "set \"PasswordAuthentication no\" in sshd_config, remove it from every Match block, and reload sshd"},
			Duration: 41 * time.Millisecond},
		{ID: "ssh.max-auth-tries", Title: "SSH MaxAuthTries is at most the policy's", Area: "ssh", Severity: check.Medium, Status: check.Pass,
			Message:  "maxauthtries 3 for all 6 connection specs of 1 sshd",
			Evidence: []check.Evidence{{Source: "sshd -T -f /etc/ssh/sshd_config -C user=root,host=203.0.113.7,addr=203.0.113.7", Text: "maxauthtries 3"}},
			Duration: 40 * time.Millisecond},
		{ID: "time.synchronised", Title: "The clock is synchronised to a real time source", Area: "time", Severity: check.High, Status: check.Unknown,
			Message: "could not read chronyd's tracking status: chronyc: program not found (install it, or run where it is on PATH)", Duration: time.Millisecond},
		{ID: "journald.storage", Title: "journald stores the journal as the policy says", Area: "journald", Severity: check.Medium, Status: check.Warn,
			Message:     "Storage=auto with /var/log/journal present",
			Evidence:    []check.Evidence{{Source: "/etc/systemd/journald.conf", Text: "2: Storage=auto\x1b[2J"}},
			Remediation: check.Remediation{Generic: "in /etc/systemd/journald.conf.d/90-rampart.conf: [Journal] Storage=persistent"}},
		{ID: "ban.jails", Title: "Every policy jail is active", Area: "ban", Severity: check.High, Status: check.Skip,
			Message: "the policy does not enable banning", Evidence: []check.Evidence{}},
	}
	return m, rs
}

func TestGolden(t *testing.T) {
	m, rs := sample()
	for _, tc := range []struct {
		name string
		opts Options
		file string
	}{
		{"text", Options{}, "text.golden"},
		{"text", Options{Color: true}, "text-color.golden"},
		{"text", Options{Verbose: true}, "text-verbose.golden"},
		{"json", Options{}, "json.golden"},
		{"junit", Options{}, "junit.golden"},
		{"sarif", Options{}, "sarif.golden"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tc.name, m, rs, tc.opts); err != nil {
				t.Fatal(err)
			}
			compareGolden(t, tc.file, buf.Bytes())
			// Rendering twice gives the same bytes.
			var again bytes.Buffer
			_ = Write(&again, tc.name, m, rs, tc.opts)
			if again.String() != buf.String() {
				t.Errorf("%s output is not deterministic", tc.name)
			}
		})
	}
}

func TestTextHasNoControlCharsFromEvidence(t *testing.T) {
	m, rs := sample()
	var buf bytes.Buffer
	if err := Text(&buf, m, rs, Options{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "\x1b") {
		t.Errorf("uncoloured text output contains an escape sequence:\n%q", buf.String())
	}
	if !strings.Contains(buf.String(), "5 checks: 1 pass, 1 fail, 1 warn, 1 unknown, 1 skip in 0.84s") {
		t.Errorf("summary line missing:\n%s", buf.String())
	}
}

func TestJSONSchema(t *testing.T) {
	m, rs := sample()
	var buf bytes.Buffer
	if err := JSON(&buf, m, rs); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schema     string `json:"schema"`
		DurationMS int64  `json:"duration_ms"`
		Checks     []struct {
			ID          string            `json:"id"`
			Status      string            `json:"status"`
			Evidence    []json.RawMessage `json:"evidence"`
			Remediation map[string]string `json:"remediation"`
		} `json:"checks"`
		Summary map[string]int `json:"summary"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != Schema || doc.DurationMS != 843 || len(doc.Checks) != 5 || doc.Summary["fail"] != 1 || doc.Summary["total"] != 5 {
		t.Errorf("unexpected document header/summary: %+v", doc)
	}
	for _, c := range doc.Checks {
		if c.Evidence == nil {
			t.Errorf("%s: evidence must be an array, never null", c.ID)
		}
	}
}

func TestJUnitAndSARIFAreWellFormed(t *testing.T) {
	m, rs := sample()
	var j bytes.Buffer
	if err := JUnit(&j, m, rs); err != nil {
		t.Fatal(err)
	}
	var suites JUnitSuites
	if err := xml.Unmarshal(j.Bytes(), &suites); err != nil {
		t.Fatalf("JUnit output is not XML: %v", err)
	}
	if suites.Tests != 5 || suites.Failures != 1 || suites.Errors != 1 || suites.Skipped != 1 || len(suites.Suites) != 4 {
		t.Errorf("JUnit counts: %+v", suites)
	}
	var s bytes.Buffer
	if err := SARIF(&s, m, rs); err != nil {
		t.Fatal(err)
	}
	var log sarifLog
	if err := json.Unmarshal(s.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, r := range log.Runs[0].Results {
		kinds[r.RuleID] = r.Kind + "/" + r.Level
		if log.Runs[0].Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("%s: ruleIndex %d points at %s", r.RuleID, r.RuleIndex, log.Runs[0].Tool.Driver.Rules[r.RuleIndex].ID)
		}
	}
	want := map[string]string{"ssh.password-authentication": "fail/error", "ssh.max-auth-tries": "pass/none",
		"time.synchronised": "open/none", "journald.storage": "fail/warning", "ban.jails": "notApplicable/none"}
	if d := cmp.Diff(want, kinds); d != "" {
		t.Errorf("SARIF kinds (-want +got):\n%s", d)
	}
	if log.Version != "2.1.0" {
		t.Errorf("version %q", log.Version)
	}
}

func TestUnknownFormat(t *testing.T) {
	m, rs := sample()
	if err := Write(&bytes.Buffer{}, "yaml", m, rs, Options{}); err == nil || !strings.Contains(err.Error(), "expected text, json, junit or sarif") {
		t.Errorf("err = %v", err)
	}
}

// compareGolden compares got with testdata/FILE (rewritten under -update).
func compareGolden(t *testing.T, file string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", file)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("output differs from %s (-want +got):\n%s", golden, d)
	}
}
