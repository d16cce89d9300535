package tailscale

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/rampart-sec/rampart/internal/host"
)

// PrefsCmd reads this node's preferences (ipn.Prefs) from tailscaled:
// what it advertises and whether it routes through others. Unlike the
// status, it shows advertised routes before the control server approves
// them.
var PrefsCmd = host.C("tailscale", "debug", "prefs")

// Prefs is the part of `tailscale debug prefs` rampart reads.
type Prefs struct {
	// RouteAll is --accept-routes: use subnet routes other nodes offer.
	RouteAll bool
	// ExitNodeID and ExitNodeIP name the exit node in use (--exit-node).
	ExitNodeID string
	ExitNodeIP string
	// AdvertiseRoutes are the subnets this node offers; 0.0.0.0/0 and
	// ::/0 mean it offers to be an exit node (--advertise-exit-node).
	AdvertiseRoutes []netip.Prefix
	// RunSSH is Tailscale SSH (--ssh): tailscaled answers port 22 on the
	// tailnet itself, not OpenSSH.
	RunSSH      bool
	WantRunning bool
}

// ParsePrefs decodes `tailscale debug prefs` output, with line:column or
// the field in errors.
func ParsePrefs(data []byte) (*Prefs, error) {
	var p Prefs
	if err := decodeJSON(data, &p); err != nil {
		return nil, fmt.Errorf("tailscale debug prefs: %w", err)
	}
	return &p, nil
}

// ReadPrefs runs `tailscale debug prefs` on h (errors as ReadStatus).
func ReadPrefs(ctx context.Context, h host.Host) (*Prefs, []byte, error) {
	out, err := runJSON(ctx, h, PrefsCmd)
	if err != nil {
		return nil, out, err
	}
	p, err := ParsePrefs(out)
	return p, out, err
}

// AdvertisesExitNode reports whether the node offers itself as an exit
// node.
func (p *Prefs) AdvertisesExitNode() bool {
	for _, r := range p.AdvertiseRoutes {
		if r.Bits() == 0 {
			return true
		}
	}
	return false
}

// Subnets are the advertised routes other than the exit-node ones.
func (p *Prefs) Subnets() []netip.Prefix {
	var out []netip.Prefix
	for _, r := range p.AdvertiseRoutes {
		if r.Bits() != 0 {
			out = append(out, r)
		}
	}
	return out
}

// UsesExitNode reports whether traffic goes out through another node.
func (p *Prefs) UsesExitNode() bool { return p.ExitNodeID != "" || p.ExitNodeIP != "" }
