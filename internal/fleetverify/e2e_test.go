package fleetverify

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/host/sshhost"
	"github.com/rampart-sec/rampart/internal/host/sshhost/sshtest"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/testenv"
	"github.com/rampart-sec/rampart/internal/verify"
)

var e2eChecks = []string{"ssh.sshd-discovered", "ssh.password-authentication", "ssh.kbd-interactive-authentication",
	"ssh.permit-root-login", "ssh.x11-forwarding", "sysctl.ip-forward"}

// TestE2EFleet verifies a small fleet of real sshd servers, each in its own
// network namespace, from a client namespace: a weak one, a hardened one,
// one whose Match Address block turns passwords back on for a public
// range, one reachable only through the weak one (ProxyJump), one address
// nothing answers on and one that accepts TCP but never speaks SSH (slower
// than its deadline). The run finishes, the last two are unknown with the
// reason, and every reachable host is judged exactly as a single-host run
// judges it.
func TestE2EFleet(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireSSHD(t)
	testenv.RequireCommands(t, "python3")
	cli := testenv.NewNetns(t, "fvc")
	type hostNS struct {
		ns  *testenv.Netns
		srv *sshtest.Server
	}
	start := func(i int, c sshtest.Config) hostNS {
		ns := testenv.NewNetns(t, "fvh")
		testenv.Link(t, cli, fmt.Sprintf("c%d", i), fmt.Sprintf("192.0.2.%d/31", 2*i), ns, "eth0", fmt.Sprintf("192.0.2.%d/31", 2*i+1))
		if c.Addr == "" {
			c.Addr = fmt.Sprintf("192.0.2.%d:22", 2*i+1)
		}
		return hostNS{ns, sshtest.Start(t, ns, c)}
	}
	hard := []string{"X11Forwarding no"}
	web1 := start(1, sshtest.Config{Password: true, Extra: []string{"X11Forwarding yes", "PermitRootLogin yes"}})
	web2 := start(2, sshtest.Config{Extra: hard})
	web3 := start(3, sshtest.Config{Extra: append(hard, "Match Address 203.0.113.0/24", "  PasswordAuthentication yes")})
	// web4 sits behind web1: a second link from web1's namespace only.
	ns4 := testenv.NewNetns(t, "fvh")
	testenv.Link(t, web1.ns, "j0", "198.51.100.0/31", ns4, "eth0", "198.51.100.1/31")
	web4 := hostNS{ns4, sshtest.Start(t, ns4, sshtest.Config{Addr: "198.51.100.1:22", Extra: hard})}
	// slow: TCP is accepted, the SSH banner never comes.
	ns5 := testenv.NewNetns(t, "fvh")
	testenv.Link(t, cli, "c5", "192.0.2.10/31", ns5, "eth0", "192.0.2.11/31")
	slow := ns5.Cmd("python3", "-c", "import socket,time\ns=socket.socket()\ns.bind(('192.0.2.11',22))\ns.listen(8)\nc=[]\nwhile True: c.append(s.accept())")
	if err := slow.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = slow.Process.Kill(); _ = slow.Wait() })
	testenv.WaitTCP(t, cli, "192.0.2.11:22", 10*time.Second)

	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	var lines, keys []string
	for _, h := range []hostNS{web1, web2, web3, web4} {
		lines = append(lines, h.srv.KnownHostsLine())
		keys = append(keys, h.srv.ClientKey)
	}
	if err := os.WriteFile(kh, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := func(h hostNS) string { return filepath.Join(h.srv.Dir, "sshd_config") }
	inv := fmt.Sprintf(`user = "root"
timeout = "240s" # generous: CI machines can be loaded; a deadline hit fails the test

[group.web]
labels = ["web"]

[[host]]
name = "web1"
address = "192.0.2.3"
group = "web"
sshd_config = [%q]

[[host]]
name = "web2"
address = "192.0.2.5"
group = "web"
labels = ["hardened"]
sshd_config = [%q]

[[host]]
name = "web3"
address = "192.0.2.7"
group = "web"
sshd_config = [%q]

[[host]]
name = "web4"
address = "198.51.100.1"
proxy_jump = "web1"
sshd_config = [%q]

# web4 again under another name: a second host behind web1, which shares
# web1's jump connection with web4.
[[host]]
name = "web4b"
address = "198.51.100.1"
proxy_jump = "web1"
sshd_config = [%q]

[[host]]
name = "down"
address = "203.0.113.9"

# Behind a jump host that cannot be reached: unknown, naming it.
[[host]]
name = "behind-down"
address = "198.51.100.1"
proxy_jump = "down"

[[host]]
name = "slow"
address = "192.0.2.11"
timeout = "3s"
`, cfg(web1), cfg(web2), cfg(web3), cfg(web4), cfg(web4))
	invFile := filepath.Join(dir, "fleet.toml")
	if err := os.WriteFile(invFile, []byte(inv), 0o600); err != nil {
		t.Fatal(err)
	}
	parsed, err := LoadInventory(invFile)
	if err != nil {
		t.Fatal(err)
	}
	checks, err := check.Select(check.All(), e2eChecks, nil)
	if err != nil {
		t.Fatal(err)
	}
	sshOpts := sshhost.Options{KnownHosts: []string{kh}, Identities: keys, NoAgent: true, Dial: sshtest.DialIn(cli),
		Getenv: func(string) string { return "" }, Timeout: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var progress []int
	runs := Run(ctx, parsed.Hosts, Options{Parallel: 3, Checks: checks, SSH: sshOpts,
		Progress: func(done, total, failing int) { progress = append(progress, done) }})
	if len(progress) != 8 || progress[7] != 8 {
		t.Errorf("progress calls %v, want 1..8", progress)
	}
	// web1 was logged in to twice: its own verification, and one
	// connection that web4 and web4b both went through.
	if n := strings.Count(web1.srv.Log(), "Accepted publickey"); n != 2 {
		t.Errorf("web1 accepted %d logins, want 2 (its own and one shared jump connection):\n%s", n, web1.srv.Log())
	}
	by := map[string]*HostRun{}
	for _, r := range runs {
		by[r.Target.Name] = r
		for _, res := range r.Results {
			t.Logf("%s %s %s: %s", r.Target.Name, res.ID, res.Status, res.Message)
		}
		if r.Error != "" {
			t.Logf("%s: error %s", r.Target.Name, r.Error)
		}
	}
	status := func(h, id string) check.Status {
		for _, r := range by[h].Results {
			if r.ID == id {
				return r.Status
			}
		}
		return ""
	}
	want := map[string]check.Status{"web1": check.Fail, "web2": check.Pass, "web3": check.Fail, "web4": check.Pass,
		"web4b": check.Pass, "down": check.Unknown, "behind-down": check.Unknown, "slow": check.Unknown}
	for h, st := range want {
		if got := status(h, "ssh.password-authentication"); got != st {
			t.Errorf("%s ssh.password-authentication = %s, want %s", h, got, st)
		}
	}
	if !strings.Contains(by["slow"].Error, "per-host deadline 3s") {
		t.Errorf("slow host error %q does not name its deadline", by["slow"].Error)
	}
	if by["down"].Error == "" || by["web1"].Error != "" || by["web4"].Error != "" || by["web4b"].Error != "" {
		t.Errorf("errors: down %q, web1 %q, web4 %q, web4b %q", by["down"].Error, by["web1"].Error, by["web4"].Error, by["web4b"].Error)
	}
	if e := by["behind-down"].Error; !strings.HasPrefix(e, "jump host down: ") {
		t.Errorf("behind-down: error %q does not name its jump host", e)
	}
	for _, r := range by["down"].Results {
		if r.Status != check.Unknown {
			t.Errorf("down: %s is %s, want unknown", r.ID, r.Status)
		}
	}
	if by["web4"].Reported == "" || by["web4"].OS == "" || by["web4"].PolicyHash != PolicyHash(policy.MustDefault("")) {
		t.Errorf("web4: reported %q, OS %q, policy hash %q", by["web4"].Reported, by["web4"].OS, by["web4"].PolicyHash)
	}

	// A shared jump connection that closes (the bastion restarted) is
	// dialled again by the next host that needs it.
	pool := newJumpPool(ctx, sshOpts.Timeout)
	hop := []*Target{by["web1"].Target}
	j1, err := pool.get(ctx, hop, sshOpts)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := pool.get(ctx, hop, sshOpts); err != nil || again != j1 {
		t.Fatalf("second get: %p, %v; want the first connection %p", again, err, j1)
	}
	j1.Close()
	var j2 *sshhost.Host
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if j2, err = pool.get(ctx, hop, sshOpts); err != nil || j2 != j1 {
			break
		}
	}
	if err != nil || j2 == j1 {
		t.Fatalf("after the jump connection closed: %p, %v; want a new connection", j2, err)
	}
	if c, err := j2.DialContext(ctx, "tcp", "198.51.100.1:22"); err != nil {
		t.Errorf("through the new jump connection: %v", err)
	} else {
		c.Close()
	}
	pool.close()

	// Each reachable host alone gives the same statuses.
	for _, h := range []struct {
		name string
		srv  hostNS
	}{{"web1", web1}, {"web2", web2}, {"web3", web3}} {
		sh, err := sshhost.Dial(ctx, "root@"+h.srv.srv.Addr, sshOpts)
		if err != nil {
			t.Fatalf("%s alone: %v", h.name, err)
		}
		alone := verify.Run(ctx, check.NewEnv(sh, policy.MustDefault(""), ""), verify.Options{SSHDConfigs: []string{cfg(h.srv)}}, checks)
		sh.Close()
		for _, r := range alone {
			if got := status(h.name, r.ID); got != r.Status {
				t.Errorf("%s %s: fleet run says %s, single-host run %s (%s)", h.name, r.ID, got, r.Status, r.Message)
			}
		}
	}

	// Through the ssh client configuration (--ssh-config): an alias whose
	// HostName, User, key, known_hosts file and jump host (itself an
	// alias with its own key) come from ssh -G, and none from the run.
	testenv.RequireCommands(t, "ssh")
	sshCfg := filepath.Join(dir, "ssh_config")
	if err := os.WriteFile(sshCfg, []byte(fmt.Sprintf(`Host alias-web4
  HostName 198.51.100.1
  User root
  IdentityFile %s
  UserKnownHostsFile %s
  ProxyJump alias-web1
Host alias-web1
  HostName 192.0.2.3
  User root
  IdentityFile %s
  UserKnownHostsFile %s
`, web4.srv.ClientKey, kh, web1.srv.ClientKey, kh)), 0o600); err != nil {
		t.Fatal(err)
	}
	aliased := &Target{Name: "alias-web4", Address: "alias-web4"}
	if err := WithSSHConfig(ctx, SSHConfig{Local: &host.Local{}, File: sshCfg}, aliased); err != nil {
		t.Fatal(err)
	}
	if j := aliased.ProxyJump; aliased.Address != "198.51.100.1" || aliased.User != "root" || j == nil || j.Address != "192.0.2.3" ||
		len(j.Identities) != 1 || j.Identities[0] != web1.srv.ClientKey || len(aliased.KnownHosts) == 0 || aliased.KnownHosts[0] != kh {
		t.Fatalf("alias-web4 resolved to %+v, jump %+v", aliased, aliased.ProxyJump)
	}
	bare := sshOpts
	bare.Identities, bare.KnownHosts = nil, nil
	viaConfig := Run(ctx, []*Target{aliased}, Options{Checks: checks, SSH: bare,
		Verify: verify.Options{SSHDConfigs: []string{cfg(web4)}}})[0]
	if viaConfig.Error != "" {
		t.Fatalf("alias-web4: %s", viaConfig.Error)
	}
	for _, r := range viaConfig.Results {
		if got := status("web4", r.ID); got != r.Status {
			t.Errorf("alias-web4 %s: %s, web4 in the inventory %s", r.ID, r.Status, got)
		}
	}
	// Without the configuration the alias does not resolve, and the error
	// says where it may come from.
	unknown := Run(ctx, []*Target{{Name: "alias-web4", Address: "alias-web4.invalid", User: "root", Port: 22}}, Options{Checks: checks, SSH: sshOpts})[0]
	if !strings.Contains(unknown.Error, "add --ssh-config") {
		t.Errorf("an unresolvable name: error %q gives no hint", unknown.Error)
	}

	// The documents round-trip, and the text groups the failure by check.
	f := &Fleet{Version: "test", Started: time.Now(), Hosts: runs}
	var js, txt bytes.Buffer
	if err := f.JSON(&js); err != nil {
		t.Fatal(err)
	}
	back, err := Read(bytes.NewReader(js.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range back.Hosts {
		for j, r := range h.Results {
			if r.Status != runs[i].Results[j].Status {
				t.Errorf("round trip %s %s: %s, want %s", h.Target.Name, r.ID, r.Status, runs[i].Results[j].Status)
			}
		}
	}
	if err := f.Text(&txt); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt.String(), "FAIL ssh.password-authentication (critical) on web1, web3") {
		t.Errorf("text does not group the failure:\n%s", txt.String())
	}
	if dst := os.Getenv("RAMPART_CAPTURE"); dst != "" {
		if err := os.WriteFile(filepath.Join(dst, "fleet-e2e.json"), js.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
