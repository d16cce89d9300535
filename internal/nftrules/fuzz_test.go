package nftrules

import (
	"testing"

	"github.com/rampart-sec/rampart/internal/testenv"
)

// The ruleset comes from the host (`nft -j list ruleset`, iptables-save),
// and a host that is not what it should be can print anything: parsing it
// and deciding what reaches the SSH port never panics nor runs forever, a
// chain that jumps back into itself included.
func FuzzParse(f *testing.F) {
	testenv.SeedFiles(f, "testdata/*.json")
	f.Add([]byte(`{"nftables":[{"table":{"family":"inet","name":"t"}},
{"chain":{"family":"inet","table":"t","name":"in","type":"filter","hook":"input","prio":0,"policy":"drop"}},
{"chain":{"family":"inet","table":"t","name":"loop"}},
{"rule":{"family":"inet","table":"t","chain":"in","expr":[{"jump":{"target":"loop"}}]}},
{"rule":{"family":"inet","table":"t","chain":"loop","expr":[{"jump":{"target":"loop"}}]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Parse(data)
		if err != nil {
			return
		}
		decideAll(rs)
	})
}

// FuzzAddIptables is FuzzParse for iptables-save output.
func FuzzAddIptables(f *testing.F) {
	testenv.SeedFiles(f, "testdata/*-save4", "testdata/*-save6", "testdata/*.v4")
	f.Add([]byte("*filter\n:INPUT DROP [0:0]\n:A - [0:0]\n-A INPUT -j A\n-A A -j A\nCOMMIT\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Parse([]byte(`{"nftables":[]}`))
		if err != nil {
			t.Fatal(err)
		}
		Backend(data)
		LegacyPresent(data)
		if err := rs.AddIptables(data, "ip"); err != nil {
			return
		}
		if err := rs.AddIptables(data, "ip6"); err != nil {
			return
		}
		decideAll(rs)
	})
}

func decideAll(rs *Ruleset) {
	rs.InputFiltering()
	rs.Trusted("tailscale0")
	rs.Chains()
	for _, ifc := range []string{"eth0", "tailscale0", "lo"} {
		rs.Exposure("tcp", 22, ifc)
		rs.Exposure("udp", 41641, ifc)
	}
}
