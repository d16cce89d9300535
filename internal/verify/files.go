package verify

import (
	"context"
	"strings"
	"sync"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
)

// A verify run over SSH is bound by the programs it starts on the remote
// host, and every batch of files read is one (sed). The files several
// checks read in batches (journald.conf and its drop-ins, the sysctl.d
// files, every process's cmdline, the policy's /proc/sys values, sshd's
// config) are therefore read together, once, before the checks run
// (prefetch), and
// every later batch is answered from what was read: one program instead
// of four. A run is a snapshot of the host either way.

// fileCache holds what readFiles read during one run (env).
type fileCache struct {
	mu sync.Mutex
	m  map[string]host.FileResult
}

func files(env *check.Env) *fileCache {
	v, _ := env.Memo("verify.files", func() (any, error) { return &fileCache{m: map[string]host.FileResult{}}, nil })
	return v.(*fileCache)
}

// readFiles is host.ReadFiles through the run's cache; a path asked for
// twice is read once.
func readFiles(ctx context.Context, env *check.Env, paths []string) ([]host.FileResult, error) {
	c := files(env)
	c.mu.Lock()
	var miss []string
	queued := map[string]bool{}
	for _, p := range paths {
		if _, ok := c.m[p]; !ok && !queued[p] {
			queued[p] = true
			miss = append(miss, p)
		}
	}
	c.mu.Unlock()
	if len(miss) > 0 {
		res, err := host.ReadFiles(ctx, env.Host, miss)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		for i, p := range miss {
			c.m[p] = res[i]
		}
		c.mu.Unlock()
	}
	out := make([]host.FileResult, len(paths))
	c.mu.Lock()
	for i, p := range paths {
		out[i] = c.m[p]
	}
	c.mu.Unlock()
	return out, nil
}

// prefetch reads, in one batch, the files the selected checks will read
// in batches, on hosts where a batch costs a program start.
func prefetch(ctx context.Context, env *check.Env, checks []*check.Check) {
	if _, ok := env.Host.(host.BatchReader); !ok {
		return
	}
	areas := map[string]bool{}
	for _, c := range checks {
		a, _, _ := strings.Cut(c.ID, ".")
		areas[a] = true
	}
	var paths []string
	if ps, err := cmdlinePaths(ctx, env); err == nil {
		paths = append(paths, ps...)
	}
	if areas["ssh"] || areas["firewall"] {
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
	_, _ = readFiles(ctx, env, paths)
}
