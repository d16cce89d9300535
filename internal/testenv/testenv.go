// Package testenv gates tests on the capabilities they need (root, network
// namespaces, installed programs) and builds throwaway network namespaces.
//
// Without RAMPART_E2E=1 a missing capability skips the test with a reason;
// with RAMPART_E2E=1 (as .ci/run sets it) it fails the test, so CI can never
// pass by skipping.
package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// E2E reports whether RAMPART_E2E=1 is set.
func E2E() bool { return os.Getenv("RAMPART_E2E") == "1" }

// Missing skips t (or fails it under RAMPART_E2E=1) because of reason.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if E2E() {
		t.Fatalf("RAMPART_E2E=1 but a required capability is missing: %s", reason)
	}
	t.Skipf("skipping: %s (set RAMPART_E2E=1 to make this a failure)", reason)
}

// RequireRoot needs uid 0.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "test needs root")
	}
}

// RequireCommands needs each program on PATH (or in an sbin directory)
// and returns their paths in order.
func RequireCommands(t testing.TB, names ...string) []string {
	t.Helper()
	var paths []string
	for _, n := range names {
		p, err := LookPath(n)
		if err != nil {
			Missing(t, "program %q is not installed (see scripts/setup.sh)", n)
		}
		paths = append(paths, p)
	}
	return paths
}

// LookPath finds a program on PATH or in the usual sbin directories.
func LookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/lib/openssh", "/lib/systemd", "/usr/lib/systemd"} {
		p := d + "/" + name
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// RequireNetns needs root and the ability to create network namespaces.
func RequireNetns(t testing.TB) {
	t.Helper()
	RequireRoot(t)
	RequireCommands(t, "ip")
	name := UniqueName("probe")
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		Missing(t, "cannot create a network namespace: %v: %s", err, bytes.TrimSpace(out))
	}
	_ = exec.Command("ip", "netns", "del", name).Run()
}

var seq atomic.Int64

// UniqueName returns a short name unique to this process and call,
// usable for namespaces and interfaces (at most 15 bytes).
func UniqueName(prefix string) string {
	n := seq.Add(1)
	s := fmt.Sprintf("%s%d%d", prefix, os.Getpid()%100000, n)
	if len(s) > 15 {
		s = s[len(s)-15:]
	}
	return s
}

// Run runs a command and fails t with its output on error.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Netns is a named network namespace that is deleted at test cleanup.
type Netns struct {
	Name string
}

// NewNetns creates a namespace with loopback up.
func NewNetns(t testing.TB, prefix string) *Netns {
	t.Helper()
	RequireNetns(t)
	ns := &Netns{Name: UniqueName(prefix)}
	Run(t, "ip", "netns", "add", ns.Name)
	t.Cleanup(func() {
		// Kill anything left inside before deleting the namespace.
		if out, err := exec.Command("ip", "netns", "pids", ns.Name).Output(); err == nil {
			for _, pid := range strings.Fields(string(out)) {
				_ = exec.Command("kill", "-9", pid).Run()
			}
		}
		_ = exec.Command("ip", "netns", "del", ns.Name).Run()
	})
	ns.Exec(t, "ip", "link", "set", "lo", "up")
	if _, err := WriteNetnsPasswd(ns.Name); err != nil {
		Missing(t, "netns %s: %v", ns.Name, err)
	}
	t.Cleanup(func() {
		_ = os.RemoveAll(filepath.Join("/etc/netns", ns.Name))
		_ = os.Remove("/etc/netns") // only when no other namespace has files there
	})
	return ns
}

// NetnsPasswd is this machine's /etc/passwd with root's login shell set to
// /bin/sh. Every namespace a test creates gets it as /etc/netns/NAME/passwd
// (which "ip netns exec" mounts over /etc/passwd), so a command a test runs
// as root over a test sshd goes through "sh -c" and never through the
// machine's own root dotfiles: bash sources ~/.bashrc for every SSH command,
// and a developer machine's .bashrc (pyenv's rehash lock, say) can stall
// every login for a minute once a killed shell leaves its lock behind.
func NetnsPasswd() ([]byte, error) {
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return nil, err
	}
	lines := strings.SplitAfter(string(b), "\n")
	for i, l := range lines {
		if f := strings.Split(strings.TrimRight(l, "\n"), ":"); len(f) == 7 && f[0] == "root" {
			f[6] = "/bin/sh"
			lines[i] = strings.Join(f, ":") + "\n"
		}
	}
	return []byte(strings.Join(lines, "")), nil
}

// WriteNetnsPasswd writes NetnsPasswd as /etc/netns/NAME/passwd and returns
// the directory, which the caller removes when the namespace goes.
func WriteNetnsPasswd(name string) (string, error) {
	b, err := NetnsPasswd()
	if err != nil {
		return "", err
	}
	dir := filepath.Join("/etc/netns", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "passwd"), b, 0o644)
}

// Cmd returns an exec.Cmd that runs inside the namespace.
func (n *Netns) Cmd(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Exec runs a command inside the namespace and fails t on error.
func (n *Netns) Exec(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := n.Cmd(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("netns %s: %s %s: %v\n%s", n.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Link connects namespace a (interface aIf, address aAddr in CIDR form)
// to namespace b (bIf, bAddr) with a veth pair and brings both ends up.
func Link(t testing.TB, a *Netns, aIf, aAddr string, b *Netns, bIf, bAddr string) {
	t.Helper()
	tmpA, tmpB := UniqueName("va"), UniqueName("vb")
	Run(t, "ip", "link", "add", tmpA, "type", "veth", "peer", "name", tmpB)
	Run(t, "ip", "link", "set", tmpA, "netns", a.Name)
	Run(t, "ip", "link", "set", tmpB, "netns", b.Name)
	a.Exec(t, "ip", "link", "set", tmpA, "name", aIf)
	b.Exec(t, "ip", "link", "set", tmpB, "name", bIf)
	for _, x := range []struct {
		ns       *Netns
		ifc, adr string
	}{{a, aIf, aAddr}, {b, bIf, bAddr}} {
		fam := "-4"
		if strings.Contains(x.adr, ":") {
			fam = "-6"
		}
		x.ns.Exec(t, "ip", fam, "addr", "add", x.adr, "dev", x.ifc, "nodad")
		x.ns.Exec(t, "ip", "link", "set", x.ifc, "up")
	}
}

// WaitTCP waits until a TCP port accepts connections from inside ns (or
// the host when ns is nil), up to timeout.
func WaitTCP(t testing.TB, ns *Netns, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	host, port, _ := strings.Cut(addr, ":")
	if i := strings.LastIndex(addr, ":"); i >= 0 {
		host, port = strings.Trim(addr[:i], "[]"), addr[i+1:]
	}
	for time.Now().Before(deadline) {
		var c *exec.Cmd
		script := fmt.Sprintf("exec 3<>/dev/tcp/%s/%s", host, port)
		if ns != nil {
			c = ns.Cmd("timeout", "1", "bash", "-c", script)
		} else {
			c = exec.Command("timeout", "1", "bash", "-c", script)
		}
		if c.Run() == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not accept connections within %s", addr, timeout)
}

// SSHDPrivsepDir is the privilege-separation directory Debian's sshd is
// built with (--with-privsep-path): started as root, sshd refuses to run
// ("Missing privilege separation directory: /run/sshd") when it does not
// exist, and each connection's pre-auth child chroots into it. The system's
// ssh.service creates it (RuntimeDirectory=sshd); a machine where the
// package was installed without starting the service, or that rebooted
// since (/run is a tmpfs), has none, and no sshd_config option avoids it.
const SSHDPrivsepDir = "/run/sshd"

// SSHD returns the path of the OpenSSH server, ready to be started as
// root: the privilege-separation directory exists (created 0755 root, as
// the service would, when missing). Every test that starts an sshd gets it
// from here (RequireSSHD, or the cmd/rampart script command "sshd-ready"),
// so no test depends on this machine having run ssh.service. The directory
// is left in place: it is the system's own, empty, and sshds of tests
// running in parallel packages chroot into it.
func SSHD() (string, error) {
	p, err := LookPath("sshd")
	if err != nil {
		return "", fmt.Errorf("program \"sshd\" is not installed (see scripts/setup.sh)")
	}
	if err := os.MkdirAll(SSHDPrivsepDir, 0o755); err != nil {
		return "", fmt.Errorf("sshd privilege separation directory: %w", err)
	}
	return p, nil
}

// RequireSSHD needs root and an sshd that can start (see SSHD) and returns
// its path.
func RequireSSHD(t testing.TB) string {
	t.Helper()
	RequireRoot(t)
	p, err := SSHD()
	if err != nil {
		Missing(t, "%v", err)
	}
	return p
}

// LockKernelAudit serialises the tests that change the kernel's audit rules,
// which are one global for the whole machine: packages' test binaries run in
// parallel under `go test ./...`, and a test that snapshots the rules to
// restore them must not see another package's watches come and go. The lock
// is held until t's cleanup; call it before registering cleanups that
// restore rules, so it is released after them.
func LockKernelAudit(t testing.TB) {
	t.Helper()
	lock, err := os.OpenFile("/run/rampart-test-kernel-audit.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		Missing(t, "kernel audit lock: %v", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("kernel audit lock: %v", err)
	}
	t.Cleanup(func() { lock.Close() })
}

// SeedFiles adds the contents of every file the glob patterns match (in
// the test's directory: testdata/…) to a fuzz target's seed corpus.
func SeedFiles(f *testing.F, patterns ...string) {
	f.Helper()
	for _, pat := range patterns {
		files, err := filepath.Glob(pat)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}
