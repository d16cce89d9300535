package daemon_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// cli runs `rampart ARGS` (this test binary) inside the server namespace.
func (w *world) cli(args ...string) (string, error) {
	c := w.srv.Cmd(w.self, args...)
	c.Env = append(os.Environ(), "RAMPART_AS_CLI=1")
	out, err := c.CombinedOutput()
	return string(out), err
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestE2EOfflineUnban: with the daemon down, `guard unban ADDR`, `guard
// flush JAIL` and `guard unban --all` change the kernel set and the ban
// store together, so a restart neither restores nor adopts what was
// lifted; with the daemon up they go through its socket; with the state
// directory locked by a daemon whose socket does not answer, they refuse.
func TestE2EOfflineUnban(t *testing.T) {
	w := newWorld(t)
	w.startDaemon()
	state := filepath.Join(w.dir, "state")
	ctl := func(args ...string) (string, int) {
		out, err := w.cli(append(args, "-p", w.policy, "--socket", w.sock)...)
		return out, exitCode(err)
	}
	// An hour each: the world's bantime (10s) could run out on a slow
	// machine.
	for _, b := range [][]string{{"192.0.2.7"}, {"192.0.2.8"}, {"198.51.100.0/28", "--jail", "sshd"}, {"2001:db8:bad::/48", "--jail", "sshd"}} {
		if out, code := ctl(append([]string{"guard", "ban", "--for", "1h"}, b...)...); code != 0 {
			t.Fatalf("guard ban %v: %d\n%s", b, code, out)
		}
	}
	stop := func() {
		w.daemon.Process.Signal(syscall.SIGTERM)
		if err := w.daemon.Wait(); err != nil {
			t.Fatalf("daemon exit: %v", err)
		}
		w.daemon = nil
	}
	stop()

	// Down: one address.
	out, code := ctl("guard", "unban", "192.0.2.7", "--state-dir", state)
	if code != 0 || !strings.Contains(out, "unbanned 192.0.2.7/32 (jail manual) (daemon not running") {
		t.Fatalf("offline unban: %d\n%s", code, out)
	}
	if set := w.elements(); strings.Contains(set, "192.0.2.7") || !strings.Contains(set, "192.0.2.8") {
		t.Fatalf("after the offline unban:\n%s", set)
	}
	if out, code := ctl("guard", "unban", "192.0.2.7", "--state-dir", state); code != 1 || !strings.Contains(out, "192.0.2.7/32 is not banned") {
		t.Errorf("second offline unban: %d\n%s", code, out)
	}
	// Down: one jail.
	out, code = ctl("guard", "flush", "sshd", "--state-dir", state)
	if code != 0 || !strings.Contains(out, "198.51.100.0/28 (jail sshd)") || !strings.Contains(out, "2001:db8:bad::/48 (jail sshd)") || strings.Contains(out, "192.0.2.8") {
		t.Fatalf("offline flush sshd: %d\n%s", code, out)
	}
	if set := w.elements("banned6"); strings.Contains(set, "2001:db8:bad") {
		t.Fatalf("after the offline flush:\n%s", set)
	}

	// Up again: nothing lifted comes back, from the store or the kernel.
	w.startDaemon()
	out, code = ctl("guard", "list")
	if code != 0 || strings.Contains(out, "192.0.2.7") || strings.Contains(out, "198.51.100.0") || !strings.Contains(out, "192.0.2.8/32") {
		t.Fatalf("list after restart: %d\n%s", code, out)
	}
	// Up, with the socket elsewhere: the lock tells the daemon is there.
	o, err := w.cli("guard", "unban", "192.0.2.8", "-p", w.policy, "--state-dir", state, "--socket", filepath.Join(w.dir, "nowhere.sock"))
	out, code = o, exitCode(err)
	if code != 2 || !strings.Contains(out, "is running (its state directory") {
		t.Errorf("unban with the daemon holding the lock: %d\n%s", code, out)
	}
	if !strings.Contains(w.elements(), "192.0.2.8") {
		t.Error("the refused unban changed the kernel set")
	}
	// Up: flush through the socket.
	ctl("guard", "ban", "192.0.2.9", "--jail", "sshd", "--for", "1h")
	out, code = ctl("guard", "flush", "sshd")
	if code != 0 || !strings.Contains(out, "unbanned 192.0.2.9/32 (jail sshd)") || strings.Contains(out, "daemon not running") {
		t.Errorf("flush through the daemon: %d\n%s", code, out)
	}
	// Down: everything.
	stop()
	out, code = ctl("guard", "unban", "--all", "--state-dir", state)
	if code != 0 || !strings.Contains(out, "unbanned 192.0.2.8/32 (jail manual) (daemon not running") {
		t.Fatalf("offline unban --all: %d\n%s", code, out)
	}
	if set := w.elements(); strings.Contains(set, "192.0.2.") {
		t.Fatalf("after unban --all:\n%s", set)
	}
	w.startDaemon()
	if out, _ := ctl("guard", "list"); !strings.Contains(out, "no bans in force") {
		t.Errorf("list after unban --all and a restart:\n%s", out)
	}
}
