package nft

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"sort"
	"time"
)

// Names of the objects inside rampart's table.
const (
	SetV4        = "banned4"
	SetV6        = "banned6"
	ChainInput   = "input"
	ChainForward = "forward"
	// Priority of both base chains: before the usual filter chains (0), so
	// an "established, accept" rule there cannot let a banned source in.
	Priority = -10
)

// MinTimeout is the shortest element timeout sent to the kernel; a ban
// that would expire sooner is sent with this timeout.
const MinTimeout = time.Second

// Ban is one banned prefix with its absolute expiry.
type Ban struct {
	Prefix netip.Prefix
	Until  time.Time
	// Jail is stored as the element's comment.
	Jail string
}

// Element is a ban as the firewall holds it.
type Element struct {
	Prefix  netip.Prefix
	Expires time.Duration // time left
	Comment string
}

// Backend applies bans to a firewall. Implementations are safe for use by
// one goroutine at a time (the daemon's apply loop).
type Backend interface {
	// Name is "nftables", "dry-run" or "fake" (for logs and status).
	Name() string
	// Sync makes the table exactly: table, sets, chains, rules, and the
	// given bans, in one transaction, whatever state it was in before.
	Sync(ctx context.Context, bans []Ban, now time.Time) error
	// Apply removes del and adds add in one transaction. Removing an
	// element the firewall no longer holds is an error (the kernel refuses
	// the whole batch); the caller falls back to Sync.
	Apply(ctx context.Context, add []Ban, del []netip.Prefix, now time.Time) error
	// Check returns the elements in the table, or an error wrapping
	// ErrIncomplete when the table, a set, a chain or a rule is missing.
	Check(ctx context.Context) ([]Element, error)
	// Delete removes the table (on request only; the daemon leaves bans in
	// place when it stops so that a restart leaves no gap).
	Delete(ctx context.Context) error
	Close() error
}

// ErrIncomplete reports that rampart's table is missing or damaged.
var ErrIncomplete = errors.New("rampart's nftables table is missing or incomplete")

// Timeout is the element timeout for a ban at now: its remaining time
// rounded up to a millisecond, at least MinTimeout.
func Timeout(b Ban, now time.Time) time.Duration {
	d := b.Until.Sub(now)
	if r := d % time.Millisecond; r != 0 {
		d += time.Millisecond - r
	}
	return max(d, MinTimeout)
}

// ValidPrefix checks that p can be a ban: a valid, masked prefix no wider
// than /8 (IPv4) or /16 (IPv6), whose last address is not the family's
// highest one (an interval end must be representable).
func ValidPrefix(p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("invalid prefix %v", p)
	}
	if p.Masked() != p {
		return fmt.Errorf("prefix %v has host bits set (use %v)", p, p.Masked())
	}
	if p.Addr().Is4In6() {
		return fmt.Errorf("prefix %v: use the plain IPv4 form", p)
	}
	minBits := 8
	if p.Addr().Is6() {
		minBits = 16
	}
	if p.Bits() < minBits {
		return fmt.Errorf("prefix %v is wider than /%d", p, minBits)
	}
	if !next(lastAddr(p)).IsValid() {
		return fmt.Errorf("prefix %v reaches the last address of its family", p)
	}
	return nil
}

// lastAddr is the highest address in p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// next is a+1, or the invalid Addr when a is the family's highest address.
func next(a netip.Addr) netip.Addr {
	n := a.Next()
	if !n.IsValid() {
		return netip.Addr{}
	}
	return n
}

// rangeToPrefix turns the interval [start, end) back into a prefix. It
// returns false when the interval is not exactly one CIDR block.
func rangeToPrefix(start, end netip.Addr) (netip.Prefix, bool) {
	s := new(big.Int).SetBytes(start.AsSlice())
	e := new(big.Int).SetBytes(end.AsSlice())
	size := new(big.Int).Sub(e, s)
	if size.Sign() <= 0 {
		return netip.Prefix{}, false
	}
	n := size.BitLen() - 1
	if new(big.Int).Lsh(big.NewInt(1), uint(n)).Cmp(size) != 0 {
		return netip.Prefix{}, false
	}
	p := netip.PrefixFrom(start, start.BitLen()-n)
	if p.Masked() != p {
		return netip.Prefix{}, false
	}
	return p, true
}

// validBans checks every ban's prefix.
func validBans(bans []Ban) error {
	for _, b := range bans {
		if err := ValidPrefix(b.Prefix); err != nil {
			return err
		}
	}
	return nil
}

// ComparePrefix orders prefixes by address, then by length.
func ComparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// SortElements orders elements by prefix for stable output.
func SortElements(es []Element) {
	sort.Slice(es, func(i, j int) bool { return ComparePrefix(es[i].Prefix, es[j].Prefix) < 0 })
}
