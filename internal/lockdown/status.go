package lockdown

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/nftrules"
	"github.com/rampart-sec/rampart/internal/tailscale"
)

// Report is what `rampart lockdown status` shows.
type Report struct {
	State *State `json:"state,omitempty"`
	// TablePresent says whether rampart's table is installed now.
	TablePresent bool   `json:"table_present"`
	Table        string `json:"table"`
	// WatchdogAlive says whether the recorded watchdog still runs.
	WatchdogAlive bool `json:"watchdog_alive"`
	// Exposure is the SSH exposure per interface from the live ruleset.
	Exposure []nftrules.Exposure `json:"exposure,omitempty"`
	// Problems are facts that contradict the state (table missing while
	// confirmed, present after a rollback).
	Problems []string `json:"problems,omitempty"`
}

// Status gathers the report. A missing state file is not an error: the
// report then only says whether a table is present.
func (m *Manager) Status(ctx context.Context, table string) (*Report, error) {
	r := &Report{Table: table}
	st, err := m.Store.Load()
	switch {
	case err == nil:
		r.State = st
		r.Table = st.Config.Table
	case !errors.Is(err, ErrNoState):
		return nil, err
	}
	if r.State == nil || r.State.Mode != ModeNixOS {
		present, _, err := TablePresent(ctx, m.Host, r.Table)
		if err != nil {
			return nil, err
		}
		r.TablePresent = present
	}
	if st != nil && st.WatchdogPID > 0 {
		r.WatchdogAlive = m.processIs(ctx, st.WatchdogPID, "watchdog")
	}
	if st != nil && st.Mode == ModeNftables {
		switch {
		case (st.Phase == PhaseConfirmed || st.Phase == PhasePending) && !r.TablePresent:
			r.Problems = append(r.Problems, fmt.Sprintf("the change is %s but table inet %s is not installed", st.Phase, r.Table))
		case (st.Phase == PhaseRolledBack || st.Phase == PhaseFailed) && r.TablePresent:
			r.Problems = append(r.Problems, fmt.Sprintf("the change was %s but table inet %s is installed", st.Phase, r.Table))
		}
		if st.Phase == PhasePending && !r.WatchdogAlive && st.TimerUnit == "" {
			r.Problems = append(r.Problems, "the change is pending but no watchdog runs: roll back or confirm now")
		}
	}
	if r.TablePresent && st != nil {
		x, err := Exposure(ctx, m.Host, st.Config)
		if err == nil {
			r.Exposure = x
		}
	}
	return r, nil
}

// processIs reports whether pid runs and its command line contains word.
func (m *Manager) processIs(ctx context.Context, pid int, word string) bool {
	b, err := m.Host.ReadFile(ctx, "/proc/"+strconv.Itoa(pid)+"/cmdline")
	if err != nil {
		return false
	}
	if st, err := m.Host.ReadFile(ctx, "/proc/"+strconv.Itoa(pid)+"/stat"); err == nil {
		// A zombie has exited.
		s := string(st)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && len(s) > i+2 && s[i+2] == 'Z' {
			return false
		}
	}
	return strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), word)
}

// Exposure analyses the live ruleset for the SSH ports on every interface
// of the host (and the configured trusted ones), with the same reader
// (iptables rules merged in) and analysis `rampart verify` uses.
func Exposure(ctx context.Context, h host.Host, cfg Config) ([]nftrules.Exposure, error) {
	live, err := nftrules.Read(ctx, h)
	if err != nil {
		return nil, err
	}
	ifaces := append([]string(nil), cfg.Trusted...)
	if out, err := host.RunOK(ctx, h, host.C("ip", "-j", "addr")); err == nil {
		if ifs, err := tailscale.ParseInterfaces(out); err == nil {
			for _, i := range ifs {
				if !slices.Contains(ifaces, i.Name) {
					ifaces = append(ifaces, i.Name)
				}
			}
		}
	}
	var all []nftrules.Exposure
	for _, p := range cfg.Ports {
		for _, ifc := range ifaces {
			all = append(all, live.Ruleset.Exposure("tcp", p, ifc))
		}
	}
	return all, nil
}
