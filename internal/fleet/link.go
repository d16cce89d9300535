package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-sec/rampart/internal/guard/metrics"
	"github.com/rampart-sec/rampart/internal/policy"
)

// Inbound is one stream message for the daemon. Kind 0 carries only the
// position (the message was not for this host); the daemon saves Seq with
// its bans, so a restart resumes after the last message it handled.
type Inbound struct {
	Seq    uint64
	Kind   Kind
	Origin string
	Prefix netip.Prefix
	Jail   string
	At     time.Time
	Until  time.Time
	// Failures is the origin's failure count.
	Failures int
	// Pending is how many stream messages followed this one when it was
	// read: 0 once the link has caught up with the stream.
	Pending uint64
}

// Config configures a Link.
type Config struct {
	Policy   *policy.Policy
	StateDir string
	Log      *slog.Logger
	// Metrics receives the rampart_fleet_* series (nil = none).
	Metrics *metrics.Registry
	// Own are this host's addresses (OwnAddrs when nil).
	Own []netip.Addr
	// Clock is the time (time.Now when nil).
	Clock func() time.Time
}

// Link is this node's connection to the fleet.
type Link struct {
	p     *policy.Policy
	node  string
	log   *slog.Logger
	clock func() time.Time
	guard *Guardrails
	box   *Outbox
	out   chan *Message // local events to publish (pointers: the queue is long)
	in    chan Inbound  // stream messages for the daemon
	kick  chan struct{} // connection came up
	m     linkMeters

	mu        sync.Mutex
	nc        *nats.Conn
	seq       uint64 // last stream sequence handed to the daemon
	lag       uint64
	depth     int
	origins   map[string]*OriginCount
	lastError string

	published, received, applied, lost atomic.Int64
	rejected                           sync.Map // reason -> *atomic.Int64
}

// OriginCount counts one origin's messages.
type OriginCount struct {
	Received int64 `json:"received"`
	Applied  int64 `json:"applied"`
	Rejected int64 `json:"rejected"`
}

// Status is the link as `guard status` shows it.
type Status struct {
	Node      string                 `json:"node"`
	Stream    string                 `json:"stream"`
	Server    string                 `json:"server,omitempty"`
	Connected bool                   `json:"connected"`
	Share     bool                   `json:"share"`
	Accept    bool                   `json:"accept"`
	Seq       uint64                 `json:"seq"`
	Lag       uint64                 `json:"lag"`
	Outbox    int                    `json:"outbox"`
	Published int64                  `json:"published"`
	Received  int64                  `json:"received"`
	Applied   int64                  `json:"applied"`
	Lost      int64                  `json:"lost,omitempty"`
	Rejected  map[string]int64       `json:"rejected,omitempty"`
	Origins   map[string]OriginCount `json:"origins,omitempty"`
	Error     string                 `json:"error,omitempty"`
}

type linkMeters struct {
	published, received, applied, rejected, lost, lag, outbox, connected *metrics.Vec
}

// outCap bounds the hand-over queue from the daemon; beyond it events
// are dropped (counted as lost) rather than slowing the local ban path.
const outCap = 1 << 16

// inCap is the queue of stream messages for the daemon: deep enough
// that the consumer keeps reading while the daemon commits a batch to
// the firewall (a transaction waits milliseconds in the kernel).
const inCap = 16384

// New opens the outbox and prepares the link; Run connects.
func New(c Config) (*Link, error) {
	f := c.Policy.Fleet
	node, err := NodeName(f)
	if err != nil {
		return nil, err
	}
	own := c.Own
	if own == nil {
		if own, err = OwnAddrs(); err != nil {
			return nil, fmt.Errorf("fleet: own addresses: %w", err)
		}
	}
	g, err := NewGuardrails(c.Policy, own)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	box, err := OpenOutbox(c.StateDir, f.OutboxMax)
	if err != nil {
		return nil, err
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Metrics == nil {
		c.Metrics = metrics.New()
	}
	r := c.Metrics
	l := &Link{p: c.Policy, node: node, log: c.Log, clock: c.Clock, guard: g, box: box,
		out: make(chan *Message, outCap), in: make(chan Inbound, inCap), kick: make(chan struct{}, 1),
		origins: map[string]*OriginCount{}, depth: box.Len(),
		m: linkMeters{
			published: r.Counter("rampart_fleet_published_total", "Local bans and unbans the fleet stream acknowledged."),
			received:  r.Counter("rampart_fleet_received_total", "Fleet messages read from other nodes, by origin.", "origin"),
			applied:   r.Counter("rampart_fleet_applied_total", "Other nodes' bans and unbans handed to the firewall, by origin.", "origin"),
			rejected:  r.Counter("rampart_fleet_rejected_total", "Fleet messages refused, by reason.", "reason"),
			lost:      r.Counter("rampart_fleet_lost_total", "Local events dropped because the outbox was full."),
			lag:       r.Gauge("rampart_fleet_lag_messages", "Stream messages not yet read by this node."),
			outbox:    r.Gauge("rampart_fleet_outbox_depth", "Local events waiting to be published."),
			connected: r.Gauge("rampart_fleet_connected", "1 while connected to a NATS server."),
		}}
	return l, nil
}

// Node is this node's name in the fleet.
func (l *Link) Node() string { return l.node }

// Inbound is the channel of stream messages for the daemon.
func (l *Link) Inbound() <-chan Inbound { return l.in }

// Publish queues a local ban or unban without blocking; it is dropped
// (and counted) only when the hand-over queue is full. No-op unless
// share is on.
func (l *Link) Publish(m Message) {
	if !l.p.Fleet.Share {
		return
	}
	select {
	case l.out <- &m:
	default:
		l.lost.Add(1)
		l.m.lost.With().Inc()
	}
}

// Status returns a snapshot.
func (l *Link) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := Status{Node: l.node, Stream: l.p.Fleet.Stream, Share: l.p.Fleet.Share, Accept: l.p.Fleet.Accept, Seq: l.seq, Lag: l.lag, Outbox: l.depth,
		Published: l.published.Load(), Received: l.received.Load(), Applied: l.applied.Load(), Lost: l.lost.Load(), Error: l.lastError,
		Rejected: map[string]int64{}, Origins: map[string]OriginCount{}}
	if l.nc != nil && l.nc.IsConnected() {
		st.Connected, st.Server = true, l.nc.ConnectedUrlRedacted()
	}
	l.rejected.Range(func(k, v any) bool { st.Rejected[k.(string)] = v.(*atomic.Int64).Load(); return true })
	for k, v := range l.origins {
		st.Origins[k] = *v
	}
	return st
}

func (l *Link) setErr(err error) {
	l.mu.Lock()
	l.lastError = ""
	if err != nil {
		l.lastError = err.Error()
	}
	l.mu.Unlock()
}

func (l *Link) origin(name string) *OriginCount {
	o := l.origins[name]
	if o == nil {
		if len(l.origins) >= maxOrigins {
			return &OriginCount{}
		}
		o = &OriginCount{}
		l.origins[name] = o
	}
	return o
}

func (l *Link) reject(origin, reason string, err error) {
	v, _ := l.rejected.LoadOrStore(reason, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	l.m.rejected.With(reason).Inc()
	if origin != "" {
		l.mu.Lock()
		l.origin(origin).Rejected++
		l.mu.Unlock()
	}
	if err != nil {
		l.log.Warn("fleet message refused", "reason", reason, "origin", origin, "err", err)
	} else if reason != ReasonExpired {
		l.log.Debug("fleet message refused", "reason", reason, "origin", origin)
	}
}

// Run connects and runs the publisher and the consumer until ctx ends;
// after is the last stream sequence the daemon saved (0 = from the start).
func (l *Link) Run(ctx context.Context, after uint64) error {
	l.mu.Lock()
	l.seq = after
	l.mu.Unlock()
	opts, err := Options(l.p.Fleet, "rampart guard "+l.node)
	if err != nil {
		return err
	}
	opts = append(opts, nats.RetryOnFailedConnect(true), nats.ReconnectBufSize(-1),
		nats.ConnectHandler(func(*nats.Conn) { l.up() }), nats.ReconnectHandler(func(*nats.Conn) { l.up() }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			l.m.connected.With().Set(0)
			l.log.Warn("fleet: disconnected", "err", err)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			l.log.Warn("fleet: NATS error", "err", err)
			l.setErr(err)
		}))
	nc, err := nats.Connect(joinServers(l.p.Fleet.Servers), opts...)
	if err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	defer nc.Close()
	l.mu.Lock()
	l.nc = nc
	l.mu.Unlock()
	if nc.IsConnected() {
		l.up()
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(window), jetstream.WithPublishAsyncTimeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	l.log.Info("fleet link starting", "node", l.node, "servers", l.p.Fleet.Servers, "stream", l.p.Fleet.Stream, "after_seq", after, "outbox", l.box.Len())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		l.publisher(ctx, nc, js)
	}()
	if l.p.Fleet.Accept || l.p.Fleet.Share {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.consumer(ctx, js)
		}()
	}
	wg.Wait()
	return l.box.Close()
}

func joinServers(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

func (l *Link) up() {
	l.m.connected.With().Set(1)
	l.setErr(nil)
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// publisher moves local events into the outbox and the outbox to the
// stream, in order, a window at a time.
func (l *Link) publisher(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) {
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	backoff := time.Duration(0)
	streamOK := false
	for {
		if backoff == 0 && l.box.Len() > 0 && nc.IsConnected() {
			// send below without waiting
		} else {
			if backoff > 0 {
				retry.Reset(backoff)
			}
			select {
			case <-ctx.Done():
				l.drain()
				return
			case m := <-l.out:
				l.enqueue(*m)
			case <-l.kick:
			case <-retry.C:
			}
			backoff = 0
		}
		l.drain()
		if l.box.Len() == 0 {
			continue
		}
		if !nc.IsConnected() {
			l.sync()
			continue
		}
		if !streamOK {
			// Publishing before the stream exists would lose the first
			// messages of a window and store later ones: out of order.
			cctx, cancel := context.WithTimeout(ctx, apiWait)
			_, err := EnsureStream(cctx, js, l.p)
			cancel()
			if err != nil {
				l.sync()
				l.log.Warn("fleet: stream not ready; will retry", "err", err)
				l.setErr(err)
				backoff = time.Second
				continue
			}
			streamOK = true
		}
		if err := l.sendWindow(ctx, js); err != nil {
			streamOK = false
			l.log.Warn("fleet: publish failed; will retry", "err", err, "outbox", l.box.Len())
			l.setErr(err)
			backoff = 500 * time.Millisecond
		}
	}
}

// drain moves every queued event into the outbox file (written, so a
// crash of the process loses none; sync makes them survive the machine's).
func (l *Link) drain() {
	for {
		select {
		case m := <-l.out:
			l.enqueue(*m)
			continue
		default:
		}
		break
	}
	if err := l.box.Flush(); err != nil {
		l.log.Error("fleet outbox", "err", err)
	}
	l.depthChanged()
}

// sync makes the outbox file durable (fsync).
func (l *Link) sync() {
	if err := l.box.Sync(); err != nil {
		l.log.Error("fleet outbox", "err", err)
	}
}

func (l *Link) depthChanged() {
	l.mu.Lock()
	l.depth = l.box.Len()
	l.mu.Unlock()
	l.m.outbox.With().Set(float64(l.box.Len()))
	l.m.lost.With().Set(float64(l.lost.Load() + l.box.Dropped))
}

func (l *Link) enqueue(m Message) {
	data, err := Encode(m)
	if err != nil {
		l.log.Error("fleet: cannot encode", "err", err)
		return
	}
	e := Entry{ID: NewID(), Data: data}
	switch m.Kind {
	case KindBan:
		e.Subject, e.Expires = BanSubject(l.node, m.Jail), m.ExpiresAt
	default:
		e.Subject = UnbanSubject(l.node)
	}
	if err := l.box.Put(e); err != nil {
		l.log.Error("fleet outbox", "err", err)
	}
}

// window is how many messages are in flight at once (at most the
// client's async publish limit).
const window = 4096

// sendWindow publishes the oldest waiting entries and removes those
// acknowledged in order (a failure stops at the first unacknowledged
// one; the rest are resent, deduplicated by their IDs). The outbox is
// fsynced while the acknowledgements are on their way: an entry is on
// disk before the outbox forgets it, as before, without a disk flush
// between a ban and its first send. The removals are written, not
// synced: after a power loss an acknowledged entry may be sent again
// (deduplicated by its ID within the stream's duplicate window, and a
// repeated ban or unban in the same order changes nothing).
func (l *Link) sendWindow(ctx context.Context, js jetstream.JetStream) error {
	now := l.clock()
	es := l.box.Pending(window)
	futs := make([]jetstream.PubAckFuture, 0, len(es))
	var err error
	for _, e := range es {
		if !e.Expires.IsZero() && !e.Expires.After(now) {
			futs = append(futs, nil) // over: nothing to send
			continue
		}
		msg := &nats.Msg{Subject: e.Subject, Data: e.Data, Header: nats.Header{}}
		var f jetstream.PubAckFuture
		if f, err = js.PublishMsgAsync(msg, jetstream.WithMsgID(e.ID), jetstream.WithExpectStream(l.p.Fleet.Stream)); err != nil {
			break
		}
		futs = append(futs, f)
	}
	l.sync()
	done := 0
	sent := 0
wait:
	for _, f := range futs {
		if f == nil {
			done++
			continue
		}
		select {
		case <-f.Ok():
			done++
			sent++
		case e := <-f.Err():
			if err == nil {
				err = e
			}
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	if derr := l.box.Done(done); derr != nil {
		l.log.Error("fleet outbox", "err", derr)
	}
	if ferr := l.box.Flush(); ferr != nil {
		l.log.Error("fleet outbox", "err", ferr)
	}
	l.published.Add(int64(sent))
	l.m.published.With().Add(float64(sent))
	l.depthChanged()
	if err == nil && done < len(futs) {
		err = ctx.Err()
	}
	return err
}

// consumer reads the stream after the saved sequence and hands each
// message to the daemon, reconnecting and resuming as needed.
func (l *Link) consumer(ctx context.Context, js jetstream.JetStream) {
	for ctx.Err() == nil {
		l.mu.Lock()
		after := l.seq
		l.mu.Unlock()
		err := l.consume(ctx, js, after)
		if ctx.Err() != nil {
			return
		}
		l.log.Warn("fleet: consumer stopped; retrying", "err", err)
		l.setErr(err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// apiWait bounds the consumer's JetStream API calls (the stream, the
// consumer), as the client library bounds its own attempts to recreate a
// consumer: a cluster that has just lost a server can take several
// seconds to answer, and a shorter bound would never see the answer.
const apiWait = 10 * time.Second

func (l *Link) consume(ctx context.Context, js jetstream.JetStream, after uint64) error {
	cctx, cancel := context.WithTimeout(ctx, apiWait)
	s, err := EnsureStream(cctx, js, l.p)
	cancel()
	if err != nil {
		return err
	}
	// The client library recreates an ordered consumer whose heartbeats
	// stop, retrying for as long as it takes, and the iterator says
	// nothing meanwhile. Bounded, a cluster that cannot place the
	// consumer (no meta leader yet) shows in the link's status and log,
	// and the next attempt starts from the saved sequence.
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy, InactiveThreshold: 30 * time.Second,
		MaxResetAttempts: 3}
	if after > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	}
	cctx, cancel = context.WithTimeout(ctx, apiWait)
	cons, err := s.OrderedConsumer(cctx, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("fleet consumer: %w", err)
	}
	// A pull the server never answers (one sent while the consumer was
	// still being placed on a busy cluster) is noticed by two missed
	// heartbeats, and the client then asks again: with the defaults
	// (5 s heartbeats for an ordered consumer) a catch-up could stall
	// for 10 s; with these, for 2 s at most.
	it, err := cons.Messages(jetstream.PullMaxMessages(32768), jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(time.Second))
	if err != nil {
		return fmt.Errorf("fleet consumer: %w", err)
	}
	defer it.Stop()
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	l.log.Info("fleet: reading the stream", "stream", l.p.Fleet.Stream, "after_seq", after)
	for {
		msg, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return ctx.Err()
			}
			return err
		}
		md, err := msg.Metadata()
		if err != nil {
			continue
		}
		in := l.judge(msg.Subject(), msg.Data(), md.Timestamp)
		in.Seq, in.Pending = md.Sequence.Stream, md.NumPending
		l.mu.Lock()
		l.lag = md.NumPending
		l.mu.Unlock()
		l.m.lag.With().Set(float64(md.NumPending))
		select {
		case l.in <- in:
		case <-ctx.Done():
			return ctx.Err()
		}
		l.mu.Lock()
		l.seq = in.Seq
		l.mu.Unlock()
	}
}

// judge decodes one stream message and applies the guardrails.
func (l *Link) judge(subject string, data []byte, at time.Time) Inbound {
	m, err := Decode(subject, data)
	if err != nil {
		reason := ReasonMalformed
		if errors.Is(err, ErrSchema) {
			reason = ReasonSchema
		}
		l.reject("", reason, err)
		return Inbound{}
	}
	if m.Origin == l.node {
		return Inbound{} // our own, already applied
	}
	l.received.Add(1)
	l.m.received.With(originLabel(m.Origin)).Inc()
	l.mu.Lock()
	l.origin(originLabel(m.Origin)).Received++
	l.mu.Unlock()
	now := l.clock()
	var in Inbound
	switch m.Kind {
	case KindBan:
		if !l.p.Fleet.Accept {
			return Inbound{}
		}
		if reason := l.guard.Check(&m, at, now); reason != "" {
			l.reject(m.Origin, reason, nil)
			return Inbound{}
		}
		in = Inbound{Kind: KindBan, Origin: m.Origin, Prefix: m.Prefix, Jail: m.Jail, At: m.DecidedAt, Until: l.guard.Until(&m, now), Failures: m.Failures}
	case KindUnban:
		if !l.p.Fleet.Accept {
			return Inbound{}
		}
		in = Inbound{Kind: KindUnban, Origin: m.Origin, Prefix: m.Prefix, At: m.DecidedAt}
	case KindFleetUnban:
		in = Inbound{Kind: KindFleetUnban, Prefix: m.Prefix, At: m.DecidedAt}
	}
	l.applied.Add(1)
	l.m.applied.With(originLabel(m.Origin)).Inc()
	l.mu.Lock()
	l.origin(originLabel(m.Origin)).Applied++
	l.mu.Unlock()
	return in
}

// originLabel names an administrator's fleet unban in counts.
func originLabel(o string) string {
	if o == "" {
		return "(admin)"
	}
	return o
}

// SortedOrigins returns the origin names of st in order.
func (st Status) SortedOrigins() []string {
	out := make([]string, 0, len(st.Origins))
	for k := range st.Origins {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
