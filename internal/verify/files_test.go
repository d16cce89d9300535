package verify

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/host/hosttest"
	"github.com/rampart-sec/rampart/internal/netcheck"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/proctab"
)

// batchHost is a fixture that reads batches as a remote host does (one
// program per batch), counting them.
type batchHost struct {
	*hosttest.Fixture
	batches atomic.Int32
	files   atomic.Int32
	mu      sync.Mutex
	asked   [][]string
	globbed [][]string
	// globRead: the ReadGlobs calls, each one request.
	globRead [][]string
}

func (b *batchHost) GlobAll(ctx context.Context, patterns []string) ([][]string, error) {
	b.mu.Lock()
	b.globbed = append(b.globbed, patterns)
	b.mu.Unlock()
	return host.GlobAll(ctx, b.Fixture, patterns)
}

func (b *batchHost) ReadGlobs(ctx context.Context, patterns []string) ([][]host.NamedFile, error) {
	b.mu.Lock()
	b.globRead = append(b.globRead, patterns)
	b.mu.Unlock()
	return host.ReadGlobsApart(ctx, b.Fixture, patterns)
}

func (b *batchHost) ReadFiles(ctx context.Context, paths []string) ([]host.FileResult, error) {
	b.batches.Add(1)
	b.files.Add(int32(len(paths)))
	b.mu.Lock()
	b.asked = append(b.asked, paths)
	b.mu.Unlock()
	return host.ReadFiles(ctx, b.Fixture, paths) // the fixture alone reads file by file
}

// On a host where a batch costs a program start, the files the checks
// read in batches (journald.conf and drop-ins, sysctl.d, every cmdline,
// the policy's /proc/sys values, the kernel's interface table and host
// name) are one batch for the whole run, after the socket counts alone
// (which a remote shell reads with its builtins, and which decide whether
// the TCP tables join the batch); the globs are one round trip; and the
// verdicts are the ones the host without batches gives.
func TestPrefetchOneBatch(t *testing.T) {
	names := []string{"ssh_weak", "sysctl_hardened", "journald_dropins", "time_synced"}
	areas := []string{"ssh", "sysctl", "journald", "time"}
	plain := Run(context.Background(), check.NewEnv(fixture(t, names, nil), fail2banDefault(""), ""), Options{}, areaChecks(t, areas...))
	bh := &batchHost{Fixture: fixture(t, names, nil)}
	batched := Run(context.Background(), check.NewEnv(bh, fail2banDefault(""), ""), Options{}, areaChecks(t, areas...))
	// One request lists and reads what the checks read (one sed on a
	// remote host); the socket counts are one more batch (a remote
	// shell's builtins), and nothing else is read in a batch of its own.
	if len(bh.globRead) != 1 {
		t.Fatalf("%d requests to list and read: %q; want one", len(bh.globRead), bh.globRead)
	}
	// Besides, the owners of every process that passes for a root daemon
	// (sshd, systemd-journald), whichever check asks first: one batch of
	// /proc/PID/status (a remote shell's builtins too).
	var asked, status [][]string
	for _, a := range bh.asked {
		if strings.HasSuffix(a[0], "/status") {
			status = append(status, a)
		} else {
			asked = append(asked, a)
		}
	}
	if n := len(asked); n != 1 || !slices.Equal(asked[0], netcheck.SockstatFiles()) {
		t.Errorf("%d batches: %q; want the socket counts alone", n, bh.asked)
	}
	if len(status) != 1 {
		t.Errorf("%d batches of process owners: %q; want one", len(status), status)
	}
	for _, p := range append([]string{HostnamePath, proctab.Pattern, "/etc/sysctl.d/*.conf", "/etc/systemd/journald.conf",
		ifaceKeyPattern("ipv4", "accept_redirects"), "/proc/sys/net/ipv4/tcp_syncookies", "/proc/net/dev"}, host.OSReleasePaths...) {
		if !slices.Contains(bh.globRead[0], p) {
			t.Errorf("%s was not in the request: %q", p, bh.globRead[0])
		}
	}
	// The globs whose names alone the checks need: one round trip,
	// with the request.
	if len(bh.globbed) != 1 || !slices.Contains(bh.globbed[0], journalDir) {
		t.Errorf("%d glob round trips %q; want one, with %s", len(bh.globbed), bh.globbed, journalDir)
	}
	if d := cmp.Diff(statuses(plain), statuses(batched)); d != "" {
		t.Errorf("verdicts with batches differ (-plain +batched):\n%s", d)
	}
}

// The globs asked for ahead of the checks follow the selected areas and
// the policy: fail2ban's files only when fail2ban is the ban engine, the
// guard's socket only when it is a plain path.
func TestPrefetchGlobs(t *testing.T) {
	env := func(p *policy.Policy) *check.Env { return check.NewEnv(nil, p, "") }
	areas := func(as ...string) map[string]bool {
		m := map[string]bool{}
		for _, a := range as {
			m[a] = true
		}
		return m
	}
	guard := policy.MustDefault("")
	odd := policy.MustDefault("")
	odd.Ban.Socket = "/run/guard [1].sock"
	for _, tc := range []struct {
		name      string
		env       *check.Env
		areas     map[string]bool
		want, not []string
	}{
		{"process table only", env(guard), areas("time"), []string{proctab.Pattern}, []string{journalDir, guard.Ban.Socket}},
		{"journald", env(guard), areas("journald"), []string{journalDir, "/etc/systemd/journald.conf.d/*.conf"}, []string{"/etc/sysctl.d/*.conf"}},
		{"sysctl", env(guard), areas("sysctl"), []string{"/etc/sysctl.d/*.conf", ifacePattern("ipv4")}, []string{journalDir}},
		{"guard", env(guard), areas("ban"), []string{guard.Ban.Socket}, []string{fail2banJailConf}},
		{"fail2ban", env(fail2banDefault("")), areas("ban"), []string{fail2banJailConf, fail2banDropins[0]}, nil},
		{"a socket that is not a plain path", env(odd), areas("ban"), nil, []string{odd.Ban.Socket}},
	} {
		read, names := prefetchGlobs(tc.env, tc.areas)
		got := append(read, names...)
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tc.name, got, w)
			}
		}
		for _, n := range tc.not {
			if slices.Contains(got, n) {
				t.Errorf("%s: %q holds %q", tc.name, got, n)
			}
		}
	}
}
