package jail

import (
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/filter"
	"github.com/rampart-sec/rampart/internal/policy"
)

// Decision is one ban.
type Decision struct {
	// Prefix is what to ban: the address as /32 or /128, or its IPv6
	// prefix when the policy bans IPv6 by prefix.
	Prefix netip.Prefix
	Jail   string
	// At is the log time of the failure that triggered the ban.
	At time.Time
	// Until is At plus the (possibly increased) bantime.
	Until time.Time
	// Failures is the number of failures within findtime that led to it.
	Failures int
	// Count is 1 for a first ban, n for the nth ban of the same prefix.
	Count int
}

// Config are a jail's settings.
type Config struct {
	Name     string
	Maxretry int
	Findtime time.Duration
	Bantime  time.Duration
	// Ignore are never banned; loopback is always added.
	Ignore []netip.Prefix
	// IPv6Prefix is the IPv6 prefix length banned (and counted): 128 for
	// single addresses, 64 for a /64 (0 means 128).
	IPv6Prefix int
	// MaxTracked bounds the addresses with pending failures (0 = 100000).
	MaxTracked int
	// Increment: each further ban of the same prefix lasts Factor times the
	// previous one, capped at IncrementMax (0 = no cap).
	Increment    bool
	Factor       float64
	IncrementMax time.Duration
}

// FromPolicy builds the Config of jail j of policy p: j's thresholds over
// the [ban] ones, and p's effective ignore list (Policy.BanIgnore).
func FromPolicy(p *policy.Policy, j policy.Jail) (Config, error) {
	b := p.Ban
	c := Config{
		Name:         j.Name,
		Maxretry:     j.EffectiveMaxretry(b),
		Findtime:     j.EffectiveFindtime(b).D,
		Bantime:      j.EffectiveBantime(b).D,
		IPv6Prefix:   b.IPv6Prefix,
		MaxTracked:   b.MaxTracked,
		Increment:    b.Increment.Enabled,
		Factor:       b.Increment.Factor,
		IncrementMax: b.Increment.Max.D,
	}
	for _, s := range p.BanIgnore() {
		pfx, err := ParseIgnore(s)
		if err != nil {
			return c, fmt.Errorf("ban.ignore: %w", err)
		}
		c.Ignore = append(c.Ignore, pfx)
	}
	return c, nil
}

// ParseIgnore parses an ignore-list entry: an address or a CIDR. A CIDR
// with host bits set ("127.0.0.1/8") is accepted and masked.
func ParseIgnore(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q: expected an IP address or CIDR (e.g. 192.0.2.7 or 2001:db8::/32)", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

type key [16]byte

// slot is one tracked prefix: its recent failure times in a ring, on an
// LRU list through prev/next (slot indexes, -1 = none).
type slot struct {
	k          key
	prev, next int32
	n, head    int32 // failures stored, ring start
}

type ban struct {
	until int64 // unix nanoseconds
	count int32
}

// Jail counts failures and decides bans. It is not safe for concurrent use.
type Jail struct {
	cfg    Config
	ignore []netip.Prefix
	index  map[key]int32
	slots  []slot
	times  []int64 // len(slots)*Maxretry failure times
	lru    struct{ head, tail int32 }
	free   []int32
	bans   map[key]ban
	counts map[key]int32 // bans so far per prefix, for Increment
}

// New validates cfg and returns an empty jail.
func New(cfg Config) (*Jail, error) {
	switch {
	case cfg.Maxretry < 1:
		return nil, fmt.Errorf("jail %q: maxretry %d: expected at least 1", cfg.Name, cfg.Maxretry)
	case cfg.Maxretry > 1000:
		return nil, fmt.Errorf("jail %q: maxretry %d: expected at most 1000", cfg.Name, cfg.Maxretry)
	case cfg.Findtime <= 0:
		return nil, fmt.Errorf("jail %q: findtime %s: expected a positive duration", cfg.Name, cfg.Findtime)
	case cfg.Bantime <= 0:
		return nil, fmt.Errorf("jail %q: bantime %s: expected a positive duration", cfg.Name, cfg.Bantime)
	}
	if cfg.IPv6Prefix == 0 {
		cfg.IPv6Prefix = 128
	}
	if cfg.IPv6Prefix < 16 || cfg.IPv6Prefix > 128 {
		return nil, fmt.Errorf("jail %q: ipv6_prefix %d: expected 16..128", cfg.Name, cfg.IPv6Prefix)
	}
	if cfg.MaxTracked <= 0 {
		cfg.MaxTracked = 100000
	}
	if cfg.Increment && cfg.Factor < 1 {
		return nil, fmt.Errorf("jail %q: increment factor %g: expected at least 1", cfg.Name, cfg.Factor)
	}
	j := &Jail{
		cfg:    cfg,
		ignore: append(append([]netip.Prefix{}, loopback...), cfg.Ignore...),
		index:  make(map[key]int32),
		bans:   make(map[key]ban),
		counts: make(map[key]int32),
	}
	j.lru.head, j.lru.tail = -1, -1
	return j, nil
}

// Name returns the jail's name.
func (j *Jail) Name() string { return j.cfg.Name }

// Config returns the jail's settings.
func (j *Jail) Config() Config { return j.cfg }

// Ignored reports whether a is on the ignore list (or loopback).
func (j *Jail) Ignored(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range j.ignore {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// PrefixOf returns what a ban of a covers: a /32, a /128, or the IPv6 prefix.
func (j *Jail) PrefixOf(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := a.BitLen()
	if a.Is6() {
		bits = j.cfg.IPv6Prefix
	}
	p, _ := a.Prefix(bits)
	return p
}

// Observe records hit at log time at and returns a ban decision when this
// failure brings the prefix to maxretry failures within findtime. Non-
// failures, ignored addresses and addresses already banned until after at
// return nil.
func (j *Jail) Observe(h filter.Hit, at time.Time) *Decision {
	if !h.Failure || !h.Addr.IsValid() || j.Ignored(h.Addr) {
		return nil
	}
	p := j.PrefixOf(h.Addr)
	k := key(p.Addr().As16())
	now := at.UnixNano()
	if b, ok := j.bans[k]; ok {
		if b.until > now {
			return nil
		}
		delete(j.bans, k)
	}
	mr := int32(j.cfg.Maxretry)
	s := j.slotFor(k)
	sl := &j.slots[s]
	ring := j.times[int(s)*int(mr) : int(s+1)*int(mr)]
	// Append the failure; the ring keeps the last maxretry times.
	if sl.n < mr {
		ring[(sl.head+sl.n)%mr] = now
		sl.n++
	} else {
		ring[sl.head] = now
		sl.head = (sl.head + 1) % mr
	}
	// Count failures within findtime of this one (log lines may come
	// slightly out of order, so count rather than assume sorted times).
	from := now - int64(j.cfg.Findtime)
	n := 0
	for i := int32(0); i < sl.n; i++ {
		if t := ring[(sl.head+i)%mr]; t > from && t <= now {
			n++
		}
	}
	if n < j.cfg.Maxretry {
		return nil
	}
	j.release(s)
	count := j.counts[k] + 1
	if j.cfg.Increment {
		if len(j.counts) >= j.cfg.MaxTracked {
			for old := range j.counts { // bounded: drop an arbitrary record
				delete(j.counts, old)
				break
			}
		}
		j.counts[k] = count
	}
	d := j.banFor(int(count))
	j.bans[k] = ban{until: now + int64(d), count: count}
	return &Decision{Prefix: p, Jail: j.cfg.Name, At: at, Until: at.Add(d), Failures: n, Count: int(count)}
}

// Banned reports whether a's prefix is banned at time at, and until when.
func (j *Jail) Banned(a netip.Addr, at time.Time) (time.Time, bool) {
	k := key(j.PrefixOf(a).Addr().As16())
	b, ok := j.bans[k]
	if !ok || b.until <= at.UnixNano() {
		return time.Time{}, false
	}
	return time.Unix(0, b.until), true
}

// Forget drops every failure and ban record of a's prefix (an unban).
func (j *Jail) Forget(a netip.Addr) {
	k := key(j.PrefixOf(a).Addr().As16())
	delete(j.bans, k)
	if s, ok := j.index[k]; ok {
		j.release(s)
	}
}

// Expire drops ban records that ended before at; the daemon calls it now and
// then so the ban map holds only running bans.
func (j *Jail) Expire(at time.Time) {
	now := at.UnixNano()
	for k, b := range j.bans {
		if b.until <= now {
			delete(j.bans, k)
		}
	}
}

// Tracked returns how many prefixes have pending failures and how many
// bans are recorded.
func (j *Jail) Tracked() (pending, bans int) { return len(j.index), len(j.bans) }

// banFor returns the bantime of the nth ban.
func (j *Jail) banFor(n int) time.Duration {
	d := j.cfg.Bantime
	if !j.cfg.Increment || n <= 1 {
		return d
	}
	f := float64(d) * math.Pow(j.cfg.Factor, float64(n-1))
	if f > float64(math.MaxInt64/2) {
		f = float64(math.MaxInt64 / 2)
	}
	d = time.Duration(f)
	if j.cfg.IncrementMax > 0 && d > j.cfg.IncrementMax {
		d = j.cfg.IncrementMax
	}
	return d
}

// slotFor returns k's slot, moved to the LRU tail, allocating (and evicting
// the least recently used slot when full) as needed.
func (j *Jail) slotFor(k key) int32 {
	if s, ok := j.index[k]; ok {
		j.unlink(s)
		j.pushTail(s)
		return s
	}
	var s int32
	switch {
	case len(j.free) > 0:
		s = j.free[len(j.free)-1]
		j.free = j.free[:len(j.free)-1]
	case len(j.slots) < j.cfg.MaxTracked:
		s = int32(len(j.slots))
		j.slots = append(j.slots, slot{})
		j.times = append(j.times, make([]int64, j.cfg.Maxretry)...)
	default:
		s = j.lru.head
		j.unlink(s)
		delete(j.index, j.slots[s].k)
	}
	j.slots[s] = slot{k: k, prev: -1, next: -1}
	j.index[k] = s
	j.pushTail(s)
	return s
}

func (j *Jail) release(s int32) {
	j.unlink(s)
	delete(j.index, j.slots[s].k)
	j.slots[s].n = 0
	j.free = append(j.free, s)
}

func (j *Jail) unlink(s int32) {
	sl := &j.slots[s]
	if sl.prev >= 0 {
		j.slots[sl.prev].next = sl.next
	} else {
		j.lru.head = sl.next
	}
	if sl.next >= 0 {
		j.slots[sl.next].prev = sl.prev
	} else {
		j.lru.tail = sl.prev
	}
	sl.prev, sl.next = -1, -1
}

func (j *Jail) pushTail(s int32) {
	sl := &j.slots[s]
	sl.prev, sl.next = j.lru.tail, -1
	if j.lru.tail >= 0 {
		j.slots[j.lru.tail].next = s
	} else {
		j.lru.head = s
	}
	j.lru.tail = s
}
