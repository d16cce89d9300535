package filter

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/logline"
)

// FuzzSSHDUser: a client-chosen user name (or banner, or disconnect text)
// placed in every sshd message never makes the filter report an address
// other than the connection's.
func FuzzSSHDUser(f *testing.F) {
	for _, s := range injections {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, u string, m uint8) {
		mode := allModes[int(m)%len(allModes)]
		flt, _ := New("sshd", mode)
		for i, msg := range injectedMessages(u) {
			l := logline.Line{Text: msg, Ident: "sshd", PID: i + 1}
			if h, ok := flt.Match(&l); ok && h.Addr.String() != attacker {
				t.Fatalf("mode %s: %q: address %s", mode, msg, h.Addr)
			}
		}
	})
}

// FuzzLine: any line through the parser and every built-in filter: no
// panic, and an IPv4 address reported is written in the line.
func FuzzLine(f *testing.F) {
	f.Add("Nov 14 07:15:17 host sshd-session[123]: Invalid user x from 192.0.2.1 port 22")
	f.Add(`192.0.2.1 - - [14/Nov/2025:07:15:17 +0000] "GET /a.php HTTP/1.1" 404 1 "-" "-"`)
	f.Add(`2025/11/14 07:15:17 [error] 1#1: *2 FastCGI sent in stderr: "Primary script unknown" while reading response header from upstream, client: 192.0.2.1, server: x`)
	f.Add("2025-11-14T07:15:17.5+01:00 h sshd[1]: Received disconnect from ::ffff:192.0.2.1 port 1:3: x: Auth fail")
	f.Fuzz(func(t *testing.T, s string) {
		p := logline.Parser{Year: 2025, Loc: time.UTC}
		l := p.Parse(s)
		for _, b := range Builtins() {
			for _, mode := range b.Modes {
				flt, err := b.New(mode)
				if err != nil {
					t.Fatal(err)
				}
				h, ok := flt.Match(&l)
				if ok && h.Addr.Is4() && !strings.Contains(s, h.Addr.String()) {
					t.Fatalf("%s/%s: %q: address %s is not in the line", b.Name, mode, s, h.Addr)
				}
				if ok && !h.Addr.IsValid() {
					t.Fatalf("%s/%s: %q: invalid address in a hit", b.Name, mode, s)
				}
			}
		}
	})
}

// FuzzPyToRE2: translation never panics and whatever it returns without an
// error either compiles or fails to compile cleanly.
func FuzzPyToRE2(f *testing.F) {
	for _, s := range []string{`^(?P<a>x)(?(a)y|z)(?!q)\1`, `(?<=:)<HOST>{,3}`, `[]a](?i)b*+`, `<F-USER>.*</F-USER> from <HOST>`, `((((`, `\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := expandF2BTags(s)
		if err != nil {
			return
		}
		out, _, err := pyToRE2(p)
		if err == nil {
			_, _ = regexp.Compile(out)
		}
	})
}

// FuzzINI: any file text parses or fails with an error, and resolving the
// filter options terminates.
func FuzzINI(f *testing.F) {
	f.Add("[Definition]\nfailregex = ^x <HOST>\n  ^y %(a)s\na = <b>\nb = <a>\n")
	f.Add("[DEFAULT]\na=%(b)s%(b)s\nb=%(c)s%(c)s\nc=x\n[Definition]\nfailregex=%(a)s<HOST>")
	f.Fuzz(func(t *testing.T, s string) {
		secs, err := parseINI("fuzz.conf", s)
		if err != nil {
			return
		}
		c := &f2bConfig{sec: map[string]map[string]string{}}
		c.merge(secs)
		o := &f2bOptions{c: c, params: map[string]string{}}
		for _, k := range []string{"failregex", "prefregex", "ignoreregex", "datepattern"} {
			if v, ok, err := o.get(k); ok && err == nil && len(v) > f2bMaxValue*2 {
				t.Fatalf("%s: %d bytes", k, len(v))
			}
		}
	})
}
