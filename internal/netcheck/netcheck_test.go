package netcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
		out := read(t, filepath.Join("testdata", "ss-"+s.ss+".txt"))
		f.SetCmd(ssCmd, out, 0)
		// The captured sshd listeners are root's.
		for _, m := range ssEntryRE.FindAllStringSubmatch(out, -1) {
			f.SetFile("/proc/"+m[2]+"/status", "Name:\t"+m[1]+"\nUid:\t0\t0\t0\t0\n")
		}
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

// procFixture adds a capture-proc.sh capture (the kernel's TCP tables and
// the listening sshd's fdinfo at the moment ss-NAME.txt's twin was taken)
// to f and returns that sshd's PID.
func procFixture(t *testing.T, f *hosttest.Fixture, name string) int {
	t.Helper()
	p := hosttest.Load(t, filepath.Join("testdata", "proc-"+name+".txtar"))
	pid := 0
	for k, v := range p.Files {
		f.Files[k] = v
		if rest, ok := strings.CutPrefix(k, "/proc/"); ok {
			if n, err := strconv.Atoi(strings.SplitN(rest, "/", 2)[0]); err == nil {
				pid = n
			}
		}
	}
	if pid == 0 {
		t.Fatalf("proc-%s.txtar: no /proc/PID/fdinfo", name)
	}
	return pid
}

// TestListenersFromProc: read from the kernel's tables and sshd's fdinfo
// (no ss started), the listener checks give what they give from ss
// captured at the same moment; and each case the tables cannot answer
// falls back to ss.
func TestListenersFromProc(t *testing.T) {
	tailnet, baseline := policy.MustDefault("tailnet"), policy.MustDefault("")
	run := func(f *hosttest.Fixture, p *policy.Policy, id string, pids []int) check.Result {
		c, _ := check.Lookup(id)
		env := check.NewEnv(f, p, "")
		if pids != nil {
			env.SetSSHDListeners(pids)
		}
		return check.Run(context.Background(), env, []*check.Check{c})[0]
	}
	for _, tc := range []struct {
		id, nft, name string
		p             *policy.Policy
	}{
		{"firewall.sshd-bindings", "", "wildcard", tailnet},
		{"firewall.sshd-bindings", "", "tailnet", tailnet},
		{"firewall.sshd-bindings", "", "public", tailnet},
		{"firewall.sshd-bindings", "", "public", baseline},
		{"firewall.ssh-exposure", "reject-drop-before", "port2222", tailnet},
		{"firewall.ssh-exposure", "lockdown-table", "port2222", tailnet},
	} {
		t.Run(tc.id+"/"+tc.name, func(t *testing.T) {
			want := run(fixture(t, setup{nft: tc.nft, ss: tc.name}), tc.p, tc.id, nil)
			f := fixture(t, setup{nft: tc.nft}) // ss missing: it must not be needed
			pid := procFixture(t, f, tc.name)
			got := run(f, tc.p, tc.id, []int{pid})
			if got.Status != want.Status || got.Message != want.Message {
				t.Fatalf("from /proc: %s %q\nfrom ss:    %s %q", got.Status, got.Message, want.Status, want.Message)
			}
			if tc.id == "firewall.sshd-bindings" && (!strings.HasPrefix(got.Evidence[0].Source, "/proc/net/tcp") ||
				!strings.Contains(got.Evidence[0].Text, fmt.Sprintf("(sshd pid %d fd ", pid))) {
				t.Errorf("evidence %+v", got.Evidence)
			}
		})
	}
	// The tables at any size up to the bound, and without IPv6: read
	// from /proc (with the descriptors when tiny, beside them when not),
	// as ss says.
	variants := map[string]func(f *hosttest.Fixture){
		"mid-size tables": func(f *hosttest.Fixture) {
			f.SetFile("/proc/net/sockstat", "TCP: inuse 300 orphan 0 tw 200 alloc 500 mem 3\n")
		},
		"no IPv6": func(f *hosttest.Fixture) {
			delete(f.Files, "/proc/net/tcp6")
			delete(f.Files, "/proc/net/sockstat6")
		},
	}
	for name, change := range variants {
		t.Run("tables/"+name, func(t *testing.T) {
			want := run(fixture(t, setup{ss: "tailnet"}), tailnet, "firewall.sshd-bindings", nil)
			f := fixture(t, setup{})
			pid := procFixture(t, f, "tailnet")
			change(f)
			got := run(f, tailnet, "firewall.sshd-bindings", []int{pid})
			if got.Status != want.Status || got.Message != want.Message || got.Evidence[0].Source != "/proc/net/tcp, /proc/net/tcp6 and /proc/PID/fdinfo of sshd "+fmt.Sprint([]int{pid}) {
				t.Fatalf("from /proc: %s %q %q\nfrom ss:    %s %q", got.Status, got.Message, got.Evidence[0].Source, want.Status, want.Message)
			}
		})
	}
	// Each case where the tables cannot say: ss answers.
	fallback := map[string]func(f *hosttest.Fixture, pid int) []int{
		"no sshd recorded": func(*hosttest.Fixture, int) []int { return nil },
		"not root": func(f *hosttest.Fixture, pid int) []int {
			f.User = "admin"
			return []int{pid}
		},
		"busy tables": func(f *hosttest.Fixture, pid int) []int {
			f.SetFile("/proc/net/sockstat", "TCP: inuse 900 orphan 0 tw 300 alloc 1200 mem 3\n")
			return []int{pid}
		},
		"kernel without ino in fdinfo": func(f *hosttest.Fixture, pid int) []int {
			for k, v := range f.Files {
				if strings.Contains(k, "/fdinfo/") {
					f.Files[k] = []byte(strings.Split(string(v), "ino:")[0])
				}
			}
			return []int{pid}
		},
		"sshd gone": func(f *hosttest.Fixture, pid int) []int { return []int{pid + 1} },
	}
	for name, breakIt := range fallback {
		t.Run("fallback/"+name, func(t *testing.T) {
			f := fixture(t, setup{ss: "tailnet"})
			pids := breakIt(f, procFixture(t, f, "tailnet"))
			r := run(f, tailnet, "firewall.sshd-bindings", pids)
			if r.Status != check.Pass || r.Evidence[0].Source != ssCmd.String() {
				t.Fatalf("%s %q from %q, want a pass read with ss", r.Status, r.Message, r.Evidence[0].Source)
			}
		})
	}
}

func TestParseProcNetTCP(t *testing.T) {
	p := hosttest.Load(t, filepath.Join("testdata", "proc-wildcard.txtar"))
	v4, err := ParseProcNetTCP(p.Files["/proc/net/tcp"], false)
	if err != nil || len(v4) != 1 || v4[0].Local.String() != "0.0.0.0:22" || !v4[0].Listen || v4[0].Inode == 0 {
		t.Fatalf("tcp: %+v %v", v4, err)
	}
	v6, err := ParseProcNetTCP(p.Files["/proc/net/tcp6"], true)
	if err != nil || len(v6) != 1 || v6[0].Local.String() != "[::]:22" {
		t.Fatalf("tcp6: %+v %v", v6, err)
	}
	p = hosttest.Load(t, filepath.Join("testdata", "proc-tailnet.txtar"))
	got, err := ParseProcNetTCP(p.Files["/proc/net/tcp"], false)
	var addrs []string
	for _, s := range got {
		addrs = append(addrs, s.Local.String())
	}
	slices.Sort(addrs)
	if err != nil || strings.Join(addrs, " ") != "100.64.0.1:22 127.0.0.1:22" {
		t.Fatalf("tailnet tcp: %v %v", addrs, err)
	}
	head := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	for _, tc := range []struct{ name, line, err string }{
		{"few fields", "   0: 0100007F:0016 00000000:0000 0A\n", "line 2: fewer than 10 fields"},
		{"no port", "   0: 0100007F 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 5 1\n", "line 2: no local port"},
		{"short address", "   0: 01007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 5 1\n", "6 hex digits, want 8"},
		{"not hex", "   0: 0100007G:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 5 1\n", "not hexadecimal"},
		{"inode", "   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 \x1b[2J 1\n", "inode is not a number"},
	} {
		_, err := ParseProcNetTCP([]byte(head+tc.line), false)
		if err == nil || !strings.Contains(err.Error(), tc.err) || strings.ContainsRune(err.Error(), 0x1b) {
			t.Errorf("%s: err = %v, want one containing %q and no control character", tc.name, err, tc.err)
		}
	}
	if got, _ := ParseProcNetTCP([]byte(head+"   0: 0100007F:0016 00000000:0000 01 00000000:00000000 00:00000000 00000000 0 0 5 1\n"), false); len(got) != 1 || got[0].Listen || got[0].Local.String() != "127.0.0.1:22" {
		t.Errorf("established socket: %+v", got)
	}
}
