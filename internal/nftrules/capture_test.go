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
