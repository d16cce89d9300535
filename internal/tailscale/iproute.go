package tailscale

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/internal/host"
)

// Interface is one entry of `ip -j addr`.
type Interface struct {
	Index     int      `json:"ifindex"`
	Name      string   `json:"ifname"`
	Flags     []string `json:"flags"`
	OperState string   `json:"operstate"`
	LinkType  string   `json:"link_type"`
	AddrInfo  []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
		Scope     string `json:"scope"`
	} `json:"addr_info"`

	// Addrs is AddrInfo parsed, filled by ParseInterfaces.
	Addrs []netip.Prefix `json:"-"`
}

// Up reports whether the link is administratively up with carrier. A tun
// device such as tailscale0 reports operstate UNKNOWN while working, so
// the flags decide.
func (i *Interface) Up() bool {
	up, lower := false, false
	for _, f := range i.Flags {
		switch f {
		case "UP":
			up = true
		case "LOWER_UP":
			lower = true
		}
	}
	return up && lower
}

// TailnetAddrs returns the interface addresses inside ranges.
func (i *Interface) TailnetAddrs(ranges []netip.Prefix) []netip.Addr {
	var out []netip.Addr
	for _, p := range i.Addrs {
		if IsTailnetAddr(p.Addr(), ranges) {
			out = append(out, p.Addr())
		}
	}
	return out
}

// ParseInterfaces decodes `ip -j addr [show dev X]` output.
func ParseInterfaces(data []byte) ([]Interface, error) {
	var ifs []Interface
	if err := decodeJSON(data, &ifs); err != nil {
		return nil, fmt.Errorf("ip -j addr: %w", err)
	}
	for n := range ifs {
		ifc := &ifs[n]
		if ifc.Name == "" {
			return nil, fmt.Errorf("ip -j addr: entry %d: field ifname missing (expected an interface name)", n)
		}
		for k, a := range ifc.AddrInfo {
			addr, err := netip.ParseAddr(a.Local)
			if err != nil {
				return nil, fmt.Errorf("ip -j addr: %s: addr_info[%d].local %q: expected an IP address", ifc.Name, k, a.Local)
			}
			if a.PrefixLen < 0 || a.PrefixLen > addr.BitLen() {
				return nil, fmt.Errorf("ip -j addr: %s: addr_info[%d].prefixlen %d: expected 0..%d", ifc.Name, k, a.PrefixLen, addr.BitLen())
			}
			ifc.Addrs = append(ifc.Addrs, netip.PrefixFrom(addr, a.PrefixLen))
		}
	}
	return ifs, nil
}

// ErrNoInterface reports that an interface does not exist.
var ErrNoInterface = errors.New("interface does not exist")

// ReadInterface runs `ip -j addr show dev NAME` on h. A missing interface
// gives an error wrapping ErrNoInterface. The command line and output are
// returned for evidence.
func ReadInterface(ctx context.Context, h host.Host, name string) (*Interface, string, []byte, error) {
	c := host.C("ip", "-j", "addr", "show", "dev", name)
	out, err := h.Run(ctx, c)
	if err != nil {
		return nil, c.String(), nil, fmt.Errorf("%s: %w", c.String(), err)
	}
	if out.ExitCode != 0 {
		msg := strings.TrimSpace(string(out.Stderr))
		if strings.Contains(msg, "does not exist") {
			return nil, c.String(), out.Stderr, fmt.Errorf("%s: %w", name, ErrNoInterface)
		}
		return nil, c.String(), out.Stderr, fmt.Errorf("%s: exit status %d: %s", c.String(), out.ExitCode, msg)
	}
	ifs, err := ParseInterfaces(out.Stdout)
	if err != nil {
		return nil, c.String(), out.Stdout, err
	}
	for i := range ifs {
		if ifs[i].Name == name {
			return &ifs[i], c.String(), out.Stdout, nil
		}
	}
	return nil, c.String(), out.Stdout, fmt.Errorf("%s: %w", name, ErrNoInterface)
}

// Route is one entry of `ip -j route get ADDR`.
type Route struct {
	Type    string `json:"type"`
	Dst     string `json:"dst"`
	Dev     string `json:"dev"`
	PrefSrc string `json:"prefsrc"`
}

// ParseRoute decodes `ip -j route get` output (a one-element array).
func ParseRoute(data []byte) (*Route, error) {
	var rs []Route
	if err := decodeJSON(data, &rs); err != nil {
		return nil, fmt.Errorf("ip -j route get: %w", err)
	}
	if len(rs) == 0 {
		return nil, errors.New("ip -j route get: no route in output (expected one entry)")
	}
	if rs[0].Dev == "" {
		return nil, errors.New("ip -j route get: field dev missing (expected the outgoing interface)")
	}
	return &rs[0], nil
}

// RouteGet asks the kernel which interface reaches addr, as a manual check with `ip route get` does
// with `ip route get ${SSH_CONNECTION%% *}`. The command line and output
// are returned for evidence.
func RouteGet(ctx context.Context, h host.Host, addr netip.Addr) (*Route, string, []byte, error) {
	c := host.C("ip", "-j", "route", "get", addr.String())
	out, err := host.RunOK(ctx, h, c)
	if err != nil {
		return nil, c.String(), out, err
	}
	r, err := ParseRoute(out)
	return r, c.String(), out, err
}

// SSHConn is $SSH_CONNECTION: "client_ip client_port server_ip server_port".
type SSHConn struct {
	Client netip.AddrPort
	Server netip.AddrPort
	Raw    string
}

// ParseSSHConnection parses the value of $SSH_CONNECTION, which an
// attacker-controlled environment could fill with anything: each field is
// checked.
func ParseSSHConnection(v string) (*SSHConn, error) {
	f := strings.Fields(v)
	if len(f) != 4 {
		return nil, fmt.Errorf("SSH_CONNECTION %q: expected 4 fields \"client_ip client_port server_ip server_port\", got %d", v, len(f))
	}
	names := [4]string{"client_ip", "client_port", "server_ip", "server_port"}
	var addrs [2]netip.Addr
	var ports [2]uint16
	for i := 0; i < 4; i += 2 {
		a, err := netip.ParseAddr(strings.Trim(f[i], "[]"))
		if err != nil {
			return nil, fmt.Errorf("SSH_CONNECTION field %d (%s) %q: expected an IP address", i+1, names[i], f[i])
		}
		p, err := strconv.ParseUint(f[i+1], 10, 16)
		if err != nil || p == 0 {
			return nil, fmt.Errorf("SSH_CONNECTION field %d (%s) %q: expected a port 1..65535", i+2, names[i+1], f[i+1])
		}
		addrs[i/2], ports[i/2] = a.WithZone("").Unmap(), uint16(p)
	}
	return &SSHConn{
		Client: netip.AddrPortFrom(addrs[0], ports[0]),
		Server: netip.AddrPortFrom(addrs[1], ports[1]),
		Raw:    strings.Join(f, " "),
	}, nil
}
