package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/check/catalog"
	"github.com/rampart-sec/rampart/internal/fleetverify"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/nixfacts"
	"github.com/rampart-sec/rampart/internal/report"
	"github.com/rampart-sec/rampart/internal/verify"
	"github.com/rampart-sec/rampart/internal/version"
)

var verifyCmd = &Command{ // Run is set in init (it refers to verifyCmd)
	Name:    "verify",
	Summary: "check a live host against the policy (ssh, sysctl, time, journald, ban, audit, firewall …)",
	Usage:   "verify [-p POLICY] [--profile P] [--host [USER@]HOST[:PORT]]... [-J JUMP[,...]] [--inventory FILE] [--release R] [--format text|json|junit|sarif|html] [-o FILE] [--summary] [--only IDS] [--skip IDS] [--baseline FILE [--fail-on regressions]] [--publish [--node NAME]]",
	Help: `Runs every check the policy implies against this machine (or, with --host, a
remote one over SSH) and prints what it read, what passed, what failed and how
to fix it. Checks read the effective state (sshd -T for every running sshd and
for several users and source addresses, /proc/sys per interface, chronyc,
fail2ban over its socket, journald.conf with drop-ins), never only config files.

A check is pass, fail, warn, unknown (the evidence could not be read: not
root, tool missing, permission denied; never counted as a pass) or skip (not
applicable under this policy). Run as root (or --host with sudo -n) for full
evidence.

With --publish the report is also put into the fleet's JetStream key-value
bucket rampart-verify under this node's name (the policy's [fleet] servers
and credentials), where 'rampart fleet status' reads every node's report.

Flags:

Exit status:
  0  every evaluated check passed (warn and skip allowed)
  1  at least one check failed
  2  could not run: bad arguments or policy, unreachable host, or no check
     failed but some were unknown (nothing is ever reported as passing
     without evidence), or nothing was evaluated at all
  3  with --publish: the report was written as usual but could not be put
     into the fleet bucket (stderr says why; the report's own result is in
     the report)
  For several hosts the same rules apply to all their checks together; with
  --fail-on regressions the status is 1 for a new failure, else 0.

Examples:
  sudo rampart verify
  sudo rampart verify -p /etc/rampart/policy.toml --format json > verify.json
  rampart verify --host admin@203.0.113.5 --release 25.05
  sudo rampart verify --only ssh,time --skip ssh.x11-forwarding
  sudo rampart verify --format sarif > rampart.sarif
  rampart verify --inventory fleet.toml --baseline last.json --fail-on regressions
  rampart verify --inventory fleet.toml --format html -o fleet.html
  rampart verify --list
  sudo rampart verify -p /etc/rampart/policy.toml --publish --format json -o /var/lib/rampart/verify.json
`,
}

func init() {
	verifyCmd.Run = runVerify
	Register(verifyCmd)
}

func runVerify(env *Env, args []string) int {
	const path = "verify"
	fs := NewFlags(path)
	pf := AddPolicyFlags(fs)
	ff := addFleetFlags(fs)
	pub := addPublishFlags(fs)
	release := fs.String("release", "", "NixOS release `R` the fixes are written for, whatever the host runs: "+strings.Join(nixfacts.Names(), ", ")+" (default: "+nixfacts.Newest().String()+", the same as rampart nix)")
	format := fs.String("format", "text", "output format `F`: text, json (schema rampart.verify/v1; rampart.fleet/v1 for several hosts), junit, sarif (2.1.0) or html (one self-contained page)")
	summary := fs.Bool("summary", false, "text: one line per check that is not pass or skip")
	only := fs.String("only", "", "comma list of check `IDS` or areas to run (ssh,time.synchronised)")
	skipIDs := fs.String("skip", "", "comma list of check `IDS` or areas to leave out")
	list := fs.Bool("list", false, "list the checks and exit (--format text or json)")
	verbose := fs.Bool("v", false, "text: show evidence for passing checks too")
	timeout := fs.Duration("timeout", 60*time.Second, "give up on the whole run after `D` (one host; a fleet has only its per-host deadlines)")
	sshdCfg := fs.String("sshd-config", "", "only evaluate running sshd instances started with one of these -f `PATHS` (comma list)")
	chrony := fs.String("chrony-socket", "", "ask chronyd at this command socket `S` (chronyc -h S)")
	f2bSock := fs.String("fail2ban-socket", "", "ask fail2ban at this socket `S` (fail2ban-client -s S)")
	var identities, knownHosts repeated
	const idUsage = "private key `FILE` for --host (repeatable; default: the agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa)"
	fs.Var(&identities, "i", idUsage)
	fs.Var(&identities, "identity", idUsage)
	fs.Var(&knownHosts, "known-hosts", "known_hosts `FILE` for --host (repeatable; default: ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts)")
	pos, code, ok := ParseFlags(env, fs, verifyCmd, path, args)
	if !ok {
		return code
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "rampart verify: "+format+"\n", a...)
		fmt.Fprintf(env.Stderr, "Usage: rampart %s\nRun 'rampart help verify' for details.\n", verifyCmd.Usage)
		return ExitUsage
	}
	if len(pos) > 0 {
		return usage("unexpected argument %q (use --host to verify another machine)", pos[0])
	}
	valid := *format == "html"
	for _, f := range report.Formats {
		valid = valid || f == *format
	}
	if !valid {
		return usage("unknown --format %q (expected %s, html)", *format, strings.Join(report.Formats, ", "))
	}
	if *summary && *format != "text" {
		return usage("--summary is a text option; it cannot be combined with --format %s", *format)
	}
	if *release == "" {
		*release = nixfacts.Newest().String()
	} else if _, err := nixfacts.ParseRelease(*release); err != nil {
		return usage("--release: %v", err)
	}
	checks, err := check.Select(catalog.All(), verify.SplitList(*only), verify.SplitList(*skipIDs))
	if err != nil {
		return usage("%v", err)
	}
	if *list {
		if err := report.List(env.Stdout, *format, checks); err != nil {
			if errors.Is(err, report.ErrListFormat) {
				return usage("--list: %v", err)
			}
			fmt.Fprintf(env.Stderr, "rampart verify: %v\n", err)
			return ExitUsage
		}
		return ExitOK
	}
	if msg, err := ff.prepare(); msg != "" {
		return usage("%s", msg)
	} else if err != nil {
		fmt.Fprintf(env.Stderr, "rampart verify: --baseline %v\n", err)
		return ExitUsage
	}
	opts := verify.Options{ChronySocket: *chrony, Fail2banSocket: *f2bSock, SSHDConfigs: verify.SplitList(*sshdCfg)}
	if ff.jump != "" && len(ff.hosts) == 0 {
		return usage("-J reaches the hosts of --host through jump hosts; give --host (an inventory host takes proxy_jump)")
	}
	if pub.publish && (len(ff.hosts) > 1 || ff.inventory != "" || len(ff.from) > 0) {
		return usage("--publish publishes one host's report (this host or one --host); each node of a fleet publishes its own")
	}
	if (pub.publish || pub.node != "") && ff.fleet(*format) && len(ff.hosts) > 0 {
		return usage("--publish and --node publish one --host's report; they do not combine with --format html, --baseline or --fail-on")
	}
	if ff.fleet(*format) && (len(ff.hosts) > 0 || ff.inventory != "" || len(ff.from) > 0) {
		fr := fleetRun{ff: ff, pf: pf, format: *format, release: *release, checks: checks, opts: opts,
			identities: identities, knownHosts: knownHosts, usage: usage}
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "timeout" {
				fr.timeout = *timeout // else each host's deadline is the only limit
			}
		})
		return runFleetVerify(env, fr)
	}
	p, code := pf.Load(env)
	if p == nil {
		return code
	}
	if msg := pub.ready(p); msg != "" {
		return usage("%s", msg)
	}
	ctx, cancel := context.WithTimeout(env.Ctx, *timeout)
	defer cancel()
	var h host.Host = &host.Local{}
	if len(ff.hosts) == 1 {
		rh, closeAll, err := dialHost(ctx, env, ff, identities, knownHosts)
		if err != nil {
			fmt.Fprintf(env.Stderr, "rampart verify: %v\n", err)
			return ExitUsage
		}
		defer closeAll()
		h = rh
	}
	started := time.Now()
	cenv := check.NewEnv(h, p, *release)
	results := verify.Run(ctx, cenv, opts, checks)
	osName, _ := verify.OSName(ctx, cenv) // "" when unreadable: the header then names no OS
	name := h.Name()
	if len(ff.hosts) == 1 {
		name = ff.hosts[0] // as the fleet path names it, so either run is the other's --baseline
	}
	meta := report.Meta{Tool: "rampart verify", Version: version.String(), Host: name, OS: osName, Policy: p.Source,
		Release: *release, Started: started, Duration: time.Since(started)}
	var one *fleetverify.Fleet // this host as a fleet of one, for a page, a baseline or publishing
	if ff.fleet(*format) || pub.publish {
		t := &fleetverify.Target{Name: name}
		pol := p.Source
		if pol == "" {
			pol = "(default)"
		}
		hr := &fleetverify.HostRun{Target: t, OS: osName, Policy: pol, PolicyHash: fleetverify.PolicyHash(p),
			Version: meta.Version, Release: *release, Started: started, Duration: meta.Duration, Results: results}
		if b, err := h.ReadFile(ctx, "/proc/sys/kernel/hostname"); err == nil {
			hr.Reported = host.SafeText(strings.TrimSpace(string(b)))
		}
		one = &fleetverify.Fleet{Version: meta.Version, Started: started, Duration: meta.Duration, Hosts: []*fleetverify.HostRun{hr}}
	}
	code = writeVerify(env, ff, one, *format, meta, results, report.Options{Color: useColor(env) && ff.output == "", Verbose: *verbose, Summary: *summary}, usage)
	if ctx.Err() != nil {
		fmt.Fprintf(env.Stderr, "rampart verify: the run hit --timeout %s; unfinished checks are unknown\n", *timeout)
	}
	if pub.publish {
		if c := publishReport(env, p, pub, one); c != ExitOK {
			return c
		}
	}
	return code
}

// writeVerify writes one host's report (as a fleet of one when one is
// set) and returns verify's exit status for it.
func writeVerify(env *Env, ff *fleetFlags, one *fleetverify.Fleet, format string, meta report.Meta, results []check.Result, opts report.Options, usage func(string, ...any) int) int {
	if ff.fleet(format) { // one host as an HTML page, or compared with a baseline
		return renderFleet(env, fleetRun{ff: ff, format: format, release: meta.Release, usage: usage}, one)
	}
	err := writeOutput(env, ff.output, func(w io.Writer) error {
		return report.Write(w, format, meta, results, opts)
	})
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart verify: write report: %v\n", err)
		return ExitUsage
	}
	sum := check.Summarize(results)
	switch {
	case sum.Fail == 0 && sum.Pass+sum.Warn == 0 && sum.Unknown == 0:
		fmt.Fprintln(env.Stderr, "rampart verify: nothing was evaluated: every selected check was skipped under this policy")
	case sum.Fail == 0 && sum.Unknown > 0:
		fmt.Fprintf(env.Stderr, "rampart verify: %d check(s) could not be evaluated (unknown); run as root or see their messages\n", sum.Unknown)
	}
	return verifyExit(sum)
}

// repeated is a flag that may be given several times.
type repeated []string

func (r *repeated) String() string { return strings.Join(*r, ",") }

// Set implements flag.Value.
func (r *repeated) Set(s string) error {
	*r = append(*r, s)
	return nil
}

// verifyExit maps a summary to the exit status documented in the help.
func verifyExit(s check.Summary) int {
	switch {
	case s.Fail > 0:
		return ExitProblem
	case s.Unknown > 0, s.Pass+s.Warn == 0:
		return ExitUsage
	}
	return ExitOK
}

// useColor is true only for a terminal and when NO_COLOR is unset
// (https://no-color.org).
func useColor(env *Env) bool {
	if env.Getenv("NO_COLOR") != "" || env.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := env.Stdout.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
