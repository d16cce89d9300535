package daemon

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Memory: with the default GOGC the heap may grow to twice what is live
// before a collection, so 100,000 fleet bans (about 22 MB live) would
// keep the guard's RSS near 70 MB. KeepHeapNear keeps it near what is
// live in two ways:
//
//   - Once the live heap is large (over heapSmall), GOGC is lowered to
//     gcPercent: the collector runs when the heap has grown by a quarter
//     of what was live at the last collection. The runtime recomputes
//     that target at every collection, so it follows a heap that grows
//     fast.
//   - Except while the fleet's history streams in, a soft memory limit of
//     a quarter more than live plus heapSlack also returns freed pages to
//     the system, which GOGC alone leaves to the background scavenger.
//     During a catch-up there is no limit: a limit set from a live figure
//     up to a second old lags a heap that grows by thousands of bans a
//     batch, the collector then runs back to back and the scavenger
//     returns pages the next batch faults in again (bench/fleet.sh's
//     catch-up of 100,000 bans took 5.7 s with the limit always on).
//
// A small guard keeps the default GOGC and no limit. Neither ever refuses
// memory: they only ask the collector to run sooner.

const (
	heapSmall = 16 << 20
	heapSlack = 8 << 20
	gcPercent = 25
	gcCatchUp = 50
	gcDefault = 100
)

// KeepHeapNear adjusts GOGC and the soft memory limit from the live heap
// every interval until ctx ends, then restores the defaults.
func (d *Daemon) KeepHeapNear(ctx context.Context, interval time.Duration) {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(interval)
	defer t.Stop()
	defer debug.SetGCPercent(gcDefault)
	defer debug.SetMemoryLimit(math.MaxInt64)
	gc := gcDefault
	for {
		metrics.Read(s)
		if s[0].Value.Kind() == metrics.KindUint64 {
			live := int64(s[0].Value.Uint64())
			want, limit := gcDefault, int64(math.MaxInt64)
			switch {
			case live <= heapSmall:
			case d.catchingUp.Load():
				want = gcCatchUp
			default:
				want, limit = gcPercent, live+live/4+heapSlack
			}
			if want != gc {
				debug.SetGCPercent(want)
				gc = want
			}
			debug.SetMemoryLimit(limit)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
