package fleetverify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/host/sshhost"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/verify"
	"github.com/rampart-sec/rampart/internal/version"
)

// Options configure Run.
type Options struct {
	// Parallel bounds the hosts verified at once (default 16).
	Parallel int
	// HostTimeout bounds one host: connecting and every check (default
	// 60s). A target's own Timeout wins.
	HostTimeout time.Duration
	// SSH is the base for every connection (known_hosts, keys, dialer).
	SSH sshhost.Options
	// Checks are the selected checks; Release the NixOS release for fixes.
	Checks  []*check.Check
	Release string
	// Verify are the collector options; a target's SSHDConfigs replace
	// Verify.SSHDConfigs for that host.
	Verify verify.Options
	// Policy returns the policy for a target (its file and profile, or the
	// run's default when both are empty). Called once per distinct pair.
	Policy func(file, profile string) (*policy.Policy, error)
	// Progress, when set, is called after each host with the hosts done,
	// the total and the hosts with at least one failure so far.
	Progress func(done, total, failing int)
}

// HostRun is one host's verification.
type HostRun struct {
	Target   *Target
	Reported string // the host's own name (/proc/sys/kernel/hostname), "" if unread
	OS       string // the host's OS as os-release names it, "" if unread
	Policy   string // file or "(default)"
	// PolicyHash is the SHA-256 of the effective policy (every default
	// filled in), so two hosts or two runs can be compared.
	PolicyHash string
	Version    string // rampart's version
	Release    string
	Started    time.Time
	Duration   time.Duration
	// Error is why the host could not be verified (unreachable, host key,
	// deadline, bad policy); every check is then unknown.
	Error   string
	Results []check.Result
	// Published is when the server stored the report, Age how old it was
	// when the view was built, and Stale whether that was more than the
	// view's maximum age; set only for reports read from the bucket.
	Published time.Time
	Age       time.Duration
	Stale     bool
}

// Run verifies every target, at most Parallel at a time, each under its
// own deadline. It never stops early: a host that cannot be reached or
// is too slow has its checks reported unknown with the reason.
func Run(ctx context.Context, targets []*Target, o Options) []*HostRun {
	if o.Parallel <= 0 {
		o.Parallel = 16
	}
	if o.HostTimeout <= 0 {
		o.HostTimeout = 60 * time.Second
	}
	if o.SSH.Shells == 0 && len(targets) > 1 {
		// Hosts verified side by side are the parallelism: one shell
		// each spares every server the CPU of two more sessions
		// (sshhost's shell.go), which is what bounds a large fleet run.
		o.SSH.Shells = 1
	}
	pols := &policyCache{load: o.Policy, m: map[[2]string]*policyEntry{}}
	jumps := newJumpPool(ctx, o.SSH.Timeout)
	defer jumps.close()
	out := make([]*HostRun, len(targets))
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done, failing := 0, 0
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done(): // runHost reports the host unknown at once
			}
			r := runHost(ctx, t, o, pols, jumps)
			out[i] = r
			if o.Progress != nil {
				mu.Lock()
				done++
				if r.Error != "" || check.Summarize(r.Results).Fail > 0 {
					failing++
				}
				o.Progress(done, len(targets), failing)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

type policyEntry struct {
	once sync.Once
	p    *policy.Policy
	hash string
	err  error
	nix  check.NixCache // the remediation text of p, for every host that uses it
}

type policyCache struct {
	load func(file, profile string) (*policy.Policy, error)
	mu   sync.Mutex
	m    map[[2]string]*policyEntry
}

func (c *policyCache) get(file, profile string) (*policyEntry, error) {
	c.mu.Lock()
	e := c.m[[2]string{file, profile}]
	if e == nil {
		e = &policyEntry{}
		c.m[[2]string{file, profile}] = e
	}
	c.mu.Unlock()
	e.once.Do(func() {
		if c.load == nil {
			e.p, e.err = policy.Default(profile)
		} else {
			e.p, e.err = c.load(file, profile)
		}
		if e.err == nil {
			e.hash = PolicyHash(e.p)
		}
	})
	return e, e.err
}

// PolicyHash is the hex SHA-256 of the effective policy as TOML.
func PolicyHash(p *policy.Policy) string {
	sum := sha256.Sum256(policy.MarshalTOML(p))
	return hex.EncodeToString(sum[:])
}

func runHost(ctx context.Context, t *Target, o Options, pols *policyCache, jumps *jumpPool) *HostRun {
	r := &HostRun{Target: t, Version: version.String(), Release: o.Release, Started: time.Now(), Policy: "(default)"}
	defer func() { r.Duration = time.Since(r.Started) }()
	if t.Policy != "" {
		r.Policy = t.Policy
	}
	pe, err := pols.get(t.Policy, t.Profile)
	if err != nil {
		r.Error = "policy: " + err.Error()
		r.Results = unknownAll(o.Checks, t.Name, r.Error)
		return r
	}
	p := pe.p
	r.Policy, r.PolicyHash = p.Source, pe.hash
	if r.Policy == "" {
		r.Policy = "(default)"
	}
	limit := o.HostTimeout
	if t.Timeout > 0 {
		limit = t.Timeout
	}
	hctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	sshOpts := o.SSH
	if sshOpts.Timeout <= 0 || sshOpts.Timeout > limit {
		sshOpts.Timeout = min(limit, 10*time.Second)
	}
	h, err := dial(hctx, t, sshOpts, jumps)
	if err != nil {
		r.Error = err.Error()
		if hctx.Err() != nil && ctx.Err() == nil {
			r.Error = fmt.Sprintf("no answer within the per-host deadline %s: %v", limit, err)
		}
		r.Results = unknownAll(o.Checks, t.Name, r.Error)
		return r
	}
	defer h.Close()
	vo := o.Verify
	if len(t.SSHDConfigs) > 0 {
		vo.SSHDConfigs = t.SSHDConfigs
	}
	env := check.NewEnv(h, p, o.Release)
	env.NixCache = &pe.nix
	r.Results = verify.Run(hctx, env, vo, o.Checks)
	r.OS, _ = verify.OSName(hctx, env)
	// Through the run's cache: verify read it with the kernel files.
	if b, err := env.ReadFile(hctx, verify.HostnamePath); err == nil {
		r.Reported = host.SafeText(strings.TrimSpace(string(b)))
	}
	for i := range r.Results {
		r.Results[i].Host = t.Name
	}
	if hctx.Err() != nil && ctx.Err() == nil {
		r.Error = fmt.Sprintf("the per-host deadline %s passed before every check finished; those are unknown", limit)
	}
	return r
}

// Dial connects to t, through its jump hosts first (each hop with its own
// keys and known_hosts when it has them); the func closes every hop.
func Dial(ctx context.Context, t *Target, base sshhost.Options) (*sshhost.Host, func(), error) {
	jumps := newJumpPool(ctx, base.Timeout)
	h, err := dial(ctx, t, base, jumps)
	if err != nil {
		jumps.close()
		return nil, nil, err
	}
	return h, func() { h.Close(); jumps.close() }, nil
}

// dial connects to t through its jump hosts, taken from jumps (shared with
// the other hosts of a run).
func dial(ctx context.Context, t *Target, base sshhost.Options, jumps *jumpPool) (*sshhost.Host, error) {
	opts, err := jumps.options(ctx, t, base)
	if err != nil {
		return nil, err
	}
	h, err := sshhost.Dial(ctx, t.Dest(), opts)
	if err != nil {
		return nil, aliasHint(err, t)
	}
	return h, nil
}

// unknownAll reports every check unknown for a host that was not verified.
func unknownAll(cs []*check.Check, hostName, why string) []check.Result {
	out := make([]check.Result, len(cs))
	for i, c := range cs {
		out[i] = check.Result{ID: c.ID, Title: c.Title, Area: c.Area(), Severity: c.Severity, Status: check.Unknown,
			Message: "host not verified: " + why, Evidence: []check.Evidence{}, Host: hostName}
	}
	return out
}
