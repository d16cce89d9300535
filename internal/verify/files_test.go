package verify

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/host/hosttest"
)

// batchHost is a fixture that reads batches as a remote host does (one
// program per batch), counting them.
type batchHost struct {
	*hosttest.Fixture
	batches atomic.Int32
	files   atomic.Int32
}

func (b *batchHost) ReadFiles(ctx context.Context, paths []string) ([]host.FileResult, error) {
	b.batches.Add(1)
	b.files.Add(int32(len(paths)))
	out := make([]host.FileResult, len(paths))
	for i, p := range paths {
		d, err := b.ReadFile(ctx, p)
		out[i] = host.FileResult{Data: host.TextLines(d), Err: err}
	}
	return out, nil
}

// On a host where a batch costs a program start, the files the checks
// read in batches (journald.conf and drop-ins, sysctl.d, every cmdline,
// the policy's /proc/sys values) are one batch for the whole run, and the
// verdicts are the ones the host without batches gives.
func TestPrefetchOneBatch(t *testing.T) {
	names := []string{"ssh_weak", "sysctl_hardened", "journald_dropins", "time_synced"}
	areas := []string{"ssh", "sysctl", "journald", "time"}
	plain := Run(context.Background(), check.NewEnv(fixture(t, names, nil), fail2banDefault(""), ""), Options{}, areaChecks(t, areas...))
	bh := &batchHost{Fixture: fixture(t, names, nil)}
	batched := Run(context.Background(), check.NewEnv(bh, fail2banDefault(""), ""), Options{}, areaChecks(t, areas...))
	if n := bh.batches.Load(); n != 1 {
		t.Errorf("%d batches (%d files); want one for the run", n, bh.files.Load())
	}
	if bh.files.Load() < 5 {
		t.Errorf("the batch held %d files", bh.files.Load())
	}
	if d := cmp.Diff(statuses(plain), statuses(batched)); d != "" {
		t.Errorf("verdicts with batches differ (-plain +batched):\n%s", d)
	}
}
