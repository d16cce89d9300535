package lockdown

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/internal/host"
)

// Manager applies, confirms and rolls back lockdown changes on the local
// host. Now and Sleep are injected for tests.
type Manager struct {
	Host  host.Host
	Store *Store
	// Exe is the rampart binary the watchdog and the systemd timer run.
	Exe string
	// Log receives progress lines ("" = discard).
	Log io.Writer
	// Now and Sleep default to the real clock.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Poll is how often Wait and the watchdog look at the state (200ms).
	Poll time.Duration
	// NewID names changes (random hex by default).
	NewID func() string
}

func (m *Manager) newID() string {
	if m.NewID != nil {
		return m.NewID()
	}
	return newID()
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) sleep(ctx context.Context, d time.Duration) error {
	if m.Sleep != nil {
		return m.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (m *Manager) poll() time.Duration {
	if m.Poll > 0 {
		return m.Poll
	}
	return 200 * time.Millisecond
}

func (m *Manager) logf(format string, args ...any) {
	if m.Log != nil {
		fmt.Fprintf(m.Log, format+"\n", args...)
	}
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// Within is the confirm window.
	Within time.Duration
	// SSHConnection is $SSH_CONNECTION of the applying session.
	SSHConnection string
	// NoWatchdog skips the detached watchdog (tests of the in-process
	// path only; the CLI always starts it).
	NoWatchdog bool
}

// ErrPending means a change is already waiting for its confirm.
var ErrPending = errors.New("a lockdown change is already pending")

// Apply installs the lockdown table and arms the rollbacks: the state is
// written and the watchdog started before the table goes in, so there is
// no moment at which the table is in place without something to remove it.
func (m *Manager) Apply(ctx context.Context, cfg Config, o ApplyOptions) (*State, error) {
	if _, err := cfg.Script(); err != nil {
		return nil, err
	}
	st, err := m.newState(ModeNftables, cfg, o)
	if err != nil {
		return nil, err
	}
	if err := m.begin(ctx, st, o, nil); err != nil {
		return st, err
	}
	if err := Install(ctx, m.Host, cfg); err != nil {
		m.fail(ctx, st, err)
		return st, err
	}
	m.logf("installed table inet %s; waiting for a confirm until %s", cfg.Table, st.Deadline.Format(time.RFC3339))
	return st, nil
}

func (m *Manager) newState(mode string, cfg Config, o ApplyOptions) (*State, error) {
	if o.Within <= 0 {
		return nil, errors.New("lockdown: the confirm window must be positive")
	}
	now := m.now()
	return &State{ID: m.newID(), Phase: PhasePending, Mode: mode, Config: cfg,
		AppliedFrom: strings.Join(strings.Fields(o.SSHConnection), " "), AppliedAt: now, Deadline: now.Add(o.Within)}, nil
}

// begin records st as the pending change, refusing while another one is
// pending, runs prepare (if any) under the same lock, and arms the
// rollbacks. On error nothing is left pending.
func (m *Manager) begin(ctx context.Context, st *State, o ApplyOptions, prepare func() error) error {
	err := m.Store.Locked(func(cur *State) (*State, error) {
		if cur != nil && cur.Phase == PhasePending {
			return nil, fmt.Errorf("lockdown: %w (id %s, deadline %s): confirm or roll it back first", ErrPending, cur.ID, cur.Deadline.Format(time.RFC3339))
		}
		if prepare != nil {
			if err := prepare(); err != nil {
				return nil, err
			}
		}
		return st, nil
	})
	if err != nil {
		return err
	}
	if !o.NoWatchdog {
		if err := m.arm(ctx, st); err != nil {
			m.fail(ctx, st, err)
			return err
		}
	}
	return nil
}

// arm starts the detached watchdog and, when systemd runs, a transient
// timer, and records both in the state.
func (m *Manager) arm(ctx context.Context, st *State) error {
	d, ok := m.Host.(host.Detacher)
	if !ok {
		return fmt.Errorf("lockdown: host %s cannot start a detached watchdog", m.Host.Name())
	}
	if m.Exe == "" {
		return errors.New("lockdown: no rampart executable to run the watchdog")
	}
	pid, err := d.StartDetached(host.C(m.Exe, "lockdown", "watchdog", "--state-dir", m.Store.Dir, "--id", st.ID), m.Store.LogFile())
	if err != nil {
		return fmt.Errorf("lockdown: start watchdog: %w", err)
	}
	st.WatchdogPID = pid
	m.logf("watchdog running as pid %d", pid)
	if SystemdRunning(ctx, m.Host) {
		unit := "rampart-lockdown-" + st.ID
		secs := int(st.Deadline.Sub(m.now()).Round(time.Second) / time.Second)
		if secs < 1 {
			secs = 1
		}
		c := host.Cmd{Name: "systemd-run", Sudo: true, Args: []string{"--unit=" + unit, "--on-active=" + strconv.Itoa(secs) + "s",
			"--timer-property=AccuracySec=1s", "--description=rampart lockdown rollback " + st.ID,
			m.Exe, "lockdown", "rollback", "--state-dir", m.Store.Dir, "--id", st.ID, "--reason", "no confirm before the deadline (systemd timer)"}}
		if _, err := host.RunOK(ctx, m.Host, c); err != nil {
			// The watchdog still stands guard; say so and go on.
			m.logf("warning: systemd timer not armed: %v", err)
		} else {
			st.TimerUnit = unit
			m.logf("systemd timer %s.timer armed", unit)
		}
	}
	return m.Store.Locked(func(cur *State) (*State, error) {
		if cur == nil || cur.ID != st.ID {
			return nil, errors.New("lockdown: state changed while arming the rollback")
		}
		cur.WatchdogPID, cur.TimerUnit = st.WatchdogPID, st.TimerUnit
		return cur, nil
	})
}

// SystemdRunning reports whether systemd is the running init (the test
// sd_booted(3) uses).
func SystemdRunning(ctx context.Context, h host.Host) bool {
	m, err := h.Glob(ctx, "/run/systemd/system")
	return err == nil && len(m) > 0
}

func (m *Manager) fail(ctx context.Context, st *State, cause error) {
	_, _ = m.rollback(ctx, st.ID, PhaseFailed, "apply failed: "+cause.Error())
}

// Wait blocks until the change id is confirmed or rolled back. When the
// deadline passes first it rolls back itself (the watchdog would too).
// Cancelling ctx (Ctrl-C) rolls back at once.
func (m *Manager) Wait(ctx context.Context, id string) (*State, error) {
	for {
		st, err := m.Store.Load()
		if err != nil {
			return nil, err
		}
		if st.ID != id {
			return st, fmt.Errorf("lockdown: state now belongs to another change (%s)", st.ID)
		}
		if st.Phase != PhasePending {
			return st, nil
		}
		if !m.now().Before(st.Deadline) {
			return m.rollback(context.WithoutCancel(ctx), id, PhaseRolledBack, "no confirm before the deadline")
		}
		wait := min(m.poll(), st.Deadline.Sub(m.now()))
		if err := m.sleep(ctx, wait); err != nil {
			return m.rollback(context.WithoutCancel(ctx), id, PhaseRolledBack, "apply was interrupted before a confirm")
		}
	}
}

// Watchdog is the body of `rampart lockdown watchdog`: it waits for the
// deadline of change id and rolls it back unless it was confirmed or
// undone meanwhile.
func (m *Manager) Watchdog(ctx context.Context, id string) (*State, error) {
	for {
		st, err := m.Store.Load()
		if err != nil {
			return nil, err
		}
		if st.ID != id || st.Phase != PhasePending {
			m.logf("watchdog %s: nothing to do (state %s %s)", id, st.ID, st.Phase)
			return st, nil
		}
		if !m.now().Before(st.Deadline) {
			m.logf("watchdog %s: deadline %s passed without a confirm: rolling back", id, st.Deadline.Format(time.RFC3339))
			return m.rollback(ctx, id, PhaseRolledBack, "no confirm before the deadline (watchdog)")
		}
		if err := m.sleep(ctx, min(m.poll(), st.Deadline.Sub(m.now()))); err != nil {
			// Stopped by a signal: nothing would guard the pending change
			// any more, so undo it now rather than leave it unguarded.
			m.logf("watchdog %s: stopped (%v) before the deadline: rolling back", id, err)
			return m.rollback(context.WithoutCancel(ctx), id, PhaseRolledBack, "the watchdog was stopped before a confirm")
		}
	}
}

// Rollback undoes the current change at once. With id set it acts only on
// that change and only while it is pending (the systemd timer's use).
func (m *Manager) Rollback(ctx context.Context, id, reason string) (*State, error) {
	if reason == "" {
		reason = "rolled back by the administrator"
	}
	return m.rollback(ctx, id, PhaseRolledBack, reason)
}

// rollback removes the change under the lock. An empty id means whatever
// change the state holds, in any phase.
func (m *Manager) rollback(ctx context.Context, id, phase, reason string) (*State, error) {
	var out *State
	err := m.Store.Locked(func(cur *State) (*State, error) {
		if cur == nil {
			return nil, fmt.Errorf("lockdown: nothing to roll back: %w", ErrNoState)
		}
		out = cur
		if id != "" && (cur.ID != id || cur.Phase != PhasePending) {
			return nil, nil // confirmed or replaced meanwhile: leave it
		}
		if cur.Phase == PhaseRolledBack || cur.Phase == PhaseFailed {
			// Undo again anyway: idempotent, and it repairs a table
			// someone re-added by hand.
			return nil, m.undo(ctx, cur)
		}
		if err := m.undo(ctx, cur); err != nil {
			return nil, err
		}
		cur.Phase, cur.Reason, cur.RolledBackAt = phase, reason, m.now()
		m.stopTimer(ctx, cur)
		return cur, nil
	})
	if err == nil && out != nil {
		m.logf("rolled back change %s: %s", out.ID, out.Reason)
	}
	return out, err
}

func (m *Manager) undo(ctx context.Context, st *State) error {
	switch st.Mode {
	case ModeNixOS:
		return m.undoNixOS(ctx, st)
	default:
		return Remove(ctx, m.Host, st.Config.Table)
	}
}

func (m *Manager) stopTimer(ctx context.Context, st *State) {
	if st.TimerUnit == "" {
		return
	}
	c := host.Cmd{Name: "systemctl", Args: []string{"stop", st.TimerUnit + ".timer"}, Sudo: true}
	if _, err := host.RunOK(ctx, m.Host, c); err != nil {
		m.logf("warning: %v", err)
	}
}

// ConfirmOptions are the facts a confirm is judged on.
type ConfirmOptions struct {
	// SSHConnection is $SSH_CONNECTION of the confirming session.
	SSHConnection string
}

// ErrConfirmRefused wraps every reason a confirm is not accepted.
var ErrConfirmRefused = errors.New("confirm refused")

// Confirm keeps the pending change, provided the confirm comes from a new
// SSH session that reaches this host through the tailnet interface: that
// proves, after the change, what the change must not break.
func (m *Manager) Confirm(ctx context.Context, o ConfirmOptions) (*State, error) {
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("lockdown: %w: %s", ErrConfirmRefused, fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(o.SSHConnection) == "" {
		return nil, refuse("not run from an SSH session ($SSH_CONNECTION unset); confirm from a new SSH session over the tailnet")
	}
	conn := strings.Join(strings.Fields(o.SSHConnection), " ")
	st, err := m.Store.Load()
	if err != nil {
		return nil, err
	}
	if st.Phase != PhasePending {
		return st, refuse("no change is pending (last change %s is %s)", st.ID, st.Phase)
	}
	c, r, _, err := SessionVia(ctx, m.Host, conn)
	if err != nil {
		return st, refuse("cannot tell where this session comes from: %v", err)
	}
	if r.Dev != st.Config.Tailnet {
		return st, refuse("this session comes from %s through %s, not through the tailnet interface %s", c.Client.Addr(), r.Dev, st.Config.Tailnet)
	}
	if conn == st.AppliedFrom {
		return st, refuse("this is the session that applied the change; open a new SSH session over the tailnet to prove new connections work")
	}
	if st.Mode == ModeNftables {
		present, _, err := TablePresent(ctx, m.Host, st.Config.Table)
		if err != nil {
			return st, refuse("cannot list table inet %s: %v", st.Config.Table, err)
		}
		if !present {
			return st, refuse("table inet %s is not installed any more", st.Config.Table)
		}
	}
	var out *State
	err = m.Store.Locked(func(cur *State) (*State, error) {
		out = cur
		switch {
		case cur == nil || cur.ID != st.ID:
			return nil, refuse("the change was replaced meanwhile")
		case cur.Phase != PhasePending:
			return nil, refuse("the change is %s (%s)", cur.Phase, cur.Reason)
		case !m.now().Before(cur.Deadline):
			return nil, refuse("the deadline %s has passed; the change is being rolled back", cur.Deadline.Format(time.RFC3339))
		}
		if cur.Mode == ModeNixOS {
			if err := m.commitNixOS(ctx, cur); err != nil {
				return nil, err
			}
		}
		cur.Phase, cur.ConfirmedFrom, cur.ConfirmedAt = PhaseConfirmed, conn, m.now()
		m.stopTimer(ctx, cur)
		return cur, nil
	})
	return out, err
}
