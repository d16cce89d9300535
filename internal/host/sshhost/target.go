package sshhost

import (
	"fmt"
	"github.com/rampart-sec/rampart/internal/host"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Target is a parsed [USER@]HOST[:PORT].
type Target struct {
	User    string
	Host    string
	Port    int
	PortSet bool // the string named the port (else Port is the default 22)
}

// ParseTarget parses [USER@]HOST[:PORT]; an IPv6 address with a port is
// written [ADDR]:PORT. A missing port is 22, a missing user "".
func ParseTarget(s string) (Target, error) {
	var t Target
	if s == "" {
		return t, fmt.Errorf("target: empty (expected [USER@]HOST[:PORT])")
	}
	rest := s
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		t.User, rest = rest[:i], rest[i+1:]
		if t.User == "" || strings.ContainsAny(t.User, " \t\n\r:/\\'\"`$;&|<>()") || strings.HasPrefix(t.User, "-") {
			return t, fmt.Errorf("target %q: invalid user name %q", host.SafeText(s), host.SafeText(t.User))
		}
	}
	t.Port = 22
	switch {
	case strings.HasPrefix(rest, "["):
		h, p, err := net.SplitHostPort(rest)
		if err != nil {
			end := strings.Index(rest, "]")
			if end < 0 || end != len(rest)-1 {
				return t, fmt.Errorf("target %q: %v", host.SafeText(s), err)
			}
			h = rest[1:end]
		} else if p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return t, fmt.Errorf("target %q: port %q is not a number from 1 to 65535", host.SafeText(s), host.SafeText(p))
			}
			t.Port, t.PortSet = n, true
		}
		t.Host = h
	case strings.Count(rest, ":") > 1:
		t.Host = rest // bare IPv6 address, no port
	case strings.Contains(rest, ":"):
		h, p, _ := strings.Cut(rest, ":")
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return t, fmt.Errorf("target %q: port %q is not a number from 1 to 65535", host.SafeText(s), host.SafeText(p))
		}
		t.Host, t.Port, t.PortSet = h, n, true
	default:
		t.Host = rest
	}
	if !validHost(t.Host) {
		return t, fmt.Errorf("target %q: %q is not a host name or IP address", host.SafeText(s), host.SafeText(t.Host))
	}
	return t, nil
}

// validHost: an IP address (with a zone for a link-local IPv6 one), or a
// name of ASCII letters, digits, dots, hyphens and underscores that does
// not start with a hyphen (an alias for ssh -G, a DNS name, a dotted
// IPv4 address).
func validHost(h string) bool {
	if strings.Contains(h, ":") {
		_, err := netip.ParseAddr(h)
		return err == nil
	}
	return nameOf(h, ".-_")
}

// Addr is HOST:PORT for net.Dial.
func (t Target) Addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// String is the target as the user would write it.
func (t Target) String() string {
	h := t.Host
	if t.Port != 22 {
		h = t.Addr()
	} else if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if t.User != "" {
		return t.User + "@" + h
	}
	return h
}
