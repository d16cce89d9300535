package tailscale

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/jsonpos"
)

// Backend states reported in Status.BackendState (tailscale.com/ipn.State).
const (
	StateNoState          = "NoState"
	StateNeedsLogin       = "NeedsLogin"
	StateNeedsMachineAuth = "NeedsMachineAuth"
	StateStopped          = "Stopped"
	StateStarting         = "Starting"
	StateRunning          = "Running"
)

// Status is the part of `tailscale status --json` (ipnstate.Status) that
// rampart reads. Unknown fields are ignored so newer clients still parse.
type Status struct {
	Version      string
	TUN          bool
	BackendState string
	HaveNodeKey  bool
	AuthURL      string
	TailscaleIPs []netip.Addr
	Self         *Peer
	Health       []string
	// MagicDNSSuffix is the tailnet's DNS suffix without dots.
	MagicDNSSuffix string
	CurrentTailnet *Tailnet
	// Peer is keyed by node public key ("nodekey:…").
	Peer map[string]*Peer
}

// Tailnet is ipnstate.TailnetStatus.
type Tailnet struct {
	Name            string
	MagicDNSSuffix  string
	MagicDNSEnabled bool
}

// Peer is the part of ipnstate.PeerStatus rampart reads, for Self and for
// the other nodes.
type Peer struct {
	ID             string
	PublicKey      string
	HostName       string
	DNSName        string
	OS             string
	TailscaleIPs   []netip.Addr
	AllowedIPs     []netip.Prefix
	Tags           []string
	PrimaryRoutes  []netip.Prefix
	Online         bool
	ExitNode       bool
	ExitNodeOption bool
	Active         bool
	// Expired reports that the node key has already expired.
	Expired bool
	// KeyExpiry is nil when key expiry is disabled for the node (tagged
	// nodes, or "Disable key expiry" in the admin console): the field is
	// omitted from the JSON then.
	KeyExpiry *time.Time
}

// KeyExpiryDisabled reports whether the node's key never expires.
func (p *Peer) KeyExpiryDisabled() bool { return p != nil && p.KeyExpiry == nil }

// Tagged reports whether the node is owned by tags rather than a user.
func (p *Peer) Tagged() bool { return p != nil && len(p.Tags) > 0 }

// Running reports whether the backend is connected and usable.
func (s *Status) Running() bool { return s != nil && s.BackendState == StateRunning }

// SelfIPs returns this node's tailnet addresses, from Self when present,
// else from the top-level TailscaleIPs.
func (s *Status) SelfIPs() []netip.Addr {
	if s.Self != nil && len(s.Self.TailscaleIPs) > 0 {
		return s.Self.TailscaleIPs
	}
	return s.TailscaleIPs
}

// ParseStatus decodes `tailscale status --json` output. Malformed input
// yields an error naming the line and column, or the field and what was
// expected there.
func ParseStatus(data []byte) (*Status, error) {
	var s Status
	if err := decodeJSON(data, &s); err != nil {
		return nil, fmt.Errorf("tailscale status: %w", err)
	}
	if s.BackendState == "" {
		return nil, errors.New("tailscale status: field BackendState missing or empty (expected NeedsLogin, Stopped, Running, …)")
	}
	if !knownState(s.BackendState) {
		return nil, fmt.Errorf("tailscale status: field BackendState: unknown state %q (expected one of NoState, NeedsLogin, NeedsMachineAuth, Stopped, Starting, Running)", s.BackendState)
	}
	return &s, nil
}

func knownState(st string) bool {
	switch st {
	case StateNoState, StateNeedsLogin, StateNeedsMachineAuth, StateStopped, StateStarting, StateRunning:
		return true
	}
	return false
}

// decodeJSON decodes data into v, turning syntax and type errors into
// messages with line:column and, for type errors, the field path.
func decodeJSON(data []byte, v any) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return errors.New("empty output (expected JSON)")
	}
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		l, c := jsonpos.LineCol(data, se.Offset-1)
		return fmt.Errorf("%d:%d: invalid JSON: %v", l, c, se)
	case errors.As(err, &te):
		l, c := jsonpos.LineCol(data, te.Offset-1)
		return fmt.Errorf("%d:%d: field %s: got JSON %s, expected %s", l, c, te.Field, te.Value, te.Type)
	default:
		// Errors from UnmarshalText (a bad IP address, a bad time) carry
		// no offset; name what failed.
		return fmt.Errorf("invalid value: %w", err)
	}
}

// StatusCmd is the command that reads the node status.
var StatusCmd = host.C("tailscale", "status", "--json")

// ReadStatus runs `tailscale status --json` on h. It returns the raw
// output too, for evidence. A missing program is reported with
// host.ErrNotFound; a daemon that does not answer ("failed to connect to
// local tailscaled") is an error quoting tailscale's own message.
func ReadStatus(ctx context.Context, h host.Host) (*Status, []byte, error) {
	out, err := runJSON(ctx, h, StatusCmd)
	if err != nil {
		return nil, out, err
	}
	s, err := ParseStatus(out)
	return s, out, err
}

// runJSON runs a tailscale command that prints JSON. tailscale prints the
// JSON even for NeedsLogin; a non-zero exit with no JSON means the daemon
// could not be asked, reported with the first line of its message.
func runJSON(ctx context.Context, h host.Host, c host.Cmd) ([]byte, error) {
	out, err := h.Run(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.String(), err)
	}
	if out.ExitCode != 0 && !bytes.HasPrefix(bytes.TrimSpace(out.Stdout), []byte("{")) {
		msg := strings.TrimSpace(string(out.Stderr))
		if msg == "" {
			msg = strings.TrimSpace(string(out.Stdout))
		}
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return out.Stdout, fmt.Errorf("%s: exit status %d: %s", c.String(), out.ExitCode, msg)
	}
	return out.Stdout, nil
}
