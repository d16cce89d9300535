package nftrules

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkAnalyzeNixOS is one verify run's worth of analysis: the NixOS
// tailnet ruleset, parsed and decided for four interfaces.
func BenchmarkAnalyzeNixOS(b *testing.B) {
	data := readFileB(b, "nixos-tailnet.json")
	ifs := []string{"lo", "eth0", "eth1", "tailscale0"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Analyze(data, 22, ifs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnalyzeLarge decides over 5000 per-source drop rules and a
// 10000-element ban set, as a busy ban table might hold.
func BenchmarkAnalyzeLarge(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"nftables":[{"chain":{"family":"inet","table":"t","name":"input","type":"filter","hook":"input","prio":0,"policy":"drop"}}`)
	sb.WriteString(`,{"set":{"family":"inet","table":"t","name":"banned","type":"ipv4_addr","elem":[`)
	for i := 0; i < 10000; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`"10.` + strconv.Itoa(i/65536) + "." + strconv.Itoa(i/256%256) + "." + strconv.Itoa(i%256) + `"`)
	}
	sb.WriteString(`]}}`)
	sb.WriteString(`,{"rule":{"family":"inet","table":"t","chain":"input","handle":1,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"@banned"}},{"drop":null}]}}`)
	for i := 0; i < 5000; i++ {
		sb.WriteString(`,{"rule":{"family":"inet","table":"t","chain":"input","handle":` + strconv.Itoa(i+2) +
			`,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"198.51.100.` + strconv.Itoa(i%256) + `"}},{"drop":null}]}}`)
	}
	sb.WriteString(`,{"rule":{"family":"inet","table":"t","chain":"input","handle":9999,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":22}},{"accept":null}]}}]}`)
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		xs, err := Analyze(data, 22, []string{"eth0"})
		if err != nil {
			b.Fatal(err)
		}
		if xs[0].State != Open {
			b.Fatalf("got %s: %s", xs[0].State, xs[0].Reason())
		}
	}
}

func readFileB(b *testing.B, name string) []byte {
	b.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		b.Fatal(err)
	}
	return data
}
