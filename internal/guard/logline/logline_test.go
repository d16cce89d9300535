package logline

import (
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
