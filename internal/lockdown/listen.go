package lockdown

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/internal/netcheck"
)

// Listener is one listening TCP socket from `ss -Htlnp`.
type Listener struct {
	// Addr is the local address; invalid (zero) for a wildcard ("*").
	Addr netip.Addr
	// Wildcard is true for 0.0.0.0, ::, and *.
	Wildcard bool
	// Device is the %dev suffix of a socket bound to an interface.
	Device  string
	Port    int
	Process string // "" when ss could not see it (not root)
	// PIDs are the processes ss shows holding the socket.
	PIDs []int
	Line string
}

// ParseListeners parses `ss -Htlnp` output. Lines it cannot read are
// reported with their line number.
func ParseListeners(data []byte) ([]Listener, error) {
	var out []Listener
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 5 {
			return nil, fmt.Errorf("ss -Htlnp: line %d: %q: expected State Recv-Q Send-Q Local Peer [Process]", n+1, line)
		}
		if f[0] != "LISTEN" {
			continue
		}
		l, err := parseLocal(f[3])
		if err != nil {
			return nil, fmt.Errorf("ss -Htlnp: line %d: local address %q: %w", n+1, f[3], err)
		}
		if j := strings.Index(line, "users:("); j >= 0 {
			m := netcheck.SSUsersRE.FindStringSubmatch(line[j:])
			if m == nil {
				return nil, fmt.Errorf("ss -Htlnp: line %d: malformed process list %q", n+1, line[j:])
			}
			l.Process = m[1]
			l.PIDs = netcheck.SSPIDs(line[j:])
		}
		l.Line = line
		out = append(out, l)
	}
	return out, nil
}

func parseLocal(s string) (Listener, error) {
	var l Listener
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return l, fmt.Errorf("expected ADDRESS:PORT")
	}
	p, err := strconv.Atoi(s[i+1:])
	if err != nil || p < 1 || p > 65535 {
		return l, fmt.Errorf("expected a port 1..65535 after the last colon")
	}
	l.Port = p
	a := s[:i]
	a = strings.TrimSuffix(strings.TrimPrefix(a, "["), "]")
	if j := strings.IndexByte(a, '%'); j >= 0 {
		a, l.Device = a[:j], a[j+1:]
	}
	if a == "*" {
		l.Wildcard = true
		return l, nil
	}
	addr, err := netip.ParseAddr(a)
	if err != nil {
		return l, fmt.Errorf("expected an IP address or *")
	}
	l.Addr = addr.Unmap()
	l.Wildcard = addr.IsUnspecified()
	return l, nil
}

// IsSSHD reports whether the listener belongs to sshd (or the process is
// unknown, when ss runs without privilege).
func (l Listener) IsSSHD() bool {
	return l.Process == "" || l.Process == "sshd" || strings.HasPrefix(l.Process, "sshd")
}

// ReachableOn reports whether the socket accepts connections addressed to
// one of addrs arriving on interface ifc.
func (l Listener) ReachableOn(ifc string, addrs []netip.Addr) bool {
	if l.Device != "" && l.Device != ifc {
		return false
	}
	if l.Wildcard {
		return true
	}
	for _, a := range addrs {
		if a == l.Addr {
			return true
		}
	}
	return false
}
