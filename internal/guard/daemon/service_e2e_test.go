package daemon_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/testenv"
)

// TestE2EUnprivileged runs the daemon the way rampart-guard.service does:
// uid 65534, no supplementary group but the journal's, CAP_NET_ADMIN as
// the only capability (effective, ambient and bounding), no new privileges
// (setpriv inside a network namespace). It reads a journal file readable
// only by that group, bans the offender in nftables, and after kill -9 and
// the table's loss restores the ban, still unprivileged.
func TestE2EUnprivileged(t *testing.T) {
	testenv.RequireNetns(t)
	paths := testenv.RequireCommands(t, "setpriv", "systemd-journal-remote", "journalctl", "nft")
	setpriv, remote := paths[0], paths[1]
	const attacker, bystander = "198.51.100.10", "198.51.100.11"

	// Everything the daemon touches lives in a directory nobody can reach
	// (testing's own temp dirs are 0700 root).
	dir, err := os.MkdirTemp("", "rampart-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "rampart")
	copyFile(t, mustExecutable(t), bin, 0o755)
	state := filepath.Join(dir, "state")
	os.Mkdir(state, 0o700)
	os.Chown(state, 65534, 65534)

	// The journal group: systemd-journal where it exists.
	jgid := 48215
	if g, err := user.LookupGroup("systemd-journal"); err == nil {
		jgid, _ = strconv.Atoi(g.Gid)
	}
	var export bytes.Buffer
	now := time.Now()
	for i, m := range []string{
		"Failed password for root from " + attacker + " port 40001 ssh2",
		"Failed password for invalid user x from " + bystander + " port 40002 ssh2",
		"Failed password for root from " + attacker + " port 40003 ssh2",
		"Failed password for root from " + attacker + " port 40004 ssh2",
	} {
		fmt.Fprintf(&export, "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=0123456789abcdef0123456789abcdef\nSYSLOG_IDENTIFIER=sshd-session\n_COMM=sshd-session\n_PID=%d\n_SYSTEMD_UNIT=ssh.service\nMESSAGE=%s\n\n",
			now.Add(time.Duration(i-10)*time.Second).UnixMicro(), 1000+i, 3000+i, m)
	}
	jf := filepath.Join(dir, "sshd.journal")
	cmd := exec.Command(remote, "-o", jf, "-")
	cmd.Stdin = &export
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-remote: %v\n%s", err, out)
	}
	os.Chown(jf, 0, jgid)
	os.Chmod(jf, 0o640)

	pol := filepath.Join(dir, "policy.toml")
	os.WriteFile(pol, []byte(`[ban]
bantime = "1h"
socket_group = ""

[ban.jails.nginx-noscript]
enabled = false
`), 0o644)
	sock := filepath.Join(state, "run", "guard.sock")
	ns := testenv.NewNetns(t, "gun")
	logf := filepath.Join(dir, "daemon.log")
	start := func() *exec.Cmd {
		t.Helper()
		out, err := os.OpenFile(logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { out.Close() })
		c := ns.Cmd(setpriv, "--reuid=65534", "--regid=65534", fmt.Sprintf("--groups=%d", jgid),
			"--inh-caps=-all,+net_admin", "--ambient-caps=+net_admin", "--bounding-set=-all,+net_admin", "--no-new-privs",
			bin, "guard", "run", "-p", pol, "--state-dir", state, "--socket", sock, "--journal-file", jf)
		c.Env = append(os.Environ(), "RAMPART_AS_CLI=1")
		c.Stdout, c.Stderr = out, out
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Signal(syscall.SIGTERM); c.Wait() })
		return c
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				b, _ := os.ReadFile(logf)
				t.Fatalf("timed out waiting for %s\ndaemon log:\n%s", what, b)
			}
		}
	}
	banned := func() string {
		out, _ := ns.Cmd("nft", "list", "set", "inet", "rampart", "banned4").CombinedOutput()
		return string(out)
	}

	d := start()
	waitFor("the ban read from the journal", func() bool { return strings.Contains(banned(), attacker) })
	if strings.Contains(banned(), bystander) {
		t.Errorf("one failure banned %s:\n%s", bystander, banned())
	}
	// It really runs as the unit says.
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Uid:\t65534\t65534\t65534\t65534", "CapEff:\t0000000000001000", "CapBnd:\t0000000000001000", "NoNewPrivs:\t1", fmt.Sprintf("Groups:\t%d", jgid)} {
		if !bytes.Contains(status, []byte(want)) {
			t.Errorf("daemon /proc status lacks %q:\n%s", want, status)
		}
	}
	// The socket serves its own uid and root.
	st := ns.Cmd(bin, "guard", "list", "--socket", sock)
	st.Env = append(os.Environ(), "RAMPART_AS_CLI=1")
	if out, err := st.CombinedOutput(); err != nil || !bytes.Contains(out, []byte(attacker+"/32")) {
		t.Errorf("guard list as root: %v\n%s", err, out)
	}

	// kill -9, the table is lost (as at a reboot), restart: restored.
	d.Process.Kill()
	d.Wait()
	ns.Exec(t, "nft", "delete", "table", "inet", "rampart")
	start()
	waitFor("the ban restored", func() bool { return strings.Contains(banned(), attacker) })
	if n := strings.Count(banned(), attacker); n != 1 {
		t.Errorf("the attacker appears %d times after the restore:\n%s", n, banned())
	}
	b, _ := os.ReadFile(logf)
	if !bytes.Contains(b, []byte(`"msg":"bans restored","bans":1`)) {
		t.Errorf("no restore logged:\n%s", b)
	}
}

func mustExecutable(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
