package verify

import (
	"context"
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

// Run evaluates checks against env with the given options.
func Run(ctx context.Context, env *check.Env, o Options, checks []*check.Check) []check.Result {
	WithOptions(env, o)
	prefetch(ctx, env, checks)
	recordSSHD(ctx, env, checks)
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

// recordSSHD tells the checks of other packages (netcheck: which
// listening sockets are sshd's) the PIDs of the sshd listeners this run
// evaluates, when every one of them is a process (a socket-activated sshd
// has its socket held by systemd).
func recordSSHD(ctx context.Context, env *check.Env, checks []*check.Check) {
	if areas := areasOf(checks); !areas["ssh"] && !areas["firewall"] {
		return
	}
	insts, _, err := sshdInstances(ctx, env)
	if err != nil {
		return
	}
	var pids []int
	for _, in := range insts {
		if in.PID == 0 {
			return
		}
		pids = append(pids, in.PID)
	}
	env.SetSSHDListeners(pids)
}
