package fleet

import (
	"net/netip"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/policy"
)

func TestGuardrails(t *testing.T) {
	p := policy.MustDefault(policy.ProfileTailnet)
	p.Ban.Ignore = append(p.Ban.Ignore, "192.0.2.0/28")
	p.Ban.IPv6Prefix = 64
	p.Fleet.Servers = []string{"nats://203.0.113.9:4222"}
	p.Fleet.AcceptFrom = []string{"web1", "web2"}
	p.Fleet.Rate, p.Fleet.Burst = 10, 5
	g, err := NewGuardrails(p, []netip.Addr{netip.MustParseAddr("198.51.100.1")})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	ban := func(origin, prefix string, d time.Duration) *Message {
		return &Message{Kind: KindBan, Origin: origin, Prefix: netip.MustParsePrefix(prefix), Jail: "sshd", DecidedAt: now, ExpiresAt: now.Add(d)}
	}
	for _, tc := range []struct {
		m    *Message
		want string
	}{
		{ban("web1", "198.51.100.7/32", time.Hour), ""},
		{ban("web3", "198.51.100.7/32", time.Hour), ReasonOrigin},
		{ban("web1", "192.0.2.5/32", time.Hour), ReasonProtected},          // ignore list
		{ban("web1", "100.100.1.2/32", time.Hour), ReasonProtected},        // tailnet range
		{ban("web1", "198.51.100.1/32", time.Hour), ReasonProtected},       // own address
		{ban("web1", "203.0.113.9/32", time.Hour), ReasonProtected},        // a NATS server
		{ban("web1", "127.0.0.1/32", time.Hour), ReasonProtected},          // loopback
		{ban("web1", "198.51.100.0/24", time.Hour), ReasonWide},            // wider than /32
		{ban("web1", "2001:db8::/48", time.Hour), ReasonWide},              // wider than ipv6_prefix
		{ban("web1", "2001:db8::/64", time.Hour), ""},                      // ipv6_prefix
		{ban("web1", "198.51.100.8/32", 365*24*time.Hour), ReasonDuration}, // longer than bantime
		{ban("web1", "198.51.100.9/32", -time.Minute), ReasonExpired},
	} {
		if got := g.Check(tc.m, now, now); got != tc.want {
			t.Errorf("%s %v: got %q, want %q", tc.m.Origin, tc.m.Prefix, got, tc.want)
		}
	}
	// Rate: 2 tokens were spent above; 3 more pass at once, then one per
	// 100ms of stream time; web2 has its own bucket.
	m := ban("web1", "198.51.100.10/32", time.Hour)
	for i := range 3 {
		if r := g.Check(m, now, now); r != "" {
			t.Fatalf("token %d: %q", i, r)
		}
	}
	if r := g.Check(m, now, now); r != ReasonRate {
		t.Errorf("over the burst: %q", r)
	}
	if r := g.Check(m, now.Add(100*time.Millisecond), now); r != "" {
		t.Errorf("after 100ms: %q", r)
	}
	if r := g.Check(ban("web2", "198.51.100.10/32", time.Hour), now, now); r != "" {
		t.Errorf("web2: %q", r)
	}
	// A decided_at in the future cannot stretch a ban past now + bantime.
	f := ban("web1", "198.51.100.11/32", time.Hour)
	f.DecidedAt, f.ExpiresAt = now.Add(24*time.Hour), now.Add(25*time.Hour)
	if u := g.Until(f, now); !u.Equal(now.Add(time.Hour)) {
		t.Errorf("until %v", u)
	}
}
