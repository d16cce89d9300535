package verify

import (
	"context"
	"strings"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/netcheck"
	"github.com/rampart-sec/rampart/internal/proctab"
)

// A verify run over SSH is bound by the programs it starts on the remote
// host, and every batch of files read is one (sed). The files several
// checks read in batches (journald.conf and its drop-ins, the sysctl.d
// files, every process's cmdline, the policy's /proc/sys values, sshd's
// config) are therefore read together, once, before the checks run
// (prefetch), and
// every later batch is answered from what was read: one program instead
// of four. A run is a snapshot of the host either way.

// prefetch reads, in one batch, the files the selected checks will read
// in batches, on hosts where a batch costs a program start.
//
// OSName reads the OS name through the same cache after the run.
func prefetch(ctx context.Context, env *check.Env, checks []*check.Check) {
	if _, ok := env.Host.(host.BatchReader); !ok {
		return
	}
	areas := areasOf(checks)
	// os-release names the OS in the report's header (OSName).
	paths := append([]string(nil), host.OSReleasePaths...)
	if ps, err := proctab.Paths(ctx, env); err == nil {
		paths = append(paths, ps...)
	}
	if areas["ssh"] || areas["firewall"] {
		// Where sshd listens, from the kernel's TCP tables when they
		// are small (netcheck reads them instead of running ss).
		paths = append(paths, netcheck.ListenTables(ctx, env)...)
		// The config sshd runs from is read for its Match lines; the
		// usual one, or the ones the run is pointed at.
		if cs := optionsOf(env).SSHDConfigs; len(cs) > 0 {
			paths = append(paths, cs...)
		} else {
			paths = append(paths, "/etc/ssh/sshd_config")
		}
	}
	if areas["journald"] {
		if ps, err := journaldFiles(ctx, env); err == nil {
			paths = append(paths, ps...)
		}
	}
	if areas["sysctl"] && env.Policy != nil {
		if ps, err := sysctlFiles(ctx, env); err == nil {
			paths = append(paths, ps...)
		}
		for _, k := range sysctlKeys(ctx, env) {
			paths = append(paths, procSysPath(k))
		}
	}
	_, _ = env.ReadFiles(ctx, paths)
}

// areasOf is the set of areas ("ssh", "firewall", …) of checks.
func areasOf(checks []*check.Check) map[string]bool {
	areas := map[string]bool{}
	for _, c := range checks {
		a, _, _ := strings.Cut(c.ID, ".")
		areas[a] = true
	}
	return areas
}

// OSName is the host's OS name (host.OSNameFrom) through the run's file cache:
// on a remote host prefetch read os-release in its batch, so naming the
// OS in the report starts no program.
func OSName(ctx context.Context, env *check.Env) (string, error) {
	rs, err := env.ReadFiles(ctx, host.OSReleasePaths)
	if err != nil {
		return "", err
	}
	return host.OSNameFrom(rs)
}
