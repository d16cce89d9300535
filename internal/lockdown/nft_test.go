package lockdown

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/nftrules"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update after checking):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func tailnetPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	return policy.MustDefault(policy.ProfileTailnet)
}

func scriptCases(t *testing.T) map[string]Config {
	def, err := ConfigFromPolicy(tailnetPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	p := tailnetPolicy(t)
	p.SSH.Ports = []int{22, 2222, 22}
	p.Firewall.TrustedInterfaces = []string{"wg0", "tailscale0"}
	multi, err := ConfigFromPolicy(p)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Config{"script-default.nft": def, "script-multi.nft": multi}
}

func TestScriptGolden(t *testing.T) {
	for name, c := range scriptCases(t) {
		s, err := c.Script()
		if err != nil {
			t.Fatal(err)
		}
		golden(t, name, s)
	}
	if got := scriptCases(t)["script-multi.nft"]; strings.Join(got.Trusted, ",") != "lo,tailscale0,wg0" || len(got.Ports) != 2 {
		t.Errorf("multi config: %+v", got)
	}
}

// TestScriptLoadsInNamespace has nft itself check the scripts (nft -c) in a
// scratch namespace: the golden files must be valid nft syntax.
func TestScriptLoadsInNamespace(t *testing.T) {
	testenv.RequireCommands(t, "nft")
	ns := testenv.NewNetns(t, "lkn")
	for name := range scriptCases(t) {
		out, err := ns.Cmd("nft", "-c", "-f", filepath.Join("testdata", name)).CombinedOutput()
		if err != nil {
			t.Errorf("nft -c -f %s: %v\n%s", name, err, out)
		}
	}
	// The removal script succeeds whether or not the table exists.
	for i := 0; i < 2; i++ {
		c := ns.Cmd("nft", "-f", "-")
		c.Stdin = strings.NewReader(RemoveScript(DefaultTable))
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("remove #%d: %v\n%s", i, err, out)
		}
	}
	if out, err := exec.Command("ip", "netns", "exec", ns.Name, "nft", "list", "tables").Output(); err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("tables left after removal: %q %v", out, err)
	}
}

func TestConfigFromPolicyErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *policy.Policy)
		want   string
	}{
		{"no interface", func(p *policy.Policy) { p.Tailnet.Interface = "" }, "tailnet.interface is empty"},
		{"no ports", func(p *policy.Policy) { p.SSH.Ports = nil }, "ssh.ports is empty"},
		{"bad port", func(p *policy.Policy) { p.SSH.Ports = []int{70000} }, "70000 is not a port"},
		{"injection", func(p *policy.Policy) { p.Firewall.TrustedInterfaces = []string{`eth0" } accept; #`} }, "interface name"},
		{"too long", func(p *policy.Policy) { p.Tailnet.Interface = "abcdefghijklmnop" }, "interface name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tailnetPolicy(t)
			tt.mutate(p)
			_, err := ConfigFromPolicy(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := (Config{Table: "x; flush ruleset", Ports: []int{22}, Trusted: []string{"lo"}}).Script(); err == nil {
		t.Error("a table name with nft syntax was accepted")
	}
}

// TestAnalysisRecognisesTable: the ruleset captured after loading the
// default script (nft -j list ruleset, nftables 1.0.6) is what the verify
// exposure analysis reads; it must call SSH closed outside the trusted
// interfaces and open on them.
func TestAnalysisRecognisesTable(t *testing.T) {
	rs, err := os.ReadFile("testdata/ruleset-lockdown.json")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]nftrules.State{"eth0": nftrules.Closed, "ens3": nftrules.Closed, "wg0": nftrules.Closed,
		"tailscale0": nftrules.Open, "lo": nftrules.Open}
	var ifs []string
	for k := range want {
		ifs = append(ifs, k)
	}
	xs, err := nftrules.Analyze(rs, 22, ifs)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range xs {
		if x.State != want[x.Iface] {
			t.Errorf("%s: %s (%s), want %s", x.Iface, x.State, x.Reason(), want[x.Iface])
		}
	}
	// Other ports are none of the table's business.
	xs, _ = nftrules.Analyze(rs, 443, []string{"eth0"})
	if xs[0].State != nftrules.Open {
		t.Errorf("port 443 on eth0: %s, want open (the table only touches SSH)", xs[0].State)
	}
}
