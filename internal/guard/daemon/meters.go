package daemon

import "github.com/rampart-sec/rampart/internal/guard/metrics"

// meters are the daemon's Prometheus series.
type meters struct {
	reg            *metrics.Registry
	lines          *metrics.Vec
	matched        *metrics.Vec
	failures       *metrics.Vec
	bans           *metrics.Vec
	unbans         *metrics.Vec
	active         *metrics.Vec
	queue          *metrics.Vec
	latency        *metrics.Vec
	syncs          *metrics.Vec
	firewallErrors *metrics.Vec
	restoreSeconds *metrics.Vec
	reasserts      *metrics.Vec
}

func newMeters() *meters {
	r := metrics.New()
	return &meters{
		reg:            r,
		lines:          r.Counter("rampart_guard_lines_total", "Log lines (journal entries) read, by source.", "source"),
		matched:        r.Counter("rampart_guard_matches_total", "Lines a jail's filter matched.", "jail"),
		failures:       r.Counter("rampart_guard_failures_total", "Failures counted (after the ignore list).", "jail"),
		bans:           r.Counter("rampart_guard_bans_total", "Bans decided (manual ones under their jail).", "jail"),
		unbans:         r.Counter("rampart_guard_unbans_total", "Manual unbans."),
		active:         r.Gauge("rampart_guard_active_bans", "Bans in force."),
		queue:          r.Gauge("rampart_guard_queue_depth", "Records read but not yet processed."),
		latency:        r.Histogram("rampart_guard_ban_latency_seconds", "From reading the deciding line to the ban being in the firewall.", []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 5}, "jail"),
		syncs:          r.Counter("rampart_guard_table_syncs_total", "Full table rebuilds (start, reconcile, recovery)."),
		firewallErrors: r.Counter("rampart_guard_firewall_errors_total", "Failed firewall transactions."),
		reasserts:      r.Counter("rampart_guard_table_reasserts_total", "Times the table was found flushed, deleted or edited and rebuilt."),
		restoreSeconds: r.Gauge("rampart_guard_restore_seconds", "Time to restore the stored bans into the firewall at start."),
	}
}

// updateMeters copies the loop's counters into the registry (called from
// the loop, so the engine's plain counters are read race-free).
func (d *Daemon) updateMeters() {
	m := d.m
	for src, n := range d.srcLines {
		m.lines.With(src).Set(float64(n))
	}
	for _, r := range d.eng.Routes {
		name := r.Jail.Name()
		m.matched.With(name).Set(float64(r.Stats.Matched))
		m.failures.With(name).Set(float64(r.Stats.Failures))
	}
	m.active.With().Set(float64(len(d.bans)))
	m.queue.With().Set(float64(len(d.recs)))
}
