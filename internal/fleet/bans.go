package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-sec/rampart/internal/guard/nft"
)

// FleetBan is one ban in force in the fleet, as the stream says.
type FleetBan struct {
	Prefix    netip.Prefix `json:"prefix"`
	Origin    string       `json:"origin"`
	Jail      string       `json:"jail"`
	DecidedAt time.Time    `json:"decided_at"`
	ExpiresAt time.Time    `json:"expires_at"`
	Failures  int          `json:"failures,omitempty"`
	Seq       uint64       `json:"seq"`
}

// BanList folds stream messages into the fleet's current bans: a ban
// adds (or extends) its origin's ban of the prefix, an unban removes its
// origin's bans overlapping the prefix, a fleet unban removes all.
type BanList struct {
	bans map[banKey]FleetBan
	// Skipped counts messages that did not decode.
	Skipped int
}

type banKey struct {
	p      netip.Prefix
	origin string
}

// NewBanList returns an empty list.
func NewBanList() *BanList { return &BanList{bans: map[banKey]FleetBan{}} }

// Add folds one stream message in.
func (l *BanList) Add(seq uint64, subject string, data []byte) {
	m, err := Decode(subject, data)
	if err != nil {
		l.Skipped++
		return
	}
	switch m.Kind {
	case KindBan:
		k := banKey{m.Prefix, m.Origin}
		if old, ok := l.bans[k]; !ok || old.ExpiresAt.Before(m.ExpiresAt) {
			l.bans[k] = FleetBan{Prefix: m.Prefix, Origin: m.Origin, Jail: m.Jail, DecidedAt: m.DecidedAt, ExpiresAt: m.ExpiresAt, Failures: m.Failures, Seq: seq}
		}
	case KindUnban, KindFleetUnban:
		for k := range l.bans {
			if k.p.Overlaps(m.Prefix) && (m.Kind == KindFleetUnban || k.origin == m.Origin) {
				delete(l.bans, k)
			}
		}
	}
}

// Active returns the bans in force at now, by prefix then origin.
func (l *BanList) Active(now time.Time) []FleetBan {
	var out []FleetBan
	for _, b := range l.bans {
		if b.ExpiresAt.After(now) {
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if c := nft.ComparePrefix(out[i].Prefix, out[j].Prefix); c != 0 {
			return c < 0
		}
		return out[i].Origin < out[j].Origin
	})
	return out
}

// ReadBans reads the whole stream (up to its last message when called)
// into a BanList. Right after a server restart, or while the cluster
// elects a new JetStream leader, the stream may not answer for a while
// (no responders, a fetch that times out): the read starts again, from
// the stream's first message, for up to readBansWait.
func ReadBans(ctx context.Context, js jetstream.JetStream, stream string) (*BanList, error) {
	giveUp := time.Now().Add(readBansWait)
	for {
		l, err := readBans(ctx, js, stream)
		if err == nil {
			return l, nil
		}
		if errors.Is(err, jetstream.ErrStreamNotFound) || time.Now().After(giveUp) || ctx.Err() != nil {
			return nil, fmt.Errorf("fleet stream %s: %w", stream, err)
		}
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
			return nil, fmt.Errorf("fleet stream %s: %w", stream, ctx.Err())
		}
	}
}

// readBansWait bounds ReadBans' attempts (a variable for tests).
var readBansWait = 30 * time.Second

// readBans is one attempt of ReadBans.
func readBans(ctx context.Context, js jetstream.JetStream, stream string) (*BanList, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	l := NewBanList()
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return l, nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	for {
		batch, err := cons.Fetch(4096, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			md, err := msg.Metadata()
			if err != nil {
				continue
			}
			l.Add(md.Sequence.Stream, msg.Subject(), msg.Data())
			if md.Sequence.Stream >= last {
				return l, nil
			}
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
		if n == 0 {
			// Nothing came: the rest aged out meanwhile, or the
			// stream did not answer.
			now, err := s.Info(ctx)
			if err != nil {
				return nil, err
			}
			if now.State.FirstSeq > last || now.State.Msgs == 0 {
				return l, nil
			}
			return nil, fmt.Errorf("no message up to sequence %d within the fetch's wait", last)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}
