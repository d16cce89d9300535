package tailscale

import (
	"fmt"
	"net/netip"
)

// DefaultRanges are the address ranges Tailscale assigns node addresses
// from: the CGNAT block and Tailscale's ULA prefix.
var DefaultRanges = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("fd7a:115c:a1e0::/48"),
}

// IsTailnetAddr reports whether a lies in one of ranges (DefaultRanges
// when ranges is empty).
func IsTailnetAddr(a netip.Addr, ranges []netip.Prefix) bool {
	if len(ranges) == 0 {
		ranges = DefaultRanges
	}
	a = a.Unmap()
	for _, p := range ranges {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseRanges parses CIDR strings (policy tailnet.addresses). The error
// names the offending entry by index.
func ParseRanges(cidrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(cidrs))
	for i, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, &RangeError{Index: i, Value: c, Err: err}
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// RangeError reports a bad entry of a list of CIDRs.
type RangeError struct {
	Index int
	Value string
	Err   error
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("tailnet.addresses[%d]: %q: expected a CIDR such as 100.64.0.0/10: %v", e.Index, e.Value, e.Err)
}

func (e *RangeError) Unwrap() error { return e.Err }
