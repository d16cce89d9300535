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
// keep the guard's RSS near 70 MB. KeepHeapNear sets a soft memory limit
// that follows the live heap: a quarter of it plus 8 MB of headroom (with
// 16 MB the guard of bench/fleet.sh held 65 MB instead of 57). A small
// guard (under about 16 MB live) keeps GOGC's own, larger, headroom; the
// limit only ever asks the collector to run sooner, never refuses memory.

const (
	heapSlack    = 8 << 20
	heapSlackDiv = 4
	// heapFloor: never below this (the live figure is 0 before the
	// first collection, and the limit counts all of the runtime's memory).
	heapFloor = 32 << 20
)

// KeepHeapNear updates the process's soft memory limit every interval
// until ctx ends, then removes it.
func KeepHeapNear(ctx context.Context, interval time.Duration) {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(interval)
	defer t.Stop()
	defer debug.SetMemoryLimit(math.MaxInt64)
	for {
		metrics.Read(s)
		if s[0].Value.Kind() == metrics.KindUint64 {
			live := int64(s[0].Value.Uint64())
			debug.SetMemoryLimit(max(live+live/heapSlackDiv+heapSlack, heapFloor))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
