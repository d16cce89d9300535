package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/nixfacts"
	"github.com/rampart-sec/rampart/internal/policy"
)

// WatchKeys are the keys that get a check of their own
// (audit.watch-KEY): those of the default policy's watches
// (policy.Default). Watches with any other key, or none,
// are checked together by audit.watch-other.
var WatchKeys = []string{"identity", "ssh", "sudo", "cron", "systemd"}

func init() {
	check.Register(&check.Check{
		ID:       "audit.enabled",
		Title:    "Kernel auditing is on and auditd receives the records",
		Severity: check.High,
		Applies:  auditEnabled,
		Eval:     evalEnabled,
		Fix:      enableRemediation,
	})
	for _, k := range WatchKeys {
		key := k
		check.Register(&check.Check{
			ID:       "audit.watch-" + key,
			Title:    fmt.Sprintf("The policy's audit watches with key %q are loaded", key),
			Severity: check.Medium,
			Applies: func(p *policy.Policy) (bool, string) {
				if ok, why := auditEnabled(p); !ok {
					return ok, why
				}
				if len(watchesFor(p, key)) == 0 {
					return false, fmt.Sprintf("the policy has no audit watch with key %q", key)
				}
				return true, ""
			},
			Eval: func(ctx context.Context, env *check.Env) check.Result {
				return evalWatches(ctx, env, watchesFor(env.Policy, key))
			},
			Fix: allWatchesRemediation,
		})
	}
	check.Register(&check.Check{
		ID:       "audit.watch-other",
		Title:    "The policy's other audit watches are loaded",
		Severity: check.Medium,
		Applies: func(p *policy.Policy) (bool, string) {
			if ok, why := auditEnabled(p); !ok {
				return ok, why
			}
			if len(watchesFor(p, "")) == 0 {
				return false, "every audit watch of the policy has a check of its own"
			}
			return true, ""
		},
		Eval: func(ctx context.Context, env *check.Env) check.Result {
			return evalWatches(ctx, env, watchesFor(env.Policy, ""))
		},
		Fix: allWatchesRemediation,
	})
}

func auditEnabled(p *policy.Policy) (bool, string) {
	if !p.Audit.Enabled {
		return false, "[audit] enabled = false in the policy"
	}
	return true, ""
}

// watchesFor returns the policy's watches with key, or for key "" the
// watches whose key has no check of its own.
func watchesFor(p *policy.Policy, key string) []policy.Watch {
	var out []policy.Watch
	for _, w := range p.Audit.Watches {
		own := contains(WatchKeys, w.Key)
		if key == "" && !own || key != "" && w.Key == key {
			out = append(out, w)
		}
	}
	return out
}

type listed struct {
	rules []Rule
	text  []byte
}

type statusRead struct {
	st   *Status
	text []byte
}

// loadedRules reads auditctl -l once per check run.
func loadedRules(ctx context.Context, env *check.Env) (*listed, error) {
	v, err := env.Memo("audit.auditctl-l", func() (any, error) {
		rules, text, err := ReadRules(ctx, env.Host)
		return &listed{rules, text}, err
	})
	if err != nil {
		return nil, err
	}
	return v.(*listed), nil
}

func readStatusMemo(ctx context.Context, env *check.Env) (*statusRead, error) {
	v, err := env.Memo("audit.auditctl-s", func() (any, error) {
		out, err := host.RunOK(ctx, env.Host, CmdStatus)
		if err != nil {
			return nil, err
		}
		st, err := ParseStatus(CmdStatus.String(), out)
		return &statusRead{st, out}, err
	})
	if err != nil {
		return nil, err
	}
	return v.(*statusRead), nil
}

func unknownResult(env *check.Env, what string, err error) check.Result {
	msg := fmt.Sprintf("could not read %s: %v", what, err)
	switch {
	case errors.Is(err, host.ErrNotFound):
		msg = "auditctl is not installed, so the kernel's audit state cannot be read"
	case env.Host != nil && !env.Host.IsRoot(context.Background()):
		msg += " (auditctl needs root: run verify with sudo)"
	}
	return check.Result{Status: check.Unknown, Message: msg, Remediation: enableRemediation(env)}
}

// cmdDetectContainer tells whether the host is a container, where the
// kernel's audit belongs to the machine outside (NixOS containers do not
// load rules on purpose).
var cmdDetectContainer = host.C("systemd-detect-virt", "-c")

// inContainer returns the container type, or "" (also when it cannot
// tell). It only turns "could not read" into "not applicable": a
// container that can read the kernel's audit state (this test VM says
// "docker" yet has its own kernel) is checked like any host.
func inContainer(ctx context.Context, env *check.Env) string {
	v, _ := env.Memo("audit.detect-container", func() (any, error) {
		out, err := env.Host.Run(ctx, cmdDetectContainer)
		if err != nil || out.ExitCode != 0 {
			return "", nil
		}
		kind := strings.TrimSpace(string(out.Stdout))
		if kind == "none" || strings.ContainsAny(kind, " \n") {
			return "", nil
		}
		return kind, nil
	})
	s, _ := v.(string)
	return s
}

func containerSkip(ctx context.Context, env *check.Env) (check.Result, bool) {
	if kind := inContainer(ctx, env); kind != "" {
		return check.Result{Status: check.Skip, Message: fmt.Sprintf("running in a container (%s) that cannot read the kernel's audit state: it belongs to the host outside", Safe(kind))}, true
	}
	return check.Result{}, false
}

func evalEnabled(ctx context.Context, env *check.Env) check.Result {
	sr, err := readStatusMemo(ctx, env)
	if err != nil {
		if r, skip := containerSkip(ctx, env); skip {
			return r
		}
		return unknownResult(env, "the audit status", err)
	}
	st := sr.st
	ev := []check.Evidence{{Source: CmdStatus.String(), Text: excerptStatus(sr.text)}}
	fix := enableRemediation(env)
	r := check.Result{Evidence: ev, Remediation: fix}
	switch {
	case st.Enabled == 0:
		r.Status, r.Message = check.Fail, "kernel auditing is off (enabled 0): no audit record is produced"
	case st.PID == 0:
		r.Status, r.Message = check.Fail, fmt.Sprintf("auditing is on (enabled %d) but no audit daemon is registered (pid 0): records go to the kernel log, rate-limited, and are lost", st.Enabled)
	case st.Lost > 0:
		r.Status, r.Message = check.Warn, fmt.Sprintf("auditing is on (enabled %d, auditd pid %d) but the kernel has lost %d record(s) since boot: raise the backlog limit (now %d)", st.Enabled, st.PID, st.Lost, st.BacklogLimit)
	case env.Policy != nil && env.Policy.Audit.BacklogLimit > 0 && st.BacklogLimit < int64(env.Policy.Audit.BacklogLimit):
		r.Status, r.Message = check.Warn, fmt.Sprintf("auditing is on (enabled %d, auditd pid %d) but the backlog limit is %d, below the policy's %d", st.Enabled, st.PID, st.BacklogLimit, env.Policy.Audit.BacklogLimit)
	default:
		lock := ""
		if st.Enabled == 2 {
			lock = ", rules locked until reboot"
		}
		r.Status, r.Message = check.Pass, fmt.Sprintf("auditing is on (enabled %d%s), auditd pid %d, backlog limit %d, lost %d", st.Enabled, lock, st.PID, st.BacklogLimit, st.Lost)
		// Without audit=1 at boot, processes started before auditd
		// (sshd, cron …) have no audit context until they restart.
		if cmdline, err := env.ReadFile(ctx, KernelCmdline); err == nil && !hasAuditBootParam(string(cmdline)) {
			r.Status = check.Warn
			r.Message += "; but the kernel was booted without audit=1, so processes started before auditd are not audited until they restart"
			r.Evidence = append(r.Evidence, check.Evidence{Source: KernelCmdline, Text: strings.TrimSpace(string(cmdline))})
		}
	}
	return r
}

// KernelCmdline holds the kernel's boot parameters (audit=1).
const KernelCmdline = "/proc/cmdline"

func hasAuditBootParam(cmdline string) bool {
	for _, f := range strings.Fields(cmdline) {
		if f == "audit=1" {
			return true
		}
	}
	return false
}

func excerptStatus(b []byte) string {
	var keep []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == "enabled" || f[0] == "pid" || f[0] == "backlog_limit" || f[0] == "lost" || f[0] == "backlog" || f[0] == "failure") {
			keep = append(keep, strings.TrimSpace(line))
		}
	}
	return strings.Join(keep, "\n")
}

// evalWatches compares the wanted watches with auditctl -l using the
// same Compare as `rampart audit diff`: a rule loaded in either spelling
// passes; a loaded rule that is broader (more perms, more keys) also
// passes, with a note.
func evalWatches(ctx context.Context, env *check.Env, ws []policy.Watch) check.Result {
	l, err := loadedRules(ctx, env)
	if err != nil {
		if r, skip := containerSkip(ctx, env); skip {
			return r
		}
		return unknownResult(env, "the loaded audit rules", err)
	}
	var want []Rule
	for _, w := range ws {
		r, err := WatchRule(w)
		if err != nil {
			return check.Result{Status: check.Unknown, Message: fmt.Sprintf("policy watch %s: %v", w.Path, err)}
		}
		want = append(want, r)
	}
	d := Compare(want, l.rules)
	var (
		evidence []string
		missing  []Rule
		broader  []string
	)
	for _, r := range d.Present {
		evidence = append(evidence, r.Listed())
	}
	for _, w := range d.Missing {
		found := false
		for _, h := range l.rules {
			if h.Covers(w) {
				found = true
				broader = append(broader, fmt.Sprintf("%s (as %s)", w, h.Listed()))
				evidence = append(evidence, h.Listed())
				break
			}
		}
		if !found {
			missing = append(missing, w)
		}
	}
	text := strings.Join(evidence, "\n")
	if text == "" {
		text = relatedLines(l, want)
	}
	r := check.Result{
		Evidence:    []check.Evidence{{Source: CmdList.String(), Text: text}},
		Remediation: remediation(env, missing),
	}
	switch {
	case len(missing) > 0:
		var s []string
		for _, m := range missing {
			s = append(s, m.String())
		}
		r.Status = check.Fail
		r.Message = fmt.Sprintf("%d of %d watch(es) not loaded: %s", len(missing), len(want), strings.Join(s, "; "))
	case len(broader) > 0:
		r.Status = check.Pass
		r.Message = fmt.Sprintf("all %d watch(es) loaded; covered by broader rules: %s", len(want), strings.Join(broader, "; "))
	default:
		r.Status = check.Pass
		r.Message = fmt.Sprintf("all %d watch(es) loaded", len(want))
	}
	if r.Status == check.Pass {
		if sup := suppressed(l.rules, want); len(sup) > 0 {
			r.Status = check.Warn
			r.Message += "; but a never rule listed before suppresses the records of: " + strings.Join(sup, "; ")
		}
	}
	if note := nixosSymlinkNote(ctx, env, want); note != "" {
		r.Message += "; " + note
	}
	return r
}

// suppressed lists the wanted watches that a "never" exit rule on the
// same path precedes: the kernel stops at the first matching rule, so
// the watch records nothing.
func suppressed(loaded []Rule, want []Rule) []string {
	var out []string
	for _, w := range want {
		for _, h := range loaded {
			if h.Canon() == w.Canon() || h.Covers(w) {
				break // the watch comes first
			}
			if h.Action == "never" && h.List == "exit" && h.Watch == w.Watch {
				out = append(out, fmt.Sprintf("%s (by %s)", w, h))
				break
			}
		}
	}
	return out
}

// nixosSymlinkNote warns that on NixOS /etc/ssh/sshd_config is a link
// into /etc/static: a watch on the link fires when the link is replaced,
// not when a rebuild changes what it points to (verify-anchors §4.8).
func nixosSymlinkNote(ctx context.Context, env *check.Env, want []Rule) string {
	watched := false
	for _, w := range want {
		if w.Watch == "/etc/ssh/sshd_config" {
			watched = true
		}
	}
	if !watched || env.Host == nil {
		return ""
	}
	if _, err := env.ReadFile(ctx, host.NixOSMarker); err != nil {
		return ""
	}
	return "note: on NixOS /etc/ssh/sshd_config is a symlink into /etc/static, so this watch sees the link replaced but not a rebuild that changes its target; consider also watching /etc/static"
}

// relatedLines is the evidence when nothing matched: the loaded rules on
// the same paths, or a summary of the listing.
func relatedLines(l *listed, want []Rule) string {
	var out []string
	for _, h := range l.rules {
		for _, w := range want {
			if h.Watch == w.Watch {
				out = append(out, h.Listed())
				break
			}
		}
	}
	if len(out) > 0 {
		return strings.Join(out, "\n")
	}
	if len(l.rules) == 0 {
		return "No rules"
	}
	return fmt.Sprintf("%d rule(s) loaded, none on these paths", len(l.rules))
}

func policyOf(env *check.Env) *policy.Policy {
	if env.Policy == nil {
		return policy.MustDefault("")
	}
	return env.Policy
}

// releaseNote says how the release loads the rules, as nixpkgs'
// nixos/modules/security/audit.nix does on the release's branch: from 25.11
// a separate audit-rules-nixos.service runs auditctl -R and the module
// writes -D/-b/-f/-e itself; before, audit.service does both.
func releaseNote(rel nixfacts.Release) string {
	if rel >= nixfacts.R2511 {
		return fmt.Sprintf("# NixOS %s: rules load through audit-rules-nixos.service (auditctl -R); the module writes -D/-b/-f/-e itself, keep them out of security.audit.rules; backlogLimit defaults to 1024", rel)
	}
	return fmt.Sprintf("# NixOS %s: rules load through audit.service (auditctl -D, then -R); backlogLimit defaults to 64, consider security.audit.backlogLimit = 8192", rel)
}

// nixText is the NixOS text of an audit fix: auditing on, the options of
// topic, and how the release loads rules; "" for a release nixfacts does
// not know (check.Env.NixRelease).
func nixText(env *check.Env, topic string) string {
	rel, ok := env.NixRelease()
	if !ok {
		return ""
	}
	return env.Nix("audit.enabled", topic) + "\n" + releaseNote(rel)
}

// enableRemediation turns auditing on and starts the daemon.
func enableRemediation(env *check.Env) check.Remediation {
	return check.Remediation{NixOS: nixText(env, "audit.backlog_limit"),
		Generic: "install and start the audit daemon (Debian: apt-get install auditd; systemctl enable --now auditd); it registers with the kernel and enables auditing (auditctl -s shows enabled 1 and its pid)"}
}

// allWatchesRemediation is the fix of a watch check: load every policy
// watch (its Eval names the missing ones).
func allWatchesRemediation(env *check.Env) check.Remediation { return remediation(env, nil) }

// remediation is the NixOS option text for the release (from nixfacts,
// the generator's own facts) and the generic auditctl commands for the
// missing rules (all policy watches when missing is nil).
func remediation(env *check.Env, missing []Rule) check.Remediation {
	p, nix := policyOf(env), nixText(env, "audit.watches")
	if missing == nil {
		missing, _ = FromPolicy(p.Audit)
	}
	var gen []string
	for _, r := range missing {
		gen = append(gen, "auditctl "+r.String())
	}
	generic := "start auditd (systemctl enable --now auditd), then load the rules: rampart audit apply"
	if len(gen) > 0 {
		generic = strings.Join(gen, "\n") + "\n(or: rampart audit apply); persist them in /etc/audit/rules.d/rampart.rules (rampart audit rules > /etc/audit/rules.d/rampart.rules; augenrules --load)"
	}
	return check.Remediation{NixOS: nix, Generic: generic}
}
