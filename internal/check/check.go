// Package check is rampart's result model and check registry: a check is
// data (ID, title, area, severity, remediation) plus a typed Go evaluator
// that reads the host through host.Host. verify, audit and lockdown all
// produce []Result, and internal/report renders one []Result as text, JSON,
// JUnit or SARIF.
//
// What every check shares lives here and is enforced by the runner (Run),
// not by helpers a check may forget: a pass needs evidence, a panic is
// unknown, evidence text is bounded (MaxEvidence) and message and evidence
// are made safe to print (host.SafeText). Select picks checks by ID or
// area, and Env.NixRelease resolves the release of remediation text.
//
// Status vocabulary:
//
//	pass     the evidence shows the policy holds
//	fail     the evidence shows it does not
//	warn     it holds, but something nearby deserves attention
//	unknown  the evidence could not be read (not root, tool missing,
//	         permission denied); never counted as a pass
//	skip     not applicable under this policy or on this host
package check

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/nixfacts"
	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
	"github.com/rampart-sec/rampart/internal/policy"
)

// Status is a check's verdict.
type Status string

// The statuses, in increasing order of concern for summaries.
const (
	Pass    Status = "pass"
	Skip    Status = "skip"
	Warn    Status = "warn"
	Unknown Status = "unknown"
	Fail    Status = "fail"
)

// Severity ranks how much a failure matters.
type Severity string

// Severities.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
	Info     Severity = "info"
)

// Evidence is one thing actually read: a command line or file path, and an
// excerpt of what it returned. The runner keeps at most MaxEvidence bytes
// of each Text and makes Source and Text safe to print (host.SafeText).
type Evidence struct {
	Source string `json:"source"`
	Text   string `json:"text"`
}

// Remediation says how to fix a failure on NixOS (for the chosen release)
// and on any Linux.
type Remediation struct {
	NixOS   string `json:"nixos,omitempty"`
	Generic string `json:"generic,omitempty"`
}

// Result is one evaluated check.
type Result struct {
	ID          string        `json:"id"`
	Title       string        `json:"title"`
	Area        string        `json:"area"`
	Severity    Severity      `json:"severity"`
	Status      Status        `json:"status"`
	Message     string        `json:"message"`
	Evidence    []Evidence    `json:"evidence"`
	Remediation Remediation   `json:"remediation"`
	Host        string        `json:"host,omitempty"`
	Duration    time.Duration `json:"duration_ns"`
}

// Env is what a check evaluates against.
type Env struct {
	Host    host.Host
	Policy  *policy.Policy
	Release string // NixOS release for remediation text
	// NixCache, when set, is shared with other Envs of the same Policy.
	NixCache *NixCache
	memo     sync.Map
	sshd     []int // SetSSHDListeners; nil: not recorded
}

// SetSSHDListeners records the process IDs of the sshd listeners the run
// evaluates (verify finds them in the process table, within its
// --sshd-config and --sshd-pid scope), for checks of other packages that
// must tell sshd's sockets from others'. Call it before Run.
func (e *Env) SetSSHDListeners(pids []int) {
	e.sshd = append([]int{}, pids...)
}

// SSHDListeners returns what SetSSHDListeners recorded; known is false
// when nothing was.
func (e *Env) SSHDListeners() (pids []int, known bool) {
	return e.sshd, e.sshd != nil
}

// NixRelease is the NixOS release remediation text is written for: the
// env's Release, or the newest stable one when it is empty. It is the one
// place a check resolves the release; ok is false for a release nixfacts
// does not know, and then a check prints no NixOS text.
func (e *Env) NixRelease() (rel nixfacts.Release, ok bool) {
	if e.Release == "" {
		return nixfacts.Newest(), true
	}
	r, err := nixfacts.ParseRelease(e.Release)
	return r, err == nil
}

// Nix is the NixOS option lines that set the nixfacts policy topics
// ("ssh.max_auth_tries", "sysctl.net.ipv4.ip_forward", …) for the env's
// policy in its release, one per line; "" without a policy, for a release
// nixfacts does not know, or when the policy sets none of them.
func (e *Env) Nix(topics ...string) string {
	rel, ok := e.NixRelease()
	if !ok || e.Policy == nil {
		return ""
	}
	var lines []string
	for _, t := range topics {
		if s := e.NixCache.remediation(rel, t, e.Policy); s != "" {
			lines = append(lines, s)
		}
	}
	return strings.Join(lines, "\n")
}

// NixCache holds the remediation text of one policy, so Envs that share
// the policy (a fleet's hosts) build each topic's lines once: they were
// about a tenth of the client's CPU in a 50-host run. Only Envs whose
// Policy is the same, unchanged policy may share one.
type NixCache struct {
	m sync.Map // nixKey → string
}

type nixKey struct {
	rel   nixfacts.Release
	topic string
}

// remediation is nixfacts.Remediation, trimmed, through the cache when
// there is one.
func (c *NixCache) remediation(rel nixfacts.Release, topic string, p *policy.Policy) string {
	if c == nil {
		return strings.TrimSpace(nixfacts.Remediation(rel, topic, p))
	}
	k := nixKey{rel, topic}
	if v, ok := c.m.Load(k); ok {
		return v.(string)
	}
	v, _ := c.m.LoadOrStore(k, strings.TrimSpace(nixfacts.Remediation(rel, topic, p)))
	return v.(string)
}

// NixLine is the definition `path = v;` in the env's release, checked
// against nixfacts (nixfacts.Line); "" for a release nixfacts does not
// know. A path that is not an option of the release gives a comment that
// says so instead of a definition that would fail evaluation.
func (e *Env) NixLine(v nixexpr.Value, path ...string) string {
	rel, ok := e.NixRelease()
	if !ok {
		return ""
	}
	line, err := nixfacts.Line(rel, v, path...)
	if err != nil {
		return "# " + err.Error()
	}
	return line
}

// NewEnv returns an Env for h and p.
func NewEnv(h host.Host, p *policy.Policy, release string) *Env {
	return &Env{Host: h, Policy: p, Release: release}
}

type memoEntry struct {
	once sync.Once
	val  any
	err  error
}

// Memo runs fn once per key for this Env and returns its result to every
// caller, so checks that share a collector (sshd -T, nft -j list ruleset)
// read the host once.
func (e *Env) Memo(key string, fn func() (any, error)) (any, error) {
	v, _ := e.memo.LoadOrStore(key, &memoEntry{})
	m := v.(*memoEntry)
	m.once.Do(func() { m.val, m.err = fn() })
	return m.val, m.err
}

// ReadFiles is host.ReadFiles through the run's file cache: a path asked
// for again, by any check, is not read again. A run is a snapshot of the
// host, and on a remote host every batch read is one program start (a
// fleet run is bound by them), so what several checks read is read in one
// batch ahead (verify's prefetch) and answered from here after.
func (e *Env) ReadFiles(ctx context.Context, paths []string) ([]host.FileResult, error) {
	return cached(e, "check.files", paths, func(miss []string) ([]host.FileResult, error) { return host.ReadFiles(ctx, e.Host, miss) })
}

// ReadFile is one file through the run's file cache, as ReadFiles reads
// it: text, with a final newline when it has none.
func (e *Env) ReadFile(ctx context.Context, path string) ([]byte, error) {
	r, err := e.ReadFiles(ctx, []string{path})
	if err != nil {
		return nil, err
	}
	return r[0].Data, r[0].Err
}

// Glob is env.Host.Glob through the run's cache.
func (e *Env) Glob(ctx context.Context, pattern string) ([]string, error) {
	r, err := e.GlobAll(ctx, []string{pattern})
	if err != nil {
		return nil, err
	}
	return r[0], nil
}

// GlobAll expands patterns through the run's cache: a pattern asked for
// again is not expanded again, and the rest go to the host together
// (host.GlobAll: one round trip on a remote host).
func (e *Env) GlobAll(ctx context.Context, patterns []string) ([][]string, error) {
	return cached(e, "check.globs", patterns, func(miss []string) ([][]string, error) { return host.GlobAll(ctx, e.Host, miss) })
}

// ReadGlobs expands patterns and reads what they match (host.ReadGlobs:
// one round trip on a remote host), and keeps both in the run's caches:
// each pattern's matches for Glob and GlobAll, each match's contents for
// ReadFile and ReadFiles, and for a plain path that matched nothing, that
// it does not exist (as root, to whom no directory is closed: another
// user's listing may miss what is there). What the caches already hold
// stays.
func (e *Env) ReadGlobs(ctx context.Context, patterns []string) ([][]host.NamedFile, error) {
	res, err := host.ReadGlobs(ctx, e.Host, patterns)
	if err != nil {
		return nil, err
	}
	root := e.Host.IsRoot(ctx)
	globs := map[string][]string{}
	files := map[string]host.FileResult{}
	for i, p := range patterns {
		names := make([]string, len(res[i]))
		for k, f := range res[i] {
			names[k] = f.Path
			files[f.Path] = f.FileResult
		}
		globs[p] = names
		if len(names) == 0 && root && !strings.ContainsAny(p, "*?[") {
			files[p] = host.FileResult{Err: &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}}
		}
	}
	store(e, "check.globs", globs)
	store(e, "check.files", files)
	return res, nil
}

// store adds vals to the run's cache named name (as cached fills it),
// keeping what it holds.
func store[V any](e *Env, name string, vals map[string]V) {
	c := cacheOf[V](e, name)
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, x := range vals {
		if _, ok := c.m[k]; !ok {
			c.m[k] = x
		}
	}
}

// runCache holds, for one run, what was fetched per key.
type runCache[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

// cacheOf is the run's cache named name, made empty on first use.
func cacheOf[V any](e *Env, name string) *runCache[V] {
	v, _ := e.Memo(name, func() (any, error) { return &runCache[V]{m: map[string]V{}}, nil })
	return v.(*runCache[V])
}

// cached answers keys from the run's cache named name, fetching the ones
// not seen yet together (each once) with fetch, which returns one value
// per key asked, in order.
func cached[V any](e *Env, name string, keys []string, fetch func([]string) ([]V, error)) ([]V, error) {
	c := cacheOf[V](e, name)
	c.mu.Lock()
	var miss []string
	queued := map[string]bool{}
	for _, k := range keys {
		if _, ok := c.m[k]; !ok && !queued[k] {
			queued[k] = true
			miss = append(miss, k)
		}
	}
	c.mu.Unlock()
	if len(miss) > 0 {
		res, err := fetch(miss)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		for i, k := range miss {
			c.m[k] = res[i]
		}
		c.mu.Unlock()
	}
	out := make([]V, len(keys))
	c.mu.Lock()
	for i, k := range keys {
		out[i] = c.m[k]
	}
	c.mu.Unlock()
	return out, nil
}

// Check is one registered check.
type Check struct {
	ID    string // area.name, e.g. "ssh.password-authentication"
	Title string
	// TitleFor, when set, is the title under a given policy, for checks
	// whose rule depends on it (firewall.ssh-exposure checks something
	// else when ssh.tailnet_only is off); Title then describes the check
	// for every policy (verify --list).
	TitleFor func(p *policy.Policy) string
	Severity Severity
	// Applies reports whether the check is relevant under the policy; a
	// check that does not apply is reported as skip with the reason.
	Applies func(p *policy.Policy) (bool, string)
	// Eval reads the host and returns the verdict. It fills Status,
	// Message, Evidence and may fill Remediation; the runner fills the
	// rest.
	Eval func(ctx context.Context, env *Env) Result
	// Fix is the check's remediation under env's policy and release: how
	// to make it pass, on NixOS and on any Linux. The runner gives it to a
	// failure whose Eval set no remediation. NixOS text names only options
	// nixfacts knows for the release: build it with Env.Nix and
	// Env.NixLine (TestRemediationsKnownToNixfacts in check/catalog asks
	// nixfacts about every option path of every check's Fix).
	Fix func(env *Env) Remediation
}

// TitleUnder is the check's title under p (Title when p is nil or the
// title does not depend on the policy).
func (c *Check) TitleUnder(p *policy.Policy) string {
	if c.TitleFor != nil && p != nil {
		if t := c.TitleFor(p); t != "" {
			return t
		}
	}
	return c.Title
}

// Area is the part of the ID before the first dot.
func (c *Check) Area() string {
	for i := 0; i < len(c.ID); i++ {
		if c.ID[i] == '.' {
			return c.ID[:i]
		}
	}
	return c.ID
}

var (
	regMu    sync.Mutex
	registry = map[string]*Check{}
	idRE     = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*\.[a-z0-9]+([.-][a-z0-9]+)*$`)
)

// Register adds checks to the registry; it panics on a malformed or
// duplicate ID or a missing evaluator.
func Register(cs ...*Check) {
	regMu.Lock()
	defer regMu.Unlock()
	for _, c := range cs {
		switch {
		case !idRE.MatchString(c.ID):
			panic(fmt.Sprintf("check: register %q: ID must be area.name in lower case", c.ID))
		case registry[c.ID] != nil:
			panic("check: register: duplicate ID " + c.ID)
		case c.Eval == nil || c.Title == "":
			panic("check: register " + c.ID + ": missing title or evaluator")
		}
		registry[c.ID] = c
	}
}

// All returns the registered checks sorted by ID.
func All() []*Check {
	regMu.Lock()
	defer regMu.Unlock()
	out := make([]*Check, 0, len(registry))
	for _, c := range registry {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Lookup returns the check with the given ID.
func Lookup(id string) (*Check, bool) {
	regMu.Lock()
	defer regMu.Unlock()
	c, ok := registry[id]
	return c, ok
}

// MaxParallel bounds the checks Run evaluates at once. It is above the
// catalog's size: on a remote host every check's first command should go
// out in the same burst (sshhost pipelines them), not wait for a slot
// behind another check's round trip.
const MaxParallel = 64

// Run evaluates checks concurrently against env and returns results in the
// order of checks. A panicking check becomes an unknown result; one failed
// read never aborts the run.
func Run(ctx context.Context, env *Env, checks []*Check) []Result {
	results := make([]Result, len(checks))
	var wg sync.WaitGroup
	sem := make(chan struct{}, MaxParallel)
	for i, c := range checks {
		wg.Add(1)
		go func(i int, c *Check) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = runOne(ctx, env, c)
		}(i, c)
	}
	wg.Wait()
	return results
}

func runOne(ctx context.Context, env *Env, c *Check) (r Result) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			r = Result{Status: Unknown, Message: fmt.Sprintf("internal error in check: %v", p)}
		}
		r.ID, r.Title, r.Area, r.Severity = c.ID, c.TitleUnder(env.Policy), c.Area(), c.Severity
		if env.Host != nil {
			r.Host = env.Host.Name()
		}
		r.Duration = time.Since(start)
		if r.Status == Pass && len(r.Evidence) == 0 {
			// A pass must rest on something read.
			r.Status, r.Message = Unknown, "check reported pass without evidence: "+r.Message
		}
		if r.Status == Fail && r.Remediation == (Remediation{}) && c.Fix != nil {
			r.Remediation = fixOf(c, env)
		}
		Clean(&r)
	}()
	if c.Applies != nil && env.Policy != nil {
		if ok, why := c.Applies(env.Policy); !ok {
			return Result{Status: Skip, Message: why}
		}
	}
	return c.Eval(ctx, env)
}

// fixOf is c.Fix(env); a panic in it leaves the result without a fix.
func fixOf(c *Check, env *Env) (fix Remediation) {
	defer func() {
		if recover() != nil {
			fix = Remediation{}
		}
	}()
	return c.Fix(env)
}

// MaxEvidence bounds the text kept from one piece of evidence, in bytes,
// so that a huge or hostile output cannot bloat a report. Longer text is
// cut at a character boundary and ends in EvidenceCut.
const MaxEvidence = 4000

// EvidenceCut marks evidence text the runner shortened.
const EvidenceCut = "\n… (truncated)"

// Clean enforces what every result shares, whatever its check returned:
// message and evidence come from the host (attacker-controlled on a remote
// one), so control characters and terminal escapes are made visible, and
// each evidence text is bounded by MaxEvidence. The runner applies it to
// every result; readers of results from elsewhere (a report another node
// published) apply it too, and then the title and fixes are not the
// checks' own either, so they are made safe as well.
func Clean(r *Result) {
	r.Message, r.Title = host.SafeText(r.Message), host.SafeText(r.Title)
	r.Remediation.NixOS, r.Remediation.Generic = host.SafeText(r.Remediation.NixOS), host.SafeText(r.Remediation.Generic)
	// A copy: checks may return evidence they share through Env.Memo.
	evs := make([]Evidence, len(r.Evidence))
	for i, e := range r.Evidence {
		evs[i] = Evidence{Source: clip(host.SafeText(e.Source)), Text: clip(host.SafeText(e.Text))}
	}
	r.Evidence = evs
}

// clip cuts s to MaxEvidence bytes at a UTF-8 boundary and marks the cut.
func clip(s string) string {
	if len(s) <= MaxEvidence {
		return s
	}
	cut := MaxEvidence
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + EvidenceCut
}

// Summary counts results by status.
type Summary struct {
	Total   int `json:"total"`
	Pass    int `json:"pass"`
	Fail    int `json:"fail"`
	Warn    int `json:"warn"`
	Unknown int `json:"unknown"`
	Skip    int `json:"skip"`
}

// Summarize counts rs.
func Summarize(rs []Result) Summary {
	var s Summary
	for _, r := range rs {
		s.Total++
		switch r.Status {
		case Pass:
			s.Pass++
		case Fail:
			s.Fail++
		case Warn:
			s.Warn++
		case Unknown:
			s.Unknown++
		case Skip:
			s.Skip++
		}
	}
	return s
}
