package verify

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host/sshhost"
	"github.com/rampart-sec/rampart/internal/host/sshhost/sshtest"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// TestE2ERemote verifies a host over SSH: a real sshd with passwords on,
// inside a namespace, reached with a known host key. The commands run on
// the far side, so /proc/sys/net is the namespace's own (set here to a
// value that differs from this machine's).
func TestE2ERemote(t *testing.T) {
	testenv.RequireRoot(t)
	ns := testenv.NewNetns(t, "vf")
	srv := sshtest.Start(t, ns, sshtest.Config{Password: true})
	// The seed's sysctls written to conf.all only, after eth0 existed:
	// the kernel keeps accepting and sending redirects on eth0 (OR), while
	// rp_filter holds through max(all, iface).
	ns.Exec(t, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	for _, kv := range []string{"net.ipv4.tcp_synack_retries=2", "net.ipv4.conf.all.accept_redirects=0",
		"net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.all.rp_filter=1", "net.ipv4.ip_forward=0"} {
		ns.Exec(t, "sysctl", "-qw", kv)
	}
	kh := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, kh, srv.KnownHostsLine()+"\n", 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := sshhost.Dial(ctx, "root@"+srv.Addr, sshhost.Options{KnownHosts: []string{kh}, Identities: []string{srv.ClientKey},
		NoAgent: true, Dial: sshtest.DialIn(ns), Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer h.Close()
	checks, err := check.Select(check.All(), []string{"ssh.sshd-discovered", "ssh.password-authentication",
		"ssh.kbd-interactive-authentication", "ssh.permit-root-login", "sysctl.tcp-synack-retries",
		"sysctl.accept-redirects", "sysctl.send-redirects", "sysctl.rp-filter", "sysctl.ip-forward"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	env := check.NewEnv(h, fail2banDefault(""), "")
	rs := Run(ctx, env, Options{SSHDConfigs: []string{filepath.Join(srv.Dir, "sshd_config")}}, checks)
	want := map[string]check.Status{"ssh.sshd-discovered": check.Pass, "ssh.password-authentication": check.Fail,
		"ssh.kbd-interactive-authentication": check.Fail, "ssh.permit-root-login": check.Pass, "sysctl.tcp-synack-retries": check.Pass,
		"sysctl.accept-redirects": check.Fail, "sysctl.send-redirects": check.Fail, "sysctl.rp-filter": check.Pass, "sysctl.ip-forward": check.Pass}
	for _, r := range rs {
		t.Logf("%s %s in %s", r.ID, r.Status, r.Duration)
		if r.Status != want[r.ID] {
			t.Errorf("%s = %s, want %s: %s", r.ID, r.Status, want[r.ID], r.Message)
		}
		if r.ID == "sysctl.accept-redirects" && !strings.Contains(r.Message, "eth0 effectively 1") {
			t.Errorf("%s: %s does not name eth0", r.ID, r.Message)
		}
		if !strings.HasPrefix(r.Host, "root@") {
			t.Errorf("%s: host %q is not the remote one", r.ID, r.Host)
		}
	}
}
