package lockdown

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/host/hosttest"
)

// detachHost is a fixture host that records detached starts instead of
// starting anything (the real detach is tested in internal/host and the
// E2E tests).
type detachHost struct {
	*hosttest.Fixture
	mu      sync.Mutex
	started []string
}

func (d *detachHost) StartDetached(c host.Cmd, log string) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.started = append(d.started, c.String()+" >>"+log)
	return 4242, nil
}

// clock is a settable test clock; Sleep advances it.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return nil
}

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

func newTestManager(t *testing.T) (*Manager, *detachHost, *clock) {
	f := readyHost(t)
	f.SetCmd(host.C("nft", "-f", "-"), "", 0)
	f.SetCmd(host.C("nft", "list", "table", "inet", DefaultTable), "table inet rampart-lockdown {}\n", 0)
	h := &detachHost{Fixture: f}
	c := &clock{now: t0}
	m := &Manager{Host: h, Store: &Store{Dir: t.TempDir()}, Exe: "/usr/bin/rampart", Now: c.Now, Sleep: c.Sleep}
	return m, h, c
}

func count(lines []string, s string) int {
	n := 0
	for _, l := range lines {
		if l == s {
			n++
		}
	}
	return n
}

func defaultConfig(t *testing.T) Config {
	c, err := ConfigFromPolicy(tailnetPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestApplyArmsWatchdogBeforeTable(t *testing.T) {
	m, h, _ := newTestManager(t)
	st, err := m.Apply(context.Background(), defaultConfig(t), ApplyOptions{Within: 2 * time.Minute, SSHConnection: "100.64.0.2  50000 100.64.0.1 22"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != PhasePending || !st.Deadline.Equal(t0.Add(2*time.Minute)) || st.AppliedFrom != "100.64.0.2 50000 100.64.0.1 22" {
		t.Errorf("state %+v", st)
	}
	want := "/usr/bin/rampart lockdown watchdog --state-dir " + m.Store.Dir + " --id " + st.ID + " >>" + m.Store.LogFile()
	if len(h.started) != 1 || h.started[0] != want {
		t.Errorf("started %q, want %q", h.started, want)
	}
	saved, err := m.Store.Load()
	if err != nil || saved.WatchdogPID != 4242 || saved.TimerUnit != "" {
		t.Errorf("saved %+v %v", saved, err)
	}
	if count(h.Ran(), "nft -f -") != 1 {
		t.Errorf("ran %q", h.Ran())
	}
	// A second apply while pending is refused.
	if _, err := m.Apply(context.Background(), defaultConfig(t), ApplyOptions{Within: time.Minute}); !errors.Is(err, ErrPending) {
		t.Errorf("second apply: %v", err)
	}
}

func TestApplyArmsSystemdTimer(t *testing.T) {
	m, h, _ := newTestManager(t)
	m.NewID = func() string { return "c0ffee000001" }
	h.SetFile("/run/systemd/system", "")
	run := host.C("systemd-run", "--unit=rampart-lockdown-c0ffee000001", "--on-active=90s", "--timer-property=AccuracySec=1s",
		"--description=rampart lockdown rollback c0ffee000001", "/usr/bin/rampart", "lockdown", "rollback", "--state-dir", m.Store.Dir,
		"--id", "c0ffee000001", "--reason", "no confirm before the deadline (systemd timer)")
	h.SetCmd(run, "Running timer as unit: rampart-lockdown-c0ffee000001.timer\n", 0)
	h.SetCmd(host.C("systemctl", "stop", "rampart-lockdown-c0ffee000001.timer"), "", 0)
	st, err := m.Apply(context.Background(), defaultConfig(t), ApplyOptions{Within: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	saved, _ := m.Store.Load()
	if saved.TimerUnit != "rampart-lockdown-c0ffee000001" {
		t.Fatalf("timer unit %q; ran %q", saved.TimerUnit, h.Ran())
	}
	if _, err := m.Confirm(context.Background(), ConfirmOptions{SSHConnection: "100.64.0.2 50001 100.64.0.1 22"}); err != nil {
		t.Fatal(err)
	}
	if count(h.Ran(), "systemctl stop rampart-lockdown-c0ffee000001.timer") != 1 {
		t.Errorf("the timer was not stopped on confirm: %q", h.Ran())
	}
	_ = st

	// When systemd-run fails the watchdog still guards and apply goes on.
	m2, h2, _ := newTestManager(t)
	h2.SetFile("/run/systemd/system", "")
	h2.Missing["systemd-run"] = true
	if _, err := m2.Apply(context.Background(), defaultConfig(t), ApplyOptions{Within: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if s, _ := m2.Store.Load(); s.TimerUnit != "" || s.WatchdogPID != 4242 || s.Phase != PhasePending {
		t.Errorf("state %+v", s)
	}
}

func TestConfirm(t *testing.T) {
	const applied = "100.64.0.2 50000 100.64.0.1 22"
	tests := []struct {
		name    string
		conn    string
		advance time.Duration
		mutate  func(h *detachHost, m *Manager)
		want    string // "" = accepted
	}{
		{name: "new tailnet session", conn: "100.64.0.2 50001 100.64.0.1 22"},
		{name: "no session", conn: "", want: "SSH_CONNECTION unset"},
		{name: "public session", conn: "203.0.113.2 40000 203.0.113.1 22", want: "through eth0, not through the tailnet interface tailscale0"},
		{name: "loopback session", conn: "127.0.0.1 40000 127.0.0.1 22", want: "through lo"},
		{name: "the applying session", conn: applied, want: "the session that applied"},
		{name: "forged value", conn: "100.64.0.2; rm -rf / 1 2", want: "cannot tell where this session comes from"},
		{name: "after the deadline", conn: "100.64.0.2 50001 100.64.0.1 22", advance: 3 * time.Minute, want: "deadline"},
		{name: "table gone", conn: "100.64.0.2 50001 100.64.0.1 22", mutate: func(h *detachHost, _ *Manager) {
			c := host.C("nft", "list", "table", "inet", DefaultTable)
			h.SetCmd(c, "", 1)
			h.Cmds[c.String()].Stderr = []byte("Error: No such file or directory\nlist table inet rampart-lockdown\n")
		}, want: "not installed any more"},
		{name: "already rolled back", conn: "100.64.0.2 50001 100.64.0.1 22", mutate: func(_ *detachHost, m *Manager) {
			if _, err := m.Rollback(context.Background(), "", ""); err != nil {
				panic(err)
			}
		}, want: "no change is pending"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, h, c := newTestManager(t)
			if _, err := m.Apply(context.Background(), defaultConfig(t), ApplyOptions{Within: 2 * time.Minute, SSHConnection: applied}); err != nil {
				t.Fatal(err)
			}
			if tt.mutate != nil {
				tt.mutate(h, m)
			}
			c.now = c.now.Add(tt.advance)
			st, err := m.Confirm(context.Background(), ConfirmOptions{SSHConnection: tt.conn})
			if tt.want == "" {
				if err != nil || st.Phase != PhaseConfirmed || st.ConfirmedFrom != tt.conn {
					t.Fatalf("confirm: %+v %v", st, err)
				}
				return
			}
			if !errors.Is(err, ErrConfirmRefused) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want refused with %q", err, tt.want)
			}
			if s, _ := m.Store.Load(); s.Phase == PhaseConfirmed {
				t.Error("a refused confirm confirmed")
			}
		})
	}
}

func TestWatchdogAndWait(t *testing.T) {
	ctx := context.Background()
	// The watchdog rolls back at the deadline.
	m, h, c := newTestManager(t)
	st, err := m.Apply(ctx, defaultConfig(t), ApplyOptions{Within: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Watchdog(ctx, st.ID)
	if err != nil || got.Phase != PhaseRolledBack || !strings.Contains(got.Reason, "watchdog") {
		t.Fatalf("watchdog: %+v %v", got, err)
	}
	if !c.Now().Equal(st.Deadline) {
		t.Errorf("rolled back at %s, deadline %s", c.Now(), st.Deadline)
	}
	if count(h.Ran(), "nft -f -") != 2 {
		t.Errorf("ran %q, want install and removal", h.Ran())
	}
	// Rolling back again is harmless and keeps the record.
	if again, err := m.Rollback(ctx, "", ""); err != nil || again.Phase != PhaseRolledBack || !strings.Contains(again.Reason, "watchdog") {
		t.Errorf("second rollback: %+v %v", again, err)
	}

	// A confirmed change: the watchdog leaves it alone, Wait returns it.
	m, h, _ = newTestManager(t)
	st, _ = m.Apply(ctx, defaultConfig(t), ApplyOptions{Within: time.Minute})
	if _, err := m.Confirm(ctx, ConfirmOptions{SSHConnection: "100.64.0.2 1 100.64.0.1 22"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Watchdog(ctx, st.ID); got.Phase != PhaseConfirmed {
		t.Errorf("watchdog touched a confirmed change: %+v", got)
	}
	if got, _ := m.Wait(ctx, st.ID); got.Phase != PhaseConfirmed {
		t.Errorf("wait: %+v", got)
	}
	// The systemd timer's rollback (with --id) leaves a confirmed change.
	if got, _ := m.Rollback(ctx, st.ID, "timer"); got.Phase != PhaseConfirmed {
		t.Errorf("rollback --id of a confirmed change: %+v", got)
	}
	if count(h.Ran(), "nft -f -") != 1 {
		t.Errorf("ran %q", h.Ran())
	}

	// Wait rolls back itself at the deadline, and at once when cancelled.
	m, _, _ = newTestManager(t)
	st, _ = m.Apply(ctx, defaultConfig(t), ApplyOptions{Within: 5 * time.Second})
	if got, err := m.Wait(ctx, st.ID); err != nil || got.Phase != PhaseRolledBack || got.Reason != "no confirm before the deadline" {
		t.Errorf("wait at deadline: %+v %v", got, err)
	}
	m, _, _ = newTestManager(t)
	st, _ = m.Apply(ctx, defaultConfig(t), ApplyOptions{Within: 5 * time.Second})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if got, err := m.Wait(cctx, st.ID); err != nil || got.Phase != PhaseRolledBack || !strings.Contains(got.Reason, "interrupted") {
		t.Errorf("wait cancelled: %+v %v", got, err)
	}
	// A watchdog stopped by a signal rolls back rather than leave the
	// change unguarded.
	m, _, _ = newTestManager(t)
	st, _ = m.Apply(ctx, defaultConfig(t), ApplyOptions{Within: 5 * time.Second})
	if got, _ := m.Watchdog(cctx, st.ID); got.Phase != PhaseRolledBack || !strings.Contains(got.Reason, "watchdog was stopped") {
		t.Errorf("watchdog cancelled: %+v", got)
	}
}

func TestApplyFailureUndoes(t *testing.T) {
	m, h, _ := newTestManager(t)
	h.SetCmd(host.C("nft", "-f", "-"), "", 1)
	h.Cmds["nft -f -"].Stderr = []byte("Error: Could not process rule: Operation not permitted\n")
	st, err := m.Apply(context.Background(), defaultConfig(t), ApplyOptions{Within: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "Operation not permitted") {
		t.Fatalf("err = %v", err)
	}
	if s, _ := m.Store.Load(); s.Phase != PhasePending && s.Phase != PhaseFailed {
		t.Errorf("phase %s", s.Phase)
	}
	_ = st
}

func TestStateFileErrors(t *testing.T) {
	dir := t.TempDir()
	s := &Store{Dir: dir}
	if _, err := s.Load(); !errors.Is(err, ErrNoState) {
		t.Errorf("empty dir: %v", err)
	}
	for _, bad := range []string{"{", `{"phase":"pending"}`, `{"id":"x","phase":7}`} {
		if err := os.WriteFile(s.File(), []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(); err == nil || !strings.Contains(err.Error(), filepath.Base(s.File())) {
			t.Errorf("Load(%q) err = %v", bad, err)
		}
	}
}
