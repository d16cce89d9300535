package verify

import (
	"context"
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
// host, and every batch of files read is one (sed). The files several
// checks read in batches (journald.conf and its drop-ins, the sysctl.d
// files, every process's cmdline, the policy's /proc/sys values, sshd's
// config) are therefore read together, once, before the checks run
// (prefetch), and
// every later batch is answered from what was read: one program instead
// of four. A run is a snapshot of the host either way.

// prefetch reads, in one batch, the files the selected checks will read
// in batches, on hosts where a batch costs a program start. Before it, in
// one round trip each, it expands every glob the checks will ask for
// whose pattern is known now, and reads the small kernel files (socket
// counts, interface table, host name) that a remote shell reads with its
// builtins: each was a round trip of its own, and the checks find them in
// the run's caches.
func prefetch(ctx context.Context, env *check.Env, checks []*check.Check) {
	if _, ok := env.Host.(host.BatchReader); !ok {
		return
	}
	areas := areasOf(checks)
	// The globs and the socket counts are asked for together: a remote
	// host's shell takes both in one round trip (sshhost pipelines them).
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = env.GlobAll(ctx, prefetchGlobs(env, areas))
	}()
	// os-release names the OS in the report's header (OSName), the
	// host name a fleet run's report.
	paths := append([]string{HostnamePath}, host.OSReleasePaths...)
	if areas["ssh"] || areas["firewall"] {
		// The socket counts first, alone (a remote shell's builtins read
		// them): they decide whether the TCP tables join the batch. The
		// rest of the kernel's files join it.
		_, _ = env.ReadFiles(ctx, netcheck.SockstatFiles())
		paths = append(paths, netcheck.KernelFiles()...)
	}
	wg.Wait()
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
	if areas["audit"] {
		paths = append(paths, host.NixOSMarker, audit.KernelCmdline)
	}
	_, _ = env.ReadFiles(ctx, paths)
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
// patterns do not depend on what the host holds.
func prefetchGlobs(env *check.Env, areas map[string]bool) []string {
	globs := []string{proctab.Pattern}
	if areas["journald"] {
		globs = append(append(globs, journaldDropinPatterns()...), journalDir)
	}
	if areas["sysctl"] && env.Policy != nil {
		globs = append(globs, overlayPatterns(sysctlDirs, "*.conf")...)
		for _, fam := range ifaceFamilies(env.Policy) {
			globs = append(globs, ifacePattern(fam))
		}
	}
	if areas["ban"] && env.Policy != nil {
		// The socket is a path, not a pattern: only one made of plain
		// characters joins the batch (a host may refuse others in a
		// glob, and one refusal would fail the whole batch).
		if s := env.Policy.Ban.Socket; plainPath(s) {
			globs = append(globs, s)
		}
		if env.Policy.Ban.Engine != policy.EngineRampart {
			globs = append(globs, fail2banJailConf)
			globs = append(globs, fail2banDropins...)
		}
	}
	return globs
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
