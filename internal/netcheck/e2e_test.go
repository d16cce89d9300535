package netcheck

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host/sshhost"
	"github.com/rampart-sec/rampart/internal/host/sshhost/sshtest"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/probe"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// TestE2ETailnetFirewall builds seed 003's situation in namespaces: a
// server with a public veth eth0 (192.0.2.1) and a veth named tailscale0
// (100.64.0.1), a public peer and a tailnet peer, and a real sshd on all
// addresses. For the NixOS tailnet-only firewall and for the NixOS default
// (openFirewall = true) it runs the firewall checks remotely, over SSH
// from the tailnet peer with a known host key, and confirms the exposure
// verdict with a real connection attempt from the public peer.
func TestE2ETailnetFirewall(t *testing.T) {
	testenv.RequireCommands(t, "nft", "ss", "ip")
	srv := testenv.NewNetns(t, "nt")
	pub := testenv.NewNetns(t, "nt")
	tsp := testenv.NewNetns(t, "nt")
	testenv.Link(t, srv, "eth0", "192.0.2.1/24", pub, "eth0", "192.0.2.2/24")
	testenv.Link(t, srv, "tailscale0", "100.64.0.1/24", tsp, "tailscale0", "100.64.0.2/24")
	sshd := sshtest.Start(t, srv, sshtest.Config{Addr: "0.0.0.0:22"})

	home := t.TempDir()
	kh := filepath.Join(home, "known_hosts")
	line := "100.64.0.1 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshd.HostKey)))
	if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := sshhost.Options{KnownHosts: []string{kh}, Identities: []string{sshd.ClientKey}, NoAgent: true,
		Dial: sshtest.DialIn(tsp), Getenv: func(string) string { return "" }}

	ids := []string{"firewall.active", "firewall.tailnet-trusted", "firewall.ssh-exposure", "firewall.sshd-bindings"}
	var checks []*check.Check
	for _, id := range ids {
		c, ok := check.Lookup(id)
		if !ok {
			t.Fatalf("%s not registered", id)
		}
		checks = append(checks, c)
	}
	for _, tc := range []struct {
		ruleset  string
		exposure check.Status
		public   string // what a real connection from the public peer sees
	}{
		{"nixos-tailnet", check.Pass, probe.Filtered},
		{"nixos-openfirewall", check.Fail, probe.Open},
	} {
		t.Run(tc.ruleset, func(t *testing.T) {
			src, _ := filepath.Abs(filepath.Join("..", "nftrules", "testdata", tc.ruleset+".nft"))
			srv.Exec(t, "nft", "flush", "ruleset")
			srv.Exec(t, "nft", "-f", src)

			h, err := sshhost.Dial(ctx, "root@100.64.0.1", opts)
			if err != nil {
				t.Fatalf("ssh over the tailnet: %v", err)
			}
			defer h.Close()
			env := check.NewEnv(h, policy.MustDefault("tailnet"), "")
			for _, r := range check.Run(ctx, env, checks) {
				want := check.Pass
				if r.ID == "firewall.ssh-exposure" {
					want = tc.exposure
				}
				if r.Status != want || r.Host != "root@100.64.0.1" {
					t.Errorf("%s on %s = %s (%s), want %s\n%+v", r.ID, r.Host, r.Status, r.Message, want, r.Evidence)
				}
			}

			rs := probe.Probe(ctx, []string{"192.0.2.1"}, probe.Options{Timeout: 2 * time.Second, Dial: sshtest.DialIn(pub)})
			if rs[0].State != tc.public {
				t.Errorf("public peer sees %s, want %s (%s)", rs[0].State, tc.public, rs[0].Detail)
			}
			rs = probe.Probe(ctx, []string{"100.64.0.1"}, probe.Options{Timeout: 2 * time.Second, Dial: sshtest.DialIn(tsp)})
			if rs[0].State != probe.Open || rs[0].Verdict != probe.Pass {
				t.Errorf("tailnet peer sees %s %s, want open pass", rs[0].State, rs[0].Verdict)
			}
		})
	}

	// The same host through an unknown or a changed host key is refused.
	empty := filepath.Join(home, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	o := opts
	o.KnownHosts = []string{empty}
	if _, err := sshhost.Dial(ctx, "root@100.64.0.1", o); err == nil || !strings.Contains(err.Error(), "host key is unknown") {
		t.Errorf("unknown host key: %v", err)
	}
	other := sshtest.NewKey(t, filepath.Join(home, "other"))
	changed := filepath.Join(home, "changed")
	if err := os.WriteFile(changed, []byte("100.64.0.1 "+string(ssh.MarshalAuthorizedKey(other))), 0o600); err != nil {
		t.Fatal(err)
	}
	o.KnownHosts = []string{changed}
	if _, err := sshhost.Dial(ctx, "root@100.64.0.1", o); err == nil || !strings.Contains(err.Error(), "HOST KEY HAS CHANGED") {
		t.Errorf("changed host key: %v", err)
	}
}
