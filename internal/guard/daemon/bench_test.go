package daemon

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/nft"
	"github.com/rampart-sec/rampart/internal/guard/source"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// BenchmarkDecisionPath measures the daemon's own work in a decision run:
// 100k generated auth.log lines (timestamps ending now) through parsing,
// the engine, the store (one fsync per commit) and the firewall backend
// (the in-memory fake; bench/decision.sh measures real nftables).
func BenchmarkDecisionPath(b *testing.B) {
	py := testenv.RequireCommands(b, "python3")[0]
	dir := b.TempDir()
	corpus := filepath.Join(dir, "corpus.log")
	start := time.Now().Add(-500 * time.Second).Format("2006-01-02 15:04:05")
	if out, err := exec.Command(py, "../../../bench/gen-authlog.py", "--lines", "100000", "--rate", "200", "--start", start, "--out", corpus).CombinedOutput(); err != nil {
		b.Skipf("gen-authlog.py: %v\n%s", err, out)
	}
	f, err := os.Open(corpus)
	if err != nil {
		b.Fatal(err)
	}
	var recs []source.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		recs = append(recs, source.Record{Text: sc.Text(), Source: "file:" + corpus})
	}
	f.Close()
	p := testPolicy(corpus)
	p.Ban.Jails[0].Maxretry = 5
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		fake := nft.NewFake(nil)
		d, err := New(Options{Policy: p, Backend: fake, StateDir: b.TempDir(), Sources: []source.Source{}})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if err := d.sync(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for i, r := range recs {
			d.handle(r)
			if i%4096 == 4095 {
				d.flush(ctx)
			}
		}
		d.flush(ctx)
		b.StopTimer()
		if len(d.bans) == 0 {
			b.Fatal("no bans")
		}
		b.ReportMetric(float64(len(d.bans)), "bans")
		b.StartTimer()
	}
	b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
