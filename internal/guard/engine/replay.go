package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"time"
	"unsafe"

	"github.com/rampart-sec/rampart/internal/guard/logline"
	"github.com/rampart-sec/rampart/internal/policy"
)

// ReplayOptions tune Replay.
type ReplayOptions struct {
	// Year for syslog timestamps without one (current year if 0); it rolls
	// over when the file passes from December to January.
	Year int
	// Loc is the zone of timestamps without one (time.Local if nil).
	Loc *time.Location
	// Source is set on every line ("" offers every line to every jail).
	Source string
	// MaxLine is the longest line considered (64 KiB if 0); longer lines are
	// counted and skipped.
	MaxLine int
	// OnDecision, when set, sees each ban as it is decided.
	OnDecision func(Ban)
}

// Report is the outcome of a replay, as `rampart guard test` prints it.
// There is one set of numbers: a line is matched when a jail's filter finds
// a failure in it (from any address, ignored or not) and missed otherwise;
// with one jail the jail's matched and ignored are the report's.
type Report struct {
	Lines   int64 `json:"lines"`
	Matched int64 `json:"matched"`
	Missed  int64 `json:"missed"`
	// Ignored counts the matched lines whose address is on the ignore list
	// (Policy.BanIgnore, loopback).
	Ignored int64        `json:"ignored"`
	Jails   []JailReport `json:"jails"`
	IPs     []IPCount    `json:"ips"`
	Bans    []Ban        `json:"bans"`
}

// JailReport is what one jail did in a replay, with the settings it ran.
type JailReport struct {
	Name     string `json:"name"`
	Filter   string `json:"filter"`
	Maxretry int    `json:"maxretry"`
	Findtime string `json:"findtime"`
	Bantime  string `json:"bantime"`
	// Matched lines the filter found a failure in; Ignored of them from
	// ignored addresses; Failures the rest, counted toward bans.
	Matched  int64 `json:"matched"`
	Ignored  int64 `json:"ignored"`
	Failures int64 `json:"failures"`
	Bans     int64 `json:"bans"`
}

// IPCount is the number of failures one address caused; Ignored marks an
// address on the ignore list (its failures never ban it).
type IPCount struct {
	IP       string `json:"ip"`
	Failures int    `json:"failures"`
	Ignored  bool   `json:"ignored"`
}

// Ban is one decided ban.
type Ban struct {
	IP       string    `json:"ip"`
	Jail     string    `json:"jail"`
	At       time.Time `json:"at"`
	Until    time.Time `json:"until"`
	Failures int       `json:"failures"`
	Count    int       `json:"count"`
}

// Replay reads r line by line through the engine and reports lines read,
// lines matched as failures (in any jail), lines missed, failures per
// address and the bans decided.
func (e *Engine) Replay(r io.Reader, o ReplayOptions) (*Report, error) {
	max := o.MaxLine
	if max <= 0 {
		max = 64 << 10
	}
	br := bufio.NewReaderSize(r, max)
	p := logline.Parser{Year: o.Year, Loc: o.Loc, Source: o.Source}
	rep := &Report{Bans: []Ban{}, Jails: make([]JailReport, len(e.Routes))} // "bans": [] in JSON when nothing is banned
	for i, r := range e.Routes {
		cfg := r.Jail.Config()
		rep.Jails[i] = JailReport{Name: cfg.Name, Filter: r.Filter.Name(), Maxretry: cfg.Maxretry,
			Findtime: policy.FormatDuration(cfg.Findtime), Bantime: policy.FormatDuration(cfg.Bantime)}
	}
	counts := map[netip.Addr]int{}
	ignored := map[netip.Addr]bool{}
	skipping := false
	for {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !skipping {
				rep.Lines++
				rep.Missed++
			}
			skipping = true
			continue
		}
		if len(b) > 0 && !skipping {
			rep.Lines++
			l := p.Parse(trimEOL(b))
			failed, ign := false, false
			e.Each(&l, func(ev Event) {
				if !ev.Hit.Failure {
					return
				}
				jr := &rep.Jails[e.routeIndex(ev.Route)]
				jr.Matched++
				if !failed {
					counts[ev.Hit.Addr]++
				}
				failed = true
				if ev.Ignored {
					jr.Ignored++
					ign = true
					ignored[ev.Hit.Addr] = true
				} else {
					jr.Failures++
				}
				if d := ev.Decision; d != nil {
					jr.Bans++
					ban := Ban{IP: d.Prefix.String(), Jail: d.Jail, At: d.At, Until: d.Until, Failures: d.Failures, Count: d.Count}
					if d.Prefix.IsSingleIP() {
						ban.IP = d.Prefix.Addr().String()
					}
					rep.Bans = append(rep.Bans, ban)
					if o.OnDecision != nil {
						o.OnDecision(ban)
					}
				}
			})
			if failed {
				rep.Matched++
				if ign {
					rep.Ignored++
				}
			} else {
				rep.Missed++
			}
		}
		skipping = false
		if err == io.EOF {
			break
		}
		if err != nil {
			return rep, fmt.Errorf("replay: line %d: %w", rep.Lines+1, err)
		}
	}
	rep.IPs = make([]IPCount, 0, len(counts))
	for a, n := range counts {
		rep.IPs = append(rep.IPs, IPCount{IP: a.String(), Failures: n, Ignored: ignored[a]})
	}
	sort.Slice(rep.IPs, func(i, j int) bool {
		if rep.IPs[i].Failures != rep.IPs[j].Failures {
			return rep.IPs[i].Failures > rep.IPs[j].Failures
		}
		return rep.IPs[i].IP < rep.IPs[j].IP
	})
	return rep, nil
}

// routeIndex returns r's index in e.Routes.
func (e *Engine) routeIndex(r *Route) int {
	for i, x := range e.Routes {
		if x == r {
			return i
		}
	}
	panic("engine: event from a route the engine does not have")
}

// trimEOL returns the line without its end of line as a string sharing b's
// memory: the line is processed before the reader reuses its buffer, and
// filters do not keep strings of a line (filter.Filter's contract).
func trimEOL(b []byte) string {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
