package daemon

import (
	"bufio"
	"context"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-sec/rampart/internal/fleet"
	"github.com/rampart-sec/rampart/internal/guard/nft"
	"github.com/rampart-sec/rampart/internal/guard/nft/nfttest"
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

// BenchmarkFleetCatchUp measures the daemon's half of a fleet catch-up:
// 100,000 other nodes' bans (already judged by the link) through the
// loop's fleet path into real nftables sets in a throwaway namespace,
// committed a queue's worth at a time as the loop does.
func BenchmarkFleetCatchUp(b *testing.B) {
	const n = 100_000
	ns := nfttest.NewNetNS(b)
	be, err := nft.NewNetlink("rampart", nftables.WithNetNSFd(int(ns.Fd())))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	ins := make([]fleet.Inbound, n)
	for i := range ins {
		ins[i] = fleet.Inbound{Seq: uint64(i + 1), Kind: fleet.KindBan, Origin: "a", Jail: "sshd", At: now, Until: now.Add(time.Hour), Prefix: benchPrefix(i)}
	}
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		d, err := New(Options{Policy: testPolicy(filepath.Join(b.TempDir(), "auth.log")), Backend: be, StateDir: b.TempDir(), Sources: []source.Source{}})
		if err != nil {
			b.Fatal(err)
		}
		if err := d.sync(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for i, in := range ins {
			d.remote(in)
			if i%fleetBatch == fleetBatch-1 {
				d.flush(ctx)
			}
		}
		d.flush(ctx)
		b.StopTimer()
		if els, err := be.Check(ctx); err != nil || len(els) != n {
			b.Fatalf("%d elements, %v", len(els), err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "bans/s")
}

// BenchmarkGuardCatchUp is the catch-up of 100,000 stored fleet bans as
// the guard does it (link, loop, store ticks, logs, the table watcher),
// against a real in-process JetStream server and real nftables sets in a
// throwaway namespace: from Run until every ban is in the kernel.
func BenchmarkGuardCatchUp(b *testing.B) {
	const n = 100_000
	ns := nfttest.NewNetNS(b)
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: b.TempDir(), NoSigs: true, ServerName: "b1"})
	if err != nil {
		b.Fatal(err)
	}
	s.Start()
	defer s.Shutdown()
	if !s.ReadyForConnections(10 * time.Second) {
		b.Fatal("nats server not ready")
	}
	url := "nats://" + s.Addr().String()
	p := testPolicy(filepath.Join(b.TempDir(), "auth.log"))
	p.Fleet.Enabled, p.Fleet.Servers, p.Fleet.Node, p.Fleet.Accept = true, []string{url}, "b", true
	p.Fleet.Rate, p.Fleet.Burst = 1_000_000, 10_000_000
	p.Fleet.Stream, p.Fleet.OutboxMax = "RAMPART_BANS", 1000
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192))
	if _, err := fleet.EnsureStream(context.Background(), js, p); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for i := range n {
		data, _ := fleet.Encode(fleet.Message{Kind: fleet.KindBan, Prefix: benchPrefix(i), Jail: "sshd", DecidedAt: now, ExpiresAt: now.Add(time.Hour)})
		if _, err := js.PublishAsync(fleet.BanSubject("a", "sshd"), data); err != nil {
			b.Fatal(err)
		}
		if (i+1)%4096 == 0 || i == n-1 {
			<-js.PublishAsyncComplete()
		}
	}
	nc.Close()
	logf, err := os.Create(filepath.Join(b.TempDir(), "guard.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	for b.Loop() {
		b.StopTimer()
		be, _ := nft.NewNetlink("rampart", nftables.WithNetNSFd(int(ns.Fd())))
		_ = be.Delete(context.Background())
		ready := make(chan struct{})
		d, err := New(Options{Policy: p, Backend: be, StateDir: b.TempDir(), Sources: []source.Source{}, Ready: ready,
			Log: slog.New(slog.NewJSONHandler(logf, nil))})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		b.StartTimer()
		go func() { done <- d.Run(ctx) }()
		<-ready
		for {
			var k int
			if err := d.do(ctx, func() {
				for _, r := range d.bans {
					if r.inKernel {
						k++
					}
				}
			}); err != nil {
				b.Fatal(err)
			}
			if k >= n {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		// The memory the guard holds with 100,000 fleet bans.
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "live-heap-MB")
		if f := os.Getenv("RAMPART_BENCH_HEAP"); f != "" {
			if w, err := os.Create(f); err == nil {
				pprof.Lookup("heap").WriteTo(w, 0)
				w.Close()
			}
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "bans/s")
}

// benchPrefix is the ith ban of the fleet benchmarks (2001:db8:cc::/96).
func benchPrefix(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0xcc, 12: byte(i >> 24), 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)}), 128)
}
