package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-sec/rampart/internal/fleet"
	"github.com/rampart-sec/rampart/internal/guard/action"
	"github.com/rampart-sec/rampart/internal/guard/control"
	"github.com/rampart-sec/rampart/internal/guard/engine"
	"github.com/rampart-sec/rampart/internal/guard/jail"
	"github.com/rampart-sec/rampart/internal/guard/logline"
	"github.com/rampart-sec/rampart/internal/guard/nft"
	"github.com/rampart-sec/rampart/internal/guard/source"
	"github.com/rampart-sec/rampart/internal/guard/store"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/policy"
)

// ManualJail is the jail name of bans made with `rampart guard ban`
// without --jail.
const ManualJail = "manual"

// ErrStart marks errors of Run that happened before the daemon was up
// (restoring the table, opening the socket or the metrics port).
var ErrStart = errors.New("could not start")

// Options configure a Daemon. Policy, Backend and StateDir are required.
type Options struct {
	Policy  *policy.Policy
	Backend nft.Backend
	// StateDir holds the ban store and cursors.
	StateDir string
	// Socket is the control socket path ("" = none).
	Socket string
	// SocketGID is the group whose members may use the socket besides root
	// (0 = root only).
	SocketGID int
	// Metrics is the listen address of the Prometheus endpoint ("" = none).
	Metrics string
	// Jails limits the daemon to these jails (all enabled ones if empty).
	Jails []string
	// Sources replaces the sources built from the policy (tests).
	Sources []source.Source
	// JournalFiles makes journal sources read these journal files instead
	// of the live journal (they stop at the files' end).
	JournalFiles []string
	// Host runs journalctl for journal sources (host.Local when nil).
	Host host.Streamer
	// Stdin feeds jails whose source is "stdin".
	Stdin io.Reader
	// FromStart makes file sources without a saved position read existing
	// files from the beginning instead of the end.
	FromStart bool
	// Poll is the file sources' poll interval (250ms when 0).
	Poll time.Duration
	// Tick is the longest a decided ban waits for its batch (50ms when 0).
	Tick time.Duration
	// Reconcile is how often the table is checked and re-asserted (30s
	// when 0).
	Reconcile time.Duration
	// Year is the year of syslog timestamps without one (the current year
	// when 0).
	Year int
	// Clock is the time (time.Now when nil).
	Clock func() time.Time
	Log   *slog.Logger
	// Actions configures how [[ban.actions]] run (host, HTTP client,
	// retry delay).
	Actions action.Options
	// Ready, when set, is closed once bans are restored and every
	// listener is up.
	Ready chan<- struct{}
}

// Daemon is a running guard.
type Daemon struct {
	o       Options
	log     *slog.Logger
	eng     *engine.Engine
	store   *store.Store
	sources []source.Source
	ignore  []netip.Prefix
	started time.Time

	// Owned by the loop goroutine.
	bans       map[netip.Prefix]banRec // see bans.go
	pk         packer
	wide       map[netip.Prefix]bool      // bans wider than one address
	pendingAdd map[netip.Prefix]time.Time // prefix -> when its line was read
	pendingDel map[netip.Prefix]bool
	cursors    map[string]source.Cursor
	dirty      bool // state to save
	lastSave   time.Time
	lastFlush  time.Time
	lines      int64
	parsers    map[string]*logline.Parser
	srcLines   map[string]int64

	mu     sync.Mutex // guards srcErr
	srcErr map[string]string

	metricsAddr string // set before Ready

	acts *action.Dispatcher

	reqs chan func()
	kick chan string // an outside change to the table (nft.Watcher)
	recs chan source.Record
	m    *meters

	// The table check runs beside the loop (with 100,000 elements the
	// kernel's dump takes seconds): checking while one runs, with the
	// prefixes the loop changed meanwhile (rebuilt: the whole table),
	// which its result cannot judge; recheck is a kick that came during
	// it; nextCheck is the earliest next periodic one.
	checking  bool
	changed   map[netip.Prefix]bool
	rebuilt   bool
	recheck   string
	nextCheck time.Time
	checked   chan checkResult

	link *fleet.Link // nil without [fleet]
	// fleetOnly: every pending change came from the fleet stream, which
	// replays them after a crash, so the commit need not wait for the
	// store (saved at most once a second by the tick instead).
	fleetOnly bool
	// fleetBehind: the last stream message had others after it (a
	// catch-up is streaming in).
	fleetBehind bool
	// catchingUp mirrors fleetBehind for other goroutines (KeepHeapNear).
	catchingUp atomic.Bool
	// fleetLogged counts the fleet bans of the current batch for its log
	// line; fleetLast is its last one.
	fleetLogged int
	fleetLast   store.Ban
}

// New checks the options and builds the engine and the sources.
func New(o Options) (*Daemon, error) {
	if o.Policy == nil || o.Backend == nil || o.StateDir == "" {
		return nil, errors.New("guard daemon: policy, backend and state directory are required")
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Tick <= 0 {
		o.Tick = 50 * time.Millisecond
	}
	if o.Reconcile <= 0 {
		o.Reconcile = 30 * time.Second
	}
	if o.Host == nil {
		o.Host = &host.Local{}
	}
	eng, err := engine.New(o.Policy, engine.Options{Now: o.Clock, Jails: o.Jails})
	if err != nil {
		return nil, fmt.Errorf("guard daemon: %w", err)
	}
	if len(eng.Routes) == 0 {
		return nil, errors.New("guard daemon: no enabled jail in the policy")
	}
	st, err := store.Open(o.StateDir)
	if err != nil {
		return nil, fmt.Errorf("guard daemon: %w", err)
	}
	d := &Daemon{
		o: o, log: o.Log, eng: eng, store: st,
		bans: map[netip.Prefix]banRec{}, wide: map[netip.Prefix]bool{},
		pendingAdd: map[netip.Prefix]time.Time{}, pendingDel: map[netip.Prefix]bool{},
		cursors: map[string]source.Cursor{}, parsers: map[string]*logline.Parser{}, srcLines: map[string]int64{},
		srcErr: map[string]string{},
		reqs:   make(chan func()), kick: make(chan string, 1), recs: make(chan source.Record, 8192), checked: make(chan checkResult, 1),
		m: newMeters(),
	}
	for _, s := range o.Policy.BanIgnore() {
		p, err := jail.ParseIgnore(s)
		if err != nil {
			return nil, fmt.Errorf("guard daemon: ban.ignore: %w", err)
		}
		d.ignore = append(d.ignore, p)
	}
	d.ignore = append(d.ignore, netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
	if o.Actions.Log == nil {
		o.Actions.Log = o.Log.With("component", "actions")
	}
	d.acts = action.New(o.Policy.Ban.Actions, o.Actions.Log)
	d.o.Actions = o.Actions
	if o.Policy.Fleet.Enabled {
		if d.link, err = fleet.New(fleet.Config{Policy: o.Policy, StateDir: o.StateDir, Log: d.log.With("component", "fleet"), Metrics: d.m.reg, Clock: o.Clock}); err != nil {
			return nil, fmt.Errorf("guard daemon: %w", err)
		}
	}
	d.sources = o.Sources
	if d.sources == nil {
		if d.sources, err = d.buildSources(); err != nil {
			return nil, fmt.Errorf("guard daemon: %w", err)
		}
	}
	return d, nil
}

// buildSources makes the sources of the enabled jails through the source
// registry (source.Build).
func (d *Daemon) buildSources() ([]source.Source, error) {
	var cs []source.Config
	for _, r := range d.eng.Routes {
		pj, _ := d.o.Policy.Ban.Jail(r.Jail.Name())
		cs = append(cs, pj.SourceConfig())
	}
	return source.Build(cs, source.Env{Host: d.o.Host, JournalFiles: d.o.JournalFiles, Stdin: d.o.Stdin, Poll: d.o.Poll, FromStart: d.o.FromStart, Log: d.log})
}

func (d *Daemon) now() time.Time { return d.o.Clock() }

// MetricsAddr is the metrics endpoint's listen address once Ready is
// closed ("" without one); useful with a ":0" port.
func (d *Daemon) MetricsAddr() string { return d.metricsAddr }

// Run restores the bans, starts sources and listeners, and processes
// until ctx is cancelled (SIGTERM). It returns after a final commit.
func (d *Daemon) Run(ctx context.Context) error {
	d.started = d.now()
	lk, err := d.store.TryLock()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStart, err)
	}
	defer lk.Unlock()
	if err := d.restore(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrStart, err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	lctx, stopListeners := context.WithCancel(context.Background())
	defer stopListeners()
	if d.o.Socket != "" {
		srv, err := control.ListenGroup(d.o.Socket, d.o.SocketGID, d, d.log.With("component", "control"))
		if err != nil {
			return fmt.Errorf("%w: %w", ErrStart, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(lctx); err != nil {
				d.log.Error("control socket", "err", err)
			}
		}()
	}
	if d.o.Metrics != "" {
		ln, err := net.Listen("tcp", d.o.Metrics)
		if err != nil {
			return fmt.Errorf("%w: metrics endpoint: %w", ErrStart, err)
		}
		hs := &http.Server{Handler: d.m.reg.Handler(), ReadHeaderTimeout: 5 * time.Second}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = hs.Serve(ln)
		}()
		go func() {
			<-lctx.Done()
			_ = hs.Close()
		}()
		d.metricsAddr = ln.Addr().String()
		d.log.Info("metrics endpoint", "addr", d.metricsAddr)
	}
	if d.acts != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.acts.Run(lctx, d.o.Actions)
		}()
	}
	if w, ok := d.o.Backend.(nft.Watcher); ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.watch(lctx, w)
		}()
	}
	sctx, stopSources := context.WithCancel(ctx)
	defer stopSources()
	for _, s := range d.sources {
		wg.Add(1)
		cur := d.cursors[s.Key()] // read here: the loop writes the map
		go func() {
			defer wg.Done()
			d.log.Info("source started", "source", s.Key(), "cursor", cur.String())
			if err := s.Run(sctx, cur, d.recs); err != nil {
				d.log.Error("source stopped", "source", s.Key(), "err", err)
				d.mu.Lock()
				d.srcErr[s.Key()] = err.Error()
				d.mu.Unlock()
			}
		}()
	}
	d.startFleet(sctx, &wg)
	if d.o.Ready != nil {
		close(d.o.Ready)
	}
	err = d.loop(ctx)
	stopSources()
	stopListeners()
	return err
}

// restore loads the store, adopts rampart elements still in the kernel,
// and rebuilds the table with every active ban in one transaction.
func (d *Daemon) restore(ctx context.Context) error {
	now := d.now()
	// The kernel's elements are read while the store loads: the two are
	// independent, and each takes a few hundred milliseconds with some
	// 10,000 bans on a small machine.
	type checked struct {
		els  []nft.Element
		err  error
		took time.Duration
	}
	kernel := make(chan checked, 1)
	go func() {
		t0 := time.Now()
		els, err := d.o.Backend.Check(ctx)
		kernel <- checked{els, err, time.Since(t0)}
	}()
	tl := time.Now()
	st, err := d.store.Load(now)
	loadTook := time.Since(tl)
	if err != nil {
		to, qerr := d.store.Quarantine(now)
		d.log.Error("ban store unreadable; starting empty", "err", err, "moved_to", to, "move_err", qerr)
		st = store.State{}
	}
	for k, c := range st.Cursors {
		d.cursors[k] = c
	}
	for i := range st.Bans {
		b := st.Bans[i]
		d.put(&b, time.Time{})
	}
	adopted := 0
	k := <-kernel
	if k.err == nil {
		for _, e := range k.els {
			if _, ok := d.container(e.Prefix); ok || e.Expires <= 0 {
				continue
			}
			j, origin := splitComment(e.Comment)
			if control.ValidJailName(j) != nil {
				j = "restored"
			}
			if d.put(&store.Ban{Prefix: e.Prefix, Jail: j, Origin: origin, At: now, Until: now.Add(e.Expires)}, time.Time{}) {
				adopted++
			}
		}
	}
	t0 := time.Now()
	if err := d.sync(ctx); err != nil {
		return err
	}
	d.log.Info("bans restored", "bans", len(d.bans), "adopted_from_kernel", adopted, "backend", d.o.Backend.Name(), "took", time.Since(t0).String(),
		"store_load", loadTook.String(), "kernel_read", k.took.String())
	d.m.restoreSeconds.With().Set(time.Since(t0).Seconds())
	d.dirty = true
	d.save()
	return nil
}

// put records b and queues it for the firewall; readAt is when the line
// that caused it was read (zero for bans not caused by a line). Bans never
// overlap, because the kernel refuses overlapping intervals: a ban inside
// an existing one (or the same prefix) only extends that one when it
// lasts longer, and a wider ban replaces the narrower ones it covers. put
// reports whether anything changed.
func (d *Daemon) put(b *store.Ban, readAt time.Time) bool {
	if w, ok := d.container(b.Prefix); ok {
		old := d.bans[w]
		if !old.until().Before(b.Until) {
			return false
		}
		nb := d.pk.pack(b)
		if w != b.Prefix {
			nb = old
			nb.untilSec, nb.untilNsec, nb.untilZone = b.Until.Unix(), uint32(b.Until.Nanosecond()), d.pk.zone(b.Until)
		}
		nb.inKernel = old.inKernel // until the commit replaces it
		if old.inKernel {
			d.pendingDel[w] = true // re-added with the longer timeout
		}
		d.bans[w] = nb
		d.pendingAdd[w] = readAt
		d.dirty = true
		return true
	}
	if b.Prefix.Bits() < b.Prefix.Addr().BitLen() {
		for p := range d.bans {
			if b.Prefix.Bits() < p.Bits() && b.Prefix.Contains(p.Addr()) {
				d.drop(p)
			}
		}
		d.wide[b.Prefix] = true
	}
	d.bans[b.Prefix] = d.pk.pack(b)
	d.pendingAdd[b.Prefix] = readAt
	d.dirty = true
	return true
}

// container returns the ban equal to p or wider and containing it.
func (d *Daemon) container(p netip.Prefix) (netip.Prefix, bool) {
	if _, ok := d.bans[p]; ok {
		return p, true
	}
	for w := range d.wide {
		if w.Bits() <= p.Bits() && w.Contains(p.Addr()) {
			return w, true
		}
	}
	return netip.Prefix{}, false
}

// drop forgets ban p, queueing its removal from the kernel.
func (d *Daemon) drop(p netip.Prefix) {
	if d.bans[p].inKernel {
		d.pendingDel[p] = true
	}
	delete(d.bans, p)
	delete(d.wide, p)
	delete(d.pendingAdd, p)
	d.dirty = true
}

// ban is the ban of prefix p (which must be banned).
func (d *Daemon) ban(p netip.Prefix) store.Ban {
	r := d.bans[p]
	return d.pk.unpack(p, &r)
}

func (d *Daemon) active(now time.Time) []nft.Ban {
	out := make([]nft.Ban, 0, len(d.bans))
	for p, r := range d.bans {
		if r.until().After(now) {
			out = append(out, nftBan(p, r.jail(), r.origin(), r.until()))
		}
	}
	return out
}

// sync rebuilds the table with every active ban.
func (d *Daemon) sync(ctx context.Context) error {
	now := d.now()
	bans := d.active(now)
	if err := d.o.Backend.Sync(ctx, bans, now); err != nil {
		d.m.firewallErrors.With().Inc()
		return fmt.Errorf("guard: %w", err)
	}
	for p, r := range d.bans {
		r.inKernel = false
		d.bans[p] = r
	}
	for _, b := range bans {
		r := d.bans[b.Prefix]
		r.inKernel = true
		d.bans[b.Prefix] = r
	}
	d.rebuilt = true
	d.observeLatency(now)
	d.clearPending()
	d.m.syncs.With().Inc()
	return nil
}

func (d *Daemon) loop(ctx context.Context) error {
	tick := time.NewTicker(d.o.Tick)
	defer tick.Stop()
	rec := time.NewTicker(d.o.Reconcile)
	defer rec.Stop()
	exp := time.NewTicker(time.Second)
	defer exp.Stop()
	for {
		select {
		case <-ctx.Done():
			d.flush(context.Background())
			d.dirty = true
			d.save()
			d.log.Info("stopped; bans stay in the firewall", "bans", len(d.bans))
			return nil
		case r := <-d.recs:
			d.handle(r)
			// Take what is already queued, then commit when the queue ran
			// dry or a tick has passed since the last commit.
			for n := 0; n < 4096 && len(d.recs) > 0; n++ {
				d.handle(<-d.recs)
			}
			if len(d.recs) == 0 || time.Since(d.lastFlush) >= d.o.Tick {
				d.flush(ctx)
			}
		case in := <-d.fleetIn():
			d.remote(in)
			for n := 1; n < fleetBatch && len(d.fleetIn()) > 0; n++ {
				in = <-d.fleetIn()
				d.remote(in)
			}
			// Caught up with the stream (nothing queued here, nothing
			// after the last message on the server): commit now, a peer's
			// ban is waiting. While history streams in, at most one
			// commit per tick; the ticker commits the rest.
			d.fleetBehind = in.Pending > 0
			d.catchingUp.Store(d.fleetBehind)
			if len(d.fleetIn()) == 0 && in.Pending == 0 || time.Since(d.lastFlush) >= d.o.Tick {
				d.flush(ctx)
			}
			d.logFleet()
		case f := <-d.reqs:
			f()
		case <-tick.C:
			d.flush(ctx)
			every := time.Second
			if d.fleetBehind {
				every = fleetSaveEvery
			}
			if d.dirty && time.Since(d.lastSave) >= every {
				d.save() // cursors and fleet bans
			}
			d.updateMeters()
		case <-rec.C:
			d.reconcile(ctx, "")
		case why := <-d.kick:
			d.reconcile(ctx, why)
		case r := <-d.checked:
			d.reconciled(ctx, r)
		case <-exp.C:
			d.expire()
		}
	}
}

// handle runs one record through the engine.
func (d *Daemon) handle(r source.Record) {
	readAt := time.Now()
	d.lines++
	d.srcLines[r.Source]++
	if !r.Cursor.IsZero() {
		d.cursors[r.Source] = r.Cursor
		d.dirty = true
	}
	var l logline.Line
	if r.Source == engine.SourceJournal {
		l = logline.Line{Time: r.Time, Text: r.Text, Ident: r.Ident, PID: r.PID, Source: r.Source}
	} else {
		p := d.parsers[r.Source]
		if p == nil {
			p = &logline.Parser{Year: d.o.Year, Source: r.Source}
			d.parsers[r.Source] = p
		}
		l = p.Parse(r.Text)
	}
	now := d.now()
	for _, dec := range d.eng.Process(&l) {
		if !dec.Until.After(now) {
			d.log.Debug("ban already over by log time; skipped", "prefix", dec.Prefix.String(), "jail", dec.Jail)
			continue
		}
		if !d.put(&store.Ban{Prefix: dec.Prefix, Jail: dec.Jail, At: dec.At, Until: dec.Until, Failures: dec.Failures, Count: dec.Count}, readAt) {
			continue
		}
		d.fleetOnly = false
		d.log.Info("ban", "prefix", dec.Prefix.String(), "jail", dec.Jail, "failures", dec.Failures, "until", dec.Until.UTC().Format(time.RFC3339), "count", dec.Count)
		d.m.bans.With(dec.Jail).Inc()
		d.acts.Send(action.Event{Action: "ban", Prefix: dec.Prefix, Jail: dec.Jail, Until: dec.Until, Failures: dec.Failures, Bantime: dec.Until.Sub(dec.At)})
		d.shareBan(dec.Prefix, dec.Jail, dec.At, dec.Until, dec.Failures, "")
	}
}

// flush commits pending changes: store first, then one transaction.
func (d *Daemon) flush(ctx context.Context) {
	d.lastFlush = time.Now()
	if len(d.pendingAdd) == 0 && len(d.pendingDel) == 0 {
		return
	}
	if !d.fleetOnly {
		d.save()
	}
	d.fleetOnly = false
	now := d.now()
	var add []nft.Ban
	for p := range d.pendingAdd {
		if r, ok := d.bans[p]; ok && r.until().After(now) {
			add = append(add, nftBan(p, r.jail(), r.origin(), r.until()))
		}
	}
	// Only elements in the kernel are queued for removal (put, drop).
	var del []netip.Prefix
	for p := range d.pendingDel {
		del = append(del, p)
	}
	if err := d.o.Backend.Apply(ctx, add, del, now); err != nil {
		d.m.firewallErrors.With().Inc()
		d.log.Warn("firewall update failed; rebuilding the table", "err", err)
		if err := d.sync(ctx); err != nil {
			d.log.Error("firewall rebuild failed; will retry at the next reconcile", "err", err)
		}
		return
	}
	for _, p := range del {
		if r, ok := d.bans[p]; ok {
			r.inKernel = false
			d.bans[p] = r
		}
		if d.changed != nil {
			d.changed[p] = true
		}
	}
	for _, b := range add {
		r := d.bans[b.Prefix]
		r.inKernel = true
		d.bans[b.Prefix] = r
		if d.changed != nil {
			d.changed[b.Prefix] = true
		}
	}
	d.observeLatency(now)
	d.clearPending()
}

// clearPending empties the pending changes; maps that grew large (a
// restore or catch-up of 100,000) are dropped, as a cleared map keeps
// its size.
func (d *Daemon) clearPending() {
	if len(d.pendingAdd) > fleetBatch {
		d.pendingAdd = map[netip.Prefix]time.Time{}
	}
	if len(d.pendingDel) > fleetBatch {
		d.pendingDel = map[netip.Prefix]bool{}
	}
	clear(d.pendingAdd)
	clear(d.pendingDel)
}

func (d *Daemon) observeLatency(time.Time) {
	t := time.Now()
	for p, readAt := range d.pendingAdd {
		if r, ok := d.bans[p]; ok && !readAt.IsZero() {
			d.m.latency.With(r.jail()).Observe(t.Sub(readAt).Seconds())
		}
	}
}

// save writes the store when something changed.
func (d *Daemon) save() {
	if !d.dirty {
		return
	}
	// The bans are written as they are unpacked, in prefix order (a
	// slice of 100,000 store.Bans would be 13 MB).
	ps := make([]netip.Prefix, 0, len(d.bans))
	for p := range d.bans {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, nft.ComparePrefix)
	bans := func(yield func(store.Ban) bool) {
		for _, p := range ps {
			if !yield(d.ban(p)) {
				return
			}
		}
	}
	if err := d.store.SaveSeq(bans, d.cursors); err != nil {
		d.log.Error("saving the ban store failed", "err", err)
		return
	}
	d.dirty = false
	d.lastSave = time.Now()
}

// watch follows outside changes to the table (nft flush ruleset, a
// deleted table) and kicks the loop into a reconcile at once. When the
// event socket fails, events may have been lost: it kicks anyway and
// watches again.
func (d *Daemon) watch(ctx context.Context, w nft.Watcher) {
	kick := func(why string) {
		select {
		case d.kick <- why:
		default: // a reconcile is already due
		}
	}
	for {
		err := w.Watch(ctx, kick)
		if ctx.Err() != nil {
			return
		}
		d.log.Warn("nftables events lost; re-checking the table", "err", err)
		kick("nftables event socket failed")
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// checkResult is a table check done beside the loop.
type checkResult struct {
	els     []nft.Element
	err     error
	trigger string
	took    time.Duration
}

// checkShare bounds the periodic checks' share of the time: the next
// one waits at least checkShare times as long as the last one took.
const checkShare = 20

// reconcile starts a check of the table (re-asserted when it was
// flushed, deleted or edited); trigger is the outside change that
// prompted it ("" for the periodic check). The check reads the kernel
// beside the loop, which keeps banning meanwhile; reconciled judges it.
func (d *Daemon) reconcile(ctx context.Context, trigger string) {
	if d.checking {
		if trigger != "" {
			d.recheck = trigger // after this one, for what it may have missed
		}
		return
	}
	if trigger == "" && (time.Now().Before(d.nextCheck) || d.fleetBehind) {
		// Not due, or the fleet's history is streaming in: a check
		// now would read a table that grows by thousands of elements
		// while it is read (and compete with the catch-up for the
		// CPU); the periodic check resumes once the link caught up.
		// Outside changes still kick a check at once.
		return
	}
	d.checking, d.changed, d.rebuilt = true, map[netip.Prefix]bool{}, false
	go func() {
		t0 := time.Now()
		els, err := d.o.Backend.Check(ctx)
		d.checked <- checkResult{els: els, err: err, trigger: trigger, took: time.Since(t0)}
	}()
}

// reconciled compares a finished check with the bans, leaving out what
// the loop changed while it ran.
func (d *Daemon) reconciled(ctx context.Context, r checkResult) {
	changed, rebuilt := d.changed, d.rebuilt
	d.checking, d.changed = false, nil
	d.nextCheck = time.Now().Add(checkShare * r.took)
	defer func() {
		if t := d.recheck; t != "" {
			d.recheck = ""
			d.reconcile(ctx, t)
		}
	}()
	if rebuilt {
		return // the table was rebuilt meanwhile: nothing left to judge
	}
	reason := ""
	switch {
	case errors.Is(r.err, nft.ErrIncomplete):
		reason = r.err.Error()
	case r.err != nil:
		d.log.Warn("reconcile: cannot read the table", "err", r.err)
		return
	default:
		now := d.now()
		have := make(map[netip.Prefix]bool, len(r.els))
		for _, e := range r.els {
			have[e.Prefix] = true
			// An element about to time out may outlive its ban by the
			// timeout's rounding (MinTimeout, whole milliseconds).
			if _, ok := d.bans[e.Prefix]; !ok && e.Expires > 2*time.Second && !changed[e.Prefix] {
				reason = fmt.Sprintf("unexpected element %v", e.Prefix)
			}
		}
		for p, r := range d.bans {
			// Elements about to time out may already be gone.
			if !have[p] && r.until().After(now.Add(2*time.Second)) && r.inKernel && !changed[p] {
				reason = fmt.Sprintf("missing element %v", p)
			}
		}
	}
	if reason == "" {
		return
	}
	d.log.Warn("firewall table out of step; re-asserting it", "reason", reason, "trigger", r.trigger, "bans", len(d.bans))
	d.m.reasserts.With().Inc()
	if err := d.sync(ctx); err != nil {
		d.log.Error("reconcile failed", "err", err)
	}
}

// expire forgets bans that ended (the kernel drops its elements itself).
func (d *Daemon) expire() {
	now := d.now()
	n := 0
	for p, r := range d.bans {
		if !r.until().After(now) {
			n++
			d.log.Info("ban expired", "prefix", p.String(), "jail", r.jail())
			d.acts.Send(action.Event{Action: "unban", Prefix: p, Jail: r.jail(), Until: d.pk.unpack(p, &r).Until, Reason: "expired"})
			delete(d.bans, p)
			delete(d.wide, p)
			delete(d.pendingDel, p)
			d.dirty = true
		}
	}
	for _, r := range d.eng.Routes {
		r.Jail.Expire(now)
	}
	if n > 0 {
		d.save()
	}
}

// do runs f on the loop goroutine and waits for it.
func (d *Daemon) do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case d.reqs <- func() { f(); close(done) }:
	case <-ctx.Done():
		return fmt.Errorf("guard daemon busy: %w", ctx.Err())
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("guard daemon busy: %w", ctx.Err())
	}
}

// sortedBans returns the bans (of one jail if named) by prefix.
func (d *Daemon) sortedBans(jailName string) []control.BanInfo {
	var bs []store.Ban
	for p, r := range d.bans {
		if jailName == "" || r.jail() == jailName {
			bs = append(bs, d.pk.unpack(p, &r))
		}
	}
	store.SortBans(bs)
	out := make([]control.BanInfo, 0, len(bs))
	for _, b := range bs {
		out = append(out, info(b))
	}
	return out
}

func info(b store.Ban) control.BanInfo {
	return control.BanInfo{Prefix: b.Prefix.String(), Jail: b.Jail, At: b.At, Until: b.Until, Failures: b.Failures, Count: b.Count, Origin: b.Origin}
}

func (d *Daemon) jailNames() []string {
	var out []string
	for _, r := range d.eng.Routes {
		out = append(out, r.Jail.Name())
	}
	return out
}

func (d *Daemon) route(name string) *engine.Route {
	for _, r := range d.eng.Routes {
		if r.Jail.Name() == name {
			return r
		}
	}
	return nil
}

// Status implements control.Handler.
func (d *Daemon) Status(ctx context.Context, jailName string) (*control.Status, error) {
	var st *control.Status
	var err error
	derr := d.do(ctx, func() {
		if jailName != "" && d.route(jailName) == nil {
			err = fmt.Errorf("no jail %q (running jails: %v)", jailName, d.jailNames())
			return
		}
		st = &control.Status{Backend: d.o.Backend.Name(), Table: d.o.Policy.Ban.Table, Started: d.started, Lines: d.lines, ActiveBans: len(d.bans), Fleet: d.fleetStatus()}
		d.mu.Lock()
		for _, s := range d.sources {
			st.Sources = append(st.Sources, control.SourceStatus{Key: s.Key(), Lines: d.srcLines[s.Key()], Error: d.srcErr[s.Key()]})
		}
		d.mu.Unlock()
		for _, r := range d.eng.Routes {
			name := r.Jail.Name()
			if jailName != "" && name != jailName {
				continue
			}
			pending, _ := r.Jail.Tracked()
			js := control.JailStatus{Name: name, Filter: r.Filter.Name(), Sources: r.Sources, Lines: r.Stats.Lines, Matched: r.Stats.Matched,
				CurrentlyFailed: pending, TotalFailed: r.Stats.Failures, TotalBanned: r.Stats.Bans}
			for p, r := range d.bans {
				if r.jail() == name {
					js.CurrentlyBanned++
					if jailName != "" {
						js.Banned = append(js.Banned, p.String())
					}
				}
			}
			sort.Strings(js.Banned)
			st.Jails = append(st.Jails, js)
		}
	})
	if derr != nil {
		return nil, derr
	}
	return st, err
}

// List implements control.Handler.
func (d *Daemon) List(ctx context.Context, jailName string) ([]control.BanInfo, error) {
	var out []control.BanInfo
	err := d.do(ctx, func() { out = d.sortedBans(jailName) })
	return out, err
}

// Ban implements control.Handler: a manual ban, committed at once.
func (d *Daemon) Ban(ctx context.Context, p netip.Prefix, jailName string, dur time.Duration) (control.BanInfo, error) {
	if err := nft.ValidPrefix(p); err != nil {
		return control.BanInfo{}, err
	}
	for _, ig := range d.ignore {
		if ig.Overlaps(p) {
			return control.BanInfo{}, fmt.Errorf("%v is in the ignore list (%v); remove it from ban.ignore first (with ssh.tailnet_only, tailnet.addresses are ignored too)", p, ig)
		}
	}
	if jailName == "" {
		jailName = ManualJail
	}
	if dur <= 0 {
		dur = d.o.Policy.Ban.Bantime.D
		if pj, ok := d.o.Policy.Ban.Jail(jailName); ok {
			dur = pj.EffectiveBantime(d.o.Policy.Ban).D
		}
	}
	var out control.BanInfo
	var ferr error
	err := d.do(ctx, func() {
		now := d.now()
		b := &store.Ban{Prefix: p, Jail: jailName, At: now, Until: now.Add(dur)}
		d.fleetOnly = false
		if d.put(b, time.Time{}) {
			d.log.Info("manual ban", "prefix", p.String(), "jail", jailName, "until", b.Until.UTC().Format(time.RFC3339))
			d.m.bans.With(jailName).Inc()
			d.acts.Send(action.Event{Action: "ban", Prefix: p, Jail: jailName, Until: b.Until, Bantime: dur})
			d.shareBan(p, jailName, b.At, b.Until, 0, "manual ban")
			d.flush(ctx)
		}
		w, _ := d.container(p)
		out = info(d.ban(w))
		if !d.bans[w].inKernel {
			ferr = fmt.Errorf("ban of %v stored but not in the firewall yet (see the daemon log)", p)
		}
	})
	if err != nil {
		return out, err
	}
	return out, ferr
}

// Unban implements control.Handler: removes every ban covering p or
// inside p, and forgets the jails' failure records for it.
func (d *Daemon) Unban(ctx context.Context, p netip.Prefix) (control.BanInfo, error) {
	var out control.BanInfo
	var ferr error
	err := d.do(ctx, func() {
		var hit []netip.Prefix
		for q := range d.bans {
			if q.Overlaps(p) {
				hit = append(hit, q)
			}
		}
		if len(hit) == 0 {
			ferr = fmt.Errorf("%v is not banned", p)
			return
		}
		d.fleetOnly = false
		sort.Slice(hit, func(i, j int) bool { return hit[i].Bits() < hit[j].Bits() })
		out = info(d.ban(hit[0]))
		for _, q := range hit {
			r := d.bans[q]
			d.log.Info("unban", "prefix", q.String(), "jail", r.jail(), "origin", r.origin())
			d.acts.Send(action.Event{Action: "unban", Prefix: q, Jail: r.jail(), Until: d.now(), Reason: "manual"})
			if r.origin() == "" {
				d.shareUnban(q)
			}
			d.drop(q)
			for _, r := range d.eng.Routes {
				r.Jail.Forget(q.Addr())
			}
		}
		d.m.unbans.With().Add(float64(len(hit)))
		d.flush(ctx)
	})
	if err != nil {
		return out, err
	}
	return out, ferr
}

var _ control.Handler = (*Daemon)(nil)

// Flush implements control.Handler: lifts every ban of jailName (of every
// jail when empty) at once.
func (d *Daemon) Flush(ctx context.Context, jailName string) ([]control.BanInfo, error) {
	var out []control.BanInfo
	err := d.do(ctx, func() {
		var hit []store.Ban
		for p, r := range d.bans {
			if jailName == "" || r.jail() == jailName {
				hit = append(hit, d.pk.unpack(p, &r))
				d.acts.Send(action.Event{Action: "unban", Prefix: p, Jail: r.jail(), Until: d.now(), Reason: "flush"})
				d.drop(p)
				for _, r := range d.eng.Routes {
					r.Jail.Forget(p.Addr())
				}
			}
		}
		if len(hit) == 0 {
			return
		}
		store.SortBans(hit)
		for _, b := range hit {
			out = append(out, info(b))
		}
		d.log.Info("flush", "jail", jailName, "bans", len(hit))
		d.m.unbans.With().Add(float64(len(hit)))
		d.flush(ctx)
	})
	return out, err
}
