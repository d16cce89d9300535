package fleetverify

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func readFixture(t *testing.T, name string) *Fleet {
	t.Helper()
	f, err := ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestTextGolden(t *testing.T) {
	f := readFixture(t, "fleet-e2e.json")
	var b bytes.Buffer
	if err := f.Text(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "fleet-e2e.txt", b.Bytes())
	// The matrix comes first, then only what failed, grouped by check.
	s := b.String()
	if i, j := strings.Index(s, "HOST "), strings.Index(s, "Failed checks"); i < 0 || j < i {
		t.Errorf("matrix (%d) must precede the failures (%d)", i, j)
	}
	if strings.Contains(s, "PASS") {
		t.Error("text lists passing checks")
	}
}

func TestBaseline(t *testing.T) {
	f := readFixture(t, "fleet-e2e.json")
	f.Compare("lastweek.json", readFixture(t, "fleet-e2e-lastweek.json"))
	got := map[string]string{}
	for _, c := range f.Baseline.Changes {
		got[c.Host+" "+c.Check] = c.Kind + " " + string(c.From) + "->" + string(c.To)
	}
	want := map[string]string{
		"web3 ssh.password-authentication": "regression pass->fail",
		"web1 ssh.x11-forwarding":          "regression pass->fail",
		"web2 ssh.permit-root-login":       "fixed fail->pass",
		"down ssh.sshd-discovered":         "worse pass->unknown",
	}
	if len(got) != len(want) {
		t.Errorf("changes %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if n := f.Baseline.Regressions(); n != 2 {
		t.Errorf("regressions = %d, want 2", n)
	}
	// Against itself nothing changed.
	same := readFixture(t, "fleet-e2e.json")
	same.Compare("same.json", readFixture(t, "fleet-e2e.json"))
	if len(same.Baseline.Changes) != 0 {
		t.Errorf("a run compared with itself has changes: %v", same.Baseline.Changes)
	}
	var b bytes.Buffer
	if err := f.Text(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "fleet-e2e-baseline.txt", b.Bytes())
}

func TestJUnitSuitePerHost(t *testing.T) {
	f := readFixture(t, "fleet-e2e.json")
	var b bytes.Buffer
	if err := f.JUnit(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Errors   int    `xml:"errors,attr"`
			Cases    []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
				Error   *struct{} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if len(doc.Suites) != len(f.Hosts) {
		t.Fatalf("%d suites, want one per host (%d)", len(doc.Suites), len(f.Hosts))
	}
	all := 0
	for i, s := range doc.Suites {
		h := f.Hosts[i]
		sum := check.Summarize(h.Results)
		fails, errs := 0, 0
		for _, c := range s.Cases {
			if c.Failure != nil {
				fails++
			}
			if c.Error != nil {
				errs++
			}
		}
		if s.Name != h.Target.Name || len(s.Cases) != sum.Total || fails != sum.Fail || s.Failures != sum.Fail || errs != sum.Unknown {
			t.Errorf("suite %q: %d cases, %d failures (attr %d), %d errors; want %s with %+v", s.Name, len(s.Cases), fails, s.Failures, errs, h.Target.Name, sum)
		}
		all += sum.Total
	}
	if doc.Tests != all {
		t.Errorf("tests = %d, want %d", doc.Tests, all)
	}
}

func TestSARIFRunPerHost(t *testing.T) {
	f := readFixture(t, "fleet-e2e.json")
	var b bytes.Buffer
	if err := f.SARIF(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version string `json:"version"`
		Runs    []struct {
			Properties map[string]string `json:"properties"`
			Results    []struct {
				Kind string `json:"kind"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != "2.1.0" || len(doc.Runs) != len(f.Hosts) {
		t.Fatalf("version %q, %d runs; want 2.1.0 and %d", doc.Version, len(doc.Runs), len(f.Hosts))
	}
	for i, r := range doc.Runs {
		h := f.Hosts[i]
		fails := 0
		for _, x := range r.Results {
			if x.Kind == "fail" {
				fails++
			}
		}
		if r.Properties["host"] != h.Target.Name || fails != check.Summarize(h.Results).Fail {
			t.Errorf("run %d: host %q with %d fails, want %s with %d", i, r.Properties["host"], fails, h.Target.Name, check.Summarize(h.Results).Fail)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	f := readFixture(t, "fleet-e2e.json")
	var b bytes.Buffer
	if err := f.JSON(&b); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join("testdata", "fleet-e2e.json"))
	var x, y map[string]any
	if err := json.Unmarshal(b.Bytes(), &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &y); err != nil {
		t.Fatal(err)
	}
	xh, yh := x["hosts"].([]any), y["hosts"].([]any)
	for i := range yh {
		a, b := xh[i].(map[string]any), yh[i].(map[string]any)
		for _, k := range []string{"name", "address", "reported_hostname", "policy_sha256", "error", "rampart_version"} {
			if a[k] != b[k] {
				t.Errorf("hosts[%d].%s = %v, want %v", i, k, a[k], b[k])
			}
		}
		ac, bc := a["report"].(map[string]any)["checks"].([]any), b["report"].(map[string]any)["checks"].([]any)
		if len(ac) != len(bc) {
			t.Errorf("hosts[%d]: %d checks, want %d", i, len(ac), len(bc))
		}
	}
	if x["schema"] != Schema {
		t.Errorf("schema %v", x["schema"])
	}
}

func TestReadRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"schema":   `{"schema":"other/v1"}`,
		"status":   `{"schema":"rampart.verify/v1","host":"h","checks":[{"id":"ssh.x","status":"ok"}]}`,
		"no id":    `{"schema":"rampart.verify/v1","host":"h","checks":[{"status":"pass"}]}`,
		"dup host": `{"schema":"rampart.fleet/v1","hosts":[{"name":"a","report":{"checks":[]}},{"name":"a","report":{"checks":[]}}]}`,
		"not json": `<html>`,
	} {
		if _, err := Read(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestInventory(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "web.toml")
	if err := os.WriteFile(pol, []byte("profile = \"baseline\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `user = "admin"
port = 2222
known_hosts = ["kh"]

[group.web]
policy = "web.toml"
labels = ["prod"]
proxy_jump = "bastion"

[[host]]
name = "bastion"
address = "203.0.113.1"
port = 22

[[host]]
name = "web1"
group = "web"
address = "192.0.2.10"
labels = ["eu"]
sshd_config = ["/etc/ssh/sshd_config"]

[[host]]
name = "db1"
user = "root"
proxy_jump = "ops@198.51.100.1:2200"
timeout = "5s"
`
	inv, err := ParseInventory(filepath.Join(dir, "fleet.toml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Hosts) != 3 || inv.KnownHosts[0] != filepath.Join(dir, "kh") {
		t.Fatalf("%+v", inv)
	}
	b, w, d := inv.Hosts[0], inv.Hosts[1], inv.Hosts[2]
	if b.Dest() != "admin@203.0.113.1" || b.ProxyJump != nil {
		t.Errorf("bastion: %s via %v", b.Dest(), b.ProxyJump)
	}
	if w.Dest() != "admin@192.0.2.10:2222" || w.ProxyJump != b || w.Policy != pol || strings.Join(w.Labels, ",") != "prod,eu" {
		t.Errorf("web1: %s via %v, policy %s, labels %v", w.Dest(), w.ProxyJump, w.Policy, w.Labels)
	}
	if d.Dest() != "root@db1:2222" || d.ProxyJump.Dest() != "ops@198.51.100.1:2200" || d.Timeout.Seconds() != 5 {
		t.Errorf("db1: %s via %s, timeout %s", d.Dest(), d.ProxyJump.Dest(), d.Timeout)
	}
}

func TestInventoryErrors(t *testing.T) {
	src := `usr = "admin"
port = 70000

[group.web]
lables = ["prod"]

[[host]]
name = "web1"
group = "wbe"
timeout = "soon"

[[host]]
name = "web1"
address = "a b"

[[host]]
address = "192.0.2.1"
labels = ["Prod"]

[[host]]
name = "loop1"
proxy_jump = "loop2"

[[host]]
name = "loop2"
proxy_jump = "loop1"
policy = "missing.toml"
`
	_, err := ParseInventory("fleet.toml", []byte(src))
	var es policy.Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %v is not policy.Errors", err)
	}
	want := []string{
		`fleet.toml:1:1: usr: unknown key (did you mean "user"?)`,
		`fleet.toml:2:8: port: must be a number from 1 to 65535`,
		`fleet.toml:5:1: group.web.lables: unknown key (did you mean "labels"?)`,
		`fleet.toml:9:9: host[0].group: no group "wbe" (expected one of web)`,
		`fleet.toml:10:11: host[0].timeout: "soon" is not a positive duration (e.g. "30s", "2m")`,
		`fleet.toml:13:8: host[1].name: "web1" is already defined`,
		`fleet.toml:14:11: host[1].address: "a b" is not a host name or address (user and port are separate keys)`,
		`fleet.toml:16:1: host[2]: name is required`,
		`fleet.toml:18:11: host[2].labels[0]: "Prod": labels are lower-case letters, digits and . _ = -`,
		`fleet.toml:22:14: host[3].proxy_jump: jump hosts form a loop through "loop1"`,
		`fleet.toml:26:14: host[4].proxy_jump: jump hosts form a loop through "loop2"`,
		`fleet.toml:27:10: host[4].policy: policy file: stat missing.toml: no such file or directory`,
	}
	got := strings.Split(es.Error(), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := ParseInventory("bad.toml", []byte("[[host]\nname = 1\n")); err == nil || !strings.HasPrefix(err.Error(), "bad.toml:1:") {
		t.Errorf("syntax error: %v", err)
	}
	if _, err := ParseInventory("empty.toml", []byte("user = \"a\"\n")); err == nil || !strings.Contains(err.Error(), "no hosts") {
		t.Errorf("no hosts: %v", err)
	}
}

// The OS a host's os-release names travels in its report ("os") and
// comes back from the document; what a file holds is text, never
// terminal control.
func TestJSONCarriesOS(t *testing.T) {
	f := readFixture(t, "fleet-e2e.json")
	f.Hosts[0].OS = "Debian GNU/Linux 12 (bookworm)"
	f.Hosts[1].OS = "Evil\x1b[2J OS"
	var b bytes.Buffer
	if err := f.JSON(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b.Bytes(), []byte(`"os": "Debian GNU/Linux 12 (bookworm)"`)) {
		t.Fatalf("no os in the host's report:\n%.600s", b.String())
	}
	g, err := Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	if g.Hosts[0].OS != "Debian GNU/Linux 12 (bookworm)" || g.Hosts[1].OS != `Evil\x1b[2J OS` || g.Hosts[2].OS != "" {
		t.Errorf("OS after the round trip: %q, %q, %q", g.Hosts[0].OS, g.Hosts[1].OS, g.Hosts[2].OS)
	}
}

// JSON builds the document in parts (the hosts side by side); its bytes
// are those of encoding the whole document at once, with text that
// encoding/json escapes and with no host at all.
func TestJSONParts(t *testing.T) {
	f := readFixture(t, "fleet-e2e.json")
	f.Hosts[0].OS = "<script>&\u2028\x1b[2J"
	f.Hosts[1].Target.Labels = nil
	f.Hosts[1].Published, f.Hosts[1].Age = time.Date(2026, 12, 1, 2, 3, 4, 5, time.UTC), 90*time.Second
	for _, hosts := range [][]*HostRun{f.Hosts, f.Hosts[:1], nil} {
		g := *f
		g.Hosts = hosts
		var got, want bytes.Buffer
		if err := g.JSON(&got); err != nil {
			t.Fatal(err)
		}
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		if err := enc.Encode(g.doc()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("%d hosts: the parts differ from the whole document:\n%s\nwant\n%s", len(hosts), got.String(), want.String())
		}
	}
}

func TestParseJumps(t *testing.T) {
	chain := func(j *Target) string {
		var hops []string
		for ; j != nil; j = j.ProxyJump {
			hops = append([]string{j.Dest()}, hops...)
		}
		return strings.Join(hops, " > ")
	}
	for _, tc := range []struct{ spec, want, err string }{
		{spec: "bastion", want: "bastion"},
		{spec: "ops@bastion:2222", want: "ops@bastion:2222"},
		{spec: " edge , ops@inner:2200 ,[2001:db8::7]:22", want: "edge > ops@inner:2200 > [2001:db8::7]"},
		{spec: "edge,,inner", err: `jump host 2 of "edge,,inner" is empty`},
		{spec: "", err: `jump host 1 of "" is empty`},
		{spec: "edge,bad host", err: "bad host"},
	} {
		j, err := ParseJumps(tc.spec)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseJumps(%q) = %s, %v; want an error with %q", tc.spec, chain(j), err, tc.err)
			}
		case err != nil || chain(j) != tc.want:
			t.Errorf("ParseJumps(%q) = %q, %v; want %q", tc.spec, chain(j), err, tc.want)
		}
	}
}
