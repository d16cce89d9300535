package fleet

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-sec/rampart/internal/policy"
)

// floodPrefix is the nth address of the benchmarks' 2001:db8:cc::/48.
func floodPrefix(n int) netip.Prefix {
	return netip.MustParsePrefix(fmt.Sprintf("2001:db8:cc::%x:%x/128", n>>16, n&0xffff))
}

// storeBans creates the stream of p and publishes n bans as node origin
// straight to it (not through a link), waiting for every ack.
func storeBans(b *testing.B, p *policy.Policy, origin string, n int) {
	b.Helper()
	nc, err := nats.Connect(p.Fleet.Servers[0])
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192))
	if _, err := EnsureStream(context.Background(), js, p); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for i := range n {
		data, _ := Encode(Message{Kind: KindBan, Prefix: floodPrefix(i + 1), Jail: "sshd", DecidedAt: now, ExpiresAt: now.Add(time.Hour)})
		if _, err := js.PublishAsync(BanSubject(origin, "sshd"), data); err != nil {
			b.Fatal(err)
		}
		if (i+1)%4096 == 0 || i == n-1 {
			<-js.PublishAsyncComplete()
		}
	}
	if s, err := js.Stream(context.Background(), p.Fleet.Stream); err != nil || s.CachedInfo().State.Msgs < uint64(n) {
		b.Fatalf("stream after storing %d: %v", n, err)
	}
}

// BenchmarkLinkCatchUp measures a link reading 100,000 stored bans of
// another node from a real (single, in-process) JetStream server and
// handing them, judged, to the daemon's channel: the consumer half of
// the catch-up goal (<= 3 s including the firewall).
func BenchmarkLinkCatchUp(b *testing.B) {
	const n = 100_000
	_, url := runServer(b, b.TempDir(), -1)
	storeBans(b, fleetPolicy(b, "a", url), "a", n)
	pb := fleetPolicy(b, "b", url)
	pb.Fleet.Rate, pb.Fleet.Burst = 1_000_000, 10_000_000
	b.ResetTimer()
	for b.Loop() {
		l, cancel, done := startLink(b, pb, b.TempDir(), 0)
		got := 0
		for got < n {
			select {
			case in := <-l.Inbound():
				if in.Kind == KindBan {
					got++
				}
			case <-time.After(30 * time.Second):
				b.Fatalf("%d of %d after a 30 s pause; status %+v", got, n, l.Status())
			}
		}
		b.StopTimer()
		cancel()
		<-done
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkLinkPublish measures 10,000 local bans from Publish through
// the persisted outbox to the stream's acknowledgement (the publisher
// half of the burst goal).
func BenchmarkLinkPublish(b *testing.B) {
	const n = 10_000
	_, url := runServer(b, b.TempDir(), -1)
	p := fleetPolicy(b, "a", url)
	l, _, _ := startLink(b, p, b.TempDir(), 0)
	waitFor(b, "the link", func() bool { return l.Status().Connected })
	now := time.Now()
	sent := 0
	b.ResetTimer()
	for b.Loop() {
		for i := range n {
			l.Publish(Message{Kind: KindBan, Prefix: floodPrefix(sent + i + 1), Jail: "sshd", DecidedAt: now, ExpiresAt: now.Add(time.Hour)})
		}
		sent += n
		deadline := time.Now().Add(60 * time.Second)
		for l.Status().Published < int64(sent) {
			if time.Now().After(deadline) {
				b.Fatalf("status %+v", l.Status())
			}
			time.Sleep(time.Millisecond)
		}
	}
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkJudge measures decoding and guarding one stream message.
func BenchmarkJudge(b *testing.B) {
	p := fleetPolicy(b, "b", "nats://127.0.0.1:4222")
	p.Fleet.Rate, p.Fleet.Burst = 1_000_000, 10_000_000
	l, err := New(Config{Policy: p, StateDir: b.TempDir(), Own: []netip.Addr{netip.MustParseAddr("192.0.2.1")}})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	data, _ := Encode(Message{Kind: KindBan, Prefix: floodPrefix(1), Jail: "sshd", DecidedAt: now, ExpiresAt: now.Add(time.Hour), Failures: 3})
	subj := BanSubject("a", "sshd")
	b.ReportAllocs()
	for b.Loop() {
		if in := l.judge(subj, data, now); in.Kind != KindBan {
			b.Fatalf("%+v", in)
		}
	}
}
