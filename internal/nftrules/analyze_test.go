package nftrules

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func load(t *testing.T, name string) *Ruleset {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return rs
}

// The fixtures are real `nft -j list ruleset` output, captured from a
// namespace loaded with the .nft file of the same name (see
// TestFixturesMatchRealNft, which re-captures them under RAMPART_E2E=1).
func TestExposure(t *testing.T) {
	tests := []struct {
		fixture    string
		iface      string
		port       int
		want       State
		v4, v6     State
		ruleSubstr string
	}{
		{"nixos-tailnet", "eth0", 22, Closed, Closed, Closed, "inet nixos-fw input: policy drop"},
		{"nixos-tailnet", "tailscale0", 22, Open, Open, Open, `iifname { lo, tailscale0 } accept`},
		{"nixos-tailnet", "lo", 22, Open, Open, Open, "trusted interfaces"},
		{"nixos-tailnet", "wg0", 2222, Closed, Closed, Closed, "policy drop"},
		{"nixos-openfirewall", "eth0", 22, Open, Open, Open, "input-allow (handle"},
		{"nixos-openfirewall", "eth0", 23, Closed, Closed, Closed, "policy drop"},
		{"nixos-iface-port", "eth0", 22, Closed, Closed, Closed, "policy drop"},
		{"nixos-iface-port", "tailscale0", 22, Open, Open, Open, `iifname tailscale0 tcp dport 22 accept`},
		{"nixos-iface-port", "eth0", 443, Open, Open, Open, "tcp dport { 80, 443 } accept"},
		{"lockdown-table", "eth0", 22, Closed, Closed, Closed, "inet lockdown refuse"},
		{"lockdown-table", "eth0", 2250, Closed, Closed, Closed, "goto refuse"},
		{"lockdown-table", "eth0", 2300, Open, Open, Open, "policy accept"},
		{"lockdown-table", "tailscale0", 22, Open, Open, Open, "iifname @trusted accept"},
		{"empty-accept", "eth0", 22, Open, Open, Open, "inet filter input: policy accept"},
		{"saddr-allowlist", "eth0", 22, Limited, Limited, Closed, "ip saddr 198.51.100.0/24"},
		{"saddr-allowlist", "lo", 22, Open, Open, Open, "iif lo accept"},
		{"ip-only-v6-open", "eth0", 22, Open, Closed, Open, "no input or prerouting filter chain for ipv6"},
		{"ip-only-v6-open", "tailscale0", 22, Open, Open, Open, "iifname tailscale0 accept"},
		{"unknown-expr", "eth0", 22, Unknown, Unknown, Unknown, "socket"},
		{"unknown-expr", "lo", 22, Open, Open, Open, "iifname lo accept"},
		{"reject-drop-before", "eth0", 22, Closed, Closed, Closed, "tcp dport vmap { 22 : drop, 80 : accept }"},
		{"reject-drop-before", "eth0", 80, Open, Open, Open, "policy accept"},
		{"reject-drop-before", "eth1", 22, Open, Open, Open, "policy accept"},
		{"notrack", "eth0", 22, Open, Open, Open, "ct state untracked accept"},
		{"named-maps", "eth0", 22, Limited, Limited, Closed, "ip saddr @admins"},
		{"named-maps", "eth0", 80, Open, Open, Open, "tcp dport vmap @portverdict"},
		{"named-maps", "eth0", 443, Open, Open, Open, "policy accept"},
		{"named-maps", "wg0", 22, Open, Open, Open, `iifname wg* accept`},
		{"notrack", "eth0", 23, Closed, Closed, Closed, "policy drop"},
	}
	for _, tc := range tests {
		t.Run(tc.fixture+"/"+tc.iface, func(t *testing.T) {
			x := load(t, tc.fixture).Exposure("tcp", tc.port, tc.iface)
			if x.State != tc.want || x.IPv4.State != tc.v4 || x.IPv6.State != tc.v6 {
				t.Errorf("port %d: got %s (v4 %s, v6 %s), want %s (v4 %s, v6 %s)\nreason: %s\nrules: %q",
					tc.port, x.State, x.IPv4.State, x.IPv6.State, tc.want, tc.v4, tc.v6, x.Reason(), x.Rules())
			}
			if !strings.Contains(strings.Join(x.Rules(), "\n")+"\n"+x.Reason(), tc.ruleSubstr) {
				t.Errorf("port %d: evidence lacks %q\nreason: %s\nrules: %q", tc.port, tc.ruleSubstr, x.Reason(), x.Rules())
			}
		})
	}
}

func TestInputFiltering(t *testing.T) {
	tests := []struct {
		fixture string
		active  bool
		summary string
	}{
		{"nixos-tailnet", true, "inet nixos-fw input (policy drop, 3 rules)"},
		{"empty-accept", false, "none drops by default"},
		{"ip-only-v6-open", false, "IPv6 has no default drop"},
		{"saddr-allowlist", true, "ip6 filter INPUT"},
		{"lockdown-table", false, "none drops by default"},
	}
	for _, tc := range tests {
		f := load(t, tc.fixture).InputFiltering()
		if f.Active() != tc.active || !strings.Contains(f.Summary(), tc.summary) {
			t.Errorf("%s: active %v, summary %q; want %v containing %q", tc.fixture, f.Active(), f.Summary(), tc.active, tc.summary)
		}
	}
}

func TestTrusted(t *testing.T) {
	tests := []struct {
		fixture, iface string
		want           bool
	}{
		{"nixos-tailnet", "tailscale0", true},
		{"nixos-tailnet", "eth0", false},
		{"nixos-iface-port", "tailscale0", false}, // only 22 allowed there
		{"ip-only-v6-open", "tailscale0", true},
		{"unknown-expr", "tailscale0", false},
	}
	for _, tc := range tests {
		got, d := load(t, tc.fixture).Trusted(tc.iface)
		if got != tc.want || len(d.Rules) == 0 {
			t.Errorf("%s %s: trusted %v (%s, rules %q), want %v", tc.fixture, tc.iface, got, d.Reason, d.Rules, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "not nft JSON"},
		{"{}", `no top-level "nftables" array`},
		{`{"nftables":[{"rule":{"family":"inet","table":"t","chain":"c","handle":3,"expr":[]}}]}`, "unknown chain inet t c"},
		{`{"nftables":[{"chain":{"family":"inet","table":"t","name":"c","prio":"x"}}]}`, "object 0 (chain)"},
		{"\x1b[2J", "not nft JSON"},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want error containing %q", tc.in, err, tc.want)
		}
	}
	if _, err := Parse(make([]byte, MaxRulesetSize+1)); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("oversized ruleset: %v", err)
	}
}

// A deep chain of jumps and many forking rules end as unknown, not closed.
func TestComplexityBounds(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"nftables":[{"chain":{"family":"inet","table":"t","name":"input","type":"filter","hook":"input","prio":0,"policy":"drop"}}`)
	for i := 0; i < 40; i++ {
		b.WriteString(`,{"chain":{"family":"inet","table":"t","name":"c` + itoa(i) + `"}}`)
		next := "c" + itoa(i+1)
		if i == 0 {
			b.WriteString(`,{"rule":{"family":"inet","table":"t","chain":"input","handle":1,"expr":[{"jump":{"target":"c0"}}]}}`)
		}
		b.WriteString(`,{"rule":{"family":"inet","table":"t","chain":"c` + itoa(i) + `","handle":2,"expr":[{"jump":{"target":"` + next + `"}}]}}`)
	}
	b.WriteString(`,{"chain":{"family":"inet","table":"t","name":"c40"}},{"rule":{"family":"inet","table":"t","chain":"c40","handle":9,"expr":[{"accept":null}]}}]}`)
	rs, err := Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if x := rs.Exposure("tcp", 22, "eth0"); x.State != Unknown {
		t.Errorf("deep jumps: %s (%s), want unknown", x.State, x.Reason())
	}
	// 64 independent source-address rules would fork 2^64 paths.
	b.Reset()
	b.WriteString(`{"nftables":[{"chain":{"family":"ip","table":"t","name":"input","type":"filter","hook":"input","prio":0,"policy":"drop"}}`)
	for i := 0; i < 64; i++ {
		b.WriteString(`,{"rule":{"family":"ip","table":"t","chain":"input","handle":` + itoa(i+1) + `,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"192.0.2.` + itoa(i) + `"}},{"jump":{"target":"x"}}]}}`)
	}
	b.WriteString(`,{"chain":{"family":"ip","table":"t","name":"x"}},{"rule":{"family":"ip","table":"t","chain":"x","handle":99,"expr":[{"counter":null}]}}]}`)
	rs, err = Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if x := rs.Exposure("tcp", 22, "eth0"); x.IPv4.State != Unknown {
		t.Errorf("fork explosion: %s (%s), want unknown", x.IPv4.State, x.IPv4.Reason)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// NixOS's iptables firewall (the default without networking.nftables):
// with the nf_tables backend nft -j shows opaque xt matches, so nft alone
// cannot decide; with iptables-save the answer is exact. With the legacy
// backend nft shows nothing and only iptables-save can tell.
func TestIptables(t *testing.T) {
	empty := []byte(`{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}]}`)
	tests := []struct {
		name, iface string
		nft         []byte
		save4       string
		save6       string
		want        State
		active      bool
	}{
		{"nft-only", "eth0", readFile(t, "ipt-nixos-tailnet.nft.json"), "", "", Unknown, false},
		{"nft+save tailnet", "eth0", readFile(t, "ipt-nixos-tailnet.nft.json"), "ipt-nixos-tailnet.nft-save4", "ipt-nixos-tailnet.nft-save6", Closed, true},
		{"nft+save tailnet ts0", "tailscale0", readFile(t, "ipt-nixos-tailnet.nft.json"), "ipt-nixos-tailnet.nft-save4", "ipt-nixos-tailnet.nft-save6", Open, true},
		{"nft+save open", "eth0", readFile(t, "ipt-nixos-open.nft.json"), "ipt-nixos-open.nft-save4", "ipt-nixos-open.nft-save6", Open, true},
		{"legacy tailnet", "eth0", empty, "ipt-nixos-tailnet.legacy-save4", "ipt-nixos-tailnet.legacy-save6", Closed, true},
		{"legacy open", "eth0", empty, "ipt-nixos-open.legacy-save4", "ipt-nixos-open.legacy-save6", Open, true},
		{"legacy v4 only", "eth0", empty, "ipt-nixos-tailnet.legacy-save4", "", Open, false},
		{"nothing", "eth0", empty, "", "", Open, false},
	}
	for _, tc := range tests {
		rs, err := Parse(tc.nft)
		if err != nil {
			t.Fatal(err)
		}
		if tc.save4 != "" {
			if err := rs.AddIptables(readFile(t, tc.save4), "ip"); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		if tc.save6 != "" {
			if err := rs.AddIptables(readFile(t, tc.save6), "ip6"); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		x := rs.Exposure("tcp", 22, tc.iface)
		if x.State != tc.want {
			t.Errorf("%s: %s tcp/22 = %s (%s), want %s", tc.name, tc.iface, x.State, x.Reason(), tc.want)
		}
		if f := rs.InputFiltering(); f.Active() != tc.active {
			t.Errorf("%s: active = %v (%s), want %v", tc.name, f.Active(), f.Summary(), tc.active)
		}
	}
}

func TestIptablesErrors(t *testing.T) {
	rs, _ := Parse([]byte(`{"nftables":[]}`))
	for _, tc := range []struct{ in, want string }{
		{"-A INPUT -j ACCEPT\n", "line 1: rule outside a table"},
		{"*filter\n:INPUT ACCEPT [0:0]\n-A OTHER -j DROP\n", "line 3: rule for undeclared chain \"OTHER\""},
		{"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 99999 -j DROP\n", "line 3: port \"99999\""},
		{"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment \"open -j ACCEPT\n", "unterminated quote"},
		{"*filter\nbogus\n", "line 2: unexpected line \"bogus\""},
	} {
		if err := rs.AddIptables([]byte(tc.in), "ip"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AddIptables(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
	if err := rs.AddIptables(nil, "inet"); err == nil {
		t.Error("family inet accepted")
	}
}

func TestBackend(t *testing.T) {
	for name, want := range map[string]string{
		"ipt-nixos-open.nft-save4": "nf_tables", "ipt-nixos-open.legacy-save6": "legacy",
	} {
		if got := Backend(readFile(t, name)); got != want {
			t.Errorf("Backend(%s) = %s, want %s", name, got, want)
		}
	}
	if got := Backend(nil); got != "no tables" {
		t.Errorf("Backend(empty) = %s", got)
	}
}
