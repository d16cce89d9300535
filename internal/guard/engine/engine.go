package engine

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/filter"
	"github.com/rampart-sec/rampart/internal/guard/jail"
	"github.com/rampart-sec/rampart/internal/guard/logline"
	"github.com/rampart-sec/rampart/internal/guard/source"
	"github.com/rampart-sec/rampart/internal/policy"
)

// Source names used in logline.Line.Source and matched against jails.
const (
	SourceJournal = "journal"
	SourceStdin   = "stdin"
)

// SourceFile is the Line.Source of lines read from the file at path.
func SourceFile(path string) string { return "file:" + path }

// Route is one jail with its filter and the sources it reads.
type Route struct {
	Jail   *jail.Jail
	Filter filter.Filter
	// Sources are the Line.Source values this jail reads ("journal",
	// "stdin", "file:/var/log/nginx/access.log").
	Sources []string
	// Stats counts what the route saw.
	Stats Stats
}

// Stats are per-route counters.
type Stats struct {
	Lines    int64 // lines offered to the filter
	Matched  int64 // lines the filter matched (failure or not)
	Failures int64 // failures counted (after the ignore list)
	Ignored  int64 // failures from ignored addresses
	Bans     int64
}

// Engine routes lines to jails. It is not safe for concurrent use; the
// daemon calls it from one goroutine.
type Engine struct {
	Routes []*Route
	now    func() time.Time
}

// Options tune New.
type Options struct {
	// Now is the clock for lines without a timestamp (time.Now if nil).
	Now func() time.Time
	// Jails limits the engine to these jail names (all enabled ones if empty;
	// a named jail is used even when disabled in the policy).
	Jails []string
}

// New builds an engine from the [ban] section of p.
func New(p *policy.Policy, o Options) (*Engine, error) {
	e := &Engine{now: o.Now}
	if e.now == nil {
		e.now = time.Now
	}
	for _, name := range o.Jails {
		if _, ok := p.Ban.Jail(name); !ok {
			var names []string
			for _, j := range p.Ban.Jails {
				names = append(names, j.Name)
			}
			return nil, fmt.Errorf("jail %q: not in the policy (jails: %v)", name, names)
		}
	}
	for i, pj := range p.Ban.Jails {
		if len(o.Jails) > 0 {
			if !slices.Contains(o.Jails, pj.Name) {
				continue
			}
		} else if !pj.Enabled {
			continue
		}
		r, err := NewRoute(p, pj)
		if err != nil {
			return nil, fmt.Errorf("ban.jails[%d]: %w", i, err)
		}
		e.Routes = append(e.Routes, r)
	}
	return e, nil
}

// NewRoute builds the route of jail pj of policy p.
func NewRoute(p *policy.Policy, pj policy.Jail) (*Route, error) {
	cfg, err := jail.FromPolicy(p, pj)
	if err != nil {
		return nil, fmt.Errorf("jail %q: %w", pj.Name, err)
	}
	j, err := jail.New(cfg)
	if err != nil {
		return nil, err
	}
	f, err := filter.New(pj.Filter, pj.Mode)
	if err != nil {
		return nil, fmt.Errorf("jail %q: %w", pj.Name, err)
	}
	k, err := source.KindOf(pj.SourceConfig())
	if err != nil {
		return nil, err
	}
	r := &Route{Jail: j, Filter: f, Sources: k.Keys(pj.SourceConfig())}
	return r, nil
}

// FilterRoute builds the route `guard test --filter NAME` runs: the first
// policy jail whose filter is name, with its own thresholds (a jail's
// maxretry, not the [ban] default), mode overriding the jail's when set; or,
// when no jail uses the filter, a jail named after it with the [ban]
// thresholds.
func FilterRoute(p *policy.Policy, name, mode string) (*Route, error) {
	pj := policy.Jail{Name: name, Filter: name}
	for _, j := range p.Ban.Jails {
		if j.Filter == name {
			pj = j
			break
		}
	}
	pj.Enabled = true
	if mode != "" {
		pj.Mode = mode
	}
	return NewRoute(p, pj)
}

// Add appends a route (used by `guard test --filter`).
func (e *Engine) Add(r *Route) { e.Routes = append(e.Routes, r) }

// Event is what one line did in one jail.
type Event struct {
	Route    *Route
	Hit      filter.Hit
	Decision *jail.Decision
	Ignored  bool
}

// Process offers l to every route reading l.Source (every route when
// l.Source is empty) and returns the bans decided.
func (e *Engine) Process(l *logline.Line) []jail.Decision {
	var out []jail.Decision
	e.Each(l, func(ev Event) {
		if ev.Decision != nil {
			out = append(out, *ev.Decision)
		}
	})
	return out
}

// Each is Process with a callback per matched route, for callers that want
// hits as well as decisions (guard test counts matched lines and failures).
func (e *Engine) Each(l *logline.Line, fn func(Event)) {
	at := l.Time
	if at.IsZero() {
		at = e.now()
	}
	for _, r := range e.Routes {
		if l.Source != "" && !slices.Contains(r.Sources, l.Source) {
			continue
		}
		r.Stats.Lines++
		h, ok := r.Filter.Match(l)
		if !ok {
			continue
		}
		r.Stats.Matched++
		ev := Event{Route: r, Hit: h}
		if h.Failure {
			if r.Jail.Ignored(h.Addr) {
				r.Stats.Ignored++
				ev.Ignored = true
			} else {
				r.Stats.Failures++
				if d := r.Jail.Observe(h, at); d != nil {
					r.Stats.Bans++
					ev.Decision = d
				}
			}
		}
		fn(ev)
	}
}

// Banned reports whether any jail bans a at time at.
func (e *Engine) Banned(a netip.Addr, at time.Time) bool {
	for _, r := range e.Routes {
		if _, ok := r.Jail.Banned(a, at); ok {
			return true
		}
	}
	return false
}
