package fleet

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/rampart-sec/rampart/internal/policy"
)

// runServer starts a real single-node JetStream server on a free
// loopback port, storing in dir.
func runServer(t testing.TB, dir string, port int) (*server.Server, string) {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoSigs: true, ServerName: "t1"}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s, fmt.Sprintf("nats://%s", s.Addr().String())
}

func fleetPolicy(t testing.TB, node, url string) *policy.Policy {
	t.Helper()
	p := policy.MustDefault(policy.ProfileBaseline)
	p.Fleet.Enabled, p.Fleet.Servers, p.Fleet.Node = true, []string{url}, node
	return p
}

func startLink(t testing.TB, p *policy.Policy, dir string, after uint64) (*Link, context.CancelFunc, chan error) {
	t.Helper()
	l, err := New(Config{Policy: p, StateDir: dir, Own: []netip.Addr{netip.MustParseAddr("192.0.2.1")}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, after); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return l, cancel, done
}

func next(t *testing.T, l *Link, want Kind) Inbound {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case in := <-l.Inbound():
			if in.Kind == want {
				return in
			}
		case <-deadline:
			t.Fatalf("no %v within 10s; status %+v", want, l.Status())
		}
	}
}

// TestLinkPropagates: a ban published by node a reaches node b with its
// origin and expiry; b's own and a's guarded ones do not.
func TestLinkPropagates(t *testing.T) {
	_, url := runServer(t, t.TempDir(), -1)
	a, _, _ := startLink(t, fleetPolicy(t, "a", url), t.TempDir(), 0)
	b, _, _ := startLink(t, fleetPolicy(t, "b", url), t.TempDir(), 0)
	now := time.Now()
	pre := netip.MustParsePrefix("198.51.100.7/32")
	a.Publish(Message{Kind: KindBan, Prefix: netip.MustParsePrefix("127.0.0.2/32"), Jail: "sshd", DecidedAt: now, ExpiresAt: now.Add(time.Hour)})
	a.Publish(Message{Kind: KindBan, Prefix: pre, Jail: "sshd", DecidedAt: now, ExpiresAt: now.Add(time.Hour), Failures: 3})
	in := next(t, b, KindBan)
	if in.Origin != "a" || in.Prefix != pre || in.Jail != "sshd" || !in.Until.Equal(now.Add(time.Hour).UTC()) || in.Failures != 3 {
		t.Errorf("b got %+v", in)
	}
	a.Publish(Message{Kind: KindUnban, Prefix: pre, DecidedAt: now})
	if in := next(t, b, KindUnban); in.Origin != "a" || in.Prefix != pre {
		t.Errorf("b got %+v", in)
	}
	st := b.Status()
	if !st.Connected || st.Rejected[ReasonProtected] != 1 || st.Origins["a"].Applied != 2 {
		t.Errorf("b status %+v", st)
	}
	waitFor(t, "a's outbox to empty", func() bool { st := a.Status(); return st.Published == 3 && st.Outbox == 0 })
}

// TestOutboxSurvivesOutage: bans queued while the server is down are kept
// on disk across a restart of the link and sent, in order, once it is up.
func TestOutboxSurvivesOutage(t *testing.T) {
	store := t.TempDir()
	s, url := runServer(t, store, -1)
	port := s.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()
	s.Shutdown()
	s.WaitForShutdown()
	dir := t.TempDir()
	p := fleetPolicy(t, "a", url)
	a, stop, done := startLink(t, p, dir, 0)
	now := time.Now()
	for i := range 50 {
		a.Publish(Message{Kind: KindBan, Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), 32), Jail: "sshd", DecidedAt: now, ExpiresAt: now.Add(time.Hour)})
	}
	waitFor(t, "50 entries in the outbox", func() bool { return a.Status().Outbox == 50 })
	stop()
	<-done
	box, err := OpenOutbox(dir, 100)
	if err != nil || box.Len() != 50 {
		t.Fatalf("outbox after stop: %v, %d entries", err, box.Len())
	}
	box.Close()

	runServer(t, store, int(port))
	startLink(t, p, dir, 0)
	b, _, _ := startLink(t, fleetPolicy(t, "b", url), t.TempDir(), 0)
	for i := range 50 {
		in := next(t, b, KindBan)
		if want := netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}); in.Prefix.Addr() != want {
			t.Fatalf("message %d is %v, want %v (out of order)", i, in.Prefix, want)
		}
	}
	if _, err := OpenOutbox(filepath.Join(dir), 100); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
