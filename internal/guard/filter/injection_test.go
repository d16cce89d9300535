package filter

import (
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/guard/logline"
)

// Attacker-chosen strings: user names (ssh -l), client banners and client
// disconnect messages that carry the victim's address in sshd's own
// phrasing (ban-anchors §3.3, tests A and B, plus fail2ban's gh-1479 and
// gh-2185 cases).
var injections = []string{
	"from " + victim,
	"x " + victim + " port 22",
	"x from " + victim + " port 22 ssh2",
	"root from " + victim + " port 22 ssh2:",
	"root from " + victim + " port 22 ssh2: ED25519 SHA256:x",
	"Invalid user root from " + victim + " port 22",
	"a " + victim + " port 22: Change of username or service not allowed: (a,ssh-connection) -> (",
	"x from " + victim + " not allowed because not listed in AllowUsers",
	"x " + victim + " port 22 [preauth]",
	"x rhost=" + victim + " ",
	victim,
	"[" + victim + "]:22 on [203.0.113.10]:22 penalty: x",
	"(" + victim + ")",
	"x via " + victim,
	"",
}

// injectedMessages renders every sshd message that carries client text with
// payload u from the attacker's address.
func injectedMessages(u string) []string {
	a := attacker
	return []string{
		"Invalid user " + u + " from " + a + " port 39690",
		"Failed password for invalid user " + u + " from " + a + " port 39690 ssh2",
		"Failed password for " + u + " from " + a + " port 39690 ssh2",
		"Failed publickey for " + u + " from " + a + " port 39690 ssh2: ED25519 SHA256:AAAA",
		"Failed keyboard-interactive/pam for invalid user " + u + " from " + a + " port 39690 ssh2",
		"Accepted publickey for " + u + " from " + a + " port 39690 ssh2: ED25519 SHA256:AAAA",
		"maximum authentication attempts exceeded for invalid user " + u + " from " + a + " port 39690 ssh2 [preauth]",
		"Connection closed by invalid user " + u + " " + a + " port 39690 [preauth]",
		"Connection reset by authenticating user " + u + " " + a + " port 39690 [preauth]",
		"Disconnected from invalid user " + u + " " + a + " port 39690 [preauth]",
		"Disconnected from user " + u + " " + a + " port 39690",
		"Disconnecting invalid user " + u + " " + a + " port 39690: Too many authentication failures [preauth]",
		"Disconnecting invalid user " + u + " " + a + " port 39690: Change of username or service not allowed: (" + u + ",ssh-connection) -> (" + u + ",ssh-connection) [preauth]",
		"Disconnecting authenticating user root " + a + " port 39690: Change of username or service not allowed: (root,ssh-connection) -> (" + u + ",ssh-connection) [preauth]",
		"User " + u + " from " + a + " not allowed because not listed in AllowUsers",
		"User " + u + " not allowed because account is locked",
		"error: PAM: Authentication failure for illegal user " + u + " from " + a,
		"error: PAM: User not known to the underlying authentication module for illegal user " + u + " from " + a,
		"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=" + a + "  user=" + u,
		"ssh_dispatch_run_fatal: Connection from invalid user " + u + " " + a + " port 39690: message authentication code incorrect [preauth]",
		// client-sent banners and disconnect messages
		"kex_exchange_identification: client sent invalid protocol identifier \"" + u + "\"",
		"Bad protocol version identification '" + u + "' from " + a + " port 39690",
		"Received disconnect from " + a + " port 39690:11: " + u + " [preauth]",
		"Received disconnect from " + a + " port 39690:3: " + u + ": Auth fail [preauth]",
		"Received disconnect from " + a + " port 39690:14: " + u + " No supported authentication methods available [preauth]",
		"refused connect from " + u + " (" + a + ")",
	}
}

// TestSSHDInjection: whatever the client writes, the only address the sshd
// filter ever reports is the connection's own.
func TestSSHDInjection(t *testing.T) {
	for _, mode := range allModes {
		for _, u := range injections {
			f, _ := New("sshd", mode)
			for i, msg := range injectedMessages(u) {
				// The connection is known from sshd's VERBOSE line first.
				conn := logline.Line{Text: "Connection from " + attacker + " port 39690 on 203.0.113.10 port 22 rdomain \"\"", Ident: "sshd-session", PID: 1000 + i}
				f.Match(&conn)
				l := logline.Line{Text: msg, Ident: "sshd-session", PID: 1000 + i}
				if h, ok := f.Match(&l); ok && h.Addr.String() != attacker {
					t.Errorf("mode %s: %q: address %s (injected), want %s or no hit", mode, msg, h.Addr, attacker)
				}
			}
		}
	}
}

// TestNginxInjection: the client controls the request, referrer, user agent,
// basic-auth user and X-Forwarded-For; only the first field is the client.
func TestNginxInjection(t *testing.T) {
	f, _ := New("nginx-noscript", "")
	lines := []string{
		attacker + ` - - [14/Nov/2025:07:15:17 +0000] "GET /` + victim + `/x.php HTTP/1.1" 404 153 "http://` + victim + `/" "` + victim + ` - - [14/Nov/2025:07:15:17 +0000] \"GET /a.php HTTP/1.1\" 404"`,
		attacker + ` - ` + victim + ` [14/Nov/2025:07:15:17 +0000] "GET /wp-login.php HTTP/1.1" 404 153 "-" "-" "` + victim + `"`,
		attacker + ` - x] "GET /a.php HTTP/1.1" 404 1 "-" "-" [14/Nov/2025:07:15:17 +0000] "GET /b.php HTTP/1.1" 200 1 "-" "-"`,
		`2025/11/14 07:15:17 [error] 812#812: *9 FastCGI sent in stderr: "Primary script unknown" while reading response header from upstream, client: ` + attacker + `, server: _, request: "GET /` + victim + `.php HTTP/1.1", upstream: "fastcgi://unix:/run/php/php-fpm.sock:", host: "` + victim + `"`,
	}
	for _, s := range lines {
		l := logline.Line{Text: s}
		h, ok := f.Match(&l)
		if !ok || h.Addr.String() != attacker {
			t.Errorf("%q: hit %+v %v, want %s", s, h, ok, attacker)
		}
	}
	// An error-log line whose fixed text is preceded by client text must not
	// match at all.
	l := logline.Line{Text: `2025/11/14 07:15:17 [error] 812#812: *9 open() "/x FastCGI sent in stderr: "Primary script unknown" while reading response header from upstream, client: ` + victim + `, " failed`}
	if h, ok := f.Match(&l); ok {
		t.Errorf("spoofed error line matched: %+v", h)
	}
}

func TestNginxNoscript(t *testing.T) {
	f, _ := New("nginx-noscript", "")
	cases := []struct {
		line string
		fail bool
	}{
		{`203.0.113.5 - - [14/Nov/2025:07:15:17 +0000] "GET /wp-login.php HTTP/1.1" 404 153 "-" "curl/8"`, true},
		{`203.0.113.5 - - [14/Nov/2025:07:15:17 +0000] "POST /cgi-bin/luci HTTP/1.1" 404 153 "-" "-"`, true},
		{`203.0.113.5 - - [14/Nov/2025:07:15:17 +0000] "GET /admin.ASPX?x=1 HTTP/1.1" 404 153 "-" "-"`, true},
		{`203.0.113.5 - - [14/Nov/2025:07:15:17 +0000] "GET /setup.exe HTTP/1.1" 404 153 "-" "-"`, true},
		{`203.0.113.5 - - [14/Nov/2025:07:15:17 +0000] "GET /x.pl/info HTTP/1.1" 404 153 "-" "-"`, true},
		{`2001:db8::5 - - [14/Nov/2025:07:15:17 +0000] "GET /a.cgi HTTP/1.1" 404 153 "-" "-"`, true},
		{`203.0.113.5 - - [14/Nov/2025:07:15:17 +0000] "GET /index.php HTTP/1.1" 200 153 "-" "-"`, false},
		{`203.0.113.5 - - [14/Nov/2025:07:15:17 +0000] "GET /missing.html HTTP/1.1" 404 153 "-" "-"`, false},
		{`203.0.113.5 - - [14/Nov/2025:07:15:17 +0000] "GET /?q=a.php HTTP/1.1" 404 153 "-" "-"`, false},
	}
	for _, c := range cases {
		l := logline.Line{Text: c.line}
		h, ok := f.Match(&l)
		if !ok || h.Failure != c.fail {
			t.Errorf("%q: hit %+v %v, want failure %v", c.line, h, ok, c.fail)
		}
	}
	for _, s := range []string{"", "garbage", "999.1.1.1 - - [x]", strings.Repeat("a", 300)} {
		l := logline.Line{Text: s}
		if h, ok := f.Match(&l); ok {
			t.Errorf("%q: unexpected hit %+v", s, h)
		}
	}
}
