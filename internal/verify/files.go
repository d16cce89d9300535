package verify

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/rampart-sec/rampart/internal/audit"
	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/netcheck"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/proctab"
)

// A verify run over SSH is bound by the programs it starts on the remote
// host and, for a host far away, by its round trips. The files several
// checks read in batches (journald.conf and its drop-ins, the sysctl.d
// files, every process's cmdline, the policy's /proc/sys values, sshd's
// config) are therefore read together, once, before the checks run
// (prefetch), and every later batch is answered from what was read: one
// program and one round trip instead of four of each. A run is a snapshot
// of the host either way.

// prefetch reads, before the checks run, the files the selected checks
// will read, on hosts where a batch costs a program start. Three requests
// go out together (one round trip on a remote host, whose shell takes
// them pipelined): every pattern whose matches the checks read and every
// file whose path is known now, listed and read at once (env.ReadGlobs,
// one sed); the globs whose names alone the checks need; and the socket
// counts, which a remote shell reads with its builtins. What they could
// not cover (a path a remote glob may not hold) is read after them, in
// one more batch; the checks find everything in the run's caches.
func prefetch(ctx context.Context, env *check.Env, checks []*check.Check) {
	if _, ok := env.Host.(host.BatchReader); !ok {
		return
	}
	areas := areasOf(checks)
	read, names := prefetchGlobs(env, areas)
	fixed := prefetchFiles(env, areas)
	for _, p := range fixed {
		if plainPath(p) {
			read = append(read, p)
		}
	}
	var wg sync.WaitGroup
	if len(names) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = env.GlobAll(ctx, names)
		}()
	}
	if areas["ssh"] || areas["firewall"] {
		// The socket counts decide whether netcheck reads the TCP
		// tables or asks ss.
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = env.ReadFiles(ctx, netcheck.SockstatFiles())
		}()
	}
	_, _ = env.ReadGlobs(ctx, read)
	wg.Wait()
	// From the cache, but for what the patterns did not cover, and the
	// owners of the processes that pass for the root daemons the checks
	// look for (proctab.RootOwned), all of them in one batch.
	paths := fixed
	if ps, err := proctab.Paths(ctx, env); err == nil {
		paths = append(paths, ps...)
	}
	var daemons []proctab.Process
	if areas["ssh"] || areas["firewall"] {
		if ps, err := proctab.List(ctx, env); err == nil {
			for _, c := range sshdCandidates(ps, optionsOf(env)) {
				daemons = append(daemons, c.proc)
			}
		}
	}
	if areas["journald"] {
		ps, _ := proctab.Running(ctx, env, "systemd-journald")
		daemons = append(daemons, ps...)
	}
	for _, p := range daemons {
		paths = append(paths, proctab.StatusPath(p.PID))
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

// prefetchFiles are the files the checks of areas will read whose paths
// do not depend on what the host holds.
func prefetchFiles(env *check.Env, areas map[string]bool) []string {
	// os-release names the OS in the report's header (OSName), the
	// host name a fleet run's report.
	paths := append([]string{HostnamePath}, host.OSReleasePaths...)
	if areas["ssh"] || areas["firewall"] {
		// The rest of the kernel's small files.
		paths = append(paths, netcheck.KernelFiles()...)
		// The config sshd runs from is read for its Match lines; the
		// usual one, or the ones the run is pointed at.
		if cs := optionsOf(env).SSHDConfigs; len(cs) > 0 {
			paths = append(paths, cs...)
		} else {
			paths = append(paths, "/etc/ssh/sshd_config")
		}
	}
	if areas["journald"] {
		for _, d := range journaldMainDirs {
			paths = append(paths, d+"/journald.conf")
		}
	}
	if areas["sysctl"] && env.Policy != nil {
		paths = append(paths, "/etc/sysctl.conf")
		for _, s := range env.Policy.Sysctl {
			paths = append(paths, procSysPath(s.Name))
		}
	}
	if areas["audit"] {
		paths = append(paths, host.NixOSMarker, audit.KernelCmdline)
	}
	return paths
}

// plainPath reports an absolute path of letters, digits and / . _ -.
func plainPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-", r)) {
			return false
		}
	}
	return true
}

// HostnamePath holds the host's name (what it calls itself); prefetch
// reads it in its batch, for a fleet run's report.
const HostnamePath = "/proc/sys/kernel/hostname"

// prefetchGlobs are the globs the checks of areas will expand whose
// patterns do not depend on what the host holds: read, those whose
// matches the checks read too (every process's cmdline, the drop-ins,
// the /proc/sys values of every interface), and names, those whose names
// alone they need (the journal's directory, the guard's socket,
// fail2ban's files, which are read only when the checks need them).
func prefetchGlobs(env *check.Env, areas map[string]bool) (read, names []string) {
	read = []string{proctab.Pattern}
	if areas["journald"] {
		read = append(read, journaldDropinPatterns()...)
		names = append(names, journalDir)
	}
	if areas["sysctl"] && env.Policy != nil {
		read = append(read, overlayPatterns(sysctlDirs, "*.conf")...)
		for _, fam := range ifaceFamilies(env.Policy) {
			read = append(read, ifacePattern(fam))
		}
		// Each conf.all/default key of every interface (sysctlKeys).
		for _, s := range env.Policy.Sysctl {
			if fam, _, name, ok := confKey(s.Name); ok && !slices.Contains(read, ifaceKeyPattern(fam, name)) {
				read = append(read, ifaceKeyPattern(fam, name))
			}
		}
	}
	if areas["ban"] && env.Policy != nil {
		// The socket is a path, not a pattern: only one made of plain
		// characters joins the batch (a host may refuse others in a
		// glob, and one refusal would fail the whole batch).
		if s := env.Policy.Ban.Socket; plainPath(s) {
			names = append(names, s)
		}
		if env.Policy.Ban.Engine != policy.EngineRampart {
			names = append(names, fail2banJailConf)
			names = append(names, fail2banDropins...)
		}
	}
	return read, names
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
