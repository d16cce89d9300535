package logline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseSyslog(t *testing.T) {
	utc := time.UTC
	cases := []struct {
		in               string
		ok               bool
		time             string
		host, ident, msg string
		pid              int
	}{
		{"Nov 14 07:15:17 host sshd-session[123]: Invalid user x from 192.0.2.1", true, "2025-11-14T07:15:17Z", "host", "sshd-session", "Invalid user x from 192.0.2.1", 123},
		{"Nov  4 07:15:17 host sshd[9]: a: b", true, "2025-11-04T07:15:17Z", "host", "sshd", "a: b", 9},
		{"Feb 7 16:01:07 linux sshd[5106]: x", true, "2025-02-07T16:01:07Z", "linux", "sshd", "x", 5106},
		{"Nov 23 21:50:37 sshd[8148]: Connection closed", true, "2025-11-23T21:50:37Z", "", "sshd", "Connection closed", 8148},
		{"Mar  3 00:17:22 [sshd]: User root", true, "2025-03-03T00:17:22Z", "", "sshd", "User root", 0},
		{"Nov 14 07:15:17 host CRON: x", true, "2025-11-14T07:15:17Z", "host", "CRON", "x", 0},
		{"2025-11-14T07:15:17.123456+01:00 web sshd[1]: m", true, "2025-11-14T06:15:17.123456Z", "web", "sshd", "m", 1},
		{"Nov 14 07:15:17 host sshd[12x]: bad pid", false, "", "", "", "", 0},
		{"Foo 14 07:15:17 host sshd[1]: x", false, "", "", "", "", 0},
		{"Nov 14 25:15:17 host sshd[1]: x", false, "", "", "", "", 0},
		{"Nov 14 07:15:17 host no tag here", false, "", "", "", "", 0},
		{"", false, "", "", "", "", 0},
		{"192.0.2.1 - - [14/Nov/2025:07:15:17 +0000] \"GET / HTTP/1.1\" 200", false, "", "", "", "", 0},
	}
	for _, c := range cases {
		l, ok := ParseSyslog(c.in, 2025, utc)
		if ok != c.ok {
			t.Errorf("%q: ok %v, want %v", c.in, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		if got := l.Time.UTC().Format(time.RFC3339Nano); got != c.time || l.Host != c.host || l.Ident != c.ident || l.Message() != c.msg || l.PID != c.pid {
			t.Errorf("%q: got %s %q %q %q %d", c.in, got, l.Host, l.Ident, l.Message(), l.PID)
		}
	}
}

func TestParserYearRollover(t *testing.T) {
	p := Parser{Year: 2024, Loc: time.UTC, Source: "file:/x"}
	a := p.Parse("Dec 31 23:59:59 h sshd[1]: a")
	b := p.Parse("Jan  1 00:00:01 h sshd[1]: b")
	if a.Time.Year() != 2024 || b.Time.Year() != 2025 || b.Source != "file:/x" {
		t.Errorf("rollover: %s then %s (%q)", a.Time, b.Time, b.Source)
	}
}

func TestNginxTimes(t *testing.T) {
	p := Parser{Year: 2025, Loc: time.UTC}
	acc := p.Parse(`192.0.2.1 - x[y [14/Nov/2025:07:15:17 +0100] "GET / HTTP/1.1" 404 1 "-" "-"`)
	if got := acc.Time.UTC().Format(time.RFC3339); got != "2025-11-14T06:15:17Z" || acc.Message() != acc.Text {
		t.Errorf("access log time %s", got)
	}
	errl := p.Parse(`2025/11/14 07:15:17 [error] 1#1: *2 open() failed`)
	if got := errl.Time.Format(time.RFC3339); got != "2025-11-14T07:15:17Z" {
		t.Errorf("error log time %s", got)
	}
	if none := p.Parse("no time at all"); !none.Time.IsZero() {
		t.Errorf("time %s from a line without one", none.Time)
	}
}

func BenchmarkParse(b *testing.B) {
	p := Parser{Year: 2025, Loc: time.UTC}
	for b.Loop() {
		p.Parse("Nov 14 07:15:17 web1 sshd-session[2474058]: Failed password for invalid user admin from 203.0.113.77 port 39690 ssh2")
	}
}

// The seven records of testdata/journal.export, as every captured file
// carries them: the third and sixth are messages from "app" that look like
// whole syslog lines (a timestamp, a host, sshd[1]) and must stay messages.
var captured = []struct {
	ident string
	pid   int
	msg   string
}{
	{"sshd-session", 2101, "Invalid user admin from 192.0.2.7 port 40022"},
	{"sshd-session", 2101, "Failed password for invalid user admin from 192.0.2.7 port 40022 ssh2"},
	{"app", 77, "2026-12-07T07:14:53+0000 web1 sshd[1]: Failed password for root from 203.0.113.66 port 22 ssh2"},
	{"sshd", 2102, "Failed password for root from 192.0.2.7 port 40100 ssh2"},
	{"sshd-session", 2103, "Invalid user 2026-12-07T07:14:53+0000 from 198.51.100.9 port 4022"},
	{"app", 78, "Dec  7 07:14:53 web1 sshd[1]: Invalid user x from 203.0.113.67 port 22"},
	{"sshd-session", 2104, "Connection closed by authenticating user root 2001:db8::23 port 51001 [preauth]"},
}

// journalTimes are the __REALTIME_TIMESTAMPs of testdata/journal.export
// (microseconds since the epoch).
var journalTimes = []int64{1796627693123456, 1796627694623456, 1796627695123457, 1796627696373456, 1796627697123456, 1796627699123455, 1796627754123456}

// TestCapturedFormats parses lines captured from the real tools (see
// testdata/README): journalctl 252 (Debian 12, "+0000" offsets) in every
// short output form, rsyslog 8.2302 with its two file templates and
// syslog-ng 3.38 with ts-format(iso) with and without fractions and its
// default BSD form. Every line parses, the identifier, PID and message are
// the record's, and the time is the record's time at the precision the
// form keeps.
func TestCapturedFormats(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	journal := func(precision time.Duration) func(i int) time.Time {
		return func(i int) time.Time { return time.UnixMicro(journalTimes[i]).Truncate(precision) }
	}
	at := func(s string) func(int) time.Time {
		return func(int) time.Time {
			tm, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				t.Fatal(err)
			}
			return tm
		}
	}
	cases := []struct {
		file string
		loc  *time.Location
		host string
		// want returns line i's time (nil: only the first line is checked
		// against first).
		want  func(i int) time.Time
		first string
	}{
		{"journalctl-short.txt", time.UTC, "web1", journal(time.Second), ""},
		{"journalctl-short-precise.txt", time.UTC, "web1", journal(time.Microsecond), ""},
		{"journalctl-short-iso.txt", time.UTC, "web1", journal(time.Second), ""},
		{"journalctl-short-iso-precise.txt", time.UTC, "web1", journal(time.Microsecond), ""},
		{"journalctl-short-iso-precise-berlin.txt", time.UTC, "web1", journal(time.Microsecond), ""},
		{"journalctl-short-full.txt", time.UTC, "web1", journal(time.Second), ""},
		// short-full writes the abbreviation of the writer's zone: read in
		// that zone it is exact.
		{"journalctl-short-full-new-york.txt", ny, "web1", journal(time.Second), ""},
		{"journalctl-short-unix.txt", time.UTC, "web1", journal(time.Microsecond), ""},
		{"rsyslog-traditional.txt", time.UTC, "web1", nil, "2026-12-07T07:24:10Z"},
		{"rsyslog-fileformat.txt", time.UTC, "web1", nil, "2026-12-07T07:24:10.211285Z"},
		{"syslog-ng-iso.txt", time.UTC, "vm", nil, "2026-12-07T07:24:25Z"},
		{"syslog-ng-iso-frac.txt", time.UTC, "vm", nil, "2026-12-07T07:24:25Z"},
		{"syslog-ng-bsd.txt", time.UTC, "vm", nil, "2026-12-07T07:24:25Z"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			if len(lines) != len(captured) {
				t.Fatalf("%d lines, want %d", len(lines), len(captured))
			}
			p := Parser{Year: 2026, Loc: c.loc}
			want := c.want
			if want == nil {
				want = at(c.first)
			}
			for i, text := range lines {
				l := p.Parse(text)
				w := captured[i]
				if l.Ident != w.ident || l.PID != w.pid || l.Message() != w.msg || l.Host != c.host {
					t.Errorf("line %d: host %q ident %q pid %d msg %q, want %q %q %d %q", i+1, l.Host, l.Ident, l.PID, l.Message(), c.host, w.ident, w.pid, w.msg)
				}
				if (c.want != nil || i == 0) && !l.Time.Equal(want(i)) {
					t.Errorf("line %d: time %s, want %s", i+1, l.Time.UTC().Format(time.RFC3339Nano), want(i).UTC().Format(time.RFC3339Nano))
				}
			}
		})
	}
}

// TestStamp: every timestamp form, its length, and the near misses.
func TestStamp(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		in   string
		loc  *time.Location
		want string // RFC 3339 in UTC; "" = not a timestamp
		n    int
		zone string // the zone name of the result, when it matters
	}{
		{"Dec  7 07:14:53 h", time.UTC, "2026-12-07T07:14:53Z", 15, ""},
		{"Dec 07 07:14:53 h", time.UTC, "2026-12-07T07:14:53Z", 15, ""},
		{"Dec 7 07:14:53 h", time.UTC, "2026-12-07T07:14:53Z", 14, ""},
		{"Dec 07 07:14:53.123456 h", time.UTC, "2026-12-07T07:14:53.123456Z", 22, ""},
		{"Dec 07 07:14:53 h", berlin, "2026-12-07T06:14:53Z", 15, "CET"},
		{"2026-12-07T07:14:53+00:00 h", time.UTC, "2026-12-07T07:14:53Z", 25, "UTC"},
		{"2026-12-07T07:14:53+0000 h", time.UTC, "2026-12-07T07:14:53Z", 24, "UTC"},
		{"2026-12-07T07:14:53Z h", berlin, "2026-12-07T07:14:53Z", 20, "UTC"},
		{"2026-12-07T07:14:53.5Z h", time.UTC, "2026-12-07T07:14:53.5Z", 22, ""},
		{"2026-12-07T07:14:53.123456789123-0100 h", time.UTC, "2026-12-07T08:14:53.123456789Z", 37, ""},
		{"2026-12-07T08:14:53.123456+0100 h", berlin, "2026-12-07T07:14:53.123456Z", 31, "CET"},
		{"2026-12-07T12:44:53+05:30 h", berlin, "2026-12-07T07:14:53Z", 25, ""},
		{"2026-12-07T07:14:53 h", berlin, "2026-12-07T06:14:53Z", 19, "CET"},
		{"2026-12-07 07:14:53 h", time.UTC, "2026-12-07T07:14:53Z", 19, ""},
		{"2026-12-07 07:14:53+00:00 h", time.UTC, "2026-12-07T07:14:53Z", 25, ""},
		{"Mon 2026-12-07 07:14:53 UTC h", berlin, "2026-12-07T07:14:53Z", 27, "UTC"},
		{"Mon 2026-12-07 08:14:53 CET h", berlin, "2026-12-07T07:14:53Z", 27, "CET"},
		{"Mon 2026-12-07 10:14:53 +03 h", time.UTC, "2026-12-07T07:14:53Z", 27, ""},
		{"1796627693.123456 h", time.UTC, "2026-12-07T07:14:53.123456Z", 17, "UTC"},
		{"1796627693 h", time.UTC, "2026-12-07T07:14:53Z", 10, ""},
		{"Feb 29 00:00:00 h", time.UTC, "", 0, ""}, // 2026 is not a leap year
		{"Dec 32 07:14:53 h", time.UTC, "", 0, ""},
		{"Dec  7 24:00:00 h", time.UTC, "", 0, ""},
		{"2026-13-07T07:14:53Z h", time.UTC, "", 0, ""},
		{"2026-02-30T07:14:53Z h", time.UTC, "", 0, ""},
		{"2026-12-07T07:14:53+24:00 h", time.UTC, "", 0, ""},
		{"2026-12-07T07:14:53+0 h", time.UTC, "", 0, ""},
		{"2026-12-07X07:14:53Z h", time.UTC, "", 0, ""},
		{"Mon 2026-12-07T07:14:53 UTC h", time.UTC, "", 0, ""},
		{"Mon 2026-12-07 07:14:53 h4x0r h", time.UTC, "", 0, ""},
		{"Mon 2026-12-07 07:14:53", time.UTC, "", 0, ""},
		{"Mon Dec  7 07:14:53 2026", time.UTC, "", 0, ""},
		{"17966276 h", time.UTC, "", 0, ""},
		{"999999999 h", time.UTC, "", 0, ""},
		{"192.0.2.1 - - [07/Dec/2026:07:14:53 +0000]", time.UTC, "", 0, ""},
		{"2026/12/07 07:14:53 [error]", time.UTC, "", 0, ""},
		{"", time.UTC, "", 0, ""},
	}
	for _, c := range cases {
		tm, n, ok := Stamp(c.in, 2026, c.loc)
		if c.want == "" {
			if ok {
				t.Errorf("%q: accepted as %s (%d bytes)", c.in, tm, n)
			}
			continue
		}
		if !ok {
			t.Errorf("%q: not accepted", c.in)
			continue
		}
		if got := tm.UTC().Format(time.RFC3339Nano); got != c.want || n != c.n {
			t.Errorf("%q: %s, %d bytes; want %s, %d", c.in, got, n, c.want, c.n)
		}
		if zone, _ := tm.Zone(); c.zone != "" && zone != c.zone {
			t.Errorf("%q: zone %s, want %s", c.in, zone, c.zone)
		}
	}
}

func TestMonthOf(t *testing.T) {
	for i, m := range []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"} {
		if got, ok := monthOf(m); !ok || got != time.Month(i+1) {
			t.Errorf("monthOf(%q) = %v, %v", m, got, ok)
		}
	}
	for _, s := range []string{"", "Ja", "jan", "JAN", "Janu", "Mon", "Dez"} {
		if _, ok := monthOf(s); ok {
			t.Errorf("monthOf(%q) accepted", s)
		}
	}
}

// FuzzStamp: Stamp never panics, never reads past s, and what it accepts is
// a prefix that parses to the same time on its own.
func FuzzStamp(f *testing.F) {
	for _, s := range []string{"Dec  7 07:14:53 h", "Dec 07 07:14:53.123456 h", "2026-12-07T07:14:53+0000 h",
		"2026-12-07T07:14:53.123456+00:00 h", "Mon 2026-12-07 07:14:53 UTC h", "1796627693.123456 h", "2026-12-07 07:14:53Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, n, ok := Stamp(s, 2026, time.UTC)
		if !ok {
			return
		}
		if n <= 0 || n > len(s) {
			t.Fatalf("%q: length %d", s, n)
		}
		again, m, ok := Stamp(s[:n], 2026, time.UTC)
		if !ok || m != n || !again.Equal(tm) {
			t.Fatalf("%q: prefix %q gives %s %d %v, want %s %d", s, s[:n], again, m, ok, tm, n)
		}
	})
}
