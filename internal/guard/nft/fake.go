package nft

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// Fake is an in-memory Backend with the kernel's semantics that matter to
// the daemon: elements expire by themselves, deleting a missing element
// fails the whole transaction, and the table can vanish (Drop) the way an
// admin's "nft flush ruleset" makes it vanish. Safe for concurrent use.
type Fake struct {
	// Clock is the time used for expiry (time.Now when nil).
	Clock func() time.Time

	mu      sync.Mutex
	present bool
	els     map[netip.Prefix]fakeEl
	// Syncs and Applies count successful transactions.
	Syncs, Applies int
}

type fakeEl struct {
	until time.Time
	jail  string
}

var _ Backend = (*Fake)(nil)

// NewFake returns an empty fake firewall (no table yet).
func NewFake(clock func() time.Time) *Fake {
	return &Fake{Clock: clock, els: map[netip.Prefix]fakeEl{}}
}

func (f *Fake) now() time.Time {
	if f.Clock != nil {
		return f.Clock()
	}
	return time.Now()
}

// Name implements Backend.
func (f *Fake) Name() string { return "fake" }

// Close implements Backend.
func (f *Fake) Close() error { return nil }

// Sync implements Backend.
func (f *Fake) Sync(_ context.Context, bans []Ban, now time.Time) error {
	if err := validBans(bans); err != nil {
		return fmt.Errorf("fake sync: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.present = true
	f.els = map[netip.Prefix]fakeEl{}
	for _, b := range bans {
		f.els[b.Prefix] = fakeEl{now.Add(Timeout(b, now)), b.Jail}
	}
	f.Syncs++
	return nil
}

func (f *Fake) expire() {
	now := f.now()
	for p, e := range f.els {
		if !now.Before(e.until) {
			delete(f.els, p)
		}
	}
}

// Apply implements Backend.
func (f *Fake) Apply(_ context.Context, add []Ban, del []netip.Prefix, now time.Time) error {
	if err := validBans(add); err != nil {
		return fmt.Errorf("fake apply: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.present {
		return fmt.Errorf("fake apply: table: %w", ErrIncomplete)
	}
	f.expire()
	for _, p := range del {
		if _, ok := f.els[p]; !ok {
			return fmt.Errorf("fake apply: delete %v: no such element", p)
		}
	}
	for _, p := range del {
		delete(f.els, p)
	}
	for _, b := range add {
		if _, ok := f.els[b.Prefix]; !ok { // like NLM_F_CREATE without EXCL: an existing element is kept
			f.els[b.Prefix] = fakeEl{now.Add(Timeout(b, now)), b.Jail}
		}
	}
	f.Applies++
	return nil
}

// Check implements Backend.
func (f *Fake) Check(context.Context) ([]Element, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.present {
		return nil, fmt.Errorf("fake table: %w", ErrIncomplete)
	}
	f.expire()
	now := f.now()
	out := make([]Element, 0, len(f.els))
	for p, e := range f.els {
		out = append(out, Element{Prefix: p, Expires: e.until.Sub(now), Comment: e.jail})
	}
	SortElements(out)
	return out, nil
}

// Delete implements Backend.
func (f *Fake) Delete(context.Context) error {
	f.Drop()
	return nil
}

// Drop makes the table vanish, as "nft delete table" would.
func (f *Fake) Drop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.present = false
	f.els = map[netip.Prefix]fakeEl{}
}

// Has reports whether p is banned now.
func (f *Fake) Has(p netip.Prefix) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expire()
	_, ok := f.els[p]
	return ok
}

// DryRun logs every change it would make and keeps the would-be state in
// memory, so that status and reconcile behave as with the real backend.
type DryRun struct {
	f   *Fake
	log *slog.Logger
}

var _ Backend = (*DryRun)(nil)

// NewDryRun returns a dry-run backend logging to log.
func NewDryRun(log *slog.Logger) *DryRun {
	return &DryRun{f: NewFake(nil), log: log}
}

// Name implements Backend.
func (d *DryRun) Name() string { return "dry-run" }

// Close implements Backend.
func (d *DryRun) Close() error { return nil }

// Sync implements Backend.
func (d *DryRun) Sync(ctx context.Context, bans []Ban, now time.Time) error {
	d.log.Info("dry-run: would rebuild the nftables table", "bans", len(bans))
	for _, b := range bans {
		d.log.Info("dry-run: would ban", "prefix", b.Prefix.String(), "jail", b.Jail, "timeout", Timeout(b, now).String())
	}
	return d.f.Sync(ctx, bans, now)
}

// Apply implements Backend.
func (d *DryRun) Apply(ctx context.Context, add []Ban, del []netip.Prefix, now time.Time) error {
	for _, p := range del {
		d.log.Info("dry-run: would unban", "prefix", p.String())
	}
	for _, b := range add {
		d.log.Info("dry-run: would ban", "prefix", b.Prefix.String(), "jail", b.Jail, "timeout", Timeout(b, now).String())
	}
	return d.f.Apply(ctx, add, del, now)
}

// Check implements Backend.
func (d *DryRun) Check(ctx context.Context) ([]Element, error) { return d.f.Check(ctx) }

// Delete implements Backend.
func (d *DryRun) Delete(ctx context.Context) error {
	d.log.Info("dry-run: would delete the nftables table")
	return d.f.Delete(ctx)
}
