package filter

import (
	"net/netip"
	"testing"

	"github.com/rampart-sec/rampart/internal/guard/logline"
)

const (
	attacker = "203.0.113.77"
	victim   = "198.51.100.9"
)

// sshdCase is one sshd message and what each mode makes of it.
type sshdCase struct {
	msg string
	// addr is the expected address ("" = no hit at all).
	addr string
	// fail lists the modes in which the line counts as a failure.
	fail []string
}

var allModes = []string{"normal", "ddos", "extra", "aggressive"}

func sshdCases() []sshdCase {
	a := attacker
	return []sshdCase{
		// normal-mode failures (ban-anchors §4.2)
		{"Invalid user admin from " + a + " port 39690", a, allModes},
		{"Illegal user admin from " + a, a, allModes},
		{"Invalid user  from " + a + " port 39690", a, allModes},
		{"Failed password for root from " + a + " port 22 ssh2", a, allModes},
		{"Failed password for invalid user admin from " + a + " port 22 ssh2", a, allModes},
		{"Failed keyboard-interactive/pam for invalid user admin from " + a + " port 22 ssh2", a, allModes},
		{"Failed none for invalid user admin from " + a + " port 22 ssh2", a, allModes},
		{"Failed publickey for root from " + a + " port 22 ssh2: ED25519 SHA256:AAAAC3NzaC1lZDI1NTE5", a, nil},
		{"error: maximum authentication attempts exceeded for root from " + a + " port 22 ssh2 [preauth]", a, allModes},
		{"maximum authentication attempts exceeded for invalid user admin from " + a + " port 22 ssh2 [preauth]", a, allModes},
		{"User root from " + a + " not allowed because not listed in AllowUsers", a, allModes},
		{"User root from " + a + " not allowed because listed in DenyUsers", a, allModes},
		{"User root from " + a + " not allowed because not in any group", a, allModes},
		{"User root from " + a + " not allowed because a group is listed in DenyGroups", a, allModes},
		{"User root from " + a + " not allowed because none of user's groups are listed in AllowGroups", a, allModes},
		{"error: PAM: Authentication failure for root from " + a, a, allModes},
		{"error: PAM: Authentication failure for illegal user admin from " + a + " via 192.0.2.1", a, allModes},
		{"error: PAM: User not known to the underlying authentication module for illegal user admin from " + a, a, allModes},
		{"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=" + a + "  user=root", a, nil},
		{"ROOT LOGIN REFUSED FROM " + a, a, allModes},
		{"refused connect from host.example (" + a + ")", a, allModes},
		{"Received disconnect from " + a + " port 22:3: com.jcraft.jsch.JSchException: Auth fail [preauth]", a, allModes},
		{"Disconnecting invalid user admin " + a + " port 22: Change of username or service not allowed: (admin,ssh-connection) -> (root,ssh-connection) [preauth]", a, allModes},
		{"Disconnecting invalid user admin " + a + " port 22: Too many authentication failures [preauth]", a, nil},
		// helpers: identify the connection, no failure
		{"Accepted publickey for alice from " + a + " port 22 ssh2: ED25519 SHA256:x", a, nil},
		{"Accepted password for alice from " + a + " port 22 ssh2", a, nil},
		{"Connection from " + a + " port 7043 on 203.0.113.10 port 22 rdomain \"\"", a, nil},
		{"Received disconnect from " + a + " port 7043:11: disconnected by user", a, nil},
		{"Received disconnect from " + a + " port 7043:11: Bye Bye [preauth]", a, nil},
		{"Disconnected from user alice " + a + " port 7043", a, nil},
		{"Connection closed by " + a + " port 7043", a, nil},
		// ddos: scanners and broken handshakes
		{"Connection closed by " + a + " port 7043 [preauth]", a, []string{"ddos", "aggressive"}},
		{"Connection reset by authenticating user root " + a + " port 7043 [preauth]", a, []string{"ddos", "aggressive"}},
		{"Connection closed by invalid user x " + a + " port 7043 [preauth]", a, []string{"ddos", "aggressive"}},
		{"Did not receive identification string from " + a + " port 7043", a, []string{"ddos", "aggressive"}},
		{"Timeout before authentication for connection from " + a + " to 203.0.113.10, pid = 123", "", nil},
		{"Timeout before authentication for " + a + " port 7043", a, []string{"ddos", "aggressive"}},
		{"Bad protocol version identification 'GET / HTTP/1.1' from " + a + " port 7043", a, []string{"ddos", "aggressive"}},
		{"banner exchange: Connection from " + a + " port 7043: invalid format", a, []string{"ddos", "aggressive"}},
		{"banner exchange: Connection from " + a + " port 7043: could not read protocol version", a, nil},
		{"ssh_dispatch_run_fatal: Connection from " + a + " port 7043: message authentication code incorrect [preauth]", a, []string{"ddos", "aggressive"}},
		{"ssh_dispatch_run_fatal: Connection from authenticating user root " + a + " port 7043: Connection corrupted [preauth]", a, []string{"ddos", "aggressive"}},
		{"drop connection #0 from [" + a + "]:7043 on [203.0.113.10]:22 penalty: failed authentication", a, []string{"ddos", "aggressive"}},
		// extra: negotiation failures
		{"Unable to negotiate with " + a + " port 7043: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]", a, []string{"extra", "aggressive"}},
		{"Received disconnect from " + a + " port 7043:14: No supported authentication methods available [preauth]", a, []string{"extra", "aggressive"}},
		{"Disconnected from invalid user admin " + a + " port 7043 [preauth]", a, []string{"ddos", "extra", "aggressive"}},
		{"Disconnected from authenticating user root " + a + " port 7043 [preauth]", a, []string{"ddos", "extra", "aggressive"}},
		// not sshd's business
		{"pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)", "", nil},
		{"Server listening on 0.0.0.0 port 22.", "", nil},
		{"Invalid user admin from host.example.com port 22", "", nil},
	}
}

func TestSSHDMessages(t *testing.T) {
	for _, mode := range allModes {
		for _, c := range sshdCases() {
			f, err := New("sshd", mode)
			if err != nil {
				t.Fatal(err)
			}
			l := logline.Line{Text: c.msg, Ident: "sshd-session", PID: 4242}
			h, ok := f.Match(&l)
			if c.addr == "" {
				if ok {
					t.Errorf("mode %s: %q: unexpected hit %+v", mode, c.msg, h)
				}
				continue
			}
			if !ok {
				t.Errorf("mode %s: %q: no hit, want %s", mode, c.msg, c.addr)
				continue
			}
			if h.Addr != netip.MustParseAddr(c.addr) {
				t.Errorf("mode %s: %q: address %s, want %s", mode, c.msg, h.Addr, c.addr)
			}
			want := false
			for _, m := range c.fail {
				want = want || m == mode
			}
			if h.Failure != want {
				t.Errorf("mode %s: %q: failure %v, want %v", mode, c.msg, h.Failure, want)
			}
		}
	}
}

// TestSSHDConnectionContext: lines without an address take the address of
// their connection (the PID), and the ddos lines of one connection count
// once.
func TestSSHDConnectionContext(t *testing.T) {
	f, _ := New("sshd", "aggressive")
	lines := []string{
		"Connection from " + attacker + " port 7043 on 203.0.113.10 port 22 rdomain \"\"",
		"kex_exchange_identification: client sent invalid protocol identifier \"GET / HTTP/1.1\"",
		"banner exchange: Connection from " + attacker + " port 7043: invalid format",
	}
	var fails int
	for _, s := range lines {
		l := logline.Line{Text: s, Ident: "sshd", PID: 77}
		if h, ok := f.Match(&l); ok && h.Failure {
			fails++
			if h.Addr.String() != attacker || h.Conn != "77" {
				t.Errorf("%q: hit %+v", s, h)
			}
		}
	}
	if fails != 1 {
		t.Errorf("one scanner connection counted %d times, want once", fails)
	}
	// Another PID knows nothing of that address.
	l := logline.Line{Text: "kex_exchange_identification: read: Connection reset by peer", Ident: "sshd", PID: 78}
	if h, ok := f.Match(&l); ok {
		t.Errorf("line of an unknown connection got %+v", h)
	}
	// The old "Disconnecting: Too many authentication failures" form.
	n, _ := New("sshd", "normal")
	for _, s := range []string{"Connection from " + attacker + " port 1 on 203.0.113.10 port 22", "Disconnecting: Too many authentication failures for root [preauth]"} {
		l := logline.Line{Text: s, Ident: "sshd", PID: 90}
		h, ok := n.Match(&l)
		if s[0] == 'D' && (!ok || !h.Failure || h.Addr.String() != attacker) {
			t.Errorf("%q: %+v %v", s, h, ok)
		}
	}
}

func TestSSHDIdent(t *testing.T) {
	f, _ := New("sshd", "normal")
	for ident, want := range map[string]bool{"sshd": true, "sshd-session": true, "sshd-auth": true, "": true, "sudo": false, "CRON": false} {
		l := logline.Line{Text: "Invalid user x from " + attacker, Ident: ident}
		if _, ok := f.Match(&l); ok != want {
			t.Errorf("ident %q: matched %v, want %v", ident, ok, want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	for _, c := range [][2]string{{"nope", ""}, {"sshd", "turbo"}, {"fail2ban:/nonexistent/x.conf", ""}} {
		if f, err := New(c[0], c[1]); err == nil || f != nil {
			t.Errorf("New(%q, %q) = %v, %v; want an error", c[0], c[1], f, err)
		}
	}
}
