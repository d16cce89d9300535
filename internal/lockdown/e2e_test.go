package lockdown_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/lockdown"
	"github.com/rampart-sec/rampart/internal/nftrules"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// The lab (issue 6): a "server" namespace with a real sshd, an interface
// named tailscale0 (100.64.0.1) towards a "tailnet" peer namespace
// (100.64.0.2) and eth0 (203.0.113.1) towards a "public" namespace
// (203.0.113.2). rampart runs as a real binary inside the server
// namespace, so the host's own ruleset is never touched.

const (
	srvTS  = "100.64.0.1"
	peerTS = "100.64.0.2"
	srvPub = "203.0.113.1"
	peerPb = "203.0.113.2"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// rampartBin builds cmd/rampart once per test run.
func rampartBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "lk-rampart-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "rampart")
		// Once more on failure: parallel go commands sharing the build
		// cache (other packages' tests) occasionally trip each other.
		for try := 0; try < 2; try++ {
			// As shipped: static, no cgo (scripts/package.sh).
			cmd := exec.Command("go", "build", "-o", binPath, "github.com/rampart-sec/rampart/cmd/rampart")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			out, err := cmd.CombinedOutput()
			if buildErr = nil; err != nil {
				buildErr = fmt.Errorf("go build: %v\n%s", err, out)
				continue
			}
			break
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type lab struct {
	t               *testing.T
	dir, state, bin string
	srv, tnet, pub  *testenv.Netns
	key             string
	// env is added to every rampart run; applyArgs replace the default
	// "--force" of startApply (the fake-tailnet lab has no tailscale).
	env       []string
	applyArgs []string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	testenv.RequireNetns(t)
	sshd := testenv.RequireSSHD(t)
	testenv.RequireCommands(t, "ssh", "ssh-keygen", "nft", "ip", "timeout")
	l := &lab{t: t, dir: t.TempDir()}
	l.bin = rampartBin(t)
	l.state = filepath.Join(l.dir, "state")
	l.srv = testenv.NewNetns(t, "lks")
	l.tnet = testenv.NewNetns(t, "lkt")
	l.pub = testenv.NewNetns(t, "lkp")
	testenv.Link(t, l.srv, "tailscale0", srvTS+"/24", l.tnet, "ts-peer", peerTS+"/24")
	testenv.Link(t, l.srv, "eth0", srvPub+"/24", l.pub, "eth0", peerPb+"/24")

	l.startSSHD(sshd)
	testenv.WaitTCP(t, l.tnet, srvTS+":22", 10*time.Second)
	testenv.WaitTCP(t, l.pub, srvPub+":22", 10*time.Second)
	// Whatever happens, leave no table and no watchdog behind (the
	// namespace cleanup kills processes inside it too).
	t.Cleanup(func() { _ = l.srv.Cmd("nft", "delete", "table", "inet", lockdown.DefaultTable).Run() })
	return l
}

// startSSHD runs a real, key-only sshd (from testenv.RequireSSHD) in the server namespace with its
// files in l.dir (sshd_config there, for --sshd-config).
func (l *lab) startSSHD(sshd string) {
	t := l.t
	testenv.Run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(l.dir, "hostkey"))
	l.key = filepath.Join(l.dir, "client")
	testenv.Run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", l.key)
	pub, err := os.ReadFile(l.key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(l.dir, "authorized_keys"), pub, 0o600))
	conf := fmt.Sprintf(`Port 22
ListenAddress 0.0.0.0
HostKey %[1]s/hostkey
AuthorizedKeysFile %[1]s/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile %[1]s/sshd.pid
LogLevel ERROR
`, l.dir)
	must(t, os.WriteFile(filepath.Join(l.dir, "sshd_config"), []byte(conf), 0o600))
	cmd := l.srv.Cmd(sshd, "-D", "-e", "-f", filepath.Join(l.dir, "sshd_config"))
	var log syncBuf
	cmd.Stderr = &log
	must(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("sshd log:\n%s", log.String())
		}
	})
}

// syncBuf is a bytes.Buffer safe to read while a process writes to it.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ssh runs a remote command on the server from ns (to addr) with a short
// connect timeout; it returns combined output and the exit code.
func (l *lab) ssh(ns *testenv.Netns, addr string, remote ...string) (string, int) {
	args := []string{"-i", l.key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "ConnectTimeout=2", "-o", "LogLevel=ERROR", "root@" + addr}
	out, err := ns.Cmd("ssh", append(args, remote...)...).CombinedOutput()
	return string(out), exitCode(err)
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

func (l *lab) canSSH(ns *testenv.Netns, addr string) bool {
	out, code := l.ssh(ns, addr, "echo", "in")
	return code == 0 && strings.TrimSpace(out) == "in"
}

// rampart runs the binary in the server namespace.
func (l *lab) rampart(env []string, args ...string) *exec.Cmd {
	c := l.srv.Cmd(l.bin, args...)
	c.Env = append(append(os.Environ(), l.env...), env...)
	return c
}

func (l *lab) loadState() *lockdown.State {
	st, err := (&lockdown.Store{Dir: l.state}).Load()
	if err != nil {
		l.t.Fatal(err)
	}
	return st
}

// startApply runs `rampart lockdown apply` in the background and waits
// until the change is pending with its table installed.
func (l *lab) startApply(within string) (*exec.Cmd, *syncBuf) {
	l.t.Helper()
	extra := l.applyArgs
	if extra == nil {
		extra = []string{"--force"}
	}
	args := append([]string{"lockdown", "apply", "--confirm-within", within, "--state-dir", l.state}, extra...)
	c := l.rampart([]string{"SSH_CONNECTION="}, args...)
	var out syncBuf
	c.Stdout, c.Stderr = &out, &out
	must(l.t, c.Start())
	l.t.Cleanup(func() {
		if c.ProcessState == nil {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := (&lockdown.Store{Dir: l.state}).Load(); err == nil && st.Phase == lockdown.PhasePending && st.WatchdogPID > 0 {
			if l.srv.Cmd("nft", "list", "table", "inet", lockdown.DefaultTable).Run() == nil {
				return c, &out
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	l.t.Fatalf("apply did not reach pending with its table:\n%s", out.String())
	return nil, nil
}

func (l *lab) waitPhase(phase string, max time.Duration) *lockdown.State {
	l.t.Helper()
	deadline := time.Now().Add(max)
	for {
		st := l.loadState()
		if st.Phase == phase {
			return st
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("phase = %s (%s), want %s", st.Phase, st.Reason, phase)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *lab) tablePresent() bool {
	return l.srv.Cmd("nft", "list", "table", "inet", lockdown.DefaultTable).Run() == nil
}

// TestE2ENoConfirmRollsBack: after apply, SSH from the public side times
// out while the tailnet connects; an SSH session opened before survives;
// with no confirm, public access comes back after the window.
func TestE2ENoConfirmRollsBack(t *testing.T) {
	l := newLab(t)
	// A session from the public side that is open across the change.
	long := l.pub.Cmd("ssh", "-i", l.key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "root@"+srvPub, "echo opened; sleep 2; echo survived")
	var longOut syncBuf
	long.Stdout = &longOut
	must(t, long.Start())
	for i := 0; i < 100 && !strings.Contains(longOut.String(), "opened"); i++ {
		time.Sleep(50 * time.Millisecond)
	}

	apply, out := l.startApply("3s")
	if l.canSSH(l.pub, srvPub) {
		t.Error("after apply, SSH from the public namespace still connects")
	}
	if !l.canSSH(l.tnet, srvTS) {
		t.Error("after apply, SSH over the tailnet does not connect")
	}
	if err := long.Wait(); err != nil || !strings.Contains(longOut.String(), "survived") {
		t.Errorf("the session open before apply did not survive: %v %q", err, longOut.String())
	}
	err := apply.Wait()
	if code := exitCode(err); code != 1 || !strings.Contains(out.String(), "Rolled back") {
		t.Fatalf("apply exit %d, output:\n%s", code, out.String())
	}
	st := l.loadState()
	if st.Phase != lockdown.PhaseRolledBack {
		t.Fatalf("state %s (%s), want rolled-back", st.Phase, st.Reason)
	}
	if l.tablePresent() {
		t.Error("table still installed after the rollback")
	}
	if !l.canSSH(l.pub, srvPub) {
		t.Error("public SSH did not come back after the window")
	}
}

// TestE2EConfirmFromTailnetKeeps: a confirm from a public address or from
// no SSH session is refused; a real SSH session from the tailnet peer
// running rampart confirm keeps the change past its deadline. The table
// is recognised by the verify exposure analysis.
func TestE2EConfirmFromTailnetKeeps(t *testing.T) {
	l := newLab(t)
	apply, out := l.startApply("30s")

	// Refused: no SSH session, and a session from the public side.
	for _, env := range [][]string{{"SSH_CONNECTION="}, {"SSH_CONNECTION=" + peerPb + " 40000 " + srvPub + " 22"}} {
		c := l.rampart(env, "lockdown", "confirm", "--state-dir", l.state)
		b, err := c.CombinedOutput()
		if exitCode(err) != 1 || !strings.Contains(string(b), "confirm refused") {
			t.Errorf("confirm with %v: exit %d\n%s", env, exitCode(err), b)
		}
	}
	if st := l.loadState(); st.Phase != lockdown.PhasePending {
		t.Fatalf("a refused confirm changed the phase to %s", st.Phase)
	}

	// The exposure analysis of rampart verify sees SSH closed on eth0.
	rs, err := l.srv.Cmd("nft", "-j", "list", "ruleset").Output()
	must(t, err)
	xs, err := nftrules.Analyze(rs, 22, []string{"eth0", "tailscale0", "lo"})
	must(t, err)
	want := map[string]nftrules.State{"eth0": nftrules.Closed, "tailscale0": nftrules.Open, "lo": nftrules.Open}
	for _, x := range xs {
		if x.State != want[x.Iface] {
			t.Errorf("analysis: %s is %s (%s), want %s", x.Iface, x.State, x.Reason(), want[x.Iface])
		}
	}

	// rampart probe confirms it from outside: filtered from the public
	// side (--expect-closed passes), open over the tailnet.
	pb, err := l.pub.Cmd(l.bin, "probe", "--expect-closed", "--timeout", "1s", srvPub).CombinedOutput()
	if err != nil || !strings.Contains(string(pb), "filtered") {
		t.Errorf("probe from the public side: %v\n%s", err, pb)
	}
	pb, err = l.tnet.Cmd(l.bin, "probe", "--timeout", "2s", srvTS).CombinedOutput()
	if err != nil || !strings.Contains(string(pb), "open") {
		t.Errorf("probe over the tailnet: %v\n%s", err, pb)
	}

	// Confirm through a real SSH session from the tailnet peer, under a
	// real sudo as the help shows (sudo drops SSH_CONNECTION; rampart finds
	// the session above it).
	testenv.RequireCommands(t, "sudo")
	persist := filepath.Join(l.dir, "rampart-lockdown.nft")
	b, code := l.ssh(l.tnet, srvTS, "sudo", "-n", l.bin, "lockdown", "confirm", "--state-dir", l.state, "--persist", persist)
	if code != 0 {
		t.Fatalf("confirm over the tailnet: exit %d\n%s", code, b)
	}
	if err := apply.Wait(); err != nil || !strings.Contains(out.String(), "Confirmed from "+peerTS) {
		t.Fatalf("apply: %v\n%s", err, out.String())
	}
	t.Logf("apply output:\n%s", out.String())
	st := l.waitPhase(lockdown.PhaseConfirmed, time.Second)
	if saved, err := os.ReadFile(persist); err != nil || !strings.Contains(string(saved), "table inet "+lockdown.DefaultTable+" {") {
		t.Errorf("persisted table: %v\n%s", err, saved)
	}
	if !strings.HasPrefix(st.ConfirmedFrom, peerTS+" ") {
		t.Errorf("confirmed from %q", st.ConfirmedFrom)
	}
	// The watchdog stands down; the change outlives its deadline.
	deadline := time.Now().Add(5 * time.Second)
	for l.watchdogAlive(st) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if l.watchdogAlive(st) {
		t.Error("the watchdog still runs after the confirm")
	}
	if !l.tablePresent() || l.canSSH(l.pub, srvPub) {
		t.Error("after the confirm the lockdown is not in force")
	}
	sb, err := l.rampart(nil, "lockdown", "status", "--state-dir", l.state, "--format", "json").Output()
	if err != nil {
		t.Fatalf("status: %v\n%s", err, sb)
	}
	var rep lockdown.Report
	must(t, json.Unmarshal(sb, &rep))
	if tb, err := l.rampart(nil, "lockdown", "status", "--state-dir", l.state).Output(); err != nil || !strings.Contains(string(tb), ": confirmed") {
		t.Errorf("status text: %v\n%s", err, tb)
	} else {
		t.Logf("status:\n%s", tb)
	}
	if rep.State.Phase != lockdown.PhaseConfirmed || !rep.TablePresent || len(rep.Problems) > 0 {
		t.Errorf("status: %s", sb)
	}

	// rollback undoes it at once.
	if b, err := l.rampart(nil, "lockdown", "rollback", "--state-dir", l.state).CombinedOutput(); err != nil {
		t.Fatalf("rollback: %v\n%s", err, b)
	}
	if l.tablePresent() || !l.canSSH(l.pub, srvPub) {
		t.Error("rollback did not reopen public SSH")
	}
}

func (l *lab) watchdogAlive(st *lockdown.State) bool {
	if st.WatchdogPID <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", st.WatchdogPID))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] != 'Z'
}

// TestE2EKill9StillRollsBack: kill -9 of rampart during the confirm
// window; the detached watchdog still rolls back at the deadline.
func TestE2EKill9StillRollsBack(t *testing.T) {
	l := newLab(t)
	apply, _ := l.startApply("3s")
	st := l.loadState()
	must(t, apply.Process.Signal(syscall.SIGKILL))
	_ = apply.Wait()
	if !l.watchdogAlive(st) {
		t.Fatal("no watchdog survives the kill")
	}
	if l.canSSH(l.pub, srvPub) {
		t.Error("public SSH open during the window")
	}
	st = l.waitPhase(lockdown.PhaseRolledBack, time.Until(st.Deadline)+10*time.Second)
	if !strings.Contains(st.Reason, "watchdog") {
		t.Errorf("rolled back by %q, want the watchdog", st.Reason)
	}
	if l.tablePresent() {
		t.Error("table still installed")
	}
	if !l.canSSH(l.pub, srvPub) {
		t.Error("public SSH did not come back")
	}
	log, _ := os.ReadFile(filepath.Join(l.state, "lockdown-watchdog.log"))
	if !strings.Contains(string(log), "rolling back") {
		t.Errorf("watchdog log:\n%s", log)
	}
}

// TestE2EPlanSessionCheck runs `rampart lockdown plan` in real SSH
// sessions: from the tailnet the session check passes, from the public
// side it fails and plan exits 1.
func TestE2EPlanSessionCheck(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		ns   *testenv.Netns
		addr string
		want check.Status
	}{{l.tnet, srvTS, check.Pass}, {l.pub, srvPub, check.Fail}} {
		b, code := l.ssh(tc.ns, tc.addr, l.bin, "lockdown", "plan", "--format", "json", "2>/dev/null")
		if code != 1 { // no tailscale in the lab: the plan must refuse
			t.Errorf("plan over %s: exit %d, want 1", tc.addr, code)
		}
		var doc struct {
			Results []check.Result `json:"checks"`
		}
		if err := json.Unmarshal([]byte(b), &doc); err != nil {
			t.Fatalf("plan JSON: %v\n%s", err, b)
		}
		got := map[string]check.Status{}
		for _, r := range doc.Results {
			got[r.ID] = r.Status
		}
		if got[lockdown.IDSession] != tc.want {
			t.Errorf("session check over %s = %s, want %s", tc.addr, got[lockdown.IDSession], tc.want)
		}
		if got[lockdown.IDInterface] != check.Pass || got[lockdown.IDSSHDListen] != check.Pass {
			t.Errorf("interface/listen checks: %v", got)
		}
	}
}
