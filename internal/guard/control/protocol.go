package control

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/internal/fleet"
	"github.com/rampart-sec/rampart/internal/policy"
)

// MaxRequest bounds one request in bytes.
const MaxRequest = 4 << 10

// MaxResponse bounds one response a client accepts.
const MaxResponse = 64 << 20

// Operations.
const (
	OpStatus = "status"
	OpList   = "list"
	OpBan    = "ban"
	OpUnban  = "unban"
	// OpFlush lifts every ban of a jail, or every ban with no jail.
	OpFlush = "flush"
)

// Request is what a client sends.
type Request struct {
	Op   string `json:"op"`
	Jail string `json:"jail,omitempty"`
	// IP is an address or a CIDR prefix (ban, unban).
	IP string `json:"ip,omitempty"`
	// For is the ban duration in policy syntax ("1h", "30m"); empty means
	// the jail's bantime.
	For string `json:"for,omitempty"`
}

// Response is what the daemon answers.
type Response struct {
	OK     bool      `json:"ok"`
	Error  string    `json:"error,omitempty"`
	Status *Status   `json:"status,omitempty"`
	Bans   []BanInfo `json:"bans,omitempty"`
}

// Status describes the running daemon.
type Status struct {
	Backend    string         `json:"backend"`
	Table      string         `json:"table"`
	Started    time.Time      `json:"started"`
	Lines      int64          `json:"lines"`
	ActiveBans int            `json:"active_bans"`
	Sources    []SourceStatus `json:"sources"`
	Jails      []JailStatus   `json:"jails"`
	// Fleet is the fleet link (nil when [fleet] is off).
	Fleet *fleet.Status `json:"fleet,omitempty"`
}

// SourceStatus is one log source.
type SourceStatus struct {
	Key   string `json:"key"`
	Lines int64  `json:"lines"`
	Error string `json:"error,omitempty"`
}

// JailStatus mirrors fail2ban-client status JAIL.
type JailStatus struct {
	Name            string   `json:"name"`
	Filter          string   `json:"filter"`
	Sources         []string `json:"sources"`
	Lines           int64    `json:"lines"`
	Matched         int64    `json:"matched"`
	CurrentlyFailed int      `json:"currently_failed"`
	TotalFailed     int64    `json:"total_failed"`
	CurrentlyBanned int      `json:"currently_banned"`
	TotalBanned     int64    `json:"total_banned"`
	Banned          []string `json:"banned,omitempty"`
}

// BanInfo is one active ban.
type BanInfo struct {
	Prefix   string    `json:"prefix"`
	Jail     string    `json:"jail"`
	At       time.Time `json:"at"`
	Until    time.Time `json:"until"`
	Failures int       `json:"failures,omitempty"`
	Count    int       `json:"count,omitempty"`
	// Origin is the fleet node that decided the ban ("" = this host).
	Origin string `json:"origin,omitempty"`
}

// Handler is the daemon side.
type Handler interface {
	Status(ctx context.Context, jail string) (*Status, error)
	List(ctx context.Context, jail string) ([]BanInfo, error)
	Ban(ctx context.Context, p netip.Prefix, jail string, d time.Duration) (BanInfo, error)
	Unban(ctx context.Context, p netip.Prefix) (BanInfo, error)
	// Flush lifts every ban of jail ("" = of every jail) and returns them.
	Flush(ctx context.Context, jail string) ([]BanInfo, error)
}

// ValidJailName checks a jail name as the control protocol accepts it.
func ValidJailName(s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("jail name %q: want 1 to 64 characters", s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.-", r)) {
			return fmt.Errorf("jail name %q: only letters, digits and _ . - are allowed", s)
		}
	}
	return nil
}

// ParsePrefix reads an address ("192.0.2.7", "2001:db8::1") as its /32 or
// /128, or a CIDR prefix, which must have no host bits set.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("address %q: %w", s, err)
		}
		if p.Masked() != p {
			return netip.Prefix{}, fmt.Errorf("prefix %q has host bits set (did you mean %v?)", s, p.Masked())
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("address %q: use the plain IPv4 form", s)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("address %q: want an IPv4 or IPv6 address or CIDR prefix", s)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("address %q: zones are not allowed", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Validated is a checked request.
type Validated struct {
	Op     string
	Jail   string
	Prefix netip.Prefix
	For    time.Duration
}

// Validate checks every field of r and says which one is wrong.
func Validate(r Request) (Validated, error) {
	v := Validated{Op: r.Op, Jail: r.Jail}
	if r.Jail != "" {
		if err := ValidJailName(r.Jail); err != nil {
			return v, fmt.Errorf("field jail: %w", err)
		}
	}
	switch r.Op {
	case OpStatus, OpList, OpFlush:
		if r.IP != "" || r.For != "" {
			return v, fmt.Errorf("op %s takes no ip or for", r.Op)
		}
	case OpBan, OpUnban:
		if r.IP == "" {
			return v, fmt.Errorf("op %s: field ip is required", r.Op)
		}
		p, err := ParsePrefix(r.IP)
		if err != nil {
			return v, fmt.Errorf("field ip: %w", err)
		}
		v.Prefix = p
		if r.For != "" {
			if r.Op != OpBan {
				return v, fmt.Errorf("op unban takes no for")
			}
			d, err := policy.ParseDuration(r.For)
			if err != nil {
				return v, fmt.Errorf("field for: %w", err)
			}
			if d.D <= 0 {
				return v, fmt.Errorf("field for: %q: want a positive duration", r.For)
			}
			v.For = d.D
		}
		if r.Op == OpUnban && r.Jail != "" {
			return v, fmt.Errorf("op unban takes no jail (an address is unbanned everywhere)")
		}
	default:
		return v, fmt.Errorf("field op: %q: want status, list, ban, unban or flush", r.Op)
	}
	return v, nil
}
