package jail

import (
	"net/netip"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/filter"
	"github.com/rampart-sec/rampart/internal/policy"
)

var t0 = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

func fail(a string) filter.Hit { return filter.Hit{Addr: netip.MustParseAddr(a), Failure: true} }

func newJail(t *testing.T, c Config) *Jail {
	t.Helper()
	if c.Name == "" {
		c.Name = "sshd"
	}
	if c.Maxretry == 0 {
		c.Maxretry = 3
	}
	if c.Findtime == 0 {
		c.Findtime = 10 * time.Minute
	}
	if c.Bantime == 0 {
		c.Bantime = time.Hour
	}
	j, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// step is one observed failure, at an offset from t0, and whether it bans.
type step struct {
	addr string
	at   time.Duration
	ban  bool
}

func TestWindows(t *testing.T) {
	cases := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"maxretry within findtime bans", Config{}, []step{
			{"203.0.113.1", 0, false}, {"203.0.113.1", time.Minute, false}, {"203.0.113.1", 2 * time.Minute, true},
		}},
		{"spread beyond findtime never bans", Config{}, []step{
			{"203.0.113.1", 0, false}, {"203.0.113.1", 6 * time.Minute, false}, {"203.0.113.1", 12 * time.Minute, false}, {"203.0.113.1", 18 * time.Minute, false},
		}},
		{"the window slides", Config{}, []step{
			{"203.0.113.1", 0, false}, {"203.0.113.1", 5 * time.Minute, false}, {"203.0.113.1", 11 * time.Minute, false}, {"203.0.113.1", 12 * time.Minute, true},
		}},
		{"addresses are counted apart", Config{}, []step{
			{"203.0.113.1", 0, false}, {"203.0.113.2", 0, false}, {"203.0.113.1", 1, false}, {"203.0.113.2", 1, false}, {"203.0.113.2", 2, true},
		}},
		{"banned address is not banned again before expiry", Config{}, []step{
			{"203.0.113.1", 0, false}, {"203.0.113.1", 1, false}, {"203.0.113.1", 2, true},
			{"203.0.113.1", 3, false}, {"203.0.113.1", 4, false}, {"203.0.113.1", 5, false}, {"203.0.113.1", 30 * time.Minute, false},
		}},
		{"after expiry a new window starts", Config{}, []step{
			{"203.0.113.1", 0, false}, {"203.0.113.1", 1, false}, {"203.0.113.1", 2, true},
			{"203.0.113.1", 61 * time.Minute, false}, {"203.0.113.1", 62 * time.Minute, false}, {"203.0.113.1", 63 * time.Minute, true},
		}},
		{"loopback is always ignored", Config{Maxretry: 1}, []step{
			{"127.0.0.1", 0, false}, {"127.9.9.9", 0, false}, {"::1", 0, false}, {"::ffff:127.0.0.1", 0, false},
		}},
		{"ignore list by address and CIDR", Config{Maxretry: 1, Ignore: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::7/128")}}, []step{
			{"192.0.2.200", 0, false}, {"2001:db8::7", 0, false}, {"2001:db8::8", 0, true}, {"198.51.100.1", 0, true},
		}},
		{"IPv6 /64 counts the prefix together", Config{IPv6Prefix: 64}, []step{
			{"2001:db8:1:2::1", 0, false}, {"2001:db8:1:2::2", 1, false}, {"2001:db8:1:2:ffff::3", 2, true}, {"2001:db8:1:2::99", 3, false},
		}},
		{"IPv6 /128 counts addresses apart", Config{IPv6Prefix: 128}, []step{
			{"2001:db8:1:2::1", 0, false}, {"2001:db8:1:2::2", 1, false}, {"2001:db8:1:2::3", 2, false},
		}},
		{"maxretry 1 bans at once", Config{Maxretry: 1}, []step{{"198.51.100.1", 0, true}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := newJail(t, c.cfg)
			for i, s := range c.steps {
				d := j.Observe(fail(s.addr), t0.Add(s.at))
				if (d != nil) != s.ban {
					t.Fatalf("step %d (%s at +%s): decision %+v, want ban %v", i, s.addr, s.at, d, s.ban)
				}
			}
		})
	}
}

func TestDecision(t *testing.T) {
	j := newJail(t, Config{IPv6Prefix: 64})
	var d *Decision
	for i := range 3 {
		d = j.Observe(fail("2001:db8:aa:bb:1::5"), t0.Add(time.Duration(i)*time.Second))
	}
	want := Decision{Prefix: netip.MustParsePrefix("2001:db8:aa:bb::/64"), Jail: "sshd", At: t0.Add(2 * time.Second), Until: t0.Add(2*time.Second + time.Hour), Failures: 3, Count: 1}
	if d == nil || *d != want {
		t.Fatalf("decision %+v, want %+v", d, want)
	}
	if until, ok := j.Banned(netip.MustParseAddr("2001:db8:aa:bb::9"), t0.Add(time.Minute)); !ok || !until.Equal(want.Until) {
		t.Errorf("Banned in the /64: %v %v", until, ok)
	}
	if _, ok := j.Banned(netip.MustParseAddr("2001:db8:aa:bc::9"), t0.Add(time.Minute)); ok {
		t.Errorf("another /64 is banned")
	}
	// Non-failures never count.
	if d := j.Observe(filter.Hit{Addr: netip.MustParseAddr("198.51.100.3")}, t0); d != nil {
		t.Errorf("a non-failure banned: %+v", d)
	}
	d4 := newJail(t, Config{Maxretry: 1}).Observe(fail("::ffff:198.51.100.4"), t0)
	if d4 == nil || d4.Prefix != netip.MustParsePrefix("198.51.100.4/32") {
		t.Errorf("IPv4-mapped address banned as %+v, want 198.51.100.4/32", d4)
	}
}

func TestIncrement(t *testing.T) {
	j := newJail(t, Config{Maxretry: 1, Bantime: time.Hour, Increment: true, Factor: 2, IncrementMax: 5 * time.Hour})
	at := t0
	var got []time.Duration
	for range 5 {
		d := j.Observe(fail("203.0.113.9"), at)
		if d == nil {
			t.Fatalf("no ban at %s", at)
		}
		got = append(got, d.Until.Sub(d.At))
		at = d.Until.Add(time.Second)
	}
	want := []time.Duration{time.Hour, 2 * time.Hour, 4 * time.Hour, 5 * time.Hour, 5 * time.Hour}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ban lengths %v, want %v", got, want)
		}
	}
	// Without Increment every ban is as long.
	k := newJail(t, Config{Maxretry: 1})
	d1 := k.Observe(fail("203.0.113.9"), t0)
	d2 := k.Observe(fail("203.0.113.9"), d1.Until.Add(time.Second))
	if d2.Until.Sub(d2.At) != time.Hour || d2.Count != 1 {
		t.Errorf("second ban without increment: %+v", d2)
	}
}

// TestBoundedMemory: a flood of distinct addresses keeps at most MaxTracked
// pending entries, evicting the least recently failing.
func TestBoundedMemory(t *testing.T) {
	j := newJail(t, Config{MaxTracked: 1000})
	keep := "198.51.100.250"
	j.Observe(fail(keep), t0)
	for i := range 50000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if i%100 == 0 {
			j.Observe(fail(keep), t0.Add(time.Duration(i)*time.Millisecond)) // stays recent
		}
		j.Observe(filter.Hit{Addr: a, Failure: true}, t0.Add(time.Duration(i)*time.Millisecond))
	}
	if pending, _ := j.Tracked(); pending > 1000 {
		t.Fatalf("%d pending entries, bound is 1000", pending)
	}
	if len(j.slots) > 1000 || len(j.times) > 1000*3 {
		t.Fatalf("slab grew to %d slots / %d times", len(j.slots), len(j.times))
	}
	// The recently failing address survived eviction and is banned by now.
	if _, ok := j.Banned(netip.MustParseAddr(keep), t0.Add(time.Minute)); !ok {
		t.Errorf("the recent offender was evicted")
	}
}

func TestConfigErrors(t *testing.T) {
	bad := []Config{
		{Name: "x", Maxretry: 0, Findtime: time.Minute, Bantime: time.Minute},
		{Name: "x", Maxretry: 3, Findtime: 0, Bantime: time.Minute},
		{Name: "x", Maxretry: 3, Findtime: time.Minute, Bantime: 0},
		{Name: "x", Maxretry: 3, Findtime: time.Minute, Bantime: time.Minute, IPv6Prefix: 8},
		{Name: "x", Maxretry: 3, Findtime: time.Minute, Bantime: time.Minute, Increment: true, Factor: 0.5},
	}
	for _, c := range bad {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	if _, err := ParseIgnore("not-an-ip"); err == nil {
		t.Error("ParseIgnore accepted a name")
	}
	if p, err := ParseIgnore("127.0.0.1/8"); err != nil || p != netip.MustParsePrefix("127.0.0.0/8") {
		t.Errorf("ParseIgnore(127.0.0.1/8) = %v, %v", p, err)
	}
}

func TestFromPolicy(t *testing.T) {
	p, err := policy.Default("")
	if err != nil {
		t.Fatal(err)
	}
	pj, _ := p.Ban.Jail("nginx-noscript")
	c, err := FromPolicy(p, pj)
	if err != nil {
		t.Fatal(err)
	}
	if c.Maxretry != 6 || c.Findtime != 10*time.Minute || c.Bantime != time.Hour || len(c.Ignore) != len(p.Ban.Ignore) {
		t.Errorf("config %+v", c)
	}
	p.Ban.Ignore = []string{"192.0.2.1", "nonsense"}
	if _, err := FromPolicy(p, pj); err == nil {
		t.Error("a bad ignore entry was accepted")
	}
}

func BenchmarkObserveDistinct(b *testing.B) {
	j, _ := New(Config{Name: "b", Maxretry: 3, Findtime: 10 * time.Minute, Bantime: time.Hour, MaxTracked: 100000})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		j.Observe(filter.Hit{Addr: a, Failure: true}, t0.Add(time.Duration(i)*time.Millisecond))
	}
}
