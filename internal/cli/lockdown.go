package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/lockdown"
	"github.com/rampart-sec/rampart/internal/nftrules"
	"github.com/rampart-sec/rampart/internal/nixfacts"
	"github.com/rampart-sec/rampart/internal/nixgen"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/report"
	"github.com/rampart-sec/rampart/internal/tailscale"
	"github.com/rampart-sec/rampart/internal/version"
)

// lockdownHost is the host lockdown works on; tests replace it.
var lockdownHost = func() host.Host { return &host.Local{} }

var lockdownCmd = &Command{
	Name:    "lockdown",
	Summary: "close SSH except over the tailnet, with pre-flight checks and automatic rollback",
	Usage:   "lockdown <plan|apply|confirm|rollback|status> [flags]",
	Help: `A tailnet-only server closes the SSH port on every interface but tailscale0. Done by hand, an expired node key or a
broken tailnet path locks the admin out. lockdown makes the change commit-confirmed:

  plan      proves the tailnet path (tailscale Running, node key not expiring, tailscale0 up with a
            tailnet address, sshd reachable there, an admin key on disk, and from an SSH session that
            the session itself came over the tailnet) and prints the exact change. Exit 1 if not proven.
  apply     installs rampart's own nftables table "inet rampart-lockdown" (new SSH connections dropped
            unless they arrive on lo or a trusted interface; established sessions untouched) and waits
            for a confirm. Without one before --confirm-within, the change is rolled back: by apply
            itself, by a detached watchdog process (survives kill -9 and a lost SSH session) and by a
            transient systemd timer when systemd runs. On NixOS it prints the nixos-rebuild test flow,
            or runs it with --nixos.
  confirm   keeps the change; it must run in a NEW SSH session that arrives over the tailnet.
  rollback  undoes the change at once.
  status    shows the change, the table, the watchdog and the SSH exposure per interface.

With no -p the tailnet profile of the default policy is used. State lives in /run/rampart (--state-dir).

Examples:
  rampart lockdown plan
  rampart lockdown plan -p /etc/rampart/policy.toml --format json
  sudo rampart lockdown apply --confirm-within 2m
  ssh admin@100.101.102.103 sudo rampart lockdown confirm     # from a second terminal, over the tailnet
  sudo rampart lockdown status
  sudo rampart lockdown rollback

Exit codes: 0 ok / confirmed; 1 pre-flight failed, change refused or rolled back; 2 could not run.`,
}

func init() {
	lockdownCmd.Subcommands = []*Command{
		{Name: "plan", Summary: "run the pre-flight checks and print the change", Run: runLockdownPlan,
			Usage: "lockdown plan [-p POLICY] [--format text|json] [--nixos] [--sshd-config FILE]",
			Help: `Runs the pre-flight checks, each with status and evidence, then prints the nftables table apply would
install (and on NixOS, or with --nixos, the commit-confirmed nixos-rebuild flow).

Exit 0 when the tailnet path is proven; 1 with the reasons when it is not.

Examples:
  rampart lockdown plan
  rampart lockdown plan -p policy.toml --format json`},
		{Name: "apply", Summary: "install the lockdown and wait for a confirm (rolled back without one)", Run: runLockdownApply,
			Usage: "lockdown apply [-p POLICY] [--confirm-within 2m] [--force] [--no-wait] [--nixos [--release R] [--module FILE]] [--sshd-config FILE] [--state-dir DIR]",
			Help: `Refuses after a failed pre-flight unless --force. Then installs table inet rampart-lockdown in one nft
transaction, starts the rollback watchdog (and a systemd timer when systemd runs) and waits until
'rampart lockdown confirm' runs from a new SSH session over the tailnet. Ctrl-C or the deadline rolls
back. --no-wait returns at once and leaves the rollback to the watchdog.

Examples:
  sudo rampart lockdown apply
  sudo rampart lockdown apply --confirm-within 5m -p /etc/rampart/policy.toml
  sudo rampart lockdown apply --nixos --module /etc/nixos/rampart.nix`},
		{Name: "confirm", Summary: "keep the pending change (from a new SSH session over the tailnet)", Run: runLockdownConfirm,
			Usage: "lockdown confirm [--state-dir DIR] [--persist FILE]",
			Help: `Accepted only from an SSH session ($SSH_CONNECTION) whose client is routed through the tailnet
interface (ip route get CLIENT shows tailscale0), that is not the session that applied, before the
deadline, with the table still installed. The table lives in the kernel: --persist FILE also writes it
where /etc/nftables.conf includes it, so it survives a reboot (a reboot before the confirm drops it).

Examples:
  ssh admin@100.101.102.103 sudo rampart lockdown confirm
  ssh admin@100.101.102.103 sudo rampart lockdown confirm --persist /etc/nftables.d/rampart-lockdown.nft`},
		{Name: "rollback", Summary: "undo the lockdown now", Run: runLockdownRollback,
			Usage: "lockdown rollback [--state-dir DIR] [--reason TEXT]",
			Help: `Removes table inet rampart-lockdown (on NixOS: re-activates the previous generation). Safe to repeat.

Example:
  sudo rampart lockdown rollback`},
		{Name: "status", Summary: "show the change, the table, the watchdog and SSH exposure", Run: runLockdownStatus,
			Usage: "lockdown status [--state-dir DIR] [--format text|json]",
			Help: `Exit 0 when the state and the host agree, 1 when they contradict each other (a confirmed change whose
table is gone, a pending change with no watchdog).

Examples:
  sudo rampart lockdown status
  sudo rampart lockdown status --format json`},
		{Name: "watchdog", Summary: "internal: roll back change ID at its deadline unless confirmed", Run: runLockdownWatchdog,
			Usage: "lockdown watchdog --id ID [--state-dir DIR]",
			Help: `Started detached (setsid) by apply; not meant to be run by hand. Stopped by a signal before the
deadline, it rolls back rather than leave the change unguarded.

Example:
  rampart lockdown watchdog --id 3f2a9c01b7de --state-dir /run/rampart`},
	}
	Register(lockdownCmd)
}

func lockdownSub(name string) *Command {
	for _, s := range lockdownCmd.Subcommands {
		if s.Name == name {
			return s
		}
	}
	panic("lockdown: no subcommand " + name)
}

// lockdownPolicy loads the policy (default: the tailnet profile) and the
// lockdown config derived from it.
func lockdownPolicy(env *Env, pf *PolicyFlags) (*policy.Policy, lockdown.Config, int) {
	profile := pf.Profile
	if profile == "" && pf.Path == "" {
		profile = policy.ProfileTailnet
	}
	p, code := LoadPolicy(env, pf.Path, profile)
	if p == nil {
		return nil, lockdown.Config{}, code
	}
	if !p.Tailnet.Enabled {
		fmt.Fprintf(env.Stderr, "rampart lockdown: policy %s does not enable [tailnet] (tailnet.enabled = false): closing SSH outside the tailnet would contradict it; use a policy with profile = \"tailnet\"\n", p.Source)
		return nil, lockdown.Config{}, ExitProblem
	}
	cfg, err := lockdown.ConfigFromPolicy(p)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %v\n", err)
		return nil, cfg, ExitProblem
	}
	return p, cfg, ExitOK
}

// lockdownSSHConnection is $SSH_CONNECTION of the session rampart runs
// in. sudo's env_reset drops it, so under sudo (SUDO_USER set) it is taken
// from the nearest ancestor process that still has it, up to sshd.
func lockdownSSHConnection(env *Env, h host.Host) string {
	if v := strings.TrimSpace(env.Getenv("SSH_CONNECTION")); v != "" {
		return v
	}
	if env.Getenv("SUDO_USER") == "" && env.Getenv("DOAS_USER") == "" {
		return ""
	}
	v, err := lockdown.SessionFromAncestors(env.Ctx, h, os.Getppid())
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart lockdown: warning: cannot find the SSH session above sudo: %v\n", err)
	}
	return v
}

func lockdownPreflightOptions(env *Env, h host.Host, nixos bool, sshdConfig string) lockdown.PreflightOptions {
	fallback := []string{"root"}
	if u := env.Getenv("SUDO_USER"); u != "" {
		fallback = append(fallback, u)
	} else if u := env.Getenv("USER"); u != "" {
		fallback = append(fallback, u)
	}
	return lockdown.PreflightOptions{SSHConnection: lockdownSSHConnection(env, h), FallbackUsers: fallback, NixOS: nixos, SSHDConfig: sshdConfig}
}

func writeLockdownResults(env *Env, tool, format string, h host.Host, p *policy.Policy, rs []check.Result, start time.Time) error {
	m := report.Meta{Tool: tool, Version: version.String(), Host: h.Name(), Policy: p.Source,
		Started: start, Duration: time.Since(start)}
	return report.Write(env.Stdout, format, m, rs, report.Options{Verbose: true})
}

func runLockdownPlan(env *Env, args []string) int {
	const path = "lockdown plan"
	c := lockdownSub("plan")
	fs := NewFlags(path)
	pf := AddPolicyFlags(fs)
	format := fs.String("format", "text", "output `FORMAT`: text or json")
	forceNix := fs.Bool("nixos", false, "show the NixOS flow even when this host is not NixOS")
	sshdConfig := fs.String("sshd-config", "", "sshd's config `FILE` when not the default (for sshd -T: where admin keys live)")
	if code, ok := ParseNoArgs(env, fs, c, path, args); !ok {
		return code
	} else if *format != "text" && *format != "json" {
		fmt.Fprintf(env.Stderr, "rampart %s: --format %q: expected text or json\n", path, *format)
		return ExitUsage
	}
	p, cfg, code := lockdownPolicy(env, pf)
	if p == nil {
		return code
	}
	h := lockdownHost()
	nixos := *forceNix || lockdown.IsNixOS(env.Ctx, h)
	start := time.Now()
	rs := lockdown.Preflight(env.Ctx, h, p, cfg, lockdownPreflightOptions(env, h, nixos, *sshdConfig))
	if err := writeLockdownResults(env, "rampart lockdown plan", *format, h, p, rs, start); err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return ExitUsage
	}
	ready, why := lockdown.Ready(rs)
	if *format == "text" {
		fmt.Fprintln(env.Stdout)
		printLockdownChange(env.Stdout, cfg, nixos)
	}
	if !ready {
		fmt.Fprintf(env.Stderr, "rampart %s: the tailnet path is not proven; lockdown would risk locking you out:\n", path)
		for _, w := range why {
			fmt.Fprintf(env.Stderr, "  - %s\n", w)
		}
		return ExitProblem
	}
	if *format == "text" {
		fmt.Fprintln(env.Stdout, "\nThe tailnet path is proven. Next: sudo rampart lockdown apply")
	}
	return ExitOK
}

func printLockdownChange(w io.Writer, cfg lockdown.Config, nixos bool) {
	if nixos {
		fmt.Fprint(w, lockdown.NixOSFlow(lockdown.NixOSOptions{}, 2*time.Minute))
		return
	}
	script, err := cfg.Script()
	if err != nil {
		fmt.Fprintf(w, "cannot render the table: %v\n", err)
		return
	}
	fmt.Fprintf(w, "apply would load, in one transaction (nft -f -):\n\n%s\n", lockdownIndent(script))
	fmt.Fprintf(w, "New connections to tcp port(s) %v stay possible only on %s; established sessions and other tables are untouched.\n",
		cfg.Ports, strings.Join(cfg.Trusted, ", "))
}

func lockdownIndent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = "    " + lines[i]
	}
	return strings.Join(lines, "\n")
}

func lockdownStateDirFlag(fs *flag.FlagSet) *string {
	return fs.String("state-dir", lockdown.DefaultStateDir, "`DIR` holding the lockdown state file and watchdog log")
}

func newLockdownManager(env *Env, h host.Host, dir string) *lockdown.Manager {
	exe, _ := os.Executable()
	return &lockdown.Manager{Host: h, Store: &lockdown.Store{Dir: dir}, Exe: exe, Log: env.Stdout}
}

func runLockdownApply(env *Env, args []string) int {
	const path = "lockdown apply"
	c := lockdownSub("apply")
	fs := NewFlags(path)
	pf := AddPolicyFlags(fs)
	within := fs.Duration("confirm-within", 2*time.Minute, "roll back unless confirmed within `DURATION`")
	force := fs.Bool("force", false, "apply even though the pre-flight failed")
	noWait := fs.Bool("no-wait", false, "return once applied; the watchdog rolls back unless confirmed")
	nixos := fs.Bool("nixos", false, "run the NixOS commit-confirmed flow (nixos-rebuild test)")
	module := fs.String("module", "", "NixOS: read the rendered module from `FILE` instead of rendering the policy")
	release := fs.String("release", "", "NixOS: render the module for `RELEASE` ("+releaseRange()+"; default the newest stable)")
	modulePath := fs.String("module-path", lockdown.DefaultModule, "NixOS: where the module is written (`PATH`)")
	nixConfig := fs.String("nixos-config", lockdown.DefaultNixConfig, "NixOS: the configuration that imports the module (`PATH`)")
	dir := lockdownStateDirFlag(fs)
	sshdConfig := fs.String("sshd-config", "", "sshd's config `FILE` when not the default (for sshd -T: where admin keys live)")
	if code, ok := ParseNoArgs(env, fs, c, path, args); !ok {
		return code
	}
	if *within < time.Second || *within > 24*time.Hour {
		fmt.Fprintf(env.Stderr, "rampart %s: --confirm-within %s: expected between 1s and 24h\n", path, *within)
		return ExitUsage
	}
	p, cfg, code := lockdownPolicy(env, pf)
	if p == nil {
		return code
	}
	h := lockdownHost()
	isNix := lockdown.IsNixOS(env.Ctx, h)
	if isNix && !*nixos {
		fmt.Fprintln(env.Stdout, "This host runs NixOS: rampart does not add nftables tables behind the NixOS firewall's back.")
		fmt.Fprint(env.Stdout, lockdown.NixOSFlow(lockdown.NixOSOptions{ModulePath: *modulePath, ConfigPath: *nixConfig}, *within))
		fmt.Fprintln(env.Stdout, "\nNothing was changed. Run the steps above, or: sudo rampart lockdown apply --nixos")
		return ExitProblem
	}
	rs := lockdown.Preflight(env.Ctx, h, p, cfg, lockdownPreflightOptions(env, h, *nixos, *sshdConfig))
	ready, why := lockdown.Ready(rs)
	if !ready {
		_ = writeLockdownResults(env, "rampart lockdown apply: pre-flight", "text", h, p, rs, time.Now())
		if !*force {
			fmt.Fprintf(env.Stderr, "rampart %s: refusing: the pre-flight failed (the tailnet path is not proven):\n", path)
			for _, w := range why {
				fmt.Fprintf(env.Stderr, "  - %s\n", w)
			}
			fmt.Fprintln(env.Stderr, "Fix these, or apply anyway with --force (the automatic rollback still guards the change).")
			return ExitProblem
		}
		fmt.Fprintf(env.Stderr, "rampart %s: --force: applying although the pre-flight failed (%d problem(s))\n", path, len(why))
	}
	m := newLockdownManager(env, h, *dir)
	opts := lockdown.ApplyOptions{Within: *within, SSHConnection: lockdownSSHConnection(env, h)}
	var st *lockdown.State
	var err error
	if *nixos {
		var mod []byte
		if *module != "" {
			mod, err = os.ReadFile(*module)
		} else {
			mod, err = lockdownRenderModule(p, *release)
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
			return ExitUsage
		}
		st, err = m.ApplyNixOS(env.Ctx, cfg, opts, lockdown.NixOSOptions{Module: mod, ModulePath: *modulePath, ConfigPath: *nixConfig})
	} else {
		st, err = m.Apply(env.Ctx, cfg, opts)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		if errors.Is(err, lockdown.ErrPending) {
			return ExitProblem
		}
		return ExitUsage
	}
	if st.Mode == lockdown.ModeNftables {
		if xs, err := lockdown.Exposure(env.Ctx, h, cfg); err == nil {
			printLockdownExposure(env.Stdout, xs)
		} else {
			fmt.Fprintf(env.Stdout, "(exposure analysis unavailable: %v)\n", err)
		}
	}
	hint := "this host's tailnet address"
	if ifc, _, _, err := tailscale.ReadInterface(env.Ctx, h, cfg.Tailnet); err == nil {
		if a := ifc.TailnetAddrs(nil); len(a) > 0 {
			hint = a[0].String()
		}
	}
	fmt.Fprintf(env.Stdout, "\nChange %s is pending until %s (%s).\n", st.ID, st.Deadline.Format(time.RFC3339), *within)
	fmt.Fprintf(env.Stdout, "Confirm from a NEW ssh session over the tailnet:\n    ssh <admin>@%s sudo rampart lockdown confirm --state-dir %s\n", hint, *dir)
	fmt.Fprintln(env.Stdout, "Without a confirm the change is rolled back automatically, even if this process dies.")
	if *noWait {
		return ExitOK
	}
	st, err = m.Wait(env.Ctx, st.ID)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return ExitUsage
	}
	switch st.Phase {
	case lockdown.PhaseConfirmed:
		fmt.Fprintf(env.Stdout, "Confirmed from %s: the lockdown stays.\n", st.ConfirmedFrom)
		return ExitOK
	default:
		fmt.Fprintf(env.Stdout, "Rolled back: %s.\n", st.Reason)
		return ExitProblem
	}
}

// lockdownRenderModule renders the policy's NixOS module as `rampart nix`
// does (refusing a policy that would lock the admin out).
func lockdownRenderModule(p *policy.Policy, release string) ([]byte, error) {
	opts := nixgen.Options{}
	if release != "" {
		r, err := nixfacts.ParseRelease(release)
		if err != nil {
			return nil, fmt.Errorf("--release: %w", err)
		}
		opts.Release = r
	}
	files, _, err := nixgen.Render(p, opts)
	if err != nil {
		return nil, err
	}
	return files[0].Data, nil
}

func printLockdownExposure(w io.Writer, xs []nftrules.Exposure) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INTERFACE\tPORT\tNEW SSH CONNECTIONS\tWHY")
	for _, x := range xs {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", x.Iface, x.Port, x.State, x.Reason())
	}
	tw.Flush()
}

func runLockdownConfirm(env *Env, args []string) int {
	const path = "lockdown confirm"
	fs := NewFlags(path)
	dir := lockdownStateDirFlag(fs)
	persist := fs.String("persist", "", "also write the table to `FILE` (e.g. /etc/nftables.d/rampart-lockdown.nft) so it survives a reboot")
	if code, ok := ParseNoArgs(env, fs, lockdownSub("confirm"), path, args); !ok {
		return code
	}
	h := lockdownHost()
	m := newLockdownManager(env, h, *dir)
	st, err := m.Confirm(env.Ctx, lockdown.ConfirmOptions{SSHConnection: lockdownSSHConnection(env, h)})
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		if errors.Is(err, lockdown.ErrConfirmRefused) || errors.Is(err, lockdown.ErrNoState) {
			return ExitProblem
		}
		return ExitUsage
	}
	fmt.Fprintf(env.Stdout, "Confirmed change %s from %s: SSH stays closed outside %s.\n", st.ID, st.ConfirmedFrom, strings.Join(st.Config.Trusted, ", "))
	if st.Mode != lockdown.ModeNftables {
		return ExitOK
	}
	if *persist == "" {
		fmt.Fprintln(env.Stdout, "The table lives in the kernel until the next reboot; use --persist FILE (included by /etc/nftables.conf) to keep it.")
		return ExitOK
	}
	script, err := st.Config.Script()
	if err == nil {
		err = os.WriteFile(*persist, []byte(script), 0o644)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: confirmed, but could not persist the table: %v\n", path, err)
		return ExitUsage
	}
	fmt.Fprintf(env.Stdout, "Wrote the table to %s; make sure /etc/nftables.conf includes it.\n", *persist)
	return ExitOK
}

func runLockdownRollback(env *Env, args []string) int {
	const path = "lockdown rollback"
	fs := NewFlags(path)
	dir := lockdownStateDirFlag(fs)
	id := fs.String("id", "", "only roll back change `ID`, and only while it is pending (used by the systemd timer)")
	reason := fs.String("reason", "", "why, recorded in the state")
	if code, ok := ParseNoArgs(env, fs, lockdownSub("rollback"), path, args); !ok {
		return code
	}
	h := lockdownHost()
	m := newLockdownManager(env, h, *dir)
	st, err := m.Rollback(env.Ctx, *id, *reason)
	if errors.Is(err, lockdown.ErrNoState) {
		// No record: remove rampart's table anyway (idempotent).
		if err := lockdown.Remove(env.Ctx, h, lockdown.DefaultTable); err != nil {
			fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
			return ExitUsage
		}
		fmt.Fprintf(env.Stdout, "No lockdown state in %s; removed table inet %s if it was there.\n", *dir, lockdown.DefaultTable)
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return ExitUsage
	}
	fmt.Fprintf(env.Stdout, "Change %s is %s (%s).\n", st.ID, st.Phase, st.Reason)
	return ExitOK
}

func runLockdownStatus(env *Env, args []string) int {
	const path = "lockdown status"
	fs := NewFlags(path)
	dir := lockdownStateDirFlag(fs)
	format := fs.String("format", "text", "output `FORMAT`: text or json")
	if code, ok := ParseNoArgs(env, fs, lockdownSub("status"), path, args); !ok {
		return code
	}
	m := newLockdownManager(env, lockdownHost(), *dir)
	r, err := m.Status(env.Ctx, lockdown.DefaultTable)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return ExitUsage
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
			return ExitUsage
		}
	case "text":
		printLockdownStatus(env.Stdout, r, time.Now())
	default:
		fmt.Fprintf(env.Stderr, "rampart %s: --format %q: expected text or json\n", path, *format)
		return ExitUsage
	}
	if len(r.Problems) > 0 {
		return ExitProblem
	}
	return ExitOK
}

func printLockdownStatus(w io.Writer, r *lockdown.Report, now time.Time) {
	st := r.State
	if st == nil {
		fmt.Fprintf(w, "No lockdown change recorded. Table inet %s installed: %v\n", r.Table, r.TablePresent)
	} else {
		fmt.Fprintf(w, "Change %s (%s): %s\n", st.ID, st.Mode, st.Phase)
		fmt.Fprintf(w, "  applied   %s from %s\n", st.AppliedAt.Format(time.RFC3339), lockdownOrConsole(st.AppliedFrom))
		switch st.Phase {
		case lockdown.PhasePending:
			fmt.Fprintf(w, "  deadline  %s (%s left)\n", st.Deadline.Format(time.RFC3339), st.Deadline.Sub(now).Round(time.Second))
		case lockdown.PhaseConfirmed:
			fmt.Fprintf(w, "  confirmed %s from %s\n", st.ConfirmedAt.Format(time.RFC3339), st.ConfirmedFrom)
		default:
			fmt.Fprintf(w, "  undone    %s: %s\n", st.RolledBackAt.Format(time.RFC3339), st.Reason)
		}
		if st.WatchdogPID > 0 {
			fmt.Fprintf(w, "  watchdog  pid %d, running: %v\n", st.WatchdogPID, r.WatchdogAlive)
		}
		if st.TimerUnit != "" {
			fmt.Fprintf(w, "  timer     %s.timer\n", st.TimerUnit)
		}
		if st.Mode == lockdown.ModeNftables {
			fmt.Fprintf(w, "  table     inet %s installed: %v\n", r.Table, r.TablePresent)
		}
	}
	if len(r.Exposure) > 0 {
		fmt.Fprintln(w)
		printLockdownExposure(w, r.Exposure)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "PROBLEM: %s\n", p)
	}
}

func lockdownOrConsole(s string) string {
	if s == "" {
		return "a console (no SSH session)"
	}
	return s
}

func runLockdownWatchdog(env *Env, args []string) int {
	const path = "lockdown watchdog"
	fs := NewFlags(path)
	dir := lockdownStateDirFlag(fs)
	id := fs.String("id", "", "the change `ID` to guard")
	if code, ok := ParseNoArgs(env, fs, lockdownSub("watchdog"), path, args); !ok {
		return code
	}
	if *id == "" {
		fmt.Fprintf(env.Stderr, "rampart %s: --id is required\n", path)
		return ExitUsage
	}
	m := newLockdownManager(env, lockdownHost(), *dir)
	m.Log = env.Stderr
	fmt.Fprintf(env.Stderr, "%s watchdog %s: guarding (pid %d)\n", time.Now().UTC().Format(time.RFC3339), *id, os.Getpid())
	if _, err := m.Watchdog(env.Ctx, *id); err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return ExitProblem
	}
	return ExitOK
}
