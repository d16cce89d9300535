package verify

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
	"github.com/rampart-sec/rampart/internal/policy"
)

// sshRule is one policy key evaluated over the whole sshd matrix.
type sshRule struct {
	id, title string
	sev       check.Severity
	// applies skips the rule when the policy does not ask for anything.
	applies func(p policy.SSH) (bool, string)
	// want describes the wanted value for messages.
	want func(p policy.SSH) string
	// eval returns the shown value ("passwordauthentication yes") and
	// whether it complies.
	eval func(p policy.SSH, c sshdConfig) (string, bool)
	// fix is the rule's remediation (check.Check.Fix).
	fix func(env *check.Env, s policy.SSH) check.Remediation
}

// sshSet is the fix of a rule that a nixfacts topic implements: the
// topic's option on NixOS, an sshd_config line elsewhere.
func sshSet(topic string, generic func(s policy.SSH) string) func(*check.Env, policy.SSH) check.Remediation {
	return func(env *check.Env, s policy.SSH) check.Remediation {
		return check.Remediation{NixOS: env.Nix(topic), Generic: generic(s)}
	}
}

// keyIs returns an evaluator for a keyword (or its older aliases) whose
// value must satisfy ok.
func keyIs(ok func(p policy.SSH, v string) bool, keys ...string) func(policy.SSH, sshdConfig) (string, bool) {
	return func(p policy.SSH, c sshdConfig) (string, bool) {
		for _, k := range keys {
			if v, found := c.get(k); found {
				return k + " " + v, ok(p, v)
			}
		}
		return keys[0] + " (not printed by sshd -T)", false
	}
}

func isNo(_ policy.SSH, v string) bool { return v == "no" }

func whenOff(get func(policy.SSH) bool, what string) func(policy.SSH) (bool, string) {
	return func(p policy.SSH) (bool, string) {
		if get(p) {
			return false, "the policy allows " + what
		}
		return true, ""
	}
}

func whenPositive(get func(policy.SSH) int64, what string) func(policy.SSH) (bool, string) {
	return func(p policy.SSH) (bool, string) {
		if get(p) <= 0 {
			return false, "the policy sets no " + what
		}
		return true, ""
	}
}

// atMost returns an evaluator for a number that must be in 1..max.
func atMost(get func(policy.SSH) int64, key string) func(policy.SSH, sshdConfig) (string, bool) {
	return keyIs(func(p policy.SSH, v string) bool {
		n, err := strconv.ParseInt(v, 10, 64)
		return err == nil && n > 0 && n <= get(p)
	}, key)
}

// rootRank orders PermitRootLogin values from strictest to loosest;
// without-password is OpenSSH's older spelling of prohibit-password (9.2
// still prints it).
var rootRank = map[string]int{"no": 0, "forced-commands-only": 1, "prohibit-password": 2, "without-password": 2, "yes": 3}

var sshRules = []sshRule{
	{id: "ssh.password-authentication", title: "SSH password authentication is off for every connection", sev: check.Critical,
		applies: whenOff(func(p policy.SSH) bool { return p.PasswordAuthentication }, "password authentication"),
		want:    func(policy.SSH) string { return "no" },
		eval:    keyIs(isNo, "passwordauthentication"),
		fix: sshSet("ssh.password_authentication", func(s policy.SSH) string {
			return fmt.Sprintf("set \"PasswordAuthentication %s\" in sshd_config, remove it from every Match block, and reload sshd", yesno(s.PasswordAuthentication))
		})},
	{id: "ssh.kbd-interactive-authentication", title: "SSH keyboard-interactive authentication is off", sev: check.High,
		applies: whenOff(func(p policy.SSH) bool { return p.KbdInteractiveAuthentication }, "keyboard-interactive authentication"),
		want:    func(policy.SSH) string { return "no" },
		eval:    keyIs(isNo, "kbdinteractiveauthentication", "challengeresponseauthentication"),
		fix: sshSet("ssh.kbd_interactive_authentication", func(s policy.SSH) string {
			return fmt.Sprintf("set \"KbdInteractiveAuthentication %s\" in sshd_config (PAM answers keyboard-interactive with a password), and reload sshd", yesno(s.KbdInteractiveAuthentication))
		})},
	{id: "ssh.permit-root-login", title: "SSH root login is no looser than the policy", sev: check.High,
		applies: func(p policy.SSH) (bool, string) {
			return p.PermitRootLogin != "", "the policy sets no PermitRootLogin"
		},
		want: func(p policy.SSH) string { return p.PermitRootLogin + " or stricter" },
		eval: keyIs(func(p policy.SSH, v string) bool {
			got, ok1 := rootRank[v]
			want, ok2 := rootRank[p.PermitRootLogin]
			return ok1 && ok2 && got <= want
		}, "permitrootlogin"),
		fix: sshSet("ssh.permit_root_login", func(s policy.SSH) string {
			return fmt.Sprintf("set \"PermitRootLogin %s\" in sshd_config and in every Match block", s.PermitRootLogin)
		})},
	{id: "ssh.max-auth-tries", title: "SSH MaxAuthTries is at most the policy's", sev: check.Medium,
		applies: whenPositive(func(p policy.SSH) int64 { return int64(p.MaxAuthTries) }, "MaxAuthTries"),
		want:    func(p policy.SSH) string { return fmt.Sprintf("1..%d", p.MaxAuthTries) },
		eval:    atMost(func(p policy.SSH) int64 { return int64(p.MaxAuthTries) }, "maxauthtries"),
		fix: sshSet("ssh.max_auth_tries", func(s policy.SSH) string {
			return fmt.Sprintf("set \"MaxAuthTries %d\" in sshd_config", s.MaxAuthTries)
		})},
	{id: "ssh.client-alive-interval", title: "SSH idle sessions are probed (ClientAliveInterval)", sev: check.Low,
		applies: whenPositive(func(p policy.SSH) int64 { return p.ClientAliveInterval.Seconds() }, "ClientAliveInterval"),
		want:    func(p policy.SSH) string { return fmt.Sprintf("1..%d", p.ClientAliveInterval.Seconds()) },
		eval:    atMost(func(p policy.SSH) int64 { return p.ClientAliveInterval.Seconds() }, "clientaliveinterval"),
		fix: sshSet("ssh.client_alive_interval", func(s policy.SSH) string {
			return fmt.Sprintf("set \"ClientAliveInterval %d\" in sshd_config", s.ClientAliveInterval.Seconds())
		})},
	{id: "ssh.client-alive-count-max", title: "SSH drops unresponsive sessions (ClientAliveCountMax)", sev: check.Low,
		applies: whenPositive(func(p policy.SSH) int64 { return int64(p.ClientAliveCountMax) }, "ClientAliveCountMax"),
		want:    func(p policy.SSH) string { return fmt.Sprintf("1..%d (0 never drops)", p.ClientAliveCountMax) },
		eval:    atMost(func(p policy.SSH) int64 { return int64(p.ClientAliveCountMax) }, "clientalivecountmax"),
		fix: sshSet("ssh.client_alive_count_max", func(s policy.SSH) string {
			return fmt.Sprintf("set \"ClientAliveCountMax %d\" in sshd_config", s.ClientAliveCountMax)
		})},
	{id: "ssh.tcp-forwarding", title: "SSH TCP forwarding is off", sev: check.Medium,
		applies: whenOff(func(p policy.SSH) bool { return p.AllowTCPForwarding }, "TCP forwarding"),
		want:    func(policy.SSH) string { return "no" },
		eval:    keyIs(isNo, "allowtcpforwarding"),
		fix: sshSet("ssh.allow_tcp_forwarding", func(s policy.SSH) string {
			return fmt.Sprintf("set \"AllowTcpForwarding %s\" in sshd_config", yesno(s.AllowTCPForwarding))
		})},
	{id: "ssh.x11-forwarding", title: "SSH X11 forwarding is off", sev: check.Medium,
		applies: whenOff(func(p policy.SSH) bool { return p.X11Forwarding }, "X11 forwarding"),
		want:    func(policy.SSH) string { return "no" },
		eval:    keyIs(isNo, "x11forwarding"),
		fix: sshSet("ssh.x11_forwarding", func(s policy.SSH) string {
			return fmt.Sprintf("set \"X11Forwarding %s\" in sshd_config", yesno(s.X11Forwarding))
		})},
	{id: "ssh.pubkey-authentication", title: "SSH public-key authentication is on and sufficient", sev: check.High,
		want: func(policy.SSH) string { return "pubkeyauthentication yes, authenticationmethods any or publickey" },
		eval: func(_ policy.SSH, c sshdConfig) (string, bool) {
			pk, _ := c.get("pubkeyauthentication")
			am, ok := c.get("authenticationmethods")
			if !ok {
				am = "any"
			}
			return fmt.Sprintf("pubkeyauthentication %s, authenticationmethods %s", pk, am), pk == "yes" && (am == "any" || am == "publickey")
		},
		fix: func(env *check.Env, _ policy.SSH) check.Remediation {
			return check.Remediation{NixOS: env.NixLine(nixexpr.Bool(true), "services", "openssh", "settings", "PubkeyAuthentication") + " # the default; remove any override",
				Generic: "set \"PubkeyAuthentication yes\" and leave AuthenticationMethods at any or publickey"}
		}},
	{id: "ssh.permit-empty-passwords", title: "SSH refuses empty passwords", sev: check.High,
		want: func(policy.SSH) string { return "no" },
		eval: keyIs(isNo, "permitemptypasswords"),
		fix: func(env *check.Env, _ policy.SSH) check.Remediation {
			return check.Remediation{NixOS: env.NixLine(nixexpr.Bool(false), "services", "openssh", "settings", "PermitEmptyPasswords"),
				Generic: "set \"PermitEmptyPasswords no\" in sshd_config"}
		}},
}

func init() {
	sshEnabled := func(p *policy.Policy) (bool, string) {
		return p.SSH.Enabled, "the policy does not enable the SSH server"
	}
	check.Register(&check.Check{ID: "ssh.sshd-discovered", Title: "An sshd server is running and its configuration was found",
		Severity: check.High, Applies: sshEnabled, Eval: evalSSHDDiscovered,
		Fix: func(env *check.Env) check.Remediation {
			return check.Remediation{NixOS: env.Nix("ssh.enabled"),
				Generic: "start the OpenSSH server (systemctl enable --now ssh) with the hardened sshd_config"}
		}})
	for i := range sshRules {
		r := &sshRules[i]
		check.Register(&check.Check{ID: r.id, Title: r.title, Severity: r.sev,
			Applies: func(p *policy.Policy) (bool, string) {
				if !p.SSH.Enabled {
					return sshEnabled(p)
				}
				if r.applies != nil {
					return r.applies(p.SSH)
				}
				return true, ""
			},
			Eval: func(ctx context.Context, env *check.Env) check.Result { return evalSSHRule(ctx, env, r) },
			Fix:  func(env *check.Env) check.Remediation { return r.fix(env, policyOf(env).SSH) }})
	}
	check.Register(&check.Check{ID: "ssh.match-consistency", Title: "No Match block weakens the SSH policy for some connections",
		Severity: check.High, Applies: sshEnabled, Eval: evalMatchConsistency,
		Fix: func(*check.Env) check.Remediation {
			return check.Remediation{NixOS: "remove the weakening Match block from services.openssh.extraConfig",
				Generic: "remove policy settings from Match blocks in sshd_config and its Include files, or repeat the hardened values there"}
		}})
}

func evalSSHDDiscovered(ctx context.Context, env *check.Env) check.Result {
	m, err := sshdEffective(ctx, env)
	if err != nil {
		return unknown("the process table", err)
	}
	if m.running() == 0 {
		if !env.Host.IsRoot(ctx) {
			return result(check.Unknown, "no sshd listener visible, but not running as root: /proc may hide other users' processes (hidepid); run as root")
		}
		r := fail("no running sshd listener found in the process table", ev("/proc/*/cmdline", "no sshd listener"))
		if o := optionsOf(env); len(o.SSHDConfigs)+len(o.SSHDPIDs) > 0 {
			r.Message += fmt.Sprintf(" (discovery restricted to configs %v, pids %v)", o.SSHDConfigs, o.SSHDPIDs)
		}
		return r
	}
	evs := append([]check.Evidence{}, m.Found...)
	var labels []string
	for _, i := range m.Instances {
		labels = append(labels, i.label())
	}
	if m.Err != nil {
		r := unknown("the effective sshd configuration", m.Err, append(evs, m.Errors...)...)
		return r
	}
	return pass(fmt.Sprintf("%s running: %s", plural(m.running(), "sshd listener", "sshd listeners"), strings.Join(labels, ", ")), evs...)
}

// specGroup collects the connection specs that gave one shown value.
type specGroup struct {
	shown string
	ok    bool
	inst  string
	total int // connection specs evaluated for this instance
	cmds  []string
	specs []string
}

// all reports whether every spec of the instance gave this value.
func (g *specGroup) all() bool { return len(g.specs) == g.total }

func groupSpecs(m *sshdMatrix, eval func(sshdConfig) (string, bool)) []*specGroup {
	var out []*specGroup
	idx := map[string]*specGroup{}
	for _, e := range m.Evals {
		shown, ok := eval(e.Cfg)
		key := e.Inst.label() + "\x00" + shown
		g := idx[key]
		if g == nil {
			g = &specGroup{shown: shown, ok: ok, inst: e.Inst.label()}
			idx[key] = g
			out = append(out, g)
		}
		g.cmds = append(g.cmds, e.Cmd)
		g.specs = append(g.specs, e.Spec.String())
	}
	totals := map[string]int{}
	for _, e := range m.Evals {
		totals[e.Inst.label()]++
	}
	for _, g := range out {
		g.total = totals[g.inst]
	}
	return out
}

func (g *specGroup) evidence() check.Evidence {
	src := g.cmds[0]
	if len(g.cmds) > 1 {
		src += " (and " + plural(len(g.cmds)-1, "more connection spec", "more connection specs") + ")"
	}
	if g.all() {
		return evf(src, "%s\nfor all %d connection specs of %s", g.shown, g.total, g.inst)
	}
	return evf(src, "%s\nfor %s: %s", g.shown, g.inst, strings.Join(g.specs, "; "))
}

// noSSHD says why there is no sshd configuration to evaluate.
func noSSHD(o Options) string {
	switch {
	case len(o.SSHDPIDs) > 0:
		return fmt.Sprintf("no sshd runs with the process IDs given (%v): nothing to evaluate", o.SSHDPIDs)
	case len(o.SSHDConfigs) > 0:
		return "no sshd runs from " + strings.Join(o.SSHDConfigs, ", ") + " and it cannot be read: nothing to evaluate"
	}
	return "no sshd is running and " + DefaultSSHDConfig + " does not exist: nothing to evaluate"
}

func evalSSHRule(ctx context.Context, env *check.Env, r *sshRule) check.Result {
	m, err := sshdEffective(ctx, env)
	if err != nil {
		return unknown("the process table", err)
	}
	if len(m.Instances) == 0 {
		return result(check.Unknown, noSSHD(optionsOf(env)))
	}
	p := env.Policy.SSH
	groups := groupSpecs(m, func(c sshdConfig) (string, bool) { return r.eval(p, c) })
	var bad []*specGroup
	var evs []check.Evidence
	nbad := 0
	for _, g := range groups {
		if !g.ok {
			bad = append(bad, g)
			nbad += len(g.specs)
		}
	}
	for _, g := range bad {
		evs = append(evs, g.evidence())
	}
	for _, g := range groups {
		if g.ok {
			evs = append(evs, g.evidence())
		}
	}
	note := ""
	if m.running() == 0 {
		note = " (no sshd running; evaluated " + DefaultSSHDConfig + ")"
	}
	switch {
	case len(bad) > 0:
		where := fmt.Sprintf("%s: %s", bad[0].inst, bad[0].specs[0])
		if bad[0].all() {
			where = "every connection to " + bad[0].inst
		}
		res := fail(fmt.Sprintf("%s for %d of %d connection specs (%s); the policy wants %s%s",
			bad[0].shown, nbad, len(m.Evals), where, r.want(p), note), evs...)
		return res
	case m.Err != nil:
		return unknown("the effective sshd configuration", m.Err, append(evs, m.Errors...)...)
	case len(m.Evals) == 0:
		return result(check.Unknown, "sshd -T gave no configuration to evaluate")
	}
	shown := groups[0].shown
	if len(groups) > 1 {
		shown = "compliant values"
	}
	return pass(fmt.Sprintf("%s for all %d connection specs of %s%s", shown, len(m.Evals), plural(len(m.Instances), "sshd", "sshd instances"), note), evs...)
}

// evalMatchConsistency reports policy keywords whose effective value
// changes with the connection (a Match block): fail when a variant breaks
// the policy, warn when every variant still complies.
func evalMatchConsistency(ctx context.Context, env *check.Env) check.Result {
	m, err := sshdEffective(ctx, env)
	if err != nil {
		return unknown("the process table", err)
	}
	if len(m.Evals) == 0 {
		if m.Err != nil {
			return unknown("the effective sshd configuration", m.Err, m.Errors...)
		}
		return result(check.Unknown, "no sshd configuration to evaluate")
	}
	p := env.Policy.SSH
	var evs []check.Evidence
	var weakening, varying []string
	for i := range sshRules {
		r := &sshRules[i]
		if r.applies != nil {
			if ok, _ := r.applies(p); !ok {
				continue
			}
		}
		byInst := map[string][]*specGroup{}
		for _, g := range groupSpecs(m, func(c sshdConfig) (string, bool) { return r.eval(p, c) }) {
			byInst[g.inst] = append(byInst[g.inst], g)
		}
		for _, inst := range sortedKeys(byInst) {
			gs := byInst[inst]
			if len(gs) < 2 {
				continue
			}
			anyBad := false
			for _, g := range gs {
				anyBad = anyBad || !g.ok
				evs = append(evs, g.evidence())
			}
			what := fmt.Sprintf("%s in %s", r.id, inst)
			if anyBad {
				weakening = append(weakening, what)
			} else {
				varying = append(varying, what)
			}
		}
	}
	switch {
	case len(weakening) > 0:
		return fail("a Match block weakens the policy for some connections: "+strings.Join(weakening, ", "), evs...)
	case len(varying) > 0:
		return result(check.Warn, "settings differ between connections but all comply: "+strings.Join(varying, ", "), evs...)
	}
	return pass(fmt.Sprintf("every policy setting is the same for all %d connection specs", len(m.Evals)),
		evf(m.Evals[0].Cmd, "users %s × addresses %s per listen address",
			strings.Join(matrixUsers(env), ","), strings.Join(m.Addrs, ",")))
}
