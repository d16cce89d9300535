package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/fleetverify"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/host/sshhost"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/report/htmlreport"
	"github.com/rampart-sec/rampart/internal/verify"
	"github.com/rampart-sec/rampart/internal/version"
)

// fleetFlags are verify's flags for several hosts and for reports.
type fleetFlags struct {
	hosts       repeated
	inventory   string
	parallel    int
	hostTimeout time.Duration
	baseline    string
	failOn      string
	from        repeated
	output      string
	sshConfig   bool               // resolve hosts through OpenSSH's client configuration
	sshFile     string             // ssh -F FILE
	jump        string             // -J: the jump hosts of every --host
	base        *fleetverify.Fleet // --baseline, once read (prepare)
}

// prepare checks --fail-on and reads --baseline, before anything is
// verified or published. It returns a usage message ("" when none) or
// the baseline's error.
func (ff *fleetFlags) prepare() (string, error) {
	switch {
	case ff.failOn != "" && ff.failOn != "regressions":
		return fmt.Sprintf("--fail-on %q: the only value is \"regressions\"", ff.failOn), nil
	case ff.failOn != "" && ff.baseline == "":
		return "--fail-on regressions needs --baseline FILE", nil
	}
	if ff.baseline != "" && ff.base == nil {
		base, err := fleetverify.ReadFile(ff.baseline)
		if err != nil {
			return "", err
		}
		ff.base = base
	}
	return "", nil
}

func addFleetFlags(fs *flag.FlagSet) *fleetFlags {
	ff := &fleetFlags{}
	fs.Var(&ff.hosts, "host", "verify a remote host over SSH (known_hosts enforced; agent or ~/.ssh keys; sudo -n when not root): `[USER@]HOST[:PORT]`; repeat it for several hosts")
	fs.StringVar(&ff.inventory, "inventory", "", "verify the hosts of a fleet `FILE` (TOML: [[host]] with name, address, user, port, proxy_jump, labels, group, policy, timeout, sshd_config; [group.NAME] tables)")
	fs.IntVar(&ff.parallel, "parallel", 16, "hosts verified at once")
	fs.DurationVar(&ff.hostTimeout, "host-timeout", 60*time.Second, "deadline for one host; a host past it, or unreachable, is unknown and the run goes on")
	fs.Var(&ff.from, "from", "render saved JSON report `FILE`s instead of verifying (repeatable: merges them into one fleet view)")
	fs.BoolVar(&ff.sshConfig, "ssh-config", false, "read each host's HostName, User, Port, IdentityFile, known_hosts files and ProxyJump from OpenSSH's client configuration (ssh -G; ~/.ssh/config and /etc/ssh/ssh_config), so --host takes its aliases; --host USER@ and :PORT, the inventory, -i and --known-hosts win; known_hosts is enforced whatever StrictHostKeyChecking says")
	fs.StringVar(&ff.sshFile, "F", "", "read ssh's client configuration from `FILE` instead (ssh -F; implies --ssh-config)")
	fs.StringVar(&ff.jump, "J", "", "reach every --host through the jump hosts `[USER@]HOST[:PORT][,...]`, the first dialled first, as ssh -J does (known_hosts enforced for each; the hosts share one connection to each jump host; an inventory host takes proxy_jump instead)")
	addReportFlags(fs, ff)
	return ff
}

// addReportFlags adds the flags of a rendered fleet view: the baseline,
// --fail-on and -o.
func addReportFlags(fs *flag.FlagSet, ff *fleetFlags) {
	fs.StringVar(&ff.baseline, "baseline", "", "compare with an earlier JSON report `FILE` (fleet or one host): what got worse, what got better")
	fs.StringVar(&ff.failOn, "fail-on", "", "with --baseline: exit 1 only for new failures (`regressions`)")
	fs.StringVar(&ff.output, "o", "", "write the report to `FILE` instead of stdout")
}

// dialHost connects to the one --host: as given, or with --ssh-config as
// ssh's client configuration says (through its jump hosts first).
func dialHost(ctx context.Context, env *Env, ff *fleetFlags, identities, knownHosts []string) (*sshhost.Host, func(), error) {
	pt, err := sshhost.ParseTarget(ff.hosts[0])
	if err != nil {
		return nil, nil, err
	}
	t := fleetverify.TargetOf(ff.hosts[0], pt)
	if t.ProxyJump, err = ff.jumps(); err != nil {
		return nil, nil, err
	}
	if ff.useSSHConfig() {
		if err := fleetverify.WithSSHConfig(ctx, ff.sshConfigOf(env, len(identities) > 0, len(knownHosts) > 0), t); err != nil {
			return nil, nil, fmt.Errorf("--ssh-config: %w", err)
		}
	}
	return fleetverify.Dial(ctx, t, sshhost.Options{Getenv: env.Getenv, Identities: identities, KnownHosts: knownHosts})
}

// jumps parses -J: the last jump host, or nil without -J.
func (ff *fleetFlags) jumps() (*fleetverify.Target, error) {
	if ff.jump == "" {
		return nil, nil
	}
	j, err := fleetverify.ParseJumps(ff.jump)
	if err != nil {
		return nil, fmt.Errorf("-J: %w", err)
	}
	return j, nil
}

// useSSHConfig: --ssh-config, or -F (which implies it).
func (ff *fleetFlags) useSSHConfig() bool { return ff.sshConfig || ff.sshFile != "" }

// sshConfigOf is how --ssh-config reads ssh's configuration; keepIDs and
// keepKnown: -i or --known-hosts (or the inventory's) were given.
func (ff *fleetFlags) sshConfigOf(env *Env, keepIDs, keepKnown bool) fleetverify.SSHConfig {
	return fleetverify.SSHConfig{Local: &host.Local{}, File: ff.sshFile, Home: env.Getenv("HOME"),
		KeepIdentities: keepIDs, KeepKnownHosts: keepKnown}
}

// fleet reports whether the run is a fleet run (several hosts, an
// inventory, reports to merge, a baseline, or an HTML page).
func (ff *fleetFlags) fleet(format string) bool {
	return len(ff.hosts) > 1 || ff.inventory != "" || len(ff.from) > 0 || ff.baseline != "" || ff.failOn != "" ||
		format == "html"
}

// fleetRun is everything runVerify parsed, for the fleet path.
type fleetRun struct {
	ff         *fleetFlags
	pf         *PolicyFlags
	format     string
	release    string
	checks     []*check.Check
	opts       verify.Options
	identities []string
	knownHosts []string
	timeout    time.Duration
	usage      func(string, ...any) int
	// cmd names the command in messages ("verify" when empty).
	cmd string
}

func runFleetVerify(env *Env, fr fleetRun) int {
	ff := fr.ff
	errf := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "rampart verify: "+format+"\n", a...)
		return ExitUsage
	}
	switch {
	case ff.parallel < 1:
		return fr.usage("--parallel must be at least 1")
	case ff.hostTimeout <= 0:
		return fr.usage("--host-timeout must be positive")
	case ff.failOn != "" && ff.failOn != "regressions":
		return fr.usage("--fail-on %q: the only value is \"regressions\"", ff.failOn)
	case ff.failOn != "" && ff.baseline == "":
		return fr.usage("--fail-on regressions needs --baseline FILE")
	case len(ff.from) > 0 && (len(ff.hosts) > 0 || ff.inventory != ""):
		return fr.usage("--from renders saved reports; it cannot be combined with --host or --inventory")
	}
	var fleet *fleetverify.Fleet
	if len(ff.from) > 0 {
		fleet = &fleetverify.Fleet{Version: version.String()}
		seen := map[string]string{}
		files, err := fleetverify.ReadFiles(ff.from)
		if err != nil {
			return errf("--from %v", err)
		}
		for i, f := range files {
			file := ff.from[i]
			for _, h := range f.Hosts {
				if prev, ok := seen[h.Target.Name]; ok {
					return errf("--from %s: host %q is also in %s", file, host.SafeText(h.Target.Name), prev)
				}
				seen[h.Target.Name] = file
				fleet.Hosts = append(fleet.Hosts, h)
			}
			if fleet.Started.IsZero() || f.Started.Before(fleet.Started) {
				fleet.Started = f.Started
			}
		}
	} else {
		var code int
		if fleet, code = verifyFleet(env, fr); fleet == nil {
			return code
		}
	}
	return renderFleet(env, fr, fleet)
}

// renderFleet compares with the baseline, writes the report and returns
// the exit status.
func renderFleet(env *Env, fr fleetRun, fleet *fleetverify.Fleet) int {
	ff := fr.ff
	cmd := fr.cmd
	if cmd == "" {
		cmd = "verify"
	}
	errf := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "rampart "+cmd+": "+format+"\n", a...)
		return ExitUsage
	}
	if msg, err := ff.prepare(); msg != "" {
		return fr.usage("%s", msg)
	} else if err != nil {
		return errf("--baseline %v", err)
	}
	if ff.base != nil {
		fleet.Compare(ff.baseline, ff.base)
	}
	render := func(w io.Writer) error {
		switch fr.format {
		case "json":
			return fleet.JSON(w)
		case "junit":
			return fleet.JUnit(w)
		case "sarif":
			return fleet.SARIF(w)
		case "html":
			return htmlreport.Fleet(w, fleet)
		default:
			return fleet.Text(w)
		}
	}
	if err := writeOutput(env, ff.output, render); err != nil {
		return errf("write report: %v", err)
	}
	if ff.failOn == "regressions" {
		if n := fleet.Baseline.Regressions(); n > 0 {
			fmt.Fprintf(env.Stderr, "rampart %s: %d new failure(s) since %s\n", cmd, n, ff.baseline)
			return ExitProblem
		}
		return ExitOK
	}
	var all []check.Result
	for _, h := range fleet.Hosts {
		all = append(all, h.Results...)
	}
	return verifyExit(check.Summarize(all))
}

// writeOutput writes what render produces to -o FILE (atomically, see
// renderFileAtomic) or to standard output, there only once render has
// finished, so a failed render prints nothing.
func writeOutput(env *Env, file string, render func(io.Writer) error) error {
	if file == "" || file == "-" {
		var buf bytes.Buffer
		if err := render(&buf); err != nil {
			return err
		}
		_, err := env.Stdout.Write(buf.Bytes())
		return err
	}
	return renderFileAtomic(file, 0o644, render)
}

// writeBytes is writeOutput for content already rendered.
func writeBytes(env *Env, file string, b []byte) error {
	return writeOutput(env, file, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// verifyFleet runs the checks on every host of the inventory and --host.
func verifyFleet(env *Env, fr fleetRun) (*fleetverify.Fleet, int) {
	ff := fr.ff
	var targets []*fleetverify.Target
	identities, knownHosts := fr.identities, fr.knownHosts
	if ff.inventory != "" {
		inv, err := fleetverify.LoadInventory(ff.inventory)
		if err != nil {
			fmt.Fprintf(env.Stderr, "%v\n", err)
			if _, ok := err.(policy.Errors); ok {
				return nil, ExitProblem
			}
			return nil, ExitUsage
		}
		targets = inv.Hosts
		if len(identities) == 0 {
			identities = inv.Identities
		}
		if len(knownHosts) == 0 {
			knownHosts = inv.KnownHosts
		}
	}
	names := map[string]bool{}
	for _, t := range targets {
		names[t.Name] = true
	}
	jump, err := ff.jumps()
	if err != nil {
		return nil, fr.usage("%v", err)
	}
	for _, h := range ff.hosts {
		pt, err := sshhost.ParseTarget(h)
		if err != nil {
			return nil, fr.usage("--host: %v", err)
		}
		if names[h] {
			return nil, fr.usage("--host %s is given twice (or is also in the inventory)", h)
		}
		names[h] = true
		t := fleetverify.TargetOf(h, pt)
		t.ProxyJump = jump
		targets = append(targets, t)
	}
	if len(targets) == 0 {
		return nil, fr.usage("no hosts: give --host or an --inventory with [[host]] tables")
	}
	if ff.useSSHConfig() {
		c := ff.sshConfigOf(env, len(identities) > 0, len(knownHosts) > 0)
		for _, t := range targets {
			if err := fleetverify.WithSSHConfig(env.Ctx, c, t); err != nil {
				fmt.Fprintf(env.Stderr, "rampart verify: --ssh-config: %v\n", err)
				return nil, ExitUsage
			}
		}
	}
	for _, t := range targets {
		if t.User == "" {
			t.User = env.Getenv("USER")
		}
	}
	// Every policy the run needs, loaded (and its problems printed) before
	// any connection.
	type key struct{ file, profile string }
	pols := map[key]*policy.Policy{}
	for _, t := range targets {
		k := key{t.Policy, t.Profile}
		if k == (key{}) {
			k = key{fr.pf.Path, fr.pf.Profile}
		}
		if _, ok := pols[k]; ok {
			continue
		}
		p, code := LoadPolicy(env, k.file, k.profile)
		if p == nil {
			return nil, code
		}
		pols[k] = p
	}
	progress := func(int, int, int) {}
	if isTerminal(env.Stderr) {
		progress = func(done, total, failing int) {
			fmt.Fprintf(env.Stderr, "\r\x1b[Kverifying: %d/%d hosts done, %d failing", done, total, failing)
			if done == total {
				fmt.Fprint(env.Stderr, "\r\x1b[K")
			}
		}
	}
	ctx, cancel := env.Ctx, context.CancelFunc(func() {})
	if fr.timeout > 0 {
		ctx, cancel = context.WithTimeout(env.Ctx, fr.timeout)
	}
	defer cancel()
	started := time.Now()
	hosts := fleetverify.Run(ctx, targets, fleetverify.Options{
		Parallel: ff.parallel, HostTimeout: ff.hostTimeout, Checks: fr.checks, Release: fr.release, Verify: fr.opts,
		SSH: sshhost.Options{Getenv: env.Getenv, Identities: identities, KnownHosts: knownHosts},
		Policy: func(file, profile string) (*policy.Policy, error) {
			k := key{file, profile}
			if k == (key{}) {
				k = key{fr.pf.Path, fr.pf.Profile}
			}
			return pols[k], nil
		},
		Progress: progress,
	})
	if ctx.Err() != nil {
		fmt.Fprintf(env.Stderr, "rampart verify: the run hit --timeout %s; unfinished hosts and checks are unknown\n", fr.timeout)
	}
	return &fleetverify.Fleet{Version: version.String(), Started: started, Duration: time.Since(started), Hosts: hosts}, ExitOK
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
