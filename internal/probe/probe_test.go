package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/host/sshhost/sshtest"
	"github.com/rampart-sec/rampart/internal/testenv"
)

func TestHasPort(t *testing.T) {
	for in, want := range map[string]bool{
		"h": false, "h:22": true, "u@h": false, "u@h:2": true,
		"2001:db8::1": false, "[2001:db8::1]": false, "[2001:db8::1]:22": true,
	} {
		if hasPort(in) != want {
			t.Errorf("hasPort(%q) = %v", in, !want)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), Refused},
		{fmt.Errorf("dial: %w", syscall.EHOSTUNREACH), Unreachable},
		{context.DeadlineExceeded, Filtered},
		{errors.New("strange"), Error},
	}
	for _, tc := range tests {
		if got, _ := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

func TestUnresolvable(t *testing.T) {
	rs := Probe(context.Background(), []string{"no-such-host.invalid", "bad host"}, Options{
		Resolve: func(context.Context, string) ([]string, error) { return nil, errors.New("no such host") },
	})
	if len(rs) != 2 || rs[0].State != Error || rs[1].State != Error || rs[0].Verdict != Fail {
		t.Fatalf("got %+v", rs)
	}
}

// lab: a server namespace with two real sshds (password on at :22,
// key-only at :2222), a port dropped by nftables (:2323) and a port with
// nothing behind it (:2424), probed from a peer namespace.
func TestProbeE2E(t *testing.T) {
	testenv.RequireCommands(t, "nft")
	srv := testenv.NewNetns(t, "nt")
	peer := testenv.NewNetns(t, "nt")
	testenv.Link(t, srv, "eth0", "192.0.2.1/24", peer, "eth0", "192.0.2.2/24")
	weak := sshtest.Start(t, srv, sshtest.Config{Addr: "192.0.2.1:22", Password: true})
	strong := sshtest.Start(t, srv, sshtest.Config{Addr: "192.0.2.1:2222"})
	srv.Exec(t, "ip", "-6", "addr", "add", "2001:db8::1/64", "dev", "eth0", "nodad")
	peer.Exec(t, "ip", "-6", "addr", "add", "2001:db8::2/64", "dev", "eth0", "nodad")
	srv.Exec(t, "nft", "add table inet nttest; add chain inet nttest input { type filter hook input priority 0; policy accept; }; add rule inet nttest input tcp dport 2323 drop")

	opts := Options{Timeout: 2500 * time.Millisecond, Dial: sshtest.DialIn(peer)}
	rs := Probe(context.Background(), []string{"192.0.2.1", "192.0.2.1:2222", "192.0.2.1:2323", "192.0.2.1:2424"}, opts)
	if len(rs) != 4 {
		t.Fatalf("%d results", len(rs))
	}
	want := []struct {
		state, verdict string
		methods        []string
	}{
		{Open, Fail, []string{"publickey", "password", "keyboard-interactive"}},
		{Open, Pass, []string{"publickey"}},
		{Filtered, Pass, nil},
		{Refused, Pass, nil},
	}
	for i, w := range want {
		r := rs[i]
		if r.State != w.state || r.Verdict != w.verdict {
			t.Errorf("%s: state %s verdict %s (%s %q), want %s %s", r.Address, r.State, r.Verdict, r.Detail, r.Problems, w.state, w.verdict)
		}
		if w.methods == nil {
			if r.SSH != nil {
				t.Errorf("%s: SSH info on a closed port", r.Address)
			}
			continue
		}
		if r.SSH == nil {
			t.Fatalf("%s: no SSH info", r.Address)
		}
		got := slices.Clone(r.SSH.Methods)
		slices.Sort(got)
		ws := slices.Clone(w.methods)
		slices.Sort(ws)
		if !slices.Equal(got, ws) {
			t.Errorf("%s: methods %q, want %q", r.Address, r.SSH.Methods, w.methods)
		}
		if !strings.HasPrefix(r.SSH.Banner, "SSH-2.0-OpenSSH") || !strings.HasPrefix(r.SSH.Source, "192.0.2.2:") {
			t.Errorf("%s: banner %q source %q", r.Address, r.SSH.Banner, r.SSH.Source)
		}
	}
	if !rs[0].SSH.PasswordOffered || !rs[0].SSH.KbdInteractiveOffered || rs[1].SSH.PasswordOffered {
		t.Errorf("password flags wrong: %+v %+v", rs[0].SSH, rs[1].SSH)
	}

	// The probe as root sent no credential and produced no failure line
	// that fail2ban's normal mode counts.
	for _, s := range []*sshtest.Server{weak, strong} {
		log := s.Log()
		for _, bad := range []string{"Invalid user", "Failed ", "authentication failure"} {
			if strings.Contains(log, bad) {
				t.Errorf("sshd %s logged %q after a root probe:\n%s", s.Addr, bad, log)
			}
		}
		if !strings.Contains(log, "Connection closed by authenticating user root 192.0.2.2") {
			t.Errorf("sshd %s: expected the preauth close of user root:\n%s", s.Addr, log)
		}
	}
	rootLog := weak.Log() + strong.Log()
	// fail2ban itself agrees: its sshd filter finds no failure in normal
	// mode, and does in aggressive mode (documented in probe's help).
	if ips := fail2banIPs(t, rootLog, "sshd"); len(ips) != 0 {
		t.Errorf("fail2ban sshd (normal) counts failures from a root probe: %q", ips)
	}
	if ips := fail2banIPs(t, rootLog, "sshd[mode=aggressive]"); !slices.Contains(ips, "192.0.2.2") {
		t.Errorf("fail2ban sshd (aggressive) should count the preauth close: %q", ips)
	}
	// A made-up user name would have been counted.
	Probe(context.Background(), []string{"nosuchuser@192.0.2.1:2222"}, opts)
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(strong.Log(), "Invalid user nosuchuser from 192.0.2.2") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(strong.Log(), "Invalid user nosuchuser from 192.0.2.2") {
		t.Errorf("expected an Invalid user line for a made-up user:\n%s", strong.Log())
	}
	if ips := fail2banIPs(t, strong.Log(), "sshd"); !slices.Contains(ips, "192.0.2.2") {
		t.Errorf("fail2ban sshd (normal) should count the invalid user: %q", ips)
	}

	// A Match User block offers passwords to one user only: probing root
	// alone misses it, probing that user too finds it.
	sshtest.Start(t, srv, sshtest.Config{Addr: "192.0.2.1:2525",
		Extra: []string{"Match User daemon", "  PasswordAuthentication yes"}})
	o2 := opts
	o2.MoreUsers = []string{"daemon"}
	rs = Probe(context.Background(), []string{"192.0.2.1:2525"}, o2)
	if len(rs) != 2 || rs[0].SSH.User != "root" || rs[0].Verdict != Pass || rs[1].SSH.User != "daemon" || !rs[1].SSH.PasswordOffered || rs[1].Verdict != Fail {
		for _, r := range rs {
			t.Logf("%s %s %+v", r.Address, r.Verdict, r.SSH)
		}
		t.Errorf("Match User block not told apart")
	}

	// IPv6: the inet table filters it too.
	rs = Probe(context.Background(), []string{"[2001:db8::1]:2323", "[2001:db8::1]:2424"}, opts)
	if rs[0].State != Filtered || rs[1].State != Refused || rs[0].Address != "[2001:db8::1]:2323" {
		t.Errorf("IPv6: %s %s, %s %s", rs[0].Address, rs[0].State, rs[1].Address, rs[1].State)
	}

	// Expecting the port closed turns an open key-only port into a fail.
	opts.ExpectClosed = true
	rs = Probe(context.Background(), []string{"192.0.2.1:2222", "192.0.2.1:2323"}, opts)
	if rs[0].Verdict != Fail || rs[1].Verdict != Pass {
		t.Errorf("expect-closed: %s %s", rs[0].Verdict, rs[1].Verdict)
	}
}

// fail2banIPs runs the installed fail2ban's own filter over sshd's log
// lines (given a syslog prefix) and returns the addresses it counts as
// failures.
func fail2banIPs(t *testing.T, log, filter string) []string {
	t.Helper()
	f2b := testenv.RequireCommands(t, "fail2ban-regex")[0]
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		if line != "" {
			b.WriteString("Nov 25 08:00:00 srv sshd[4242]: " + line + "\n")
		}
	}
	file := filepath.Join(t.TempDir(), "auth.log")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(f2b, "-o", "ip", file, filter).Output()
	if err != nil {
		t.Fatalf("fail2ban-regex %s: %v", filter, err)
	}
	return strings.Fields(string(out))
}

// A name resolving to two addresses gives a result per address, in
// order; a port in the target wins over Options.Port. Loopback only.
func TestResolvedAddresses(t *testing.T) {
	rs := Probe(context.Background(), []string{"admin@multi.test:1"}, Options{
		Port: 2222,
		Resolve: func(_ context.Context, h string) ([]string, error) {
			if h != "multi.test" {
				return nil, errors.New("unexpected " + h)
			}
			return []string{"127.0.0.2", "127.0.0.1", "127.0.0.2"}, nil
		},
	})
	if len(rs) != 2 || rs[0].Address != "127.0.0.1:1" || rs[1].Address != "127.0.0.2:1" {
		t.Fatalf("got %+v", rs)
	}
	for _, r := range rs {
		if r.State != Refused || r.Verdict != Pass || r.Target != "admin@multi.test:1" {
			t.Errorf("%s: %s %s", r.Address, r.State, r.Verdict)
		}
	}
}

// A server that is not SSH, or sends a hostile banner, is reported (warn),
// and nothing it sent reaches the terminal raw. Loopback only.
func TestHostileServer(t *testing.T) {
	for _, tc := range []struct {
		name, send, banner, detail string
	}{
		{"http", "HTTP/1.1 400 Bad Request\r\n\r\n", "", "no SSH version banner"},
		{"escape", "SSH-2.0-evil\x1b[2J\x1b]0;owned\x07\r\nthen garbage\r\n", `SSH-2.0-evil\x1b[2J\x1b]0;owned\x07`, "ssh:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					_, _ = c.Write([]byte(tc.send))
					time.Sleep(50 * time.Millisecond)
					c.Close()
				}
			}()
			rs := Probe(context.Background(), []string{l.Addr().String()}, Options{Timeout: 2 * time.Second})
			r := rs[0]
			if r.State != Open || r.Verdict != Warn || r.SSH == nil {
				t.Fatalf("%+v", r)
			}
			if r.SSH.Banner != tc.banner || !strings.Contains(r.SSH.Error, tc.detail) {
				t.Errorf("banner %q error %q", r.SSH.Banner, r.SSH.Error)
			}
			if strings.ContainsAny(r.SSH.Banner+r.SSH.Error, "\x1b\x07") {
				t.Errorf("control characters passed through: %q %q", r.SSH.Banner, r.SSH.Error)
			}
		})
	}
}
