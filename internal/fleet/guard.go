package fleet

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/rampart-sec/rampart/internal/policy"
)

// Rejection reasons (the label of rampart_fleet_rejected_total).
const (
	ReasonMalformed = "malformed" // undecodable subject or payload
	ReasonSchema    = "schema"    // another payload version
	ReasonOrigin    = "origin"    // not in accept_from
	ReasonProtected = "protected" // ignore-listed, tailnet, own or server address
	ReasonWide      = "wide"      // wider than /32 or ipv6_prefix
	ReasonDuration  = "duration"  // longer than this policy's longest ban
	ReasonRate      = "rate"      // over the origin's rate limit
	ReasonExpired   = "expired"   // already over
)

// Guardrails decide what a peer may do to this host.
type Guardrails struct {
	// Protected are never banned because of a peer.
	Protected  []netip.Prefix
	IPv6Prefix int
	// MaxBan is this policy's longest ban.
	MaxBan     time.Duration
	AcceptFrom []string
	Rate       float64
	Burst      float64

	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxOrigins bounds the rate limiter's memory (origins are subject
// tokens, which the server's permissions limit to real nodes; this is a
// backstop).
const maxOrigins = 4096

// NewGuardrails builds the guardrails of policy p; own are this host's
// addresses.
func NewGuardrails(p *policy.Policy, own []netip.Addr) (*Guardrails, error) {
	g := &Guardrails{IPv6Prefix: p.Ban.IPv6Prefix, MaxBan: p.MaxBantime(), AcceptFrom: p.Fleet.AcceptFrom,
		Rate: float64(p.Fleet.Rate), Burst: float64(p.Fleet.Burst), buckets: map[string]*bucket{}}
	add := func(field, s string) error {
		pr, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return fmt.Errorf("%s: %q is not an address or prefix", field, s)
			}
			pr = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		g.Protected = append(g.Protected, pr.Masked())
		return nil
	}
	for _, s := range p.Ban.Ignore {
		if err := add("ban.ignore", s); err != nil {
			return nil, err
		}
	}
	if p.Tailnet.Enabled {
		for _, s := range p.Tailnet.Addresses {
			if err := add("tailnet.addresses", s); err != nil {
				return nil, err
			}
		}
	}
	for _, s := range []string{"127.0.0.0/8", "::1/128", "0.0.0.0/32", "::/128"} {
		_ = add("", s)
	}
	for _, s := range p.Fleet.Servers {
		if u, err := url.Parse(s); err == nil {
			if a, err := netip.ParseAddr(u.Hostname()); err == nil {
				_ = add("fleet.servers", a.String())
			}
		}
	}
	for _, a := range own {
		g.Protected = append(g.Protected, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return g, nil
}

// OwnAddrs returns this host's interface addresses.
func OwnAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range as {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}

// Check decides a ban from another node: "" to apply it, else the
// reason it is refused. at is the message's stream time stamp (for the
// rate limit), now the local clock. A refused message spends no token.
func (g *Guardrails) Check(m *Message, at, now time.Time) string {
	if len(g.AcceptFrom) > 0 && !slices.Contains(g.AcceptFrom, m.Origin) {
		return ReasonOrigin
	}
	p := m.Prefix
	if p.Addr().Is4() && p.Bits() != 32 || p.Addr().Is6() && p.Bits() < g.IPv6Prefix {
		return ReasonWide
	}
	for _, q := range g.Protected {
		if q.Overlaps(p) {
			return ReasonProtected
		}
	}
	if m.ExpiresAt.Sub(m.DecidedAt) > g.MaxBan+time.Second {
		return ReasonDuration
	}
	if !m.ExpiresAt.After(now) {
		return ReasonExpired
	}
	if !g.take(m.Origin, at) {
		return ReasonRate
	}
	return ""
}

// Until is when an accepted ban ends here: its expiry, but never later
// than now plus the longest ban of this policy (a forged decided_at in
// the future cannot stretch it).
func (g *Guardrails) Until(m *Message, now time.Time) time.Time {
	return minTime(m.ExpiresAt, now.Add(g.MaxBan))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// take spends one token of origin's bucket at time at.
func (g *Guardrails) take(origin string, at time.Time) bool {
	b := g.buckets[origin]
	if b == nil {
		if len(g.buckets) >= maxOrigins {
			return false
		}
		b = &bucket{tokens: g.Burst, last: at}
		g.buckets[origin] = b
	}
	if dt := at.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(g.Burst, b.tokens+dt*g.Rate)
		b.last = at
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
