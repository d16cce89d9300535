package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/rampart-sec/rampart/internal/fleet"
	"github.com/rampart-sec/rampart/internal/guard/nft"
	"github.com/rampart-sec/rampart/internal/guard/source"
	"github.com/rampart-sec/rampart/internal/guard/store"
)

// The fleet hook: local bans and unbans go to the link without blocking;
// the link's accepted messages arrive on the loop like log records and
// change the same sets. The stream position is saved with the bans.

// fleetCursor is the key of the fleet position among the cursors.
const fleetCursor = "fleet"

// fleetBatch is the most fleet messages the loop takes at once.
const fleetBatch = 4096

// fleetSaveEvery is how often the tick saves the store while a fleet
// catch-up streams in (else once a second): the stream replays what a
// crash loses, and saving 100,000 bans every second would take much of
// the loop's time. Local bans are saved before they are applied, as
// always.
const fleetSaveEvery = 5 * time.Second

// startFleet runs the link (when [fleet] is on) until ctx ends.
func (d *Daemon) startFleet(ctx context.Context, wg *sync.WaitGroup) {
	if d.link == nil {
		return
	}
	after := d.cursors[fleetCursor].Seq
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := d.link.Run(ctx, after); err != nil {
			d.log.Error("fleet link stopped", "err", err)
		}
	}()
}

// fleetIn is the link's channel (nil without a link: never ready).
func (d *Daemon) fleetIn() <-chan fleet.Inbound {
	if d.link == nil {
		return nil
	}
	return d.link.Inbound()
}

func (d *Daemon) fleetStatus() *fleet.Status {
	if d.link == nil {
		return nil
	}
	st := d.link.Status()
	return &st
}

// shareBan hands a local ban to the link (non-blocking).
func (d *Daemon) shareBan(p netip.Prefix, jail string, at, until time.Time, failures int, reason string) {
	if d.link != nil {
		d.link.Publish(fleet.Message{Kind: fleet.KindBan, Prefix: p, Jail: jail, DecidedAt: at, ExpiresAt: until, Failures: failures, Reason: reason})
	}
}

// shareUnban hands a local unban to the link (non-blocking).
func (d *Daemon) shareUnban(p netip.Prefix) {
	if d.link != nil {
		d.link.Publish(fleet.Message{Kind: fleet.KindUnban, Prefix: p, DecidedAt: d.now()})
	}
}

// remote applies one message of the stream and advances the position.
func (d *Daemon) remote(in fleet.Inbound) {
	d.cursors[fleetCursor] = source.Cursor{Seq: in.Seq}
	d.dirty = true
	if len(d.pendingAdd) == 0 && len(d.pendingDel) == 0 {
		d.fleetOnly = true // else keep what the pending changes need
	}
	switch in.Kind {
	case fleet.KindBan:
		if !in.Until.After(d.now()) {
			return
		}
		b := &store.Ban{Prefix: in.Prefix, Jail: in.Jail, Origin: in.Origin, At: in.At, Until: in.Until, Failures: in.Failures}
		if d.put(b, time.Now()) {
			if d.log.Enabled(context.Background(), slog.LevelDebug) {
				d.log.Debug("fleet ban", "prefix", in.Prefix.String(), "jail", in.Jail, "origin", in.Origin, "until", in.Until.UTC().Format(time.RFC3339))
			}
			d.fleetLogged++
			d.fleetLast = *b
		}
	case fleet.KindUnban, fleet.KindFleetUnban:
		for q, r := range d.bans {
			if !q.Overlaps(in.Prefix) || in.Kind == fleet.KindUnban && r.origin() != in.Origin {
				continue
			}
			d.log.Info("fleet unban", "prefix", q.String(), "jail", r.jail(), "origin", r.origin(), "by", in.Origin)
			d.drop(q)
			if in.Kind == fleet.KindFleetUnban {
				for _, r := range d.eng.Routes {
					r.Jail.Forget(q.Addr())
				}
			}
			d.m.unbans.With().Inc()
		}
	}
}

// logFleet logs the fleet bans of a batch: each one when it came alone,
// else one line for all (a catch-up brings 100,000; each is at debug
// level, and `guard list` shows every ban's origin).
func (d *Daemon) logFleet() {
	switch b := d.fleetLast; {
	case d.fleetLogged == 1:
		d.log.Info("fleet ban", "prefix", b.Prefix.String(), "jail", b.Jail, "origin", b.Origin, "until", b.Until.UTC().Format(time.RFC3339))
	case d.fleetLogged > 1:
		d.log.Info("fleet bans", "count", d.fleetLogged, "last_prefix", b.Prefix.String(), "last_origin", b.Origin, "until", b.Until.UTC().Format(time.RFC3339))
	}
	d.fleetLogged, d.fleetLast = 0, store.Ban{}
}

// nftBan is a ban as the firewall holds it: the comment names the jail,
// and the origin node for a fleet ban ("sshd@web2").
func nftBan(p netip.Prefix, jail, origin string, until time.Time) nft.Ban {
	c := jail
	if origin != "" {
		c += "@" + origin
	}
	return nft.Ban{Prefix: p, Until: until, Jail: c}
}

// splitComment reads an element comment back into jail and origin.
func splitComment(c string) (string, string) {
	j, origin, _ := strings.Cut(c, "@")
	return j, origin
}
