package verify

import (
	"context"
	"fmt"
	"strings"

	"github.com/rampart-sec/rampart/internal/check"
)

// Options narrow what the collectors look at. The zero value inspects the
// whole host; tests use the fields to point a check at the daemon they
// started instead of whatever else runs on the machine.
type Options struct {
	// SSHDConfigs, when set, restricts sshd discovery to running instances
	// started with one of these -f paths.
	SSHDConfigs []string
	// SSHDPIDs, when set, restricts sshd discovery to these processes.
	SSHDPIDs []int
	// ChronySocket is passed to chronyc as -h (a unix socket path or
	// address) when chronyd listens somewhere other than its default.
	ChronySocket string
	// Fail2banSocket is passed to fail2ban-client as -s.
	Fail2banSocket string
}

const optionsKey = "verify.options"

// WithOptions attaches o to env. Call it before check.Run; later calls have
// no effect.
func WithOptions(env *check.Env, o Options) {
	_, _ = env.Memo(optionsKey, func() (any, error) { return o, nil })
}

func optionsOf(env *check.Env) Options {
	v, _ := env.Memo(optionsKey, func() (any, error) { return Options{}, nil })
	o, _ := v.(Options)
	return o
}

// Select returns the registered checks chosen by only and skip, each a list
// of check IDs or area names ("ssh", "sysctl"). An empty only means all.
// A name matching no registered check is an error, so a typo never
// silently selects nothing.
func Select(all []*check.Check, only, skip []string) ([]*check.Check, error) {
	match := func(c *check.Check, sel string) bool {
		sel = strings.TrimSuffix(sel, ".*")
		sel = strings.TrimSuffix(sel, ".")
		return c.ID == sel || c.Area() == sel
	}
	for _, list := range [][]string{only, skip} {
		for _, sel := range list {
			found := false
			for _, c := range all {
				if match(c, sel) {
					found = true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("no check or area named %q (run 'rampart verify --list' to see them)", sel)
			}
		}
	}
	var out []*check.Check
	for _, c := range all {
		keep := len(only) == 0
		for _, sel := range only {
			keep = keep || match(c, sel)
		}
		for _, sel := range skip {
			if match(c, sel) {
				keep = false
			}
		}
		if keep {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the selection leaves no check to run")
	}
	return out, nil
}

// Run evaluates checks against env with the given options.
func Run(ctx context.Context, env *check.Env, o Options, checks []*check.Check) []check.Result {
	WithOptions(env, o)
	return check.Run(ctx, env, checks)
}

// SplitList splits a comma-separated flag value, dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
