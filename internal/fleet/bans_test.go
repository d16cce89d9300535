package fleet

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// flaky hands out the real stream, whose ordered consumer's fetches fail
// with "no responders" while fail is above zero, as they do while a
// cluster elects its JetStream leader.
type flaky struct {
	jetstream.JetStream
	fail *atomic.Int32
}

type flakyStream struct {
	jetstream.Stream
	fail *atomic.Int32
}

type flakyConsumer struct {
	jetstream.Consumer
	fail *atomic.Int32
}

func (f flaky) Stream(ctx context.Context, name string) (jetstream.Stream, error) {
	s, err := f.JetStream.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	return flakyStream{s, f.fail}, nil
}

func (s flakyStream) OrderedConsumer(ctx context.Context, cfg jetstream.OrderedConsumerConfig) (jetstream.Consumer, error) {
	c, err := s.Stream.OrderedConsumer(ctx, cfg)
	return flakyConsumer{c, s.fail}, err
}

func (c flakyConsumer) Fetch(n int, opts ...jetstream.FetchOpt) (jetstream.MessageBatch, error) {
	if c.fail.Add(-1) >= 0 {
		return nil, nats.ErrNoResponders
	}
	return c.Consumer.Fetch(n, opts...)
}

// ReadBans reads every ban of the stream, and a read the stream does not
// answer starts again until it does; one that never answers fails,
// naming the stream and why, once readBansWait has passed.
func TestReadBansRetries(t *testing.T) {
	_, url := runServer(t, filepath.Join(t.TempDir(), "js"), -1)
	p := fleetPolicy(t, "n1", url)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := EnsureStream(ctx, js, p); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, a := range []string{"198.51.100.7/32", "198.51.100.8/32", "203.0.113.9/32"} {
		b, err := Encode(Message{Kind: KindBan, Prefix: netip.MustParsePrefix(a), Jail: "sshd", DecidedAt: now, ExpiresAt: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, BanSubject("n1", "sshd"), b); err != nil {
			t.Fatal(err)
		}
	}
	var fail atomic.Int32
	fail.Store(2)
	l, err := ReadBans(ctx, flaky{js, &fail}, p.Fleet.Stream)
	if err != nil || len(l.Active(now)) != 3 {
		t.Fatalf("after two failed fetches: %v, %+v", err, l)
	}
	defer func(d time.Duration) { readBansWait = d }(readBansWait)
	readBansWait = 600 * time.Millisecond
	fail.Store(1 << 30)
	if _, err := ReadBans(ctx, flaky{js, &fail}, p.Fleet.Stream); !errors.Is(err, nats.ErrNoResponders) || !strings.Contains(err.Error(), p.Fleet.Stream) {
		t.Errorf("a stream that never answers: %v", err)
	}
}
