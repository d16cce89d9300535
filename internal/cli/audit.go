package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/internal/audit"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/report/htmlreport"
)

// auditHost is the machine audit commands act on; tests may replace it.
var auditHost host.Host = &host.Local{}

// auditNow is the clock of `audit report --since`.
var auditNow = time.Now

func init() {
	Register(&Command{
		Name:    "audit",
		Summary: "load, compare and report the policy's kernel audit watches",
		Usage:   "audit <rules|apply|diff|report> [flags]",
		Help: `The policy's [audit] watches (by default: /etc/passwd and /etc/group → identity,
sshd_config → ssh, sudoers → sudo, crontab → cron, /etc/systemd → systemd) as
kernel audit rules: printed, loaded idempotently, compared with what the kernel
has loaded, and the events they record summarised per key.

Rules are compared semantically: "-w /etc/passwd -p wa -k identity" is the same
rule as "-a always,exit -F path=/etc/passwd -F perm=aw -F key=identity".

Examples:
  rampart audit rules
  sudo rampart audit diff
  sudo rampart audit apply --dry-run
  sudo rampart audit report --since today --key identity`,
		Subcommands: []*Command{auditRulesCmd, auditApplyCmd, auditDiffCmd, auditReportCmd},
	})
}

func auditPolicyFlags(path string) (*flag.FlagSet, *string) {
	fs := NewFlags(path)
	p := new(string)
	fs.StringVar(p, "p", "", "policy file (default: the embedded default policy)")
	fs.StringVar(p, "policy", "", "policy file (default: the embedded default policy)")
	return fs, p
}

func auditLoadPolicy(env *Env, path, file string) (*policy.Policy, []audit.Rule, bool) {
	var (
		p   *policy.Policy
		err error
	)
	if file == "" {
		p, err = policy.Default("")
	} else {
		p, err = policy.Load(file)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return nil, nil, false
	}
	rules, err := audit.FromPolicy(p.Audit)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: policy %s: %v\n", path, p.Source, err)
		return nil, nil, false
	}
	if !p.Audit.Enabled {
		rules = nil
	}
	return p, rules, true
}

var auditRulesCmd = &Command{
	Name:    "rules",
	Summary: "print the audit rules the policy implies, in auditctl syntax",
	Usage:   "audit rules [-p POLICY]",
	Help: `Prints one auditctl rule per line, ready for /etc/audit/rules.d/ or
"auditctl -R". With [audit] enabled = false nothing is printed.

Examples:
  rampart audit rules
  rampart audit rules -p /etc/rampart/policy.toml > /etc/audit/rules.d/rampart.rules

Exit codes: 0 printed, 2 bad policy or arguments.`,
}

var auditApplyCmd = &Command{
	Name:    "apply",
	Summary: "load the policy's audit rules into the kernel, idempotently",
	Usage:   "audit apply [-p POLICY] [--exact] [--dry-run]",
	Help: `Compares the policy's rules with "auditctl -l" and adds only the missing ones:
rules already loaded (in either spelling) are kept and never duplicated. Rules
that are not from the policy stay, unless --exact removes them. Afterwards the
rules are listed again and anything still missing is an error.

Runs auditctl (as root, or through "sudo -n"). When the kernel's rules are
locked ("auditctl -e 2", NixOS security.audit.enable = "lock") nothing can change
until reboot and apply refuses.

Examples:
  sudo rampart audit apply --dry-run
  sudo rampart audit apply
  sudo rampart audit apply --exact     # also remove rules not in the policy

Exit codes: 0 rules in place, 1 refused (locked) or a rule failed to load,
2 could not run (auditctl missing, not root, bad policy).`,
}

var auditDiffCmd = &Command{
	Name:    "diff",
	Summary: "show the policy's audit rules missing from the kernel, and extra loaded ones",
	Usage:   "audit diff [-p POLICY] [--format text|json]",
	Help: `Compares semantically: field order, perm order, -k vs -F key=, -w vs
-F path= (or -F dir= for a directory) do not make rules different.

Examples:
  sudo rampart audit diff
  sudo rampart audit diff --format json

Exit codes: 0 no difference, 1 rules missing or extra, 2 could not run.`,
}

var auditReportCmd = &Command{
	Name:    "report",
	Summary: "summarise audit.log events per rule key: when, who, what",
	Usage:   "audit report [-p POLICY] [--since today|yesterday|DURATION|TIMESTAMP] [--key K] [--log FILE] [--format text|json|html] [-o FILE]",
	Help: `Reads /var/log/audit/audit.log and its rotations (audit.log.N … audit.log.1,
audit.log, oldest first), or the --log file, groups records into events by their
msg=audit(TIME:SERIAL) stamp and lists the keyed events per key: time, who
(login uid and uid, names from the log's enriched fields or /etc/passwd; an
unset login uid shows as "unset"), the system call, its result, the program and
the paths. Hex-encoded names are decoded and anything unprintable is shown
quoted, so hostile file names cannot forge output. Lines that do not parse (and
a torn last line) are skipped and listed as notes.

--key may be repeated or comma-separated; --key policy keeps the policy's keys.
--format html writes one self-contained page: events per key over time, per
key and per login user as inline SVG charts, and each key's latest events.

Examples:
  sudo rampart audit report --since today
  sudo rampart audit report --since 7d --format html -o audit.html
  sudo rampart audit report --since 2h --key identity,ssh
  rampart audit report --log ./audit.log --format json

Exit codes: 0 report written, 2 unreadable log or bad arguments.`,
}

func init() {
	auditRulesCmd.Run = runAuditRules
	auditApplyCmd.Run = runAuditApply
	auditDiffCmd.Run = runAuditDiff
	auditReportCmd.Run = runAuditReport
}

func runAuditRules(env *Env, args []string) int {
	const path = "audit rules"
	fs, pol := auditPolicyFlags(path)
	if code, ok := auditParse(env, fs, auditRulesCmd, path, args, nil); !ok {
		return code
	}
	p, rules, ok := auditLoadPolicy(env, path, *pol)
	if !ok {
		return ExitUsage
	}
	if !p.Audit.Enabled {
		fmt.Fprintln(env.Stderr, "rampart audit rules: [audit] enabled = false in the policy: no rules")
		return ExitOK
	}
	for _, r := range rules {
		fmt.Fprintln(env.Stdout, auditLine(r.FormatArgs()))
	}
	return ExitOK
}

// auditLine joins auditctl arguments for display; a path with spaces is
// shown as auditctl itself lists it.
func auditLine(args []string) string { return strings.Join(args, " ") }

// auditParse parses the flags of an audit subcommand, which takes no
// positional arguments, and checks --format when the command has one.
func auditParse(env *Env, fs *flag.FlagSet, c *Command, path string, args []string, format *string) (int, bool) {
	pos, code, ok := ParseFlags(env, fs, c, path, args)
	switch {
	case !ok:
		return code, false
	case len(pos) > 0:
		return auditUsage(env, path, c, "unexpected argument %q", pos[0]), false
	case format != nil && *format == "html" && c == auditReportCmd:
	case format != nil && *format != "text" && *format != "json":
		return auditUsage(env, path, c, "--format %q: expected text or json", *format), false
	}
	return ExitOK, true
}

func auditUsage(env *Env, path string, c *Command, format string, a ...any) int {
	fmt.Fprintf(env.Stderr, "rampart %s: %s\nUsage: rampart %s\n", path, fmt.Sprintf(format, a...), c.Usage)
	return ExitUsage
}

// auditRunErr reports an error reaching the kernel's audit state, with
// the next step.
func auditRunErr(env *Env, path string, err error) int {
	fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
	switch {
	case errors.Is(err, host.ErrNotFound):
		fmt.Fprintln(env.Stderr, "auditctl is not installed: install the audit userspace (Debian: apt-get install auditd; NixOS: security.audit.enable = true)")
	case !auditHost.IsRoot(env.Ctx):
		fmt.Fprintln(env.Stderr, "reading and changing audit rules needs root: run with sudo")
	}
	return ExitUsage
}

func runAuditApply(env *Env, args []string) int {
	const path = "audit apply"
	fs, pol := auditPolicyFlags(path)
	exact := fs.Bool("exact", false, "also remove loaded rules that are not in the policy")
	dry := fs.Bool("dry-run", false, "print the plan and the auditctl commands, change nothing")
	if code, ok := auditParse(env, fs, auditApplyCmd, path, args, nil); !ok {
		return code
	}
	p, rules, ok := auditLoadPolicy(env, path, *pol)
	if !ok {
		return ExitUsage
	}
	if !p.Audit.Enabled && !*exact {
		fmt.Fprintln(env.Stdout, "[audit] enabled = false in the policy: nothing to load (--exact would remove every loaded rule)")
		return ExitOK
	}
	plan, err := audit.Apply(env.Ctx, auditHost, rules, audit.ApplyOptions{Exact: *exact, DryRun: *dry})
	if plan == nil {
		return auditRunErr(env, path, err)
	}
	verb := map[bool]string{true: "would ", false: ""}[*dry]
	for _, r := range plan.Keep {
		fmt.Fprintf(env.Stdout, "keep     %s\n", r.Listed())
	}
	for _, r := range plan.Add {
		fmt.Fprintf(env.Stdout, "%sadd  %s\n", verb, r)
	}
	for _, r := range plan.Remove {
		fmt.Fprintf(env.Stdout, "%sremove %s\n", verb, r.Listed())
	}
	for _, r := range plan.Foreign {
		fmt.Fprintf(env.Stdout, "foreign  %s (not in the policy; kept, --exact removes it)\n", r.Listed())
	}
	if *dry {
		for _, c := range plan.Commands() {
			fmt.Fprintf(env.Stdout, "+ %s\n", c.String())
		}
	}
	if errors.Is(err, audit.ErrImmutable) {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return ExitProblem
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return ExitProblem
	}
	switch {
	case *dry:
		fmt.Fprintf(env.Stdout, "dry run: %d to add, %d to remove, %d already loaded\n", len(plan.Add), len(plan.Remove), len(plan.Keep))
	case len(plan.Add)+len(plan.Remove) == 0:
		fmt.Fprintf(env.Stdout, "audit rules already in place (%d loaded)\n", len(plan.Keep))
	default:
		fmt.Fprintf(env.Stdout, "added %d, removed %d, kept %d\n", len(plan.Add), len(plan.Remove), len(plan.Keep))
	}
	if st, err := audit.ReadStatus(env.Ctx, auditHost); err == nil && st.Enabled == 0 {
		fmt.Fprintln(env.Stdout, "note: kernel auditing is off (enabled 0): loaded rules record nothing until auditd starts (or auditctl -e 1)")
	}
	return ExitOK
}

func runAuditDiff(env *Env, args []string) int {
	const path = "audit diff"
	fs, pol := auditPolicyFlags(path)
	format := fs.String("format", "text", "output format: text or json")
	if code, ok := auditParse(env, fs, auditDiffCmd, path, args, format); !ok {
		return code
	}
	_, rules, ok := auditLoadPolicy(env, path, *pol)
	if !ok {
		return ExitUsage
	}
	loaded, _, err := audit.ReadRules(env.Ctx, auditHost)
	if err != nil {
		return auditRunErr(env, path, err)
	}
	d := audit.Compare(rules, loaded)
	if *format == "json" {
		writeAuditDiffJSON(env.Stdout, d)
	} else {
		writeAuditDiffText(env.Stdout, d)
	}
	if !d.Empty() {
		return ExitProblem
	}
	return ExitOK
}

func writeAuditDiffText(w io.Writer, d audit.Diff) {
	if len(d.Missing) > 0 {
		fmt.Fprintln(w, "missing (in the policy, not loaded):")
		for _, r := range d.Missing {
			fmt.Fprintf(w, "  %s\n", r)
		}
	}
	if len(d.Extra) > 0 {
		fmt.Fprintln(w, "extra (loaded, not in the policy):")
		for _, r := range d.Extra {
			fmt.Fprintf(w, "  %s\n", r.Listed())
		}
	}
	fmt.Fprintf(w, "%d missing, %d extra, %d loaded as the policy wants\n", len(d.Missing), len(d.Extra), len(d.Present))
}

func writeAuditDiffJSON(w io.Writer, d audit.Diff) {
	line := func(rs []audit.Rule, listed bool) []string {
		out := []string{}
		for _, r := range rs {
			if listed && len(r.Args) > 0 {
				out = append(out, r.Listed())
			} else {
				out = append(out, r.String())
			}
		}
		return out
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(map[string]any{
		"missing": line(d.Missing, false),
		"extra":   line(d.Extra, true),
		"present": line(d.Present, true),
	})
}

func runAuditReport(env *Env, args []string) int {
	const path = "audit report"
	fs, pol := auditPolicyFlags(path)
	since := fs.String("since", "", "today, yesterday, a duration (2h, 7d), @UNIXTIME or a time (\"2026-11-25 08:00\")")
	var keys auditKeyFlag
	fs.Var(&keys, "key", "only this key (repeatable, comma-separated; \"policy\" = the policy's keys)")
	logFile := fs.String("log", "", "read this file instead of "+audit.DefaultLog+" and its rotations")
	format := fs.String("format", "text", "output format: text, json or html")
	output := fs.String("o", "", "write the report to `FILE`")
	if code, ok := auditParse(env, fs, auditReportCmd, path, args, format); !ok {
		return code
	}
	now := auditNow()
	t, err := audit.ParseSince(*since, now)
	if err != nil {
		return auditUsage(env, path, auditReportCmd, "%v", err)
	}
	opt := audit.ReportOptions{Since: t}
	for _, k := range keys {
		if k == "policy" {
			p, _, ok := auditLoadPolicy(env, path, *pol)
			if !ok {
				return ExitUsage
			}
			for _, w := range p.Audit.Watches {
				if w.Key != "" {
					opt.Keys = append(opt.Keys, w.Key)
				}
			}
			continue
		}
		opt.Keys = append(opt.Keys, k)
	}
	if *logFile != "" {
		opt.Files = []string{*logFile}
	}
	rep, err := audit.Build(env.Ctx, auditHost, opt, audit.ReadUsers(env.Ctx, auditHost))
	if rep == nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		switch {
		case !auditHost.IsRoot(env.Ctx):
			fmt.Fprintln(env.Stderr, "the audit log is readable by root only: run with sudo, or pass --log FILE")
		case host.IsNotExist(err):
			fmt.Fprintln(env.Stderr, "no audit log there: is auditd running (log_file in /etc/audit/auditd.conf)? Or pass --log FILE")
		}
		return ExitUsage
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: warning: %v\n", path, err)
	}
	err = writeOutput(env, *output, func(w io.Writer) error {
		switch *format {
		case "json":
			return rep.WriteJSON(w)
		case "html":
			return htmlreport.Audit(w, rep, now.Location())
		default:
			return rep.WriteText(w, now.Location())
		}
	})
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return ExitUsage
	}
	return ExitOK
}

// auditKeyFlag collects a repeatable, comma-separated flag.
type auditKeyFlag []string

func (m *auditKeyFlag) String() string { return strings.Join(*m, ",") }

func (m *auditKeyFlag) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*m = append(*m, part)
		}
	}
	return nil
}
