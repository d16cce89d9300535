package fleetverify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/host/sshhost"
)

// maxJumps bounds a chain of jump hosts read from the ssh configuration
// (ssh follows the ProxyJump of a jump host too; a loop would not end).
const maxJumps = 8

// SSHConfig says how WithSSHConfig reads OpenSSH's client configuration.
type SSHConfig struct {
	Local host.Host // runs ssh -G: this machine
	File  string    // ssh -F FILE; "" is ssh's own choice (~/.ssh/config, /etc/ssh/ssh_config)
	Home  string    // expands ~ in key paths
	// KeepIdentities and KeepKnownHosts: the run's own were given (on the
	// command line or in the inventory) and win over the configuration's.
	KeepIdentities, KeepKnownHosts bool
}

// WithSSHConfig fills in what t leaves open from OpenSSH's client
// configuration for its address (ssh -G): the address becomes the
// configured HostName; User, Port and ProxyJump apply where the inventory
// or the command line set none; the configured keys and known_hosts files
// that exist become the host's own unless the run keeps its own. Jump
// hosts, from the inventory or the configuration, are looked up the same
// way. t and its jump hosts are changed in place, each once.
func WithSSHConfig(ctx context.Context, c SSHConfig, t *Target) error {
	return c.apply(ctx, t, 0)
}

func (c SSHConfig) apply(ctx context.Context, t *Target, depth int) error {
	if depth > maxJumps {
		return fmt.Errorf("ProxyJump: more than %d jump hosts (a loop in the ssh configuration?)", maxJumps)
	}
	if t.configured {
		return nil
	}
	t.configured = true
	cfg, err := sshhost.LoadClientConfig(ctx, c.Local, t.Address, c.File, c.Home)
	if err != nil {
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	t.Address = cfg.HostName
	if t.User == "" {
		t.User = cfg.User
	}
	if !t.PortSet {
		t.Port = cfg.Port
	}
	if !c.KeepIdentities {
		t.Identities = existing(ctx, c.Local, cfg.Identities)
	}
	if !c.KeepKnownHosts {
		t.KnownHosts = existing(ctx, c.Local, cfg.KnownHosts)
	}
	if t.ProxyJump == nil && cfg.ProxyJump != "" {
		if t.ProxyJump, err = ParseJumps(cfg.ProxyJump); err != nil {
			return fmt.Errorf("%s: ProxyJump: %w", t.Name, err)
		}
	}
	if t.ProxyJump != nil {
		if err := c.apply(ctx, t.ProxyJump, depth+1); err != nil {
			return fmt.Errorf("%s: jump host %w", t.Name, err)
		}
	}
	return nil
}

// ParseJumps parses a jump list as ssh -J and ProxyJump take it,
// "[USER@]HOST[:PORT],…": the first is dialled first, each next one
// through the one before. It returns the last, whose ProxyJump chain
// leads back to the first.
func ParseJumps(spec string) (*Target, error) {
	var prev *Target
	for i, hop := range strings.Split(spec, ",") {
		hop = strings.TrimSpace(hop)
		if hop == "" {
			return nil, fmt.Errorf("jump host %d of %q is empty: want [USER@]HOST[:PORT],…", i+1, host.SafeText(spec))
		}
		pt, err := sshhost.ParseTarget(hop)
		if err != nil {
			return nil, err
		}
		j := TargetOf(pt.Host, pt)
		j.ProxyJump, prev = prev, j
	}
	return prev, nil
}

// existing keeps the files that exist, as ssh skips a default key that is
// not there.
func existing(ctx context.Context, local host.Host, files []string) []string {
	var out []string
	for _, f := range files {
		if _, err := local.ReadFile(ctx, f); err == nil {
			out = append(out, f)
		}
	}
	return out
}

// aliasHint adds to a connection error whose name could not be resolved
// that the name may be an alias of the ssh configuration, which
// --ssh-config reads.
func aliasHint(err error, t *Target) error {
	var dns *net.DNSError
	if t.configured || !errors.As(err, &dns) {
		return err
	}
	return fmt.Errorf("%w (if %s is a Host of your ssh configuration, add --ssh-config)", err, host.SafeText(t.Address))
}
