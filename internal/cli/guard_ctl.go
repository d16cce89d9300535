package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/control"
	"github.com/rampart-sec/rampart/internal/guard/daemon"
	"github.com/rampart-sec/rampart/internal/guard/nft"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/policy"
)

// The control subcommands talk to a running `rampart guard run` over its
// socket.

const offlineHelp = `With the daemon running, it does the change. With the daemon down (a
crash, a broken policy, recovery from a console), the change is made
directly: the bans leave the kernel set and the ban store together, under
the state directory's lock that a running daemon holds, so the next start
neither restores nor adopts them.`

const ctlExitCodes = `Exit codes: 0 done, 1 the daemon refused the request (e.g. not banned,
ignore-listed), 2 bad arguments or no daemon to talk to.`

func init() {
	AddGuardSubcommand(&Command{
		Name:    "status",
		Summary: "show the running guard's jails: failed and banned, now and in total",
		Usage:   "guard status [JAIL] [-p POLICY] [--socket PATH] [--json]",
		Help: `Asks the running daemon (rampart guard run) for its state: backend, sources
and lines read, and per jail the addresses currently failing, failures in
total, bans in force and bans in total. With JAIL, that jail's banned
prefixes are listed too. The socket is root only.

Examples:
  sudo rampart guard status
  sudo rampart guard status sshd
  sudo rampart guard status --json | jq '.status.jails[].currently_banned'

` + ctlExitCodes,
		Run: func(env *Env, args []string) int { return runGuardCtl(env, "status", args) },
	})
	AddGuardSubcommand(&Command{
		Name:    "list",
		Summary: "list the bans in force with their expiry",
		Usage:   "guard list [--jail JAIL] [-p POLICY] [--socket PATH] [--json]",
		Help: `Lists every ban in force (prefix, jail, origin, expiry, time left,
failures), sorted by address. The origin is "local" for this host's own
bans, or the fleet node that decided a ban received over [fleet].

Examples:
  sudo rampart guard list
  sudo rampart guard list --jail sshd --json

` + ctlExitCodes,
		Run: func(env *Env, args []string) int { return runGuardCtl(env, "list", args) },
	})
	AddGuardSubcommand(&Command{
		Name:    "ban",
		Summary: "ban an address or prefix now",
		Usage:   "guard ban IP|CIDR [--jail JAIL] [--for DURATION] [-p POLICY] [--socket PATH] [--json]",
		Help: `Bans an address (as /32 or /128) or a prefix at once, stored like any other
ban. The jail defaults to "manual" and the duration to the jail's bantime
(ban.bantime for "manual"). Addresses in ban.ignore and loopback are
refused. A ban inside a wider one only extends the wider one if it lasts
longer (bans never overlap in the firewall).

Examples:
  sudo rampart guard ban 192.0.2.7
  sudo rampart guard ban 2001:db8:bad::/48 --for 1w
  sudo rampart guard ban 198.51.100.23 --jail sshd --for 30m

` + ctlExitCodes,
		Run: func(env *Env, args []string) int { return runGuardCtl(env, "ban", args) },
	})
	AddGuardSubcommand(&Command{
		Name:    "unban",
		Summary: "lift every ban covering an address or prefix",
		Usage:   "guard unban IP|CIDR|--all [-p POLICY] [--socket PATH] [--state-dir DIR] [--json]",
		Help: `Removes every ban that overlaps the address or prefix, in every jail, and
forgets the jails' failure counts for it. --all lifts every ban.

` + offlineHelp + `

Examples:
  sudo rampart guard unban 192.0.2.7
  sudo rampart guard unban 2001:db8:bad::/48
  sudo rampart guard unban --all

` + ctlExitCodes,
		Run: func(env *Env, args []string) int { return runGuardCtl(env, "unban", args) },
	})
	AddGuardSubcommand(&Command{
		Name:    "flush",
		Summary: "lift every ban of one jail",
		Usage:   "guard flush JAIL [-p POLICY] [--socket PATH] [--state-dir DIR] [--json]",
		Help: `Lifts every ban of the jail (e.g. after a misconfigured filter banned
legitimate users) and forgets the jail's failure counts for them.

` + offlineHelp + `

Examples:
  sudo rampart guard flush sshd
  sudo rampart guard flush manual

` + ctlExitCodes,
		Run: func(env *Env, args []string) int { return runGuardCtl(env, "flush", args) },
	})
}

func runGuardCtl(env *Env, op string, args []string) int {
	path := "guard " + op
	c := guardSub(op)
	fs := NewFlags(path)
	var polPath, socket, jailName, dur, stateDir string
	var all bool
	fs.StringVar(&polPath, "p", "", "policy file (for ban.socket)")
	fs.StringVar(&polPath, "policy", "", "policy file")
	fs.StringVar(&socket, "socket", "", "control socket (default: ban.socket of the policy)")
	asJSON := fs.Bool("json", false, "print the daemon's JSON response")
	if op == "list" || op == "ban" {
		fs.StringVar(&jailName, "jail", "", "jail")
	}
	if op == "ban" {
		fs.StringVar(&dur, "for", "", "ban duration (e.g. 30m, 1h, 1w)")
	}
	if op == "unban" || op == "flush" {
		fs.StringVar(&stateDir, "state-dir", "", "state directory when the daemon is down (default: ban.state_dir)")
	}
	if op == "unban" {
		fs.BoolVar(&all, "all", false, "lift every ban")
	}
	pos, code, ok := ParseFlags(env, fs, c, path, args)
	if !ok {
		return code
	}
	usage := guardUsage(env, path, c)
	req := control.Request{Op: op, Jail: jailName, For: dur}
	switch op {
	case "status":
		if len(pos) > 1 {
			return usage("expected at most one JAIL, got %d arguments", len(pos))
		}
		if len(pos) == 1 {
			req.Jail = pos[0]
		}
	case "list":
		if len(pos) != 0 {
			return usage("unexpected argument %q (use --jail to filter)", pos[0])
		}
	case "unban":
		switch {
		case all && len(pos) != 0:
			return usage("--all takes no IP or CIDR")
		case all:
			req.Op = control.OpFlush
		case len(pos) != 1:
			return usage("expected exactly one IP or CIDR (or --all), got %d arguments", len(pos))
		default:
			req.IP = pos[0]
		}
	case "ban":
		if len(pos) != 1 {
			return usage("expected exactly one IP or CIDR, got %d arguments", len(pos))
		}
		req.IP = pos[0]
	case "flush":
		if len(pos) != 1 {
			return usage("expected exactly one JAIL, got %d arguments", len(pos))
		}
		req.Jail = pos[0]
	}
	// Check locally first, for a message that names the flag.
	if _, err := control.Validate(req); err != nil {
		return usage("%s", guardFlagNames(err.Error()))
	}
	var pol *policy.Policy
	if socket == "" || op == "unban" || op == "flush" {
		var code int
		if pol, code = LoadPolicy(env, polPath, ""); pol == nil {
			return code
		}
		if socket == "" {
			socket = pol.Ban.Socket
		}
	}
	resp, err := control.Call(socket, req)
	if errors.Is(err, control.ErrNotRunning) && pol != nil {
		if stateDir == "" {
			stateDir = pol.Ban.StateDir
		}
		return guardOffline(env, path, pol, stateDir, req, *asJSON)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		if resp == nil || errors.Is(err, control.ErrNotRunning) {
			return ExitUsage
		}
		return ExitProblem
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(resp)
		return ExitOK
	}
	now := time.Now()
	switch op {
	case "status":
		printGuardStatus(env.Stdout, resp.Status, req.Jail != "")
	case "list":
		printGuardBans(env.Stdout, resp.Bans, now)
	case "ban":
		b := resp.Bans[0]
		fmt.Fprintf(env.Stdout, "banned %s (jail %s) until %s (%s)\n", b.Prefix, b.Jail, b.Until.UTC().Format(time.RFC3339), policy.FormatDuration(b.Until.Sub(now).Round(time.Second)))
	case "unban", "flush":
		if req.Op == control.OpFlush {
			printLifted(env.Stdout, resp.Bans, "")
		} else {
			fmt.Fprintf(env.Stdout, "unbanned %s (jail %s)\n", req.IP, resp.Bans[0].Jail)
		}
	}
	return ExitOK
}

// printLifted reports bans lifted by a flush (or an offline change, noted
// by how).
func printLifted(w io.Writer, bans []control.BanInfo, how string) {
	if len(bans) == 0 {
		fmt.Fprintf(w, "no bans to lift%s\n", how)
		return
	}
	for _, b := range bans {
		fmt.Fprintf(w, "unbanned %s (jail %s)%s\n", b.Prefix, b.Jail, how)
	}
}

// guardOffline makes an unban or flush with the daemon down: kernel set and
// ban store together, under the state directory's lock.
func guardOffline(env *Env, path string, p *policy.Policy, stateDir string, req control.Request, asJSON bool) int {
	v, err := control.Validate(req)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return ExitUsage
	}
	if !host.CanAdminNetwork() {
		fmt.Fprintf(env.Stderr, "rampart %s: the daemon is not running, and changing the firewall directly needs root or CAP_NET_ADMIN (run with sudo)\n", path)
		return ExitUsage
	}
	backend, err := nft.NewNetlink(p.Ban.Table)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: ban.table: %v\n", path, err)
		return ExitUsage
	}
	var m daemon.Match
	switch v.Op {
	case control.OpFlush:
		m = func(_ netip.Prefix, jail string) bool { return v.Jail == "" || jail == v.Jail }
	default:
		m = func(q netip.Prefix, _ string) bool { return q.Overlaps(v.Prefix) }
	}
	lifted, err := daemon.OfflineRemove(env.Ctx, stateDir, backend, m, time.Now())
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		if errors.Is(err, daemon.ErrRunning) {
			return ExitUsage
		}
		return ExitProblem
	}
	out := make([]control.BanInfo, 0, len(lifted))
	for _, b := range lifted {
		out = append(out, control.BanInfo{Prefix: b.Prefix.String(), Jail: b.Jail, At: b.At, Until: b.Until, Failures: b.Failures, Count: b.Count})
	}
	if v.Op == control.OpUnban && len(out) == 0 {
		fmt.Fprintf(env.Stderr, "rampart %s: %v is not banned\n", path, v.Prefix)
		return ExitProblem
	}
	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(control.Response{OK: true, Bans: out})
		return ExitOK
	}
	printLifted(env.Stdout, out, " (daemon not running: firewall and ban store changed directly)")
	return ExitOK
}

// guardFlagNames rewrites protocol field names as the CLI's words.
func guardFlagNames(s string) string {
	return strings.NewReplacer("field for", "--for", "field jail", "jail", "field ip: ", "").Replace(s)
}

func printGuardStatus(w io.Writer, st *control.Status, one bool) {
	if one && len(st.Jails) == 1 {
		j := st.Jails[0]
		fmt.Fprintf(w, "Status for the jail: %s\n", j.Name)
		fmt.Fprintf(w, "|- Filter: %s (sources: %s)\n", j.Filter, strings.Join(j.Sources, ", "))
		fmt.Fprintf(w, "|  |- Lines read:       %d (matched %d)\n", j.Lines, j.Matched)
		fmt.Fprintf(w, "|  |- Currently failed: %d\n", j.CurrentlyFailed)
		fmt.Fprintf(w, "|  `- Total failed:     %d\n", j.TotalFailed)
		fmt.Fprintf(w, "`- Actions\n")
		fmt.Fprintf(w, "   |- Currently banned: %d\n", j.CurrentlyBanned)
		fmt.Fprintf(w, "   |- Total banned:     %d\n", j.TotalBanned)
		fmt.Fprintf(w, "   `- Banned list:      %s\n", strings.Join(j.Banned, " "))
		return
	}
	fmt.Fprintf(w, "backend %s (table inet %s), up since %s, %d lines read, %d bans in force\n",
		st.Backend, st.Table, st.Started.UTC().Format(time.RFC3339), st.Lines, st.ActiveBans)
	for _, s := range st.Sources {
		line := fmt.Sprintf("source %s: %d lines", s.Key, s.Lines)
		if s.Error != "" {
			line += " (stopped: " + s.Error + ")"
		}
		fmt.Fprintln(w, line)
	}
	if f := st.Fleet; f != nil {
		printFleetLink(w, f)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JAIL\tFILTER\tFAILING NOW\tFAILURES\tBANNED NOW\tBANS")
	for _, j := range st.Jails {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", j.Name, j.Filter, j.CurrentlyFailed, j.TotalFailed, j.CurrentlyBanned, j.TotalBanned)
	}
	tw.Flush()
}

func printGuardBans(w io.Writer, bans []control.BanInfo, now time.Time) {
	if len(bans) == 0 {
		fmt.Fprintln(w, "no bans in force")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PREFIX\tJAIL\tORIGIN\tUNTIL\tLEFT\tFAILURES")
	for _, b := range bans {
		origin := b.Origin
		if origin == "" {
			origin = "local"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", b.Prefix, b.Jail, origin, b.Until.UTC().Format(time.RFC3339), policy.FormatDuration(b.Until.Sub(now).Round(time.Second)), b.Failures)
	}
	tw.Flush()
}
