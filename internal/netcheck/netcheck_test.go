package netcheck

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/host/hosttest"
	"github.com/rampart-sec/rampart/internal/nftrules"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/tailscale"
)

// Every fixture is a captured real output: nft rulesets from
// ../nftrules/testdata (loaded into a namespace and listed with nft -j),
// ip -j addr and tailscale status from ../tailscale/testdata, /proc/net/dev
// and ss -Htlnp from testdata here (sshd in a namespace; see
// testdata/README.md).
func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type setup struct {
	nft string // nftrules fixture name, "" = nft missing
	ss  string // testdata/ss-*.txt name, "" = ss missing
	// status is the tailscale fixture name, "" = tailscale missing, "down"
	// = daemon down, "noself" = the needslogin capture without its Self.
	status string
	prefs  string // tailscale debug prefs fixture name (../tailscale/testdata/prefs-NAME.json)
	noTS0  bool   // tailscale0 does not exist
	// ipt is the prefix of iptables-save/ip6tables-save captures in
	// ../nftrules/testdata ("ipt-nixos-tailnet.legacy"); "" = iptables
	// not installed.
	ipt string
}

func fixture(t *testing.T, s setup) *hosttest.Fixture {
	t.Helper()
	f := hosttest.New(t)
	if s.nft == "" {
		f.Missing["nft"] = true
	} else {
		f.SetCmd(nftrules.ListCmd, read(t, filepath.Join("..", "nftrules", "testdata", s.nft+".json")), 0)
	}
	addrs := read(t, filepath.Join("..", "tailscale", "testdata", "ip-addr-netns.json"))
	f.SetFile(netDevPath, read(t, filepath.Join("testdata", "net-dev-netns.txt")))
	var ifs []map[string]any
	if err := json.Unmarshal([]byte(addrs), &ifs); err != nil {
		t.Fatal(err)
	}
	for _, ifc := range ifs {
		name := ifc["ifname"].(string)
		one, _ := json.Marshal([]any{ifc})
		f.SetCmd(host.C("ip", "-j", "addr", "show", "dev", name), string(one), 0)
	}
	if s.noTS0 {
		c := host.C("ip", "-j", "addr", "show", "dev", "tailscale0").String()
		f.Cmds[c] = &host.Output{Stderr: []byte("Device \"tailscale0\" does not exist.\n"), ExitCode: 1}
	}
	if s.ipt != "" {
		for fam, v := range map[string]string{"ip": "4", "ip6": "6"} {
			save := read(t, filepath.Join("..", "nftrules", "testdata", s.ipt+"-save"+v))
			f.SetCmd(host.C(fam+"tables-save"), save, 0)
			// The kernel lists the legacy backend's tables in /proc.
			var names strings.Builder
			for _, line := range strings.Split(save, "\n") {
				if strings.HasPrefix(line, "*") && strings.Contains(s.ipt, "legacy") {
					names.WriteString(line[1:] + "\n")
				}
			}
			f.SetFile("/proc/net/"+fam+"_tables_names", names.String())
		}
	} else {
		f.Missing["iptables-save"] = true
		f.Missing["ip6tables-save"] = true
	}
	if s.ss != "" {
		f.SetCmd(ssCmd, read(t, filepath.Join("testdata", "ss-"+s.ss+".txt")), 0)
	} else {
		f.Missing["ss"] = true
	}
	switch s.status {
	case "":
		f.Missing["tailscale"] = true
	case "noself":
		var st map[string]any
		if err := json.Unmarshal([]byte(read(t, filepath.Join("..", "tailscale", "testdata", "status-needslogin.json"))), &st); err != nil {
			t.Fatal(err)
		}
		delete(st, "Self")
		b, _ := json.Marshal(st)
		f.SetCmd(tailscale.StatusCmd, string(b), 0)
	case "down":
		c := tailscale.StatusCmd.String()
		f.Cmds[c] = &host.Output{Stderr: []byte(read(t, filepath.Join("..", "tailscale", "testdata", "daemon-down.stderr"))), ExitCode: 1}
	default:
		f.SetCmd(tailscale.StatusCmd, read(t, filepath.Join("..", "tailscale", "testdata", "status-"+s.status+".json")), 0)
	}
	if s.prefs != "" {
		f.SetCmd(tailscale.PrefsCmd, read(t, filepath.Join("..", "tailscale", "testdata", "prefs-"+s.prefs+".json")), 0)
	}
	return f
}

func TestChecks(t *testing.T) {
	tailnet := policy.MustDefault("tailnet")
	baseline := policy.MustDefault("")
	tests := []struct {
		id     string
		p      *policy.Policy
		s      setup
		want   check.Status
		substr string
	}{
		{"firewall.active", tailnet, setup{nft: "nixos-tailnet"}, check.Pass, "inet nixos-fw input: policy drop"},
		{"firewall.active", tailnet, setup{nft: "empty-accept"}, check.Fail, "nothing is dropped by default"},
		{"firewall.active", tailnet, setup{nft: "ip-only-v6-open"}, check.Fail, "IPv6 has no default-deny"},
		{"firewall.active", tailnet, setup{}, check.Unknown, "is it installed"},
		{"firewall.active", tailnet, setup{nft: "empty", ipt: "ipt-nixos-tailnet.legacy"}, check.Pass, "unopened ports dropped by"},
		{"firewall.active", tailnet, setup{nft: "empty"}, check.Fail, "no nftables chain filters"},

		{"firewall.tailnet-trusted", tailnet, setup{nft: "nixos-tailnet"}, check.Pass, "tailscale0 is trusted"},
		{"firewall.tailnet-trusted", tailnet, setup{nft: "nixos-iface-port"}, check.Fail, "tailscale0 is not trusted: tcp/1"},
		{"firewall.tailnet-trusted", tailnet, setup{nft: "empty-accept"}, check.Fail, "only because no default-deny firewall"},
		{"firewall.tailnet-trusted", baseline, setup{nft: "nixos-tailnet"}, check.Skip, "tailnet.enabled is false"},

		{"firewall.ssh-exposure", tailnet, setup{nft: "nixos-tailnet"}, check.Pass, "closed on every untrusted interface"},
		{"firewall.ssh-exposure", tailnet, setup{nft: "nixos-openfirewall"}, check.Fail, "eth0 tcp/22 (open)"},
		{"firewall.ssh-exposure", tailnet, setup{nft: "saddr-allowlist"}, check.Fail, "eth0 tcp/22 (limited)"},
		{"firewall.ssh-exposure", tailnet, setup{nft: "ip-only-v6-open"}, check.Fail, "eth0 tcp/22 (open)"},
		{"firewall.ssh-exposure", tailnet, setup{nft: "unknown-expr"}, check.Unknown, "cannot show SSH closed on eth0"},
		{"firewall.ssh-exposure", tailnet, setup{nft: "lockdown-table"}, check.Pass, "closed on every untrusted"},
		{"firewall.ssh-exposure", tailnet, setup{nft: "empty", ipt: "ipt-nixos-tailnet.legacy"}, check.Pass, "closed on every untrusted"},
		{"firewall.ssh-exposure", tailnet, setup{nft: "empty", ipt: "ipt-nixos-open.legacy"}, check.Fail, "eth0 tcp/22 (open)"},
		{"firewall.ssh-exposure", tailnet, setup{nft: "ipt-nixos-tailnet.nft", ipt: "ipt-nixos-tailnet.nft"}, check.Pass, "closed on every untrusted"},
		{"firewall.ssh-exposure", tailnet, setup{nft: "ipt-nixos-tailnet.nft"}, check.Unknown, "cannot show SSH closed"},
		{"firewall.ssh-exposure", tailnet, setup{nft: "reject-drop-before", ss: "port2222"}, check.Fail, "eth0 tcp/2222 (open)"},
		{"firewall.ssh-exposure", tailnet, setup{nft: "lockdown-table", ss: "port2222"}, check.Pass, "(2 interface/port pairs)"},
		{"firewall.ssh-exposure", baseline, setup{nft: "nixos-openfirewall"}, check.Pass, "SSH is reachable on tailscale0 tcp/22 (open), eth0 tcp/22 (open), as the policy allows (ssh.tailnet_only is off)"},
		{"firewall.ssh-exposure", baseline, setup{nft: "unknown-expr"}, check.Pass, "cannot tell whether SSH is reachable on tailscale0 tcp/22, eth0 tcp/22 (rules the analysis does not understand); the policy allows it either way"},

		{"firewall.sshd-bindings", tailnet, setup{ss: "wildcard"}, check.Pass, "only the firewall keeps it off"},
		{"firewall.sshd-bindings", tailnet, setup{ss: "tailnet"}, check.Pass, "100.64.0.1:22 (tailnet)"},
		{"firewall.sshd-bindings", tailnet, setup{ss: "public"}, check.Fail, "not on the tailnet"},
		{"firewall.sshd-bindings", baseline, setup{ss: "public"}, check.Pass, "203.0.113.1:22"},
		{"firewall.sshd-bindings", tailnet, setup{ss: "none"}, check.Fail, "no sshd is listening"},

		{"tailnet.running", tailnet, setup{status: "running-tagged"}, check.Pass, "Running"},
		{"tailnet.running", tailnet, setup{status: "needslogin"}, check.Fail, "NeedsLogin, not Running"},
		{"tailnet.running", tailnet, setup{status: "expired"}, check.Fail, "expired"},
		{"tailnet.running", tailnet, setup{status: "down"}, check.Fail, "does not answer"},
		{"tailnet.running", tailnet, setup{}, check.Fail, "not installed"},
		{"tailnet.running", baseline, setup{}, check.Skip, "tailnet.enabled is false"},

		{"tailnet.key-expiry-disabled", tailnet, setup{status: "running-tagged"}, check.Pass, "disabled"},
		{"tailnet.key-expiry-disabled", tailnet, setup{status: "running-user-expiry"}, check.Fail, "expires on 20"},
		{"tailnet.key-expiry-disabled", tailnet, setup{}, check.Unknown, "could not read tailscale status"},
		{"tailnet.key-expiry-disabled", tailnet, setup{status: "down"}, check.Unknown, "could not read tailscale status"},
		// Read, and not logged in: fail (lockdown's pre-flight runs this check too).
		{"tailnet.key-expiry-disabled", tailnet, setup{status: "noself"}, check.Fail, "no Self node"},
		{"tailnet.key-expiry-disabled", tailnet, setup{status: "needslogin"}, check.Fail, "NeedsLogin, not Running"},
		{"tailnet.key-expiry-disabled", tailnet, setup{status: "expired"}, check.Fail, "key has expired"},

		{"tailnet.interface-address", tailnet, setup{}, check.Pass, "tailscale0 is up with [100.64.0.1"},
		{"tailnet.interface-address", tailnet, setup{status: "running-tagged"}, check.Pass, "tailscale0 is up with [100.64.0.1"},
		{"tailnet.interface-address", tailnet, setup{status: "running-user-expiry"}, check.Warn, "but tailscale reports its addresses as"},
		{"tailnet.interface-address", tailnet, setup{noTS0: true}, check.Fail, "does not exist"},

		{"tailnet.routing", tailnet, setup{status: "running-tagged", prefs: "needslogin"}, check.Pass, "offers no routes and uses no exit node"},
		{"tailnet.routing", tailnet, setup{status: "running-tagged", prefs: "advertise-exit-node"}, check.Fail, `offers to be an exit node and advertises subnet routes [192.0.2.0/24], but the policy's tailnet.use_routing_features is "none"`},
		{"tailnet.routing", routing("server"), setup{status: "running-tagged", prefs: "advertise-exit-node"}, check.Pass, `as use_routing_features "server" allows`},
		{"tailnet.routing", routing("server"), setup{status: "running-tagged", prefs: "client"}, check.Fail, "sends its traffic through exit node 100.64.0.9 and accepts other nodes' subnet routes"},
		{"tailnet.routing", routing("client"), setup{status: "running-tagged", prefs: "client"}, check.Pass, "exit node 100.64.0.9"},
		{"tailnet.routing", routing("client"), setup{status: "running-tagged", prefs: "advertise-exit-node"}, check.Fail, "offers to be an exit node"},
		{"tailnet.routing", routing("both"), setup{status: "running-tagged", prefs: "advertise-exit-node"}, check.Pass, "allows"},
		{"tailnet.routing", tailnet, setup{}, check.Unknown, "could not read tailscale debug prefs"},
		{"tailnet.routing", baseline, setup{status: "running-tagged", prefs: "advertise-exit-node"}, check.Skip, "tailnet.enabled is false"},
	}
	for _, tc := range tests {
		t.Run(tc.id+"/"+tc.s.nft+tc.s.ipt+tc.s.ss+tc.s.status+tc.s.prefs+string(tc.want), func(t *testing.T) {
			c, ok := check.Lookup(tc.id)
			if !ok {
				t.Fatalf("%s not registered", tc.id)
			}
			env := check.NewEnv(fixture(t, tc.s), tc.p, "")
			r := check.Run(context.Background(), env, []*check.Check{c})[0]
			if r.Status != tc.want || !strings.Contains(r.Message, tc.substr) {
				t.Errorf("%s = %s %q, want %s containing %q\nevidence: %+v", tc.id, r.Status, r.Message, tc.want, tc.substr, r.Evidence)
			}
			if r.Status == check.Fail && r.Remediation.Generic == "" {
				t.Errorf("%s: a failure without a generic remediation", tc.id)
			}
			if r.Status != check.Skip && r.Status != check.Unknown && len(r.Evidence) == 0 {
				t.Errorf("%s: no evidence", tc.id)
			}
		})
	}
}

// TestExposureTitle: the title of firewall.ssh-exposure is the rule that
// was checked under the policy in force, so a pass never sits under a
// title its evidence contradicts (baseline: eth0 tcp/22 open).
func TestExposureTitle(t *testing.T) {
	c, _ := check.Lookup("firewall.ssh-exposure")
	for _, tc := range []struct {
		p      *policy.Policy
		nft    string
		status check.Status
		title  string
	}{
		{policy.MustDefault(""), "nixos-openfirewall", check.Pass, "SSH may be reachable on untrusted interfaces (public SSH is allowed: ssh.tailnet_only is off)"},
		{policy.MustDefault("tailnet"), "nixos-openfirewall", check.Fail, "SSH accepts no new connections on interfaces that are not trusted"},
		{policy.MustDefault("tailnet"), "nixos-tailnet", check.Pass, "SSH accepts no new connections on interfaces that are not trusted"},
	} {
		r := check.Run(context.Background(), check.NewEnv(fixture(t, setup{nft: tc.nft}), tc.p, ""), []*check.Check{c})[0]
		if r.Status != tc.status || r.Title != tc.title {
			t.Errorf("%s profile, %s: %s %q; want %s %q", tc.p.Profile, tc.nft, r.Status, r.Title, tc.status, tc.title)
		}
		if r.Status == check.Pass && strings.Contains(r.Title, "no new connections") && strings.Contains(r.Message, "(open)") {
			t.Errorf("pass under %q with %q", r.Title, r.Message)
		}
	}
	if c.Title == "" || strings.Contains(c.Title, "accepts no new connections") {
		t.Errorf("the policy-independent title (verify --list) must hold for every profile: %q", c.Title)
	}
}

// routing is the tailnet profile with another use_routing_features.
func routing(mode string) *policy.Policy {
	p := policy.MustDefault("tailnet")
	p.Tailnet.UseRoutingFeatures = mode
	return p
}

func TestNixRemediation(t *testing.T) {
	env := check.NewEnv(fixture(t, setup{nft: "nixos-openfirewall"}), policy.MustDefault("tailnet"), "")
	c, _ := check.Lookup("firewall.ssh-exposure")
	r := check.Run(context.Background(), env, []*check.Check{c})[0]
	if !strings.Contains(r.Remediation.NixOS, "services.openssh.openFirewall = false;") ||
		!strings.Contains(r.Remediation.NixOS, "trustedInterfaces") {
		t.Errorf("NixOS remediation: %q", r.Remediation.NixOS)
	}
}

func TestParseSS(t *testing.T) {
	ls, err := parseSS([]byte(read(t, "testdata/ss-wildcard.txt")))
	if err != nil || len(ls) != 2 || !ls[0].Any || !ls[1].Any || ls[0].Process != "sshd" || ls[1].Port != 22 {
		t.Fatalf("%+v %v", ls, err)
	}
	for _, bad := range []string{"LISTEN 0 128", "LISTEN 0 128 1.2.3.4 x", "LISTEN 0 128 1.2.3.4:99999 x", "LISTEN 0 128 \x1b[2J:22 x"} {
		if _, err := parseSS([]byte(bad)); err == nil {
			t.Errorf("parseSS(%q) accepted", bad)
		}
	}
}

func TestParseNetDev(t *testing.T) {
	real := read(t, filepath.Join("testdata", "net-dev-netns.txt"))
	names, err := parseNetDev([]byte(real))
	if err != nil || strings.Join(names, ",") != "lo,tailscale0,eth0" {
		t.Fatalf("captured table: %v %v", names, err)
	}
	head := "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n"
	for _, tc := range []struct{ name, in, err string }{
		{"no header", "eth0: 1 2 3\n", "no Inter-|Receive header"},
		{"too few counters", head + "  eth0: 1 2 3\n", `line 3: want "NAME: 16 counters"`},
		{"no colon", head + "  eth0 " + strings.Repeat("0 ", 16) + "\n", "line 3"},
		{"name too long", head + "  abcdefghijklmnop: " + strings.Repeat("0 ", 16) + "\n", "line 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseNetDev([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want one containing %q", err, tc.err)
			}
			if strings.ContainsRune(err.Error(), 0x1b) {
				t.Fatalf("control character in the error: %q", err)
			}
		})
	}
	if names, err := parseNetDev([]byte(head)); err != nil || len(names) != 0 {
		t.Fatalf("no interface: %v %v", names, err)
	}
	// The kernel allows any byte but '/', ':' and spaces in a name: it is
	// kept exactly (rules match it byte for byte); renderers make it safe.
	odd := "e\x1b[2Jvil"
	if names, err := parseNetDev([]byte(head + "  " + odd + ": " + strings.Repeat("0 ", 16) + "\n")); err != nil || len(names) != 1 || names[0] != odd {
		t.Fatalf("odd but valid name: %q %v", names, err)
	}
}
