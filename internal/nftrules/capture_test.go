package nftrules

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/testenv"
)

var update = flag.Bool("update", false, "re-capture testdata/*.json from the .nft files in a namespace")

// TestFixturesMatchRealNft loads every testdata/*.nft into a fresh
// namespace and checks that nft -j list ruleset still prints what the
// .json fixture holds (handles aside), so the fixtures stay real output.
// With -update it rewrites them.
func TestFixturesMatchRealNft(t *testing.T) {
	testenv.RequireCommands(t, "nft")
	srcs, err := filepath.Glob("testdata/*.nft")
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no .nft sources: %v", err)
	}
	for _, src := range srcs {
		t.Run(filepath.Base(src), func(t *testing.T) {
			ns := testenv.NewNetns(t, "nt")
			abs, _ := filepath.Abs(src)
			ns.Exec(t, "nft", "-f", abs)
			out, err := ns.Cmd("nft", "-j", "list", "ruleset").Output()
			if err != nil {
				t.Fatalf("nft -j list ruleset: %v", err)
			}
			golden := strings.TrimSuffix(src, ".nft") + ".json"
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := normalize(t, out), normalize(t, want); !reflect.DeepEqual(a, b) {
				t.Errorf("%s differs from a fresh capture (run with -update after checking why):\ngot  %s\nwant %s", golden, out, want)
			}
			if _, err := Parse(out); err != nil {
				t.Errorf("fresh capture does not parse: %v", err)
			}
		})
	}
}

// normalize drops the metainfo and the table handles, which depend on how
// many tables the namespace has seen.
func normalize(t *testing.T, data []byte) any {
	t.Helper()
	var doc struct {
		Nftables []map[string]map[string]any `json:"nftables"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var out []map[string]map[string]any
	for _, o := range doc.Nftables {
		if _, ok := o["metainfo"]; ok {
			continue
		}
		if tb, ok := o["table"]; ok {
			delete(tb, "handle")
		}
		out = append(out, o)
	}
	return out
}

// TestIptablesFixturesMatchReal restores every testdata/ipt-*.v4/.v6 pair
// with the nf_tables backend and with the legacy backend in fresh
// namespaces and compares what iptables-save (and nft -j for the
// nf_tables backend) print with the stored captures.
func TestIptablesFixturesMatchReal(t *testing.T) {
	testenv.RequireCommands(t, "nft", "iptables-nft-restore", "ip6tables-nft-restore", "iptables-legacy-restore", "ip6tables-legacy-restore")
	srcs, err := filepath.Glob("testdata/ipt-*.v4")
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no iptables sources: %v", err)
	}
	for _, v4 := range srcs {
		base := strings.TrimSuffix(v4, ".v4")
		t.Run(filepath.Base(base), func(t *testing.T) {
			for _, backend := range []string{"nft", "legacy"} {
				ns := testenv.NewNetns(t, "nt")
				for _, fam := range []string{"4", "6"} {
					prog := map[string]string{"4": "iptables", "6": "ip6tables"}[fam]
					src, _ := filepath.Abs(base + ".v" + fam)
					ns.Exec(t, "sh", "-c", prog+"-"+backend+"-restore < "+src)
				}
				for _, fam := range []string{"4", "6"} {
					prog := map[string]string{"4": "iptables", "6": "ip6tables"}[fam]
					out, err := ns.Cmd(prog + "-" + backend + "-save").Output()
					if err != nil {
						t.Fatalf("%s-%s-save: %v", prog, backend, err)
					}
					compareText(t, base+"."+backend+"-save"+fam, out)
				}
				if backend == "nft" {
					out, err := ns.Cmd("nft", "-j", "list", "ruleset").Output()
					if err != nil {
						t.Fatal(err)
					}
					golden := base + ".nft.json"
					if *update {
						if err := os.WriteFile(golden, out, 0o644); err != nil {
							t.Fatal(err)
						}
						continue
					}
					want, err := os.ReadFile(golden)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(normalize(t, out), normalize(t, want)) {
						t.Errorf("%s differs from a fresh capture", golden)
					}
				}
			}
		})
	}
}

// compareText compares iptables-save output without its dated comments.
func compareText(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	strip := func(b []byte) string {
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(l, "# Generated") && !strings.HasPrefix(l, "# Completed") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if strip(got) != strip(want) {
		t.Errorf("%s differs from a fresh capture:\ngot\n%s\nwant\n%s", golden, got, want)
	}
}
