package verify

import (
	"net/netip"
	"strings"
)

// The sshd matrix asks sshd -T about a few client addresses (a tailnet
// peer, a public address, the policy's trusted networks). A Match
// Address block for any other network (Match Address 10.0.0.0/8 with
// PermitRootLogin yes) would never be asked about, and its weakening
// would pass unseen. So the networks the Match lines name give addresses
// of their own: one inside each network or pattern a Match Address list
// names. An address joins only when no address already in the matrix
// stands for it, that is when some Match Address or Host list matches one
// and not the other, evaluated here as sshd evaluates them
// (addr_match_list and match_hostname of OpenSSH's match.c and
// addrmatch.c); each one that joins is one more sshd -T -C per user.

// matchLines is what the Match lines of one sshd configuration (and the
// files it includes) look at: the criteria, and the pattern lists of its
// Address and Host criteria.
type matchLines struct {
	crit    map[string]bool
	address []string
	host    []string
}

// matchAddrs returns the addresses, beyond base, that the Match lines'
// Address lists name and that no address of base (or of the result)
// stands for.
func matchAddrs(base []string, ml matchLines) []string {
	vector := func(a string) string {
		var b strings.Builder
		for _, l := range ml.address {
			b.WriteByte(boolByte(addrMatchList(a, l)))
		}
		for _, l := range ml.host {
			b.WriteByte(boolByte(patternMatchList(a, l)))
		}
		return b.String()
	}
	seen := map[string]bool{}
	for _, a := range base {
		seen[vector(a)] = true
	}
	var out []string
	for _, l := range ml.address {
		for _, entry := range strings.Split(l, ",") {
			a, ok := addrInside(strings.TrimPrefix(entry, "!"))
			if !ok {
				continue
			}
			if v := vector(a); !seen[v] {
				seen[v] = true
				out = append(out, a)
			}
		}
	}
	return out
}

func boolByte(b bool) byte {
	if b {
		return '1'
	}
	return '0'
}

// addrInside is an address an entry of a Match Address list names: the
// address itself, the first host of a network, or a pattern's wildcards
// filled in ("192.0.2.*" gives 192.0.2.1); false when the entry names no
// address, or only loopback (a connection from the machine itself, which
// the matrix leaves out as it leaves out the policy's loopback networks).
func addrInside(entry string) (string, bool) {
	var a netip.Addr
	if p, err := netip.ParsePrefix(entry); err == nil {
		a = p.Masked().Addr()
		if p.Bits() < a.BitLen() {
			a = a.Next()
		}
	} else if f, err := netip.ParseAddr(strings.NewReplacer("*", "1", "?", "1").Replace(entry)); err == nil {
		a = f
	}
	if !a.IsValid() || a.IsLoopback() || a.IsUnspecified() {
		return "", false
	}
	return a.String(), true
}

// addrMatchList reports whether sshd's Match Address list (entries split
// by commas, each a network in CIDR notation, an address, or a pattern
// with * and ?, negated by a leading !) matches addr: some entry matches
// and no negated one does.
func addrMatchList(addr, list string) bool {
	a, aerr := netip.ParseAddr(addr)
	matched := false
	for _, entry := range strings.Split(list, ",") {
		neg := strings.HasPrefix(entry, "!")
		entry = strings.TrimPrefix(entry, "!")
		hit := false
		if p, ok := cidr(entry); ok {
			hit = aerr == nil && p.Contains(a.Unmap())
		} else {
			hit = wildcard(addr, entry)
		}
		if hit {
			if neg {
				return false
			}
			matched = true
		}
	}
	return matched
}

// cidr parses an address or network as sshd's addr_pton_cidr does: an
// address alone is a network of one.
func cidr(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, true
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), true
	}
	return netip.Prefix{}, false
}

// patternMatchList is sshd's match_pattern_list for a Match Host list
// (the client's name, lower case; sshd -T -C host= gives it the address):
// some pattern matches and no negated one does.
func patternMatchList(s, list string) bool {
	s = strings.ToLower(s)
	matched := false
	for _, entry := range strings.Split(list, ",") {
		neg := strings.HasPrefix(entry, "!")
		if wildcard(s, strings.ToLower(strings.TrimPrefix(entry, "!"))) {
			if neg {
				return false
			}
			matched = true
		}
	}
	return matched
}

// wildcard is sshd's match_pattern: * matches any run of characters, ?
// any one character, everything else itself.
func wildcard(s, pattern string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for len(pattern) > 0 && pattern[0] == '*' {
				pattern = pattern[1:]
			}
			if pattern == "" {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if wildcard(s[i:], pattern) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != pattern[0] {
				return false
			}
		}
		s, pattern = s[1:], pattern[1:]
	}
	return s == ""
}
