package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/guard/control"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/proctab"
)

// banDaemon is what answered on the ban daemon's socket.
type banDaemon struct {
	Kind     string // "fail2ban", "rampart guard", or "" when none answers
	Evidence []check.Evidence
	Why      string // when none answers: what was tried
	Guard    *control.Status
}

// fail2ban's configuration: its jails, and the drop-ins of fail2ban.conf.
var (
	fail2banJailConf = "/etc/fail2ban/jail.conf"
	fail2banDropins  = []string{"/etc/fail2ban/fail2ban.d/*.conf", "/etc/fail2ban/fail2ban.d/*.local"}
)

// askGuard queries rampart guard when its control socket exists: on this
// machine through the control socket client (whatever `rampart` on PATH
// is, if any), on a remote host by running `rampart guard status --json`
// there (its socket is root-only and not reachable over the SSH session).
func askGuard(ctx context.Context, env *check.Env, d *banDaemon) bool {
	sock := env.Policy.Ban.Socket
	if sock == "" {
		return false
	}
	if ms, err := env.Glob(ctx, sock); err != nil || len(ms) == 0 {
		return false
	}
	if dialer, ok := env.Host.(host.UnixDialer); ok {
		src := "control socket " + sock + " (op status)"
		resp, err := control.CallVia(ctx, dialer.DialUnix, sock, control.Request{Op: control.OpStatus})
		if err != nil {
			d.Evidence = append(d.Evidence, ev(src, err.Error()))
			return false
		}
		if resp.Status == nil {
			d.Evidence = append(d.Evidence, ev(src, "the answer has no status"))
			return false
		}
		b, _ := json.MarshalIndent(resp, "", "  ")
		d.Evidence = append(d.Evidence, ev(src, string(b)))
		d.Kind, d.Guard = "rampart guard", resp.Status
		return true
	}
	c := host.Cmd{Name: "rampart", Args: []string{"guard", "status", "--json", "--socket", sock}, Sudo: true}
	o, err := env.Host.Run(ctx, c)
	if err != nil {
		d.Evidence = append(d.Evidence, ev(c.String(), err.Error()))
		return false
	}
	d.Evidence = append(d.Evidence, outEvidence(c.String(), o))
	var resp control.Response
	if o.ExitCode != 0 || json.Unmarshal(o.Stdout, &resp) != nil || !resp.OK || resp.Status == nil {
		return false
	}
	d.Kind, d.Guard = "rampart guard", resp.Status
	return true
}

func f2bCmd(env *check.Env, args ...string) host.Cmd {
	if s := optionsOf(env).Fail2banSocket; s != "" {
		args = append([]string{"-s", s}, args...)
	}
	return host.Cmd{Name: "fail2ban-client", Args: args, Sudo: true}
}

// f2b runs one fail2ban-client query once per run.
func f2b(ctx context.Context, env *check.Env, args ...string) (*host.Output, string, error) {
	c := f2bCmd(env, args...)
	v, err := env.Memo("verify.f2b:"+c.String(), func() (any, error) { return env.Host.Run(ctx, c) })
	if err != nil {
		return nil, c.String(), err
	}
	return v.(*host.Output), c.String(), nil
}

// jailKeys are the values read per jail.
var jailKeys = []string{"bantime", "findtime", "maxretry", "ignoreip", "actions"}

// f2bGet returns the answer to `get JAIL KEY`. Every such query of a run
// goes to one `fail2ban-client -i` (one Python start instead of one per
// query, seconds on a busy host); if that fails it falls back to one
// client per query. An error answer is an error.
func f2bGet(ctx context.Context, env *check.Env, jail, key string) (*host.Output, string, error) {
	q := "get " + jail + " " + key
	if batch := f2bBatch(ctx, env); batch != nil {
		if a, ok := batch.answers[q]; ok {
			o := &host.Output{Stdout: []byte(a)}
			if strings.HasPrefix(a, "Sorry") || strings.Contains(a, "ERROR") {
				return o, batch.cmd + ": " + q, fmt.Errorf("%s: %s", q, firstLine(o))
			}
			return o, batch.cmd + ": " + q, nil
		}
	}
	o, cmd, err := f2b(ctx, env, "get", jail, key)
	if err == nil && o.ExitCode != 0 {
		err = fmt.Errorf("%s: exit status %d: %s", cmd, o.ExitCode, firstLine(o))
	}
	return o, cmd, err
}

type f2bAnswers struct {
	cmd     string
	answers map[string]string
}

// f2bBatch asks every jail value of the enabled policy jails that are
// active in one interactive fail2ban-client. Answers follow the
// "fail2ban> " prompts in the order of the queries.
func f2bBatch(ctx context.Context, env *check.Env) *f2bAnswers {
	v, _ := env.Memo("verify.f2b.batch", func() (any, error) {
		active, _, r := activeJails(ctx, env)
		if r != nil {
			return (*f2bAnswers)(nil), nil
		}
		var qs []string
		for _, j := range enabledJails(env.Policy) {
			if active[j.Name] {
				for _, k := range jailKeys {
					qs = append(qs, "get "+j.Name+" "+k)
				}
			}
		}
		if len(qs) == 0 {
			return (*f2bAnswers)(nil), nil
		}
		c := f2bCmd(env, "-i")
		c.Stdin = []byte(strings.Join(qs, "\n") + "\n")
		o, err := env.Host.Run(ctx, c)
		if err != nil {
			return (*f2bAnswers)(nil), nil
		}
		parts := strings.Split(string(o.Stdout), "fail2ban> ")
		if len(parts) < len(qs)+1 {
			return (*f2bAnswers)(nil), nil
		}
		b := &f2bAnswers{cmd: c.String(), answers: map[string]string{}}
		for i, q := range qs {
			b.answers[q] = strings.TrimRight(parts[i+1], "\n")
		}
		return b, nil
	})
	b, _ := v.(*f2bAnswers)
	return b
}

func outEvidence(cmd string, o *host.Output) check.Evidence {
	text := strings.TrimSpace(string(o.Stdout))
	if e := strings.TrimSpace(string(o.Stderr)); e != "" {
		text = strings.TrimSpace(text + "\n" + lastLines(e, 3))
	}
	if o.ExitCode != 0 {
		text += fmt.Sprintf("\n(exit status %d)", o.ExitCode)
	}
	return ev(cmd, text)
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// fail2banSocket returns the socket fail2ban listens on: the option, or
// the last "socket =" of its configuration in fail2ban's reading order,
// or its built-in default.
func fail2banSocket(ctx context.Context, env *check.Env) (string, string) {
	if s := optionsOf(env).Fail2banSocket; s != "" {
		return s, "--fail2ban-socket"
	}
	sock, where := "/var/run/fail2ban/fail2ban.sock", "fail2ban's default"
	files := []string{"/etc/fail2ban/fail2ban.conf"}
	var confs, locals []string
	if all, err := env.GlobAll(ctx, fail2banDropins); err == nil {
		confs, locals = all[0], all[1]
	}
	files = append(append(append(files, confs...), "/etc/fail2ban/fail2ban.local"), locals...)
	for _, f := range files {
		b, err := env.Host.ReadFile(ctx, f)
		if err != nil {
			continue
		}
		section := ""
		for i, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "[") {
				section = strings.Trim(line, "[]")
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if ok && section == "Definition" && strings.TrimSpace(k) == "socket" {
				sock, where = strings.TrimSpace(v), fmt.Sprintf("%s:%d", f, i+1)
			}
		}
	}
	return sock, where
}

// findBanDaemon asks fail2ban over its socket whether it runs. An
// installed and enabled but stopped fail2ban is "none": it bans nothing.
// A missing socket is answer enough, which spares starting the Python
// client on hosts where fail2ban is not running.
func findBanDaemon(ctx context.Context, env *check.Env) (*banDaemon, error) {
	v, err := env.Memo("verify.ban.daemon", func() (any, error) {
		d := &banDaemon{}
		enabled := func() {
			if u, e := env.Host.Run(ctx, host.C("systemctl", "is-enabled", "fail2ban")); e == nil {
				d.Evidence = append(d.Evidence, outEvidence("systemctl is-enabled fail2ban", u))
				if strings.TrimSpace(string(u.Stdout)) == "enabled" {
					d.Why = "fail2ban is enabled but not running"
				}
			}
		}
		if askGuard(ctx, env, d) {
			return d, nil
		}
		if env.Policy.Ban.Engine == policy.EngineRampart {
			// The policy bans with rampart guard: fail2ban would not be
			// the engine it asks for, so it is not looked for.
			sock := env.Policy.Ban.Socket
			if len(d.Evidence) == 0 {
				d.Evidence = append(d.Evidence, ev(sock, "the control socket does not exist"))
				d.Why = "rampart guard is not running (no control socket " + sock + "; ban.engine is \"rampart\")"
			} else {
				d.Why = "rampart guard does not answer on its control socket " + sock + " (ban.engine is \"rampart\")"
			}
			return d, nil
		}
		sock, where := fail2banSocket(ctx, env)
		if ms, err := env.Glob(ctx, sock); err == nil && len(ms) == 0 {
			if conf, _ := env.Glob(ctx, fail2banJailConf); len(conf) == 0 && optionsOf(env).Fail2banSocket == "" {
				d.Evidence = append(d.Evidence, ev(sock, "no socket, and no /etc/fail2ban/jail.conf"))
				d.Why = "no ban daemon is installed (no fail2ban socket or configuration)"
				return d, nil
			}
			d.Evidence = append(d.Evidence, evf(sock, "the socket does not exist (path from %s)", where))
			d.Why = "fail2ban is not running (no socket)"
			enabled()
			return d, nil
		}
		// "status" answers only from a live server and lists the jails, so
		// it doubles as the ping.
		o, cmd, err := f2b(ctx, env, "status")
		switch {
		case err == nil && o.ExitCode == 0 && strings.Contains(string(o.Stdout), "Jail list:"):
			d.Kind = "fail2ban"
			d.Evidence = append(d.Evidence, outEvidence(cmd, o))
			return d, nil
		case err == nil:
			text := string(o.Stdout) + string(o.Stderr)
			if strings.Contains(text, "ermission denied") || strings.Contains(text, "password is required") {
				return nil, fmt.Errorf("%s: permission denied (run as root)", cmd)
			}
			d.Evidence = append(d.Evidence, outEvidence(cmd, o))
			d.Why = "fail2ban does not answer on its socket"
			enabled()
		case host.IsNotExist(err) || isNotFound(err):
			d.Evidence = append(d.Evidence, ev(cmd, "fail2ban-client is not installed"))
			d.Why = "no ban daemon is installed"
		default:
			return nil, err
		}
		return d, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*banDaemon), nil
}

func banApplies(p *policy.Policy) (bool, string) {
	return p.Ban.Enabled, "the policy does not enable banning"
}

func init() {
	check.Register(
		&check.Check{ID: "ban.daemon-running", Title: "The ban daemon is running and answering on its socket", Severity: check.High,
			Applies: banApplies, Eval: evalBanDaemon, Fix: fixBanDaemon},
		&check.Check{ID: "ban.jails", Title: "Every policy jail is active", Severity: check.High,
			Applies: banApplies, Eval: evalBanJails, Fix: banFix(
				func(*check.Env, *policy.Policy) check.Remediation {
					return check.Remediation{NixOS: "services.rampart.policy.ban.jails.<name>.enabled = true;",
						Generic: "enable every policy jail ([ban.jails.NAME] enabled = true)" + guardRestart}
				},
				func(env *check.Env, _ *policy.Policy) check.Remediation {
					return check.Remediation{NixOS: env.Nix("ban.jails"),
						Generic: "enable every policy jail in jail.local ([name] enabled = true) and reload: fail2ban-client reload"}
				})},
		&check.Check{ID: "ban.bantime", Title: "Jails ban for the policy's bantime", Severity: check.Medium,
			Applies: banApplies, Eval: jailValue("bantime", func(j policy.Jail, b policy.Ban) string {
				return strconv.FormatInt(j.EffectiveBantime(b).Seconds(), 10)
			}), Fix: banDurationFix("bantime", func(b policy.Ban) policy.Duration { return b.Bantime })},
		&check.Check{ID: "ban.findtime", Title: "Jails count failures over the policy's findtime", Severity: check.Medium,
			Applies: banApplies, Eval: jailValue("findtime", func(j policy.Jail, b policy.Ban) string {
				return strconv.FormatInt(j.EffectiveFindtime(b).Seconds(), 10)
			}), Fix: banDurationFix("findtime", func(b policy.Ban) policy.Duration { return b.Findtime })},
		&check.Check{ID: "ban.maxretry", Title: "Jails ban after the policy's number of failures", Severity: check.Medium,
			Applies: banApplies, Eval: jailValue("maxretry", func(j policy.Jail, b policy.Ban) string {
				return strconv.Itoa(j.EffectiveMaxretry(b))
			}), Fix: banFix(
				func(env *check.Env, p *policy.Policy) check.Remediation {
					return guardSet(env, "maxretry", nixexpr.Int(p.Ban.Maxretry))
				},
				func(env *check.Env, p *policy.Policy) check.Remediation {
					return check.Remediation{NixOS: env.Nix("ban.maxretry"),
						Generic: "set maxretry per jail in jail.local and reload fail2ban"}
				})},
		&check.Check{ID: "ban.ignoreip", Title: "Jails exempt exactly the policy's networks", Severity: check.High,
			Applies: banApplies, Eval: evalIgnoreIP, Fix: banFix(
				func(env *check.Env, p *policy.Policy) check.Remediation {
					return guardSet(env, "ignore", nixexpr.Strs(p.Ban.Ignore...))
				},
				func(env *check.Env, _ *policy.Policy) check.Remediation {
					return check.Remediation{NixOS: env.Nix("ban.ignore"),
						Generic: "set ignoreip to exactly the policy's networks in jail.local; never 0.0.0.0/0 or ::/0"}
				})},
		&check.Check{ID: "ban.actions", Title: "Jails ban through a firewall action", Severity: check.High,
			Applies: banApplies, Eval: evalBanActions, Fix: banFix(
				func(env *check.Env, p *policy.Policy) check.Remediation {
					return check.Remediation{NixOS: env.NixLine(nixexpr.Bool(true), "services", "rampart", "guard", "enable") + " # rampart guard bans into its own nftables table",
						Generic: "run rampart guard (systemctl enable --now rampart-guard): it bans into its own nftables table " + p.Ban.Table}
				},
				func(env *check.Env, _ *policy.Policy) check.Remediation {
					nix := env.NixLine(nixexpr.Str("nftables-multiport"), "services", "fail2ban", "banaction")
					if nix != "" {
						nix += " # the module's default with networking.nftables.enable = true"
					}
					return check.Remediation{NixOS: nix,
						Generic: "give every jail a firewall ban action (banaction = nftables-multiport); dummy actions ban nothing"}
				})},
	)
}

// banFix is the fix of a ban check: through rampart guard's policy when
// the policy bans with it (ban.engine = "rampart"; services.rampart.policy
// on NixOS), else through the fail2ban module and jail.local.
func banFix(guard, fail2ban func(env *check.Env, p *policy.Policy) check.Remediation) func(*check.Env) check.Remediation {
	return func(env *check.Env) check.Remediation {
		p := policyOf(env)
		if p.Ban.Engine == policy.EngineRampart {
			return guard(env, p)
		}
		return fail2ban(env, p)
	}
}

// banDurationFix is the fix of the policy's bantime or findtime (key):
// the nixfacts topic ban.KEY for fail2ban.
func banDurationFix(key string, get func(policy.Ban) policy.Duration) func(*check.Env) check.Remediation {
	return banFix(
		func(env *check.Env, p *policy.Policy) check.Remediation {
			return guardSet(env, key, nixexpr.Str(get(p.Ban).String()))
		},
		func(env *check.Env, p *policy.Policy) check.Remediation {
			return check.Remediation{NixOS: env.Nix("ban." + key),
				Generic: fmt.Sprintf("set %s = %d in jail.local and reload fail2ban", key, get(p.Ban).Seconds())}
		})
}

// guardRestart ends the generic fix of a guard setting: the guard reads
// every [ban] key from its policy file.
const guardRestart = " in /etc/rampart/policy.toml, then systemctl restart rampart-guard"

// guardSet sets one [ban] key of rampart guard's policy.
func guardSet(env *check.Env, key string, v nixexpr.Value) check.Remediation {
	val, _ := nixexpr.Render(v)
	nix := env.NixLine(v, "services", "rampart", "policy", "ban", key)
	if nix != "" {
		nix += " # rampart's flake, nixosModules.default"
	}
	return check.Remediation{NixOS: nix, Generic: "set ban." + key + " = " + val + guardRestart}
}

var fixBanDaemon = banFix(
	func(env *check.Env, _ *policy.Policy) check.Remediation {
		nix := env.NixLine(nixexpr.Bool(true), "services", "rampart", "guard", "enable")
		if nix != "" {
			nix += " # rampart's flake, nixosModules.default; `rampart nix` renders it"
		}
		return check.Remediation{NixOS: nix,
			Generic: "start the ban daemon: systemctl enable --now rampart-guard (the Debian package's unit; an enabled unit that is not running protects nothing)"}
	},
	func(env *check.Env, _ *policy.Policy) check.Remediation {
		return check.Remediation{NixOS: env.Nix("ban.enabled"),
			Generic: "start the ban daemon: systemctl enable --now fail2ban (an enabled unit that is not running protects nothing)"}
	})

func evalBanDaemon(ctx context.Context, env *check.Env) check.Result {
	d, err := findBanDaemon(ctx, env)
	if err != nil {
		return unknown("the ban daemon", err)
	}
	if d.Kind == "" {
		return fail(d.Why, d.Evidence...)
	}
	return pass(d.Kind+" answers on its socket", d.Evidence...)
}

// activeJails returns the jails fail2ban reports, or a result to return
// when that cannot be known.
func activeJails(ctx context.Context, env *check.Env) (map[string]bool, check.Evidence, *check.Result) {
	d, err := findBanDaemon(ctx, env)
	if err != nil {
		r := unknown("the ban daemon", err)
		return nil, check.Evidence{}, &r
	}
	if d.Kind == "" {
		r := fail("not in effect: "+d.Why+" (see ban.daemon-running)", d.Evidence...)
		r.Remediation = fixBanDaemon(env)
		return nil, check.Evidence{}, &r
	}
	if d.Guard != nil {
		m := map[string]bool{}
		for _, j := range d.Guard.Jails {
			m[j.Name] = true
		}
		return m, d.Evidence[len(d.Evidence)-1], nil
	}
	o, cmd, err := f2b(ctx, env, "status")
	if err != nil || o.ExitCode != 0 {
		if err == nil {
			err = fmt.Errorf("exit status %d", o.ExitCode)
		}
		r := unknown("fail2ban's jail list", err)
		return nil, check.Evidence{}, &r
	}
	jails, err := parseJailList(o.Stdout)
	if err != nil {
		r := unknown("fail2ban's jail list", err, outEvidence(cmd, o))
		return nil, check.Evidence{}, &r
	}
	return jails, outEvidence(cmd, o), nil
}

// parseJailList reads "`- Jail list:\tsshd, nginx" from fail2ban-client status.
func parseJailList(out []byte) (map[string]bool, error) {
	for _, line := range strings.Split(string(out), "\n") {
		if _, list, ok := strings.Cut(line, "Jail list:"); ok {
			m := map[string]bool{}
			for _, j := range strings.Split(list, ",") {
				if j = strings.TrimSpace(j); j != "" {
					m[j] = true
				}
			}
			return m, nil
		}
	}
	return nil, fmt.Errorf("fail2ban-client status: no \"Jail list:\" line")
}

func enabledJails(p *policy.Policy) []policy.Jail {
	var out []policy.Jail
	for _, j := range p.Ban.Jails {
		if j.Enabled {
			out = append(out, j)
		}
	}
	return out
}

func evalBanJails(ctx context.Context, env *check.Env) check.Result {
	active, e, r := activeJails(ctx, env)
	if r != nil {
		return *r
	}
	var missing, ok []string
	for _, j := range enabledJails(env.Policy) {
		if active[j.Name] {
			ok = append(ok, j.Name)
		} else {
			missing = append(missing, j.Name)
		}
	}
	if len(missing) > 0 {
		return fail("policy jails not active: "+strings.Join(missing, ", "), e)
	}
	if len(ok) == 0 {
		return skip("the policy enables no jail")
	}
	return pass("all policy jails are active: "+strings.Join(ok, ", "), e)
}

// perJail runs fn for every enabled policy jail that is active and
// collects problems and evidence; inactive jails are left to ban.jails.
func perJail(ctx context.Context, env *check.Env, id string, fn func(j policy.Jail) (problem string, e check.Evidence, err error)) check.Result {
	active, _, r := activeJails(ctx, env)
	if r != nil {
		return *r
	}
	var problems, notActive []string
	var evs []check.Evidence
	checked := 0
	for _, j := range enabledJails(env.Policy) {
		if !active[j.Name] {
			notActive = append(notActive, j.Name)
			continue
		}
		p, e, err := fn(j)
		if err != nil {
			return unknown("jail "+j.Name, err, evs...)
		}
		checked++
		evs = append(evs, e)
		if p != "" {
			problems = append(problems, p)
		}
	}
	note := ""
	if len(notActive) > 0 {
		note = " (not active, see ban.jails: " + strings.Join(notActive, ", ") + ")"
	}
	switch {
	case len(problems) > 0:
		return fail(strings.Join(problems, "; ")+note, evs...)
	case checked == 0:
		return result(check.Unknown, "no policy jail is active to read"+note)
	}
	return pass(fmt.Sprintf("every active policy jail (%d) matches the policy%s", checked, note), evs...)
}

// guardOwnsValues answers a value check under rampart guard, which takes
// bantime, findtime, maxretry and the ignore list from the policy file it
// runs with (its status does not report them): pass when the running
// `rampart guard run` uses the same policy file as this verify run, warn
// when it uses another, skip when its process is not visible.
func guardOwnsValues(ctx context.Context, env *check.Env) (check.Result, bool) {
	d, err := findBanDaemon(ctx, env)
	if err != nil || d.Guard == nil {
		return check.Result{}, false
	}
	ps, err := proctab.Running(ctx, env, "rampart")
	if err != nil {
		return skip("rampart guard applies this value from the policy it runs with; its process is not visible"), true
	}
	for _, p := range ps {
		if len(p.Argv) < 3 || p.Argv[1] != "guard" || p.Argv[2] != "run" {
			continue
		}
		file := "(default)" // policy.Default's Source
		for i := 3; i < len(p.Argv); i++ {
			a := p.Argv[i]
			if v, ok := strings.CutPrefix(a, "--policy="); ok {
				file = v
			} else if v, ok := strings.CutPrefix(a, "-p="); ok {
				file = v
			} else if (a == "-p" || a == "--policy") && i+1 < len(p.Argv) {
				file = p.Argv[i+1]
			}
		}
		e := ev(fmt.Sprintf("/proc/%d/cmdline", p.PID), p.Title)
		if file == env.Policy.Source {
			return pass("rampart guard runs with this policy ("+file+"), so it applies the policy's value", e), true
		}
		return result(check.Warn, fmt.Sprintf("rampart guard runs with policy %s, this check used %s: its values may differ", file, env.Policy.Source), e), true
	}
	return skip("rampart guard applies this value from the policy it runs with; its process is not visible"), true
}

func jailValue(key string, want func(policy.Jail, policy.Ban) string) func(context.Context, *check.Env) check.Result {
	return func(ctx context.Context, env *check.Env) check.Result {
		if r, ok := guardOwnsValues(ctx, env); ok {
			return r
		}
		return perJail(ctx, env, "ban."+key, func(j policy.Jail) (string, check.Evidence, error) {
			o, cmd, err := f2bGet(ctx, env, j.Name, key)
			if err != nil {
				return "", check.Evidence{}, err
			}
			got := strings.TrimSpace(string(o.Stdout))
			w := want(j, env.Policy.Ban)
			if got != w {
				unit := ""
				if key != "maxretry" {
					unit = " s"
				}
				return fmt.Sprintf("%s %s is %s%s, the policy wants %s%s", j.Name, key, host.Truncate(got, 40), unit, w, unit), outEvidence(cmd, o), nil
			}
			return "", outEvidence(cmd, o), nil
		})
	}
}

// parseIgnoreList reads the "|- CIDR" lines of `get JAIL ignoreip`.
func parseIgnoreList(out []byte) []string {
	var list []string
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		for _, p := range []string{"|-", "`-"} {
			if rest, ok := strings.CutPrefix(line, p); ok {
				list = append(list, strings.TrimSpace(rest))
			}
		}
	}
	return list
}

// toPrefix parses an address or network. fail2ban prints a /0 network
// without its length ("0.0.0.0"), so an unspecified address means "all".
func toPrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if a.IsUnspecified() {
			return netip.PrefixFrom(a, 0), true
		}
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

func covers(outer, inner netip.Prefix) bool {
	return outer.Addr().Is4() == inner.Addr().Is4() && outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// loopback ranges are always exempt, listed or not.
var loopbacks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func evalIgnoreIP(ctx context.Context, env *check.Env) check.Result {
	if r, ok := guardOwnsValues(ctx, env); ok {
		return r
	}
	var want []netip.Prefix
	for _, s := range env.Policy.BanIgnore() {
		if p, ok := toPrefix(s); ok {
			want = append(want, p)
		}
	}
	return perJail(ctx, env, "ban.ignoreip", func(j policy.Jail) (string, check.Evidence, error) {
		o, cmd, err := f2bGet(ctx, env, j.Name, "ignoreip")
		if err != nil {
			return "", check.Evidence{}, err
		}
		live := parseIgnoreList(o.Stdout)
		var livePfx []netip.Prefix
		var problems []string
		for _, s := range live {
			p, ok := toPrefix(s)
			if !ok {
				problems = append(problems, fmt.Sprintf("ignores %q, which is not an address or network", host.Truncate(s, 60)))
				continue
			}
			livePfx = append(livePfx, p)
			allowed := false
			for _, w := range append(append([]netip.Prefix{}, want...), loopbacks...) {
				allowed = allowed || covers(w, p)
			}
			if !allowed {
				problems = append(problems, fmt.Sprintf("ignores %s, which the policy does not exempt", p))
			}
		}
		for _, w := range want {
			found := false
			for _, p := range livePfx {
				found = found || covers(p, w)
			}
			if !found {
				problems = append(problems, fmt.Sprintf("does not exempt %s", w))
			}
		}
		if len(problems) > 0 {
			return j.Name + " " + strings.Join(problems, ", "), outEvidence(cmd, o), nil
		}
		return "", outEvidence(cmd, o), nil
	})
}

func evalBanActions(ctx context.Context, env *check.Env) check.Result {
	if d, err := findBanDaemon(ctx, env); err == nil && d.Guard != nil {
		b := d.Guard.Backend
		if b == "" || b == "dry-run" || b == "none" {
			r := fail(fmt.Sprintf("rampart guard runs with the %q backend: bans change no firewall", b), d.Evidence...)
			r.Remediation = check.Remediation{Generic: "run `rampart guard run` without --dry-run so bans go into the nftables table"}
			return r
		}
		return pass(fmt.Sprintf("rampart guard bans through the %s backend into table %s", b, d.Guard.Table), d.Evidence...)
	}
	return perJail(ctx, env, "ban.actions", func(j policy.Jail) (string, check.Evidence, error) {
		o, cmd, err := f2bGet(ctx, env, j.Name, "actions")
		if err != nil {
			return "", check.Evidence{}, err
		}
		lines := strings.Split(strings.TrimSpace(string(o.Stdout)), "\n")
		var acts []string
		if len(lines) > 1 {
			for _, a := range strings.Split(strings.Join(lines[1:], ","), ",") {
				if a = strings.TrimSpace(a); a != "" {
					acts = append(acts, a)
				}
			}
		}
		real := 0
		for _, a := range acts {
			if a != "dummy" && !strings.HasPrefix(a, "dummy") {
				real++
			}
		}
		if real == 0 {
			what := "has no actions"
			if len(acts) > 0 {
				what = "only has " + strings.Join(acts, ", ")
			}
			return j.Name + " " + what + " (a ban changes no firewall)", outEvidence(cmd, o), nil
		}
		return "", outEvidence(cmd, o), nil
	})
}

// isNotFound reports a missing program.
func isNotFound(err error) bool {
	return err != nil && strings.Contains(err.Error(), host.ErrNotFound.Error())
}
