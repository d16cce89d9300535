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
	l := &Live{}
	out, err := host.RunOK(ctx, h, ListCmd)
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
