package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stock-debian12.json is `rampart verify --format json` captured on a
// brand-new Debian 12 machine (default policy, no sshd started since boot,
// fail2ban installed but stopped, no auditd, no chrony); see
// testdata/README.md. Its text rendering is the first thing a new user
// reads, so it is kept as golden files.
func TestStockDebianText(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "stock-debian12.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, rs, err := ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		opts Options
	}{
		{"stock-debian12.text.golden", Options{}},
		{"stock-debian12.summary.golden", Options{Summary: true}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Text(&buf, m, rs, tc.opts); err != nil {
				t.Fatal(err)
			}
			compareGolden(t, tc.file, buf.Bytes())
		})
	}

	var buf bytes.Buffer
	if err := Text(&buf, m, rs, Options{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	// Each shared block is printed once; the other checks name the first.
	for _, block := range []string{
		"\n            the socket does not exist (path from fail2ban's default)\n", // 7 ban checks
		"\n              \"-w /etc/crontab -p wa -k cron\"\n",                      // 5 audit watch checks
		"\n            sshd -T -f /etc/ssh/sshd_config: exit status 255",           // 11 ssh checks
		"\n            506 Cannot talk to daemon\n",                                // 2 time checks
	} {
		if n := strings.Count(out, block); n != 1 {
			t.Errorf("%q printed %d times", block, n)
		}
	}
	if n := strings.Count(out, "evidence and fix: same as ban.actions"); n != 6 {
		t.Errorf("ban checks referring to ban.actions: %d, want 6\n%s", n, out)
	}
	lines := strings.Count(out, "\n")
	if lines > 270 { // 369 before repeated blocks were grouped
		t.Errorf("stock Debian report is %d lines", lines)
	}

	// --summary: the header, one line per check that is not pass or skip,
	// the summary line.
	buf.Reset()
	if err := Text(&buf, m, rs, Options{Summary: true}); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	if got, want := strings.Count(s, "\n"), 1+1+27+11+1+1; got != want {
		t.Errorf("--summary: %d lines, want %d:\n%s", got, want, s)
	}
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if len([]rune(l)) > 200 {
			t.Errorf("--summary line longer than 200 characters: %q", l)
		}
	}
}
