package verify

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// startDaemon runs argv inside ns as a child that is killed at cleanup.
func startDaemon(t *testing.T, ns *testenv.Netns, argv ...string) *exec.Cmd {
	t.Helper()
	cmd := ns.Cmd(argv[0], argv[1:]...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", argv[0], out.String())
		}
	})
	return cmd
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

const hardenedSSHD = `ListenAddress 127.0.0.1
Port 22
HostKey %s
PidFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
MaxAuthTries 3
ClientAliveInterval 300
ClientAliveCountMax 2
AllowTcpForwarding no
X11Forwarding no
`

// The weak config of the issue: passwords on, root login yes, and a Match
// block re-enabling passwords for the tailnet (redundant here, so the
// hardened-plus-Match variant below isolates it).
const weakSSHD = `ListenAddress 127.0.0.1
Port 22
HostKey %s
PidFile none
PasswordAuthentication yes
KbdInteractiveAuthentication no
PermitRootLogin yes
MaxAuthTries 3
ClientAliveInterval 300
ClientAliveCountMax 2
AllowTcpForwarding no
X11Forwarding no
Match Address 100.64.0.0/10
    PasswordAuthentication yes
`

const matchOnly = hardenedSSHD + `Match Address 100.64.0.0/10
    PasswordAuthentication yes
`

// matchElsewhere lets root in with a password from a network that is
// neither the tailnet, nor the public address the matrix asks about, nor
// one the policy trusts: only the address its Match line names sees it.
const matchElsewhere = hardenedSSHD + `Match Address 198.51.100.0/24,!198.51.100.128/25
    PermitRootLogin yes
`

// matchUser re-enables passwords for one admin: only the user dimension
// of the matrix sees it.
const matchUser = hardenedSSHD + `Match User alice
    PasswordAuthentication yes
`

// TestE2ESSHD starts real sshd processes in a namespace and evaluates the
// ssh checks against this machine's process table, restricted to each
// instance's -f path or pid so other tests' sshd processes do not count.
func TestE2ESSHD(t *testing.T) {
	sshd := testenv.RequireSSHD(t)
	keygen := testenv.RequireCommands(t, "ssh-keygen")[0]
	dir := t.TempDir()
	key := filepath.Join(dir, "hostkey")
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	fails := func(ids ...string) map[string]check.Status {
		m := all(t, "ssh", check.Pass, nil)
		for _, id := range ids {
			m[id] = check.Fail
		}
		return m
	}
	for _, tc := range []struct {
		name, conf string
		byPID      bool
		want       map[string]check.Status
		contains   map[string]string
	}{
		{"hardened with spaces", hardenedSSHD, false, fails(), nil},
		{"weak", weakSSHD, true, fails("ssh.password-authentication", "ssh.permit-root-login"),
			map[string]string{"ssh.permit-root-login": "permitrootlogin yes for 6 of 6"}},
		{"match", matchOnly, false, fails("ssh.password-authentication", "ssh.match-consistency"),
			map[string]string{"ssh.password-authentication": "passwordauthentication yes for 3 of 6 connection specs",
				"ssh.match-consistency": "a Match block weakens the policy"}},
		{"match elsewhere", matchElsewhere, false, fails("ssh.permit-root-login", "ssh.match-consistency"),
			map[string]string{"ssh.permit-root-login": "permitrootlogin yes for 3 of 9 connection specs (" + "%CFG% (pid %PID%): user=root,host=198.51.100.1,",
				"ssh.match-consistency": "a Match block weakens the policy"}},
		{"matchuser", matchUser, false, fails("ssh.password-authentication", "ssh.match-consistency"),
			map[string]string{"ssh.password-authentication": "passwordauthentication yes for 2 of 6 connection specs (" + "%CFG% (pid %PID%): user=alice,"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := testenv.NewNetns(t, "vf")
			cfg := filepath.Join(dir, tc.name+".conf")
			writeFile(t, cfg, fmt.Sprintf(tc.conf, key), 0o644)
			cmd := startDaemon(t, ns, sshd, "-D", "-e", "-f", cfg)
			testenv.WaitTCP(t, ns, "127.0.0.1:22", 5*time.Second)
			opts := Options{SSHDConfigs: []string{cfg}}
			if tc.byPID {
				opts = Options{SSHDPIDs: []int{cmd.Process.Pid}}
			}
			p := fail2banDefault("")
			p.Admin.Users = []policy.AdminUser{{Name: "alice", Sudo: true}}
			env := check.NewEnv(&host.Local{}, p, "")
			rs := Run(context.Background(), env, opts, areaChecks(t, "ssh"))
			got := statuses(rs)
			for id, want := range tc.want {
				if got[id] != want {
					t.Errorf("%s = %s, want %s: %s", id, got[id], want, byID(rs, id).Message)
				}
			}
			if m := byID(rs, "ssh.sshd-discovered").Message; !strings.Contains(m, cfg) || !strings.Contains(m, fmt.Sprintf("pid %d", cmd.Process.Pid)) {
				t.Errorf("discovery found the wrong instance: %s", m)
			}
			for id, sub := range tc.contains {
				sub = strings.NewReplacer("%CFG%", cfg, "%PID%", fmt.Sprint(cmd.Process.Pid)).Replace(sub)
				if m := byID(rs, id).Message; !strings.Contains(m, sub) {
					t.Errorf("%s: %q does not contain %q", id, m, sub)
				}
			}
		})
	}
}

// TestE2EChrony runs a chronyd server (local stratum 8) and clients on
// loopback in a namespace and reads them with chronyc over their command
// sockets.
func TestE2EChrony(t *testing.T) {
	testenv.RequireRoot(t)
	paths := testenv.RequireCommands(t, "chronyd", "chronyc")
	ns := testenv.NewNetns(t, "vf")
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := func(name, body string) string {
		p := filepath.Join(dir, name+".conf")
		writeFile(t, p, fmt.Sprintf("%s\nbindcmdaddress %s/%s.sock\npidfile %s/%s.pid\n", body, run, name, dir, name), 0o644)
		startDaemon(t, ns, paths[0], "-n", "-x", "-u", "root", "-f", p)
		return filepath.Join(run, name+".sock")
	}
	srv := conf("server", "local stratum 8\nallow 127.0.0.0/8\nport 11123")
	cli := conf("client", "server 127.0.0.1 port 11123 iburst minpoll -6 maxpoll -6\nport 0")
	dead := conf("dead", "server 127.0.0.1 port 11999 iburst minpoll -6 maxpoll -6\nport 0")
	// Wait for the client to select the server (a condition, not a timing
	// assertion: a slow machine just waits longer).
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _ := exec.Command(paths[1], "-h", cli, "-n", "-c", "tracking").Output()
		if strings.HasPrefix(string(out), "7F000001,") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the chronyd client never synchronised to the server: %q", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	checks, err := check.Select(check.All(), []string{"time.chrony-running", "time.synchronised"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, sock  string
		running, ok check.Status
		contains    string
	}{
		{"client synchronised", cli, check.Pass, check.Pass, "synchronised to 7F000001 (127.0.0.1)"},
		{"server on its local clock", srv, check.Pass, check.Fail, "7F7F0101"},
		{"client of a dead server", dead, check.Pass, check.Fail, "Not synchronised"},
		{"no daemon", filepath.Join(run, "none.sock"), check.Fail, check.Fail, "chronyd does not answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := check.NewEnv(&host.Local{}, fail2banDefault(""), "")
			rs := Run(context.Background(), env, Options{ChronySocket: tc.sock}, checks)
			if r := byID(rs, "time.chrony-running"); r.Status != tc.running {
				t.Errorf("time.chrony-running = %s, want %s: %s", r.Status, tc.running, r.Message)
			}
			r := byID(rs, "time.synchronised")
			if r.Status != tc.ok || !strings.Contains(r.Message, tc.contains) {
				t.Errorf("time.synchronised = %s %q, want %s containing %q", r.Status, r.Message, tc.ok, tc.contains)
			}
		})
	}
}

// TestE2EFail2ban runs a real fail2ban server in a namespace (its nftables
// action can only touch that namespace), then stops it: the checks must
// pass while it runs and fail once it is stopped.
func TestE2EFail2ban(t *testing.T) {
	testenv.RequireRoot(t)
	paths := testenv.RequireCommands(t, "fail2ban-client", "fail2ban-server")
	ns := testenv.NewNetns(t, "vf")
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf")
	if out, err := exec.Command("cp", "-r", "/etc/fail2ban", conf).CombinedOutput(); err != nil {
		testenv.Missing(t, "fail2ban's configuration is not readable: %v: %s", err, out)
	}
	sock := filepath.Join(dir, "f2b.sock")
	writeFile(t, filepath.Join(dir, "auth.log"), "", 0o644)
	writeFile(t, filepath.Join(conf, "fail2ban.local"), fmt.Sprintf("[Definition]\nlogtarget = %s/f2b.log\nsocket = %s\npidfile = %s/f2b.pid\ndbfile = :memory:\n", dir, sock, dir), 0o644)
	_ = os.RemoveAll(filepath.Join(conf, "jail.d"))
	writeFile(t, filepath.Join(conf, "jail.local"), fmt.Sprintf(`[DEFAULT]
bantime = 1h
findtime = 10m
maxretry = 3
ignoreip = 127.0.0.1/8 ::1
banaction = nftables-multiport
backend = polling
[sshd]
enabled = true
logpath = %s/auth.log
`, dir), 0o644)
	if out, err := ns.Cmd(paths[0], "-c", conf, "start").CombinedOutput(); err != nil {
		t.Fatalf("fail2ban-client start: %v: %s", err, out)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = exec.Command(paths[0], "-s", sock, "stop").Run()
		}
	})
	p := fail2banDefault("")
	p.Ban.Jails = p.Ban.Jails[:1] // sshd only
	run := func() map[string]check.Status {
		env := check.NewEnv(&host.Local{}, p, "")
		rs := Run(context.Background(), env, Options{Fail2banSocket: sock}, areaChecks(t, "ban"))
		for _, r := range rs {
			t.Logf("%s %s: %s", r.Status, r.ID, r.Message)
		}
		return statuses(rs)
	}
	for id, s := range run() {
		if s != check.Pass {
			t.Errorf("running: %s = %s, want pass", id, s)
		}
	}
	if out, err := exec.Command(paths[0], "-s", sock, "stop").CombinedOutput(); err != nil {
		t.Fatalf("fail2ban-client stop: %v: %s", err, out)
	}
	stopped = true
	for id, s := range run() {
		if s != check.Fail {
			t.Errorf("stopped: %s = %s, want fail", id, s)
		}
	}
}

// TestE2ELocalRun evaluates every registered check against this machine:
// each returns a status, none passes without evidence, and an unknown
// always says why.
func TestE2ELocalRun(t *testing.T) {
	testenv.RequireRoot(t)
	env := check.NewEnv(&host.Local{}, fail2banDefault(""), "")
	rs := Run(context.Background(), env, Options{}, check.All())
	if len(rs) != len(check.All()) || len(rs) < 30 {
		t.Errorf("%d results for %d registered checks", len(rs), len(check.All()))
	}
	for _, r := range rs {
		switch r.Status {
		case check.Pass, check.Fail, check.Warn, check.Unknown, check.Skip:
		default:
			t.Errorf("%s: status %q", r.ID, r.Status)
		}
		if r.Status == check.Pass && len(r.Evidence) == 0 {
			t.Errorf("%s: pass without evidence", r.ID)
		}
		if r.Message == "" {
			t.Errorf("%s: %s without a message", r.ID, r.Status)
		}
	}
}
