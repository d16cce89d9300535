package daemon_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/cli"
	"github.com/rampart-sec/rampart/internal/guard/control"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// TestMain lets the E2E test run this test binary as the rampart CLI
// (RAMPART_AS_CLI=1), so the daemon is a real process that can be killed
// with SIGKILL, without a go build. As "__record_argv FILE ARGS..." it
// appends ARGS as one JSON line to FILE (the exec action's witness).
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "__record_argv" {
		os.Exit(recordArgv(os.Args[2], os.Args[3:]))
	}
	if os.Getenv("RAMPART_AS_CLI") == "1" {
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// world is the E2E topology:
//
//	internet (198.51.100.10 attacker, 198.51.100.20 ignore-listed)
//	    |  198.51.100.0/24
//	server (198.51.100.1, 192.0.2.1): real sshd, rampart guard run, nftables
//	    |  192.0.2.0/24
//	admin (192.0.2.10)
type world struct {
	t                  *testing.T
	srv, inet, admin   *testenv.Netns
	dir, log, sock     string
	key                string
	daemon             *exec.Cmd
	daemonOut          *os.File
	sshdPath, sshpass  string
	self               string
	policy             string
	attacker, friendly string
	reconcile          string // --reconcile ("500ms" when empty)
}

const (
	srvInet  = "198.51.100.1"
	srvAdmin = "192.0.2.1"
	bantime  = 10 * time.Second
)

// IPv6 addresses: the attacker's /64 is not the server's.
const (
	srv6      = "2001:db8:1::1"
	attacker6 = "2001:db8:1:a::10"
	sibling6  = "2001:db8:1:a::11" // same /64 as attacker6
)

func newWorld(t *testing.T, extraBan ...string) *world {
	t.Helper()
	testenv.RequireNetns(t)
	sshdPath := testenv.RequireSSHD(t)
	paths := testenv.RequireCommands(t, "ssh", "ssh-keygen", "sshpass", "nft")
	w := &world{t: t, sshdPath: sshdPath, sshpass: paths[2], attacker: "198.51.100.10", friendly: "198.51.100.20"}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w.self = self
	w.dir = t.TempDir()
	w.log = filepath.Join(w.dir, "sshd.log")
	w.sock = filepath.Join(w.dir, "run", "guard.sock")
	w.srv = testenv.NewNetns(t, "gds")
	w.inet = testenv.NewNetns(t, "gdi")
	w.admin = testenv.NewNetns(t, "gda")
	testenv.Link(t, w.srv, "eth0", srvInet+"/24", w.inet, "eth0", w.attacker+"/24")
	w.inet.Exec(t, "ip", "addr", "add", w.friendly+"/24", "dev", "eth0", "nodad")
	w.srv.Exec(t, "ip", "-6", "addr", "add", srv6+"/48", "dev", "eth0", "nodad")
	w.inet.Exec(t, "ip", "-6", "addr", "add", attacker6+"/48", "dev", "eth0", "nodad")
	w.inet.Exec(t, "ip", "-6", "addr", "add", sibling6+"/48", "dev", "eth0", "nodad")
	testenv.Link(t, w.srv, "eth1", srvAdmin+"/24", w.admin, "eth0", "192.0.2.10/24")

	// sshd: host key, root by key only (the admin), passwords allowed for
	// the attempts, log to a file at VERBOSE.
	hk := filepath.Join(w.dir, "hostkey")
	testenv.Run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hk)
	w.key = filepath.Join(w.dir, "adminkey")
	testenv.Run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", w.key)
	pub, _ := os.ReadFile(w.key + ".pub")
	ak := filepath.Join(w.dir, "authorized_keys")
	os.WriteFile(ak, pub, 0o600)
	cfg := filepath.Join(w.dir, "sshd_config")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`Port 22
ListenAddress 0.0.0.0
ListenAddress ::
HostKey %s
PidFile none
LogLevel VERBOSE
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AuthorizedKeysFile %s
StrictModes no
MaxStartups 100
`, hk, ak)), 0o600)
	sshd := w.srv.Cmd(w.sshdPath, "-D", "-f", cfg, "-E", w.log)
	if err := sshd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sshd.Process.Kill(); sshd.Wait() })
	testenv.WaitTCP(t, w.admin, srvAdmin+":22", 5*time.Second)
	testenv.WaitTCP(t, w.inet, srvInet+":22", 5*time.Second)

	w.policy = filepath.Join(w.dir, "policy.toml")
	os.WriteFile(w.policy, []byte(fmt.Sprintf(`[ban]
bantime = "%ds"
findtime = "10m"
maxretry = 3
ignore = ["127.0.0.1/8", "::1", "%s"]
%s

[ban.jails.sshd]
enabled = true
filter = "sshd"
mode = "normal"
source = "file"
paths = [%q]

[ban.jails.nginx-noscript]
enabled = false
`, int(bantime/time.Second), w.friendly, strings.Join(extraBan, "\n"), w.log)), 0o600)
	return w
}

// startDaemon runs `rampart guard run` inside the server namespace.
func (w *world) startDaemon() {
	w.t.Helper()
	out, err := os.OpenFile(filepath.Join(w.dir, "daemon.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		w.t.Fatal(err)
	}
	rec := w.reconcile
	if rec == "" {
		rec = "500ms"
	}
	cmd := w.srv.Cmd(w.self, "guard", "run", "-p", w.policy, "--state-dir", filepath.Join(w.dir, "state"),
		"--socket", w.sock, "--reconcile", rec, "--from-start")
	cmd.Env = append(os.Environ(), "RAMPART_AS_CLI=1")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	w.daemon, w.daemonOut = cmd, out
	w.t.Cleanup(func() {
		if w.daemon == cmd {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
	})
	w.eventually("the daemon's table", 5*time.Second, func() bool {
		return w.srv.Cmd("nft", "list", "chain", "inet", "rampart", "input").Run() == nil && fileExists(w.sock)
	})
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func (w *world) eventually(what string, limit time.Duration, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(w.dir, "daemon.log"))
			l, _ := os.ReadFile(w.log)
			w.t.Fatalf("timed out waiting for %s\ndaemon log:\n%s\nsshd log:\n%s", what, b, l)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// password makes one failed password login from src as user.
func (w *world) password(src, user string) {
	w.t.Helper()
	w.passwordTo(src, srvInet, user)
}

func (w *world) passwordTo(src, dst, user string) {
	w.t.Helper()
	out, _ := w.inet.Cmd(w.sshpass, "-p", "wrong-password", "ssh", "-b", src, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=2",
		"-l", user, dst, "true").CombinedOutput()
	if !bytes.Contains(out, []byte("Permission denied")) {
		w.t.Fatalf("password attempt from %s as %q: want Permission denied, got:\n%s", src, user, out)
	}
}

// reach reports whether src gets an SSH answer from the server (a refusal
// by the server counts: the TCP connection and banner went through).
func reach(ns *testenv.Netns, src, dst string) bool {
	out, _ := ns.Cmd("ssh", "-b", src, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
		"-o", "ConnectTimeout=1", "-l", "nobody", dst, "true").CombinedOutput()
	return bytes.Contains(out, []byte("Permission denied"))
}

// elements returns the server's banned4 set (or the named one) as nft
// prints it.
func (w *world) elements(set ...string) string {
	name := "banned4"
	if len(set) > 0 {
		name = set[0]
	}
	out, err := w.srv.Cmd("nft", "list", "set", "inet", "rampart", name).CombinedOutput()
	if err != nil {
		return ""
	}
	return string(out)
}

// expiresRe finds the remaining time nft prints for an element: "8s52ms",
// "1m2s", or "8s" when the milliseconds are zero (time.ParseDuration
// reads each).
var expiresRe = regexp.MustCompile(`expires ([0-9hms]+)`)

func TestE2ESSHDBan(t *testing.T) {
	w := newWorld(t)
	w.startDaemon()

	// Before: everybody connects.
	if !reach(w.inet, w.attacker, srvInet) || !reach(w.admin, "192.0.2.10", srvAdmin) {
		t.Fatal("no SSH answer before any ban")
	}

	// Injected user names from the ignore-listed address: never ban the
	// injected address (nor the ignore-listed sender).
	for _, u := range []string{"root from 198.51.100.99 port 22", "x from 198.51.100.99 port 22 ssh2", "root from 198.51.100.99"} {
		for range 2 {
			w.password(w.friendly, u)
		}
	}
	// Client banners carrying an address, from the ignore-listed one.
	banner := `import socket,sys,time
s=socket.create_connection((sys.argv[1],22),timeout=2,source_address=(sys.argv[2],0))
s.recv(256)
s.sendall(b"SSH-2.0-x from 198.51.100.98 port 22\r\nfrom 198.51.100.98 port 22 ssh2\r\n")
time.sleep(0.3)`
	for range 3 {
		if out, err := w.inet.Cmd(python3(t), "-c", banner, srvInet, w.friendly).CombinedOutput(); err != nil {
			t.Fatalf("banner client: %v\n%s", err, out)
		}
	}

	// Two failures, the log rotates (rename + new file), the third one
	// lands in the new file: no line is lost, so the ban follows. (sshd -E
	// writes no syslog prefix, so there is no PID to tie an "Invalid user"
	// line to its "Failed password" line; a valid user name gives exactly
	// one failure per connection.)
	w.password(w.attacker, "root")
	w.password(w.attacker, "root")
	if err := os.Rename(w.log, w.log+".1"); err != nil {
		t.Fatal(err)
	}
	// Wait until both failures went through the engine (the status is
	// answered by the loop that decides), then nothing may be banned.
	var js control.JailStatus
	w.eventually("2 failures counted", 5*time.Second, func() bool {
		r, err := control.Call(w.sock, control.Request{Op: control.OpStatus, Jail: "sshd"})
		if err != nil || len(r.Status.Jails) != 1 {
			return false
		}
		js = r.Status.Jails[0]
		return js.TotalFailed >= 2
	})
	if strings.Contains(w.elements(), w.attacker) || js.TotalFailed != 2 || js.CurrentlyBanned != 0 {
		b, _ := os.ReadFile(filepath.Join(w.dir, "daemon.log"))
		l, _ := os.ReadFile(w.log + ".1")
		t.Fatalf("banned or miscounted after 2 failures (maxretry 3): %+v\ndaemon log:\n%s\nsshd log:\n%s", js, b, l)
	}
	w.password(w.attacker, "root")
	w.eventually("the ban of the attacker", 5*time.Second, func() bool { return strings.Contains(w.elements(), w.attacker) })
	bannedAt := time.Now()

	if reach(w.inet, w.attacker, srvInet) {
		t.Error("the banned attacker still gets an SSH answer")
	}
	if !reach(w.admin, "192.0.2.10", srvAdmin) {
		t.Error("the admin namespace lost SSH")
	}
	if out, _ := w.admin.Cmd("ssh", "-i", w.key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=2", "root@"+srvAdmin, "echo", "admin-ok").CombinedOutput(); !bytes.Contains(out, []byte("admin-ok")) {
		t.Errorf("admin key login failed: %s", out)
	}
	if !reach(w.inet, w.friendly, srvInet) {
		t.Error("the ignore-listed address lost SSH")
	}
	set := w.elements()
	for _, never := range []string{"198.51.100.99", "198.51.100.98", w.friendly} {
		if strings.Contains(set, never) {
			t.Errorf("%s was banned:\n%s", never, set)
		}
	}

	// kill -9 and restart: the ban is back once, with its remaining time.
	w.daemon.Process.Kill()
	w.daemon.Wait()
	w.daemon = nil
	w.srv.Exec(t, "nft", "delete", "table", "inet", "rampart") // as after a reboot
	w.startDaemon()
	set = w.elements()
	if n := strings.Count(set, w.attacker); n != 1 {
		t.Fatalf("after kill -9 and restart the attacker appears %d times:\n%s", n, set)
	}
	m := expiresRe.FindStringSubmatch(set)
	if m == nil {
		t.Fatalf("no expiry in:\n%s", set)
	}
	left, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatalf("expiry %q: %v", m[1], err)
	}
	if max := bantime - time.Since(bannedAt) + time.Second; left > max || left <= 0 {
		t.Errorf("remaining ban %v after restart, want at most %v", left, max)
	}

	// Someone flushes the table (rules gone, sets kept) and the set: the
	// daemon sees the nftables events and re-asserts both (at once: what
	// the flush left is gone before nft could list it, so only the
	// outcome and the log are checked).
	w.srv.Exec(t, "nft", "flush", "table", "inet", "rampart")
	w.srv.Exec(t, "nft", "flush", "set", "inet", "rampart", "banned4")
	w.eventually("a re-assert triggered by the flush's events", 3*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(w.dir, "daemon.log"))
		return bytes.Contains(b, []byte(`"trigger":"rule deleted in table inet rampart`)) || bytes.Contains(b, []byte(`"trigger":"set elements deleted`))
	})
	w.eventually("the reconcile", 3*time.Second, func() bool {
		rs, _ := w.srv.Cmd("nft", "list", "table", "inet", "rampart").CombinedOutput()
		return strings.Contains(string(rs), w.attacker) && strings.Count(string(rs), "ip saddr @banned4 counter") == 2
	})
	if time.Since(bannedAt) > bantime-2*time.Second {
		t.Fatalf("the test is too slow for its %v bantime (%v since the ban)", bantime, time.Since(bannedAt))
	}
	if reach(w.inet, w.attacker, srvInet) {
		rs, _ := w.srv.Cmd("nft", "list", "ruleset").CombinedOutput()
		b, _ := os.ReadFile(filepath.Join(w.dir, "daemon.log"))
		t.Errorf("the attacker got through after the reconcile (%v after the ban)\n%s\n%s", time.Since(bannedAt), rs, b)
	}

	// Status over the socket (from inside the namespace, as root).
	st := w.srv.Cmd(w.self, "guard", "status", "sshd", "--socket", w.sock)
	st.Env = append(os.Environ(), "RAMPART_AS_CLI=1")
	out, err := st.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("Currently banned: 1")) || !bytes.Contains(out, []byte(w.attacker+"/32")) {
		t.Errorf("guard status sshd: %v\n%s", err, out)
	}

	// The short bantime ends: the attacker is let in again.
	w.eventually("the unban", bantime+3*time.Second, func() bool { return !strings.Contains(w.elements(), w.attacker) })
	if !reach(w.inet, w.attacker, srvInet) {
		t.Error("the attacker is still blocked after the bantime")
	}
	w.daemon.Process.Signal(syscall.SIGTERM)
	if err := w.daemon.Wait(); err != nil {
		b, _ := os.ReadFile(filepath.Join(w.dir, "daemon.log"))
		t.Errorf("daemon exit after SIGTERM: %v\n%s", err, b)
	}
	w.daemon = nil
}

// TestE2EIPv6Prefix: with ban.ipv6_prefix = 64, three failures from one
// IPv6 address ban its /64 in the kernel: another address of that /64 is
// cut off too, while the server's own /64 and IPv4 are untouched.
func TestE2EIPv6Prefix(t *testing.T) {
	w := newWorld(t, "ipv6_prefix = 64")
	testenv.WaitTCP(t, w.inet, "["+srv6+"]:22", 5*time.Second)
	w.startDaemon()
	if !reach(w.inet, sibling6, srv6) {
		t.Fatal("no SSH answer over IPv6 before the ban")
	}
	for range 3 {
		w.passwordTo(attacker6, srv6, "root")
	}
	w.eventually("the /64 ban", 5*time.Second, func() bool { return strings.Contains(w.elements("banned6"), "2001:db8:1:a::/64") })
	if reach(w.inet, sibling6, srv6) {
		t.Error("another address of the banned /64 still gets an SSH answer")
	}
	if !reach(w.inet, w.attacker, srvInet) {
		t.Error("IPv4 from the same namespace was cut off")
	}
	if set := w.elements("banned6"); strings.Contains(set, "2001:db8:1::/64") || strings.Count(set, "/64") != 1 {
		t.Errorf("banned6:\n%s", set)
	}
}

func python3(t *testing.T) string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return testenv.RequireCommands(t, "python3")[0]
}
