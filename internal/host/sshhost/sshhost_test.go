package sshhost

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/host/sshhost/sshtest"
	"github.com/rampart-sec/rampart/internal/testenv"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in         string
		user, host string
		port       int
		err        string
	}{
		{in: "example.org", host: "example.org", port: 22},
		{in: "admin@203.0.113.5", user: "admin", host: "203.0.113.5", port: 22},
		{in: "admin@203.0.113.5:2222", user: "admin", host: "203.0.113.5", port: 2222},
		{in: "[2001:db8::1]:2200", host: "2001:db8::1", port: 2200},
		{in: "root@[2001:db8::1]", user: "root", host: "2001:db8::1", port: 22},
		{in: "2001:db8::1", host: "2001:db8::1", port: 22},
		{in: "", err: "empty"},
		{in: "host:0", err: "port"},
		{in: "host:ssh", err: "port"},
		{in: "fe80::1%eth0", host: "fe80::1%eth0", port: 22},
		{in: "ops@web_1.prod-eu:2200", user: "ops", host: "web_1.prod-eu", port: 2200},
		{in: "-oProxyCommand=x", err: "is not a host name or IP address"},
		{in: "a;b@host", err: "invalid user"},
		{in: "@host", err: "invalid user"},
		{in: "user@", err: "is not a host name or IP address"},
		{in: ":]:0", err: "is not a host name or IP address"}, // once read as a bare IPv6 address
		{in: "[2001:db8::zz]:22", err: "is not a host name or IP address"},
		{in: "web$1", err: "is not a host name or IP address"},
		{in: "wéb1", err: "is not a host name or IP address"},
	}
	for _, tc := range tests {
		got, err := ParseTarget(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseTarget(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got.User != tc.user || got.Host != tc.host || got.Port != tc.port {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %s@%s:%d", tc.in, got, err, tc.user, tc.host, tc.port)
		}
	}
}

var nasty = []string{"", "plain", "two words", "it's", `"dq"`, "$(id)", "`id`", "a;b|c&d", "*", "~", "new\nline", "tab\tx", "-n", `back\slash`, "'", "''"}

// Quote must make the shell see exactly the string: checked against a
// real sh.
func TestQuoteWithRealShell(t *testing.T) {
	sh := testenv.RequireCommands(t, "sh")[0]
	for _, s := range nasty {
		out, err := exec.Command(sh, "-c", "printf '%s' "+Quote(s)).Output()
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if string(out) != s {
			t.Errorf("Quote(%q) = %s; shell saw %q", s, Quote(s), out)
		}
	}
}

func TestCommandLine(t *testing.T) {
	got, err := CommandLine(host.Cmd{Name: "sshd", Args: []string{"-T", "-C", "user=root,addr=198.51.100.7"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := "sudo -n -- env LC_ALL=C PATH=" + remotePath + " sshd -T -C user=root,addr=198.51.100.7"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for _, bad := range []string{"", "-x", "a\nb", "X=1"} {
		if _, err := CommandLine(host.C(bad), false); err == nil {
			t.Errorf("CommandLine(%q) accepted", bad)
		}
	}
	if _, err := CommandLine(host.C("cat", "a\x00b"), false); err == nil {
		t.Error("NUL in argument accepted")
	}
}

func TestGlobScript(t *testing.T) {
	if _, err := globScript("/etc/ssh/sshd_config.d/*.conf"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"etc/*", "/etc/$(id)", "/etc/a b", "/etc/`x`", "/etc/a;b", "/etc/'"} {
		if _, err := globScript(bad); err == nil {
			t.Errorf("globScript(%q) accepted", bad)
		}
	}
}

// lab is a namespace with a real sshd on its loopback and a client set up
// with a temporary HOME, key and known_hosts.
type lab struct {
	ns   *testenv.Netns
	srv  *sshtest.Server
	home string
	kh   string
}

func newLab(t *testing.T, extra ...string) *lab {
	t.Helper()
	ns := testenv.NewNetns(t, "nt")
	srv := sshtest.Start(t, ns, sshtest.Config{Addr: "127.0.0.1:22", Extra: extra})
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	kh := filepath.Join(home, ".ssh", "known_hosts")
	if err := os.WriteFile(kh, []byte(srv.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &lab{ns: ns, srv: srv, home: home, kh: kh}
}

// dial connects to the lab's sshd as root with the default options.
func (l *lab) dial(t *testing.T) *Host { return l.dialShells(t, 0) }

// dialShells is dial with at most n long-lived shells (0: the default).
func (l *lab) dialShells(t *testing.T, n int) *Host {
	t.Helper()
	o := l.opts()
	o.Shells = n
	h, err := Dial(context.Background(), "root@127.0.0.1", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func (l *lab) opts() Options {
	return Options{
		Identities: []string{l.srv.ClientKey},
		Dial:       sshtest.DialIn(l.ns),
		Getenv: func(k string) string {
			if k == "HOME" {
				return l.home
			}
			return ""
		},
	}
}

func TestRemoteHost(t *testing.T) {
	l := newLab(t)
	ctx := context.Background()
	h := l.dial(t)
	if h.Name() != "root@127.0.0.1" || !h.IsRoot(ctx) {
		t.Errorf("name %q root %v", h.Name(), h.IsRoot(ctx))
	}
	out, err := h.Run(ctx, host.Cmd{Name: "printf", Args: append([]string{"%s|"}, nasty...)})
	if err != nil || out.ExitCode != 0 {
		t.Fatalf("printf: %v %+v", err, out)
	}
	if want := strings.Join(nasty, "|") + "|"; string(out.Stdout) != want {
		t.Errorf("arguments changed on the way:\ngot  %q\nwant %q", out.Stdout, want)
	}
	out, err = h.Run(ctx, host.Cmd{Name: "cat", Stdin: []byte("via stdin")})
	if err != nil || string(out.Stdout) != "via stdin" {
		t.Errorf("stdin: %v %q", err, out.Stdout)
	}
	out, err = h.Run(ctx, host.C("sh", "-c", "echo err >&2; exit 3"))
	if err != nil || out.ExitCode != 3 || string(out.Stderr) != "err\n" {
		t.Errorf("exit status: %v %+v", err, out)
	}
	if _, err := h.Run(ctx, host.C("rampart-no-such-program")); !errors.Is(err, host.ErrNotFound) {
		t.Errorf("missing program: %v, want ErrNotFound", err)
	}
	// sshd is in /usr/sbin, outside a plain user PATH.
	if out, err := h.Run(ctx, host.C("sshd", "-T", "-f", filepath.Join(l.srv.Dir, "sshd_config"))); err != nil || !strings.Contains(string(out.Stdout), "passwordauthentication no") {
		t.Errorf("sshd -T: %v %s", err, out.Stderr)
	}
	cfg, err := h.ReadFile(ctx, filepath.Join(l.srv.Dir, "sshd_config"))
	if err != nil || !strings.Contains(string(cfg), "LogLevel VERBOSE") {
		t.Errorf("ReadFile: %v %q", err, cfg)
	}
	if _, err := h.ReadFile(ctx, filepath.Join(l.srv.Dir, "nope")); !host.IsNotExist(err) {
		t.Errorf("ReadFile missing: %v", err)
	}
	got, err := h.Glob(ctx, l.srv.Dir+"/*_ed25519")
	want := []string{l.srv.Dir + "/client_ed25519", l.srv.Dir + "/host_ed25519"}
	if err != nil || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Glob = %q, %v; want %q", got, err, want)
	}
	if got, err := h.Glob(ctx, l.srv.Dir+"/none*"); err != nil || len(got) != 0 {
		t.Errorf("Glob no match = %q, %v", got, err)
	}

	// Many checks share the connection; sessions are bounded.
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := host.RunOK(ctx, h, host.C("true")); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent run: %v", err)
	}

	// Output is capped.
	small := l.opts()
	small.MaxOutput = 1000
	hs, err := Dial(ctx, "root@127.0.0.1", small)
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()
	if _, err := hs.Run(ctx, host.C("head", "-c", "5000", "/dev/zero")); err == nil || !strings.Contains(err.Error(), "larger than 1000 bytes") {
		t.Errorf("output cap: %v", err)
	}
}

func TestHostKeyRefused(t *testing.T) {
	l := newLab(t)
	ctx := context.Background()

	// Unknown: an empty known_hosts.
	empty := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	o := l.opts()
	o.KnownHosts = []string{empty}
	_, err := Dial(ctx, "root@127.0.0.1", o)
	if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), "host key is unknown") || !strings.Contains(err.Error(), "ssh-keyscan") {
		t.Errorf("unknown key: %v", err)
	}

	// Unknown: no known_hosts file at all.
	o = l.opts()
	o.Getenv = func(string) string { return "" }
	o.Getenv = func(k string) string {
		if k == "HOME" {
			return t.TempDir()
		}
		return ""
	}
	if _, err := os.Stat("/etc/ssh/ssh_known_hosts"); err == nil {
		t.Log("/etc/ssh/ssh_known_hosts exists; it is consulted too")
	}
	if _, err := Dial(ctx, "root@127.0.0.1", o); !errors.Is(err, ErrHostKey) {
		t.Errorf("no known_hosts: %v", err)
	}

	// Changed: known_hosts holds another key for the same host.
	other := sshtest.NewKey(t, filepath.Join(t.TempDir(), "other"))
	changed := filepath.Join(t.TempDir(), "known_hosts")
	line := "127.0.0.1 " + strings.TrimSpace(string(marshal(other)))
	if err := os.WriteFile(changed, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o = l.opts()
	o.KnownHosts = []string{changed}
	_, err = Dial(ctx, "root@127.0.0.1", o)
	if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), "HOST KEY HAS CHANGED") || !strings.Contains(err.Error(), changed+":1") {
		t.Errorf("changed key: %v", err)
	}

	// The right key but no usable client key.
	o = l.opts()
	o.Identities = []string{filepath.Join(t.TempDir(), "missing")}
	if _, err := Dial(ctx, "root@127.0.0.1", o); err == nil || !strings.Contains(err.Error(), "identity") {
		t.Errorf("missing identity: %v", err)
	}
	wrong := filepath.Join(t.TempDir(), "wrong")
	sshtest.NewKey(t, wrong)
	o.Identities = []string{wrong}
	if _, err := Dial(ctx, "root@127.0.0.1", o); err == nil || !strings.Contains(err.Error(), "authentication as \"root\" failed") {
		t.Errorf("wrong identity: %v", err)
	}
}

// TestSudo logs in as users that exist only in the namespace: one with
// passwordless sudo, one without. Privileged reads go through sudo -n for
// the first and are reported as permission denied for the second.
func TestSudo(t *testing.T) {
	testenv.RequireCommands(t, "sudo")
	ns := testenv.NewNetns(t, "nt")
	srv := sshtest.Start(t, ns, sshtest.Config{Addr: "127.0.0.1:22", Users: []sshtest.User{
		{Name: "rh4sudo", UID: 42424, Sudo: true}, {Name: "rh4plain", UID: 42425}}})
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte(srv.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dial := func(user string) *Host {
		h, err := Dial(ctx, user+"@127.0.0.1", Options{KnownHosts: []string{kh}, Identities: []string{srv.ClientKey},
			NoAgent: true, Dial: sshtest.DialIn(ns), Getenv: func(string) string { return "" }})
		if err != nil {
			t.Fatalf("dial %s: %v\n%s", user, err, srv.Log())
		}
		t.Cleanup(func() { h.Close() })
		return h
	}
	secret := filepath.Join(srv.Dir, "sshd_config") // root-only (0600 in a 0700 directory)

	h := dial("rh4sudo")
	if h.IsRoot(ctx) {
		t.Fatal("rh4sudo reported as root")
	}
	out, err := h.Run(ctx, host.Cmd{Name: "id", Args: []string{"-u"}, Sudo: true})
	if err != nil || strings.TrimSpace(string(out.Stdout)) != "0" {
		t.Errorf("sudo id -u: %v %q %q", err, out.Stdout, out.Stderr)
	}
	out, err = h.Run(ctx, host.C("id", "-u"))
	if err != nil || strings.TrimSpace(string(out.Stdout)) != "42424" {
		t.Errorf("id -u without Sudo: %v %q", err, out.Stdout)
	}
	if b, err := h.ReadFile(ctx, secret); err != nil || !strings.Contains(string(b), "LogLevel VERBOSE") {
		t.Errorf("ReadFile through sudo: %v", err)
	}
	if got, err := h.Glob(ctx, srv.Dir+"/*_config"); err != nil || len(got) != 1 {
		t.Errorf("Glob through sudo: %q %v", got, err)
	}
	// A batch: what the user may read comes from the one sed, a denied
	// file again through sudo.
	batch := []string{"/etc/passwd", secret, "/rampart-no-such-file"}
	if rs, err := h.ReadFiles(ctx, batch); err != nil || rs[0].Err != nil || !strings.HasPrefix(string(rs[0].Data), "root:") ||
		rs[1].Err != nil || !strings.Contains(string(rs[1].Data), "LogLevel VERBOSE") || !host.IsNotExist(rs[2].Err) {
		t.Errorf("ReadFiles through sudo: %v %+v", err, rs)
	}

	// Listed and read: as GlobAll and ReadFiles do, through sudo.
	if rs, err := h.ReadGlobs(ctx, []string{srv.Dir + "/*_config", "/rampart-no-such-file"}); err != nil || len(rs) != 2 || len(rs[0]) != 1 ||
		rs[0][0].Path != secret || !strings.Contains(string(rs[0][0].Data), "LogLevel VERBOSE") || len(rs[1]) != 0 {
		t.Errorf("ReadGlobs through sudo: %v %+v", err, rs)
	}

	p := dial("rh4plain")
	if rs, err := p.ReadGlobs(ctx, []string{srv.Dir + "/*_config", "/etc/passwd"}); err != nil || len(rs) != 2 || len(rs[0]) != 0 ||
		len(rs[1]) != 1 || !strings.HasPrefix(string(rs[1][0].Data), "root:") {
		t.Errorf("ReadGlobs without sudo rights: %v %+v", err, rs)
	}
	if _, err := p.ReadFile(ctx, secret); !errors.Is(err, os.ErrPermission) {
		t.Errorf("ReadFile without sudo rights: %v, want permission denied", err)
	}
	if rs, err := p.ReadFiles(ctx, batch); err != nil || rs[0].Err != nil || !errors.Is(rs[1].Err, os.ErrPermission) || !host.IsNotExist(rs[2].Err) {
		t.Errorf("ReadFiles without sudo rights: %v %+v", err, rs)
	}
	if _, err := p.Run(ctx, host.Cmd{Name: "id", Sudo: true}); !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "sudo -n was refused") {
		t.Errorf("Run with Sudo without sudo rights: %v", err)
	}
	if got, err := p.Glob(ctx, srv.Dir+"/*_config"); err != nil || len(got) != 0 {
		t.Errorf("Glob without sudo rights: %q %v (want nothing visible, no error)", got, err)
	}
}

// TestAgent serves a real ssh-agent protocol keyring on a socket. With
// MaxAuthTries 3 (the seed's value), an agent holding four other keys
// would exhaust the tries; an explicit identity is offered alone, and a
// passphrase-protected identity is used through the agent.
func TestAgent(t *testing.T) {
	ns := testenv.NewNetns(t, "nt")
	srv := sshtest.Start(t, ns, sshtest.Config{Addr: "127.0.0.1:22", Extra: []string{"MaxAuthTries 3"}})
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(kh, []byte(srv.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	for i := 0; i < 4; i++ {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
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
			go func() { _ = agent.ServeAgent(keyring, c); c.Close() }()
		}
	}()
	ctx := context.Background()
	dial := func(ids ...string) error {
		h, err := Dial(ctx, "root@127.0.0.1", Options{KnownHosts: []string{kh}, Identities: ids, Dial: sshtest.DialIn(ns),
			Getenv: func(k string) string {
				if k == "SSH_AUTH_SOCK" {
					return sock
				}
				return ""
			}})
		if err == nil {
			h.Close()
		}
		return err
	}
	if err := dial(); err == nil || !strings.Contains(err.Error(), "agent: 4 of 4 keys") {
		t.Errorf("agent with only other keys: %v", err)
	}
	if err := dial(srv.ClientKey); err != nil {
		t.Errorf("explicit identity next to a full agent: %v", err)
	}
	raw, err := os.ReadFile(srv.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ssh.ParseRawPrivateKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(dir, "locked")
	if err := os.WriteFile(locked, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := dial(locked); err == nil || !strings.Contains(err.Error(), "passphrase-protected") {
		t.Errorf("locked identity not in the agent: %v", err)
	}
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	if err := dial(locked); err != nil {
		t.Errorf("locked identity through the agent: %v", err)
	}
}
