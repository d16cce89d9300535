package nftrules

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rampart-sec/rampart/internal/host"
)

// ListCmd lists the live ruleset as JSON; it needs CAP_NET_ADMIN. It is
// the only place rampart reads the ruleset from (verify's firewall checks
// and lockdown's status both go through Read).
var ListCmd = host.Cmd{Name: "nft", Args: []string{"-j", "list", "ruleset"}, Sudo: true}

// iptablesSaves are read besides nft: the legacy backend is invisible to
// nft, and iptables-nft's own matches show in nft -j only as opaque "xt".
var iptablesSaves = []struct {
	cmd, legacy host.Cmd
	family      string
}{
	{host.Cmd{Name: "iptables-save", Sudo: true}, host.Cmd{Name: "iptables-legacy-save", Sudo: true}, "ip"},
	{host.Cmd{Name: "ip6tables-save", Sudo: true}, host.Cmd{Name: "ip6tables-legacy-save", Sudo: true}, "ip6"},
}

// Live is the ruleset a host enforces: nft's, with the iptables rules
// (iptables-nft's and the legacy backend's) merged in.
type Live struct {
	Ruleset *Ruleset
	// Sources are the commands it was read from, for evidence.
	Sources []string
}

// Source is the commands the ruleset was read from, as one line.
func (l *Live) Source() string { return strings.Join(l.Sources, " + ") }

// Read reads the live ruleset of h. A missing nft or iptables-save is
// skipped; with neither installed the error wraps host.ErrNotFound.
func Read(ctx context.Context, h host.Host) (*Live, error) {
	return ReadUsing(ctx, h, h.ReadFile)
}

// ReadUsing is Read with the legacy table lists (LegacyNames) read by
// readFile: a verify run's file cache, which read them with the other
// kernel files in one round trip.
func ReadUsing(ctx context.Context, h host.Host, readFile func(context.Context, string) ([]byte, error)) (*Live, error) {
	l := &Live{}
	out, err := host.RunOK(ctx, h, ListCmd)
	nftRead := err == nil
	switch {
	case err == nil:
		l.Ruleset, err = Parse(out)
		if err != nil {
			return nil, err
		}
		l.Sources = append(l.Sources, ListCmd.String())
	case errors.Is(err, host.ErrNotFound):
		l.Ruleset, _ = Parse([]byte(`{"nftables":[]}`))
	default:
		return nil, err
	}
	for _, s := range iptablesSaves {
		if why := noIptables(ctx, readFile, nftRead, l.Ruleset, s.family); why != "" {
			l.Sources = append(l.Sources, fmt.Sprintf("%s skipped: %s", s.cmd.String(), why))
			continue
		}
		out, err := host.RunOK(ctx, h, s.cmd)
		if errors.Is(err, host.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := l.Ruleset.AddIptables(out, s.family); err != nil {
			return nil, err
		}
		l.Sources = append(l.Sources, fmt.Sprintf("%s (%s)", s.cmd.String(), Backend(out)))
		if !LegacyPresent(out) {
			continue
		}
		out, err = host.RunOK(ctx, h, s.legacy)
		if err != nil {
			return nil, err
		}
		if err := l.Ruleset.AddIptables(out, s.family); err != nil {
			return nil, err
		}
		l.Sources = append(l.Sources, s.legacy.String())
	}
	if len(l.Sources) == 0 {
		return nil, fmt.Errorf("neither nft nor iptables-save is installed: %w", host.ErrNotFound)
	}
	return l, nil
}

// iptablesTables are the tables iptables-nft keeps in nftables (and the
// only ones its iptables-save prints).
var iptablesTables = map[string]bool{"filter": true, "nat": true, "mangle": true, "raw": true, "security": true}

// legacyNames lists the legacy backend's tables of a family; the file
// is absent while the legacy backend was never used.
var legacyNames = map[string]string{"ip": LegacyNames[0], "ip6": LegacyNames[1]}

// LegacyNames are the files that list the legacy iptables backend's
// tables, IPv4 then IPv6.
var LegacyNames = []string{"/proc/net/ip_tables_names", "/proc/net/ip6_tables_names"}

// noIptables says why iptables-save for family would print no table, or
// "" when it may print one and must be run: the legacy backend has no
// table (its list in /proc is empty or absent), and nft shows no table of
// iptables-nft's. Each iptables-save is a program start, and a fleet run
// over SSH is bound by those.
func noIptables(ctx context.Context, readFile func(context.Context, string) ([]byte, error), nftRead bool, rs *Ruleset, family string) string {
	if !nftRead {
		return "" // iptables-nft's tables are unknown
	}
	for _, t := range rs.Tables {
		if t.Family == family && iptablesTables[t.Name] {
			return ""
		}
	}
	b, err := readFile(ctx, legacyNames[family])
	switch {
	case err == nil && len(strings.TrimSpace(string(b))) == 0:
		return legacyNames[family] + " is empty and nft shows no iptables-nft table"
	case host.IsNotExist(err):
		return legacyNames[family] + " does not exist (no legacy table) and nft shows no iptables-nft table"
	}
	return ""
}
