package daemon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/control"
	"github.com/rampart-sec/rampart/internal/guard/nft"
	"github.com/rampart-sec/rampart/internal/guard/store"
	"github.com/rampart-sec/rampart/internal/policy"
)

// testPolicy has one sshd jail reading log (maxretry 3, bantime 1h) and
// ignores 203.0.113.0/24.
func testPolicy(log string) *policy.Policy {
	p := policy.MustDefault("")
	p.Ban.Ignore = append(p.Ban.Ignore, "203.0.113.0/24")
	p.Ban.Jails = []policy.Jail{{Name: "sshd", Enabled: true, Filter: "sshd", Mode: "normal", Source: "file", Paths: []string{log}, Maxretry: 3}}
	return p
}

// clock is a settable clock that otherwise follows real time.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

type harness struct {
	t      *testing.T
	d      *Daemon
	fake   *nft.Fake
	dir    string
	log    string
	sock   string
	clk    *clock
	cancel context.CancelFunc
	done   chan error
	logs   syncBuffer
}

// syncBuffer collects the daemon's log for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, dir string, fake *nft.Fake, clk *clock) *harness {
	t.Helper()
	h := &harness{t: t, fake: fake, dir: dir, log: filepath.Join(dir, "auth.log"), sock: filepath.Join(dir, "run", "guard.sock"), clk: clk}
	ready := make(chan struct{})
	d, err := New(Options{
		Policy: testPolicy(h.log), Backend: fake, StateDir: filepath.Join(dir, "state"), Socket: h.sock, Metrics: "127.0.0.1:0",
		FromStart: true, Poll: 5 * time.Millisecond, Reconcile: 20 * time.Millisecond, Clock: clk.now, Ready: ready,
		Log: slog.New(slog.NewTextHandler(&h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- d.Run(ctx) }()
	select {
	case <-ready:
	case err := <-h.done:
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	if h.cancel != nil {
		h.cancel()
		if err := <-h.done; err != nil {
			h.t.Errorf("Run: %v", err)
		}
		h.cancel = nil
	}
}

var pidSeq = 1000

// fail appends n sshd failures from addr, each its own connection.
func (h *harness) fail(addr string, n int) {
	h.t.Helper()
	f, err := os.OpenFile(h.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	for range n {
		pidSeq++
		ts := h.clk.now().Format("2006-01-02T15:04:05.000000-07:00")
		fmt.Fprintf(f, "%s server sshd[%d]: Failed password for invalid user admin from %s port %d ssh2\n", ts, pidSeq, addr, 40000+pidSeq%1000)
	}
}

func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(h.log)
			h.t.Fatalf("timed out waiting for %s\ndaemon log:\n%s\nauth.log:\n%s", what, h.logs.String(), log)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// processed waits until the daemon's loop has run n records through the
// engine (the status is answered by that loop, so every decision of those
// records is in its ban list by then, flushed to the firewall or not).
func (h *harness) processed(n int64) {
	h.t.Helper()
	h.eventually(fmt.Sprintf("%d records processed", n), func() bool {
		r, err := control.Call(h.sock, control.Request{Op: control.OpStatus})
		return err == nil && r.Status.Lines >= n
	})
}

// banned is the number of bans of jail the daemon holds.
func (h *harness) banned(jail string) int {
	h.t.Helper()
	r, err := control.Call(h.sock, control.Request{Op: control.OpStatus, Jail: jail})
	if err != nil {
		h.t.Fatal(err)
	}
	return r.Status.Jails[0].CurrentlyBanned
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestBanPersistReconcile(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{}
	fake := nft.NewFake(clk.now)
	h := start(t, dir, fake, clk)

	h.fail("192.0.2.7", 2)
	h.fail("203.0.113.5", 5) // ignore-listed
	h.processed(7)
	if fake.Has(pfx("192.0.2.7/32")) || h.banned("sshd") != 0 {
		t.Fatal("banned after 2 failures (maxretry 3)")
	}
	h.fail("192.0.2.7", 1)
	h.eventually("ban of 192.0.2.7", func() bool { return fake.Has(pfx("192.0.2.7/32")) })
	if fake.Has(pfx("203.0.113.5/32")) {
		t.Fatal("ignore-listed address banned")
	}

	// The store has it before the firewall does.
	st, err := store.Decode("s", mustRead(t, filepath.Join(dir, "state", store.FileName)), clk.now())
	if err != nil || len(st.Bans) != 1 || st.Bans[0].Prefix != pfx("192.0.2.7/32") || st.Bans[0].Jail != "sshd" {
		t.Fatalf("store: %+v %v", st, err)
	}

	// Control socket.
	r, err := control.Call(h.sock, control.Request{Op: control.OpStatus, Jail: "sshd"})
	if err != nil {
		t.Fatal(err)
	}
	js := r.Status.Jails[0]
	if js.CurrentlyBanned != 1 || js.TotalBanned != 1 || js.TotalFailed != 3 || len(js.Banned) != 1 || js.Banned[0] != "192.0.2.7/32" {
		t.Errorf("status: %+v", js)
	}
	if _, err := control.Call(h.sock, control.Request{Op: control.OpBan, IP: "198.51.100.0/24", For: "10m"}); err != nil {
		t.Fatal(err)
	}
	if !fake.Has(pfx("198.51.100.0/24")) {
		t.Fatal("manual ban not applied")
	}
	if _, err := control.Call(h.sock, control.Request{Op: control.OpBan, IP: "203.0.113.9"}); err == nil || !strings.Contains(err.Error(), "ignore list") {
		t.Errorf("ban of ignored address: %v", err)
	}
	if _, err := control.Call(h.sock, control.Request{Op: control.OpBan, IP: "127.0.0.1"}); err == nil || !strings.Contains(err.Error(), "ignore list") {
		t.Errorf("ban of loopback: %v", err)
	}
	// A narrower ban inside the /24 does not overlap it.
	if _, err := control.Call(h.sock, control.Request{Op: control.OpBan, IP: "198.51.100.9", For: "1m"}); err != nil {
		t.Fatal(err)
	}
	if fake.Has(pfx("198.51.100.9/32")) {
		t.Error("overlapping element added")
	}
	r, _ = control.Call(h.sock, control.Request{Op: control.OpList})
	if len(r.Bans) != 2 {
		t.Errorf("list: %+v", r.Bans)
	}

	// Metrics (the loop copies counters every tick).
	h.eventually("metrics", func() bool {
		var b strings.Builder
		h.d.m.reg.WriteText(&b)
		m := b.String()
		return strings.Contains(m, `rampart_guard_bans_total{jail="sshd"} 1`) && strings.Contains(m, `rampart_guard_failures_total{jail="sshd"} 3`) &&
			strings.Contains(m, `rampart_guard_active_bans 2`) && strings.Contains(m, `rampart_guard_ban_latency_seconds_count{jail="sshd"} 1`) &&
			strings.Contains(m, `rampart_guard_lines_total{source="file:`+h.log+`"} 8`)
	})

	resp, err := http.Get("http://" + h.d.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("# TYPE rampart_guard_ban_latency_seconds histogram")) {
		t.Errorf("GET /metrics: %d\n%s", resp.StatusCode, body)
	}

	// The table vanishes; the reconcile puts it back.
	fake.Drop()
	h.eventually("reconcile", func() bool { return fake.Has(pfx("192.0.2.7/32")) && fake.Has(pfx("198.51.100.0/24")) })

	// Stop (as after kill -9 the store is what counts), wipe the kernel,
	// restart 10 minutes later: the ban is back with its remaining time,
	// the expired 10m manual ban is not.
	h.stop()
	fake.Drop()
	clk.advance(10*time.Minute + time.Second)
	h2 := start(t, dir, fake, clk)
	els, err := fake.Check(context.Background())
	if err != nil || len(els) != 1 || els[0].Prefix != pfx("192.0.2.7/32") {
		t.Fatalf("after restart: %+v %v", els, err)
	}
	if rem := els[0].Expires; rem > 50*time.Minute || rem < 49*time.Minute {
		t.Errorf("remaining %v, want about 50m", rem)
	}
	// Lines already read are not read again (cursor): no second ban count.
	r, _ = control.Call(h2.sock, control.Request{Op: control.OpStatus, Jail: "sshd"})
	if r.Status.Jails[0].TotalFailed != 0 {
		t.Errorf("re-read %d failures after restart", r.Status.Jails[0].TotalFailed)
	}
	if _, err := control.Call(h2.sock, control.Request{Op: control.OpUnban, IP: "192.0.2.7"}); err != nil {
		t.Fatal(err)
	}
	if fake.Has(pfx("192.0.2.7/32")) {
		t.Error("still banned after unban")
	}
	// Unbanned means its failure history is gone too: 2 more do not ban.
	h2.fail("192.0.2.7", 2)
	h2.processed(2)
	if fake.Has(pfx("192.0.2.7/32")) || h2.banned("sshd") != 0 {
		t.Error("re-banned after unban with only 2 new failures")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAdoptKernelBans: a ban in the kernel that the store lost (e.g. the
// store was deleted) is adopted with its remaining time.
func TestAdoptKernelBans(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{}
	fake := nft.NewFake(clk.now)
	now := clk.now()
	fake.Sync(context.Background(), []nft.Ban{{Prefix: pfx("192.0.2.99/32"), Until: now.Add(time.Hour), Jail: "sshd"}}, now)
	h := start(t, dir, fake, clk)
	r, err := control.Call(h.sock, control.Request{Op: control.OpList})
	if err != nil || len(r.Bans) != 1 || r.Bans[0].Prefix != "192.0.2.99/32" || r.Bans[0].Jail != "sshd" {
		t.Fatalf("list: %+v %v", r, err)
	}
}

func TestPutOverlap(t *testing.T) {
	d := &Daemon{bans: map[netip.Prefix]banRec{}, wide: map[netip.Prefix]bool{}, pendingAdd: map[netip.Prefix]time.Time{}, pendingDel: map[netip.Prefix]bool{}}
	t0 := time.Unix(1000, 0)
	put := func(p string, until time.Duration) bool {
		return d.put(&store.Ban{Prefix: pfx(p), Until: t0.Add(until)}, time.Time{})
	}
	put("2001:db8::1/128", time.Hour)
	put("2001:db8::2/128", time.Hour)
	r := d.bans[pfx("2001:db8::1/128")]
	r.inKernel = true
	d.bans[pfx("2001:db8::1/128")] = r
	if !put("2001:db8::/64", time.Minute) {
		t.Fatal("wide ban refused")
	}
	if len(d.bans) != 1 || !d.pendingDel[pfx("2001:db8::1/128")] || d.pendingDel[pfx("2001:db8::2/128")] {
		t.Fatalf("after /64: bans %v del %v", d.bans, d.pendingDel)
	}
	if put("2001:db8::5/128", 30*time.Second) {
		t.Error("shorter ban inside the /64 changed something")
	}
	if !put("2001:db8::5/128", 2*time.Hour) || len(d.bans) != 1 || !d.ban(pfx("2001:db8::/64")).Until.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("longer ban inside the /64 should extend it: %v", d.bans)
	}
}
