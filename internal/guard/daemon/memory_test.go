package daemon

import (
	"context"
	"math"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

// KeepHeapNear: a small heap keeps Go's defaults; a large one gets GOGC
// 25 and a soft limit near what is live, except during a fleet catch-up
// (GOGC 50 and no limit, so the collector does not run back to back while
// the heap grows); when it stops, the defaults are back.
func TestKeepHeapNear(t *testing.T) {
	read := func() (int64, int64) {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
		metrics.Read(s)
		return int64(s[0].Value.Uint64()), int64(s[1].Value.Uint64())
	}
	wait := func(what string, ok func(gogc, limit int64) bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			runtime.GC()
			if g, l := read(); ok(g, l) {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("%s: GOGC %d, memory limit %d", what, g, l)
			}
		}
	}
	d := &Daemon{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.KeepHeapNear(ctx, 5*time.Millisecond); close(done) }()
	wait("small heap", func(g, l int64) bool { return g == gcDefault && l == math.MaxInt64 })
	big := make([][]byte, 32)
	for i := range big {
		big[i] = make([]byte, 1<<20)
	}
	wait("32 MB live", func(g, l int64) bool { return g == gcPercent && l > 32<<20 && l < 64<<20 })
	d.catchingUp.Store(true)
	wait("catching up", func(g, l int64) bool { return g == gcCatchUp && l == math.MaxInt64 })
	d.catchingUp.Store(false)
	wait("caught up", func(g, l int64) bool { return g == gcPercent && l < 64<<20 })
	runtime.KeepAlive(big)
	wait("small again", func(g, l int64) bool { return g == gcDefault && l == math.MaxInt64 })
	cancel()
	<-done
	if g, l := read(); g != gcDefault || l != math.MaxInt64 {
		t.Errorf("after KeepHeapNear: GOGC %d, limit %d; want the defaults", g, l)
	}
}
