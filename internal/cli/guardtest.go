package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/engine"
	"github.com/rampart-sec/rampart/internal/guard/filter"
	"github.com/rampart-sec/rampart/internal/policy"
)

func init() {
	AddGuardSubcommand(&Command{
		Name:    "test",
		Summary: "replay a log file through the guard filters and jails offline (like fail2ban-regex)",
		Usage:   "guard test LOGFILE|- [-p POLICY] [--filter NAME [--mode MODE] | --jail NAME] [--format text|json] [--year YYYY] [--summary]",
		Help: `Reads LOGFILE ("-" for stdin) line by line, exactly as the daemon would,
and prints how many lines were read, matched (a jail's filter found a
failure in it) and missed, each jail's matched lines, failures counted and
bans, the failures per address (addresses on the ignore list marked
"(ignored)": they are never banned) and the bans the jails would decide.
Time is the log's own time: every timestamp journalctl, rsyslog and
syslog-ng write is read (RFC 3164 lines carry no year: --year, default the
current one). Nothing is banned: this only reads.

Without --filter or --jail every enabled jail of the policy sees every line.
--filter runs one filter (a built-in name or fail2ban:NAME / fail2ban:PATH)
with the thresholds of the policy jail that uses it (the [ban] ones when
none does); --jail runs one policy jail.

Built-in filters:
` + builtinFilterHelp() + `
JSON output: {"lines", "matched", "missed", "ignored",
"jails": [{"name", "filter", "maxretry", "findtime", "bantime", "matched",
"ignored", "failures", "bans"}], "ips": [{"ip", "failures", "ignored"}],
"bans": [{"ip", "jail", "at", "until", "failures", "count"}]}.

Examples:
  rampart guard test /var/log/auth.log
  journalctl -u ssh -o short-iso | rampart guard test - --jail sshd
  rampart guard test auth.log --filter sshd --mode aggressive --format json
  rampart guard test auth.log --filter fail2ban:sshd
  rampart guard test /var/log/nginx/access.log --filter nginx-noscript

Exit codes: 0 replayed, 2 unreadable input, bad policy or bad arguments.`,
		Run: runGuardTest,
	})
}

// builtinFilterHelp lists the filters registered in guard/filter: name,
// description and, when there is a choice, the modes.
func builtinFilterHelp() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, f := range filter.Builtins() {
		fmt.Fprintf(w, "  %s\t%s\n", f.Name, f.Help)
		if len(f.Modes) > 1 {
			fmt.Fprintf(w, "\tmodes %s (default), %s\n", f.Modes[0], strings.Join(f.Modes[1:], ", "))
		}
	}
	w.Flush()
	return b.String()
}

func runGuardTest(env *Env, args []string) int {
	const path = "guard test"
	c := guardCmd
	for _, s := range guardCmd.Subcommands {
		if s.Name == "test" {
			c = s
		}
	}
	fs := NewFlags(path)
	var polPath, filterName, mode, jailName, format string
	fs.StringVar(&polPath, "p", "", "policy file (default: the embedded default policy)")
	fs.StringVar(&polPath, "policy", "", "policy file")
	fs.StringVar(&filterName, "filter", "", "filter to run ("+strings.Join(filter.Names(), ", ")+", "+filter.Fail2banPrefix+"NAME)")
	fs.StringVar(&mode, "mode", "", "filter mode for --filter")
	fs.StringVar(&jailName, "jail", "", "policy jail to run")
	fs.StringVar(&format, "format", "text", "output format: text or json")
	year := fs.Int("year", 0, "year of syslog timestamps without one (default: current year)")
	summary := fs.Bool("summary", false, "text: print only the totals")
	pos, code, ok := ParseFlags(env, fs, c, path, args)
	if !ok {
		return code
	}
	usage := func(format string, a ...any) int { return usageErr(env, c, path, format, a...) }
	switch {
	case len(pos) != 1:
		return usage("expected exactly one LOGFILE (or - for stdin), got %d arguments", len(pos))
	case filterName != "" && jailName != "":
		return usage("--filter and --jail exclude each other")
	case mode != "" && filterName == "":
		return usage("--mode needs --filter")
	case format != "text" && format != "json":
		return usage("--format %q: expected text or json", format)
	}
	var pol *policy.Policy
	var err error
	if polPath == "" {
		pol, err = policy.Default("")
	} else {
		pol, err = policy.Load(polPath)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return ExitUsage
	}
	var eng *engine.Engine
	if filterName != "" {
		eng = &engine.Engine{}
		r, err := engine.FilterRoute(pol, filterName, mode)
		if err != nil {
			fmt.Fprintf(env.Stderr, "rampart %s: --filter: %v\n", path, err)
			return ExitUsage
		}
		eng.Add(r)
	} else {
		o := engine.Options{}
		if jailName != "" {
			o.Jails = []string{jailName}
		}
		if eng, err = engine.New(pol, o); err != nil {
			fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
			return ExitUsage
		}
	}
	var in io.Reader = env.Stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
			return ExitUsage
		}
		defer f.Close()
		in = f
	}
	rep, err := eng.Replay(in, engine.ReplayOptions{Year: *year})
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %s: %v\n", path, pos[0], err)
		return ExitUsage
	}
	if format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
			return ExitUsage
		}
		return ExitOK
	}
	printGuardReport(env.Stdout, eng, rep, *summary)
	return ExitOK
}

func printGuardReport(w io.Writer, eng *engine.Engine, rep *engine.Report, summary bool) {
	fmt.Fprintf(w, "Lines: %d, matched: %d%s, missed: %d\n", rep.Lines, rep.Matched, ignoredNote(rep.Ignored), rep.Missed)
	for i, j := range rep.Jails {
		fmt.Fprintf(w, "Jail %s: filter %s, %d matched%s, %d failures, %d %s (maxretry %d within %s, bantime %s)\n",
			j.Name, j.Filter, j.Matched, ignoredNote(j.Ignored), j.Failures, j.Bans, plural(j.Bans, "ban", "bans"),
			j.Maxretry, j.Findtime, j.Bantime)
		f := eng.Routes[i].Filter
		if a, ok := f.(interface{ Approximations() []string }); ok && len(a.Approximations()) > 0 {
			fmt.Fprintf(w, "  note: %s was translated from Python to RE2 with approximations (it may match more than fail2ban would): %s\n",
				f.Name(), strings.Join(a.Approximations(), "; "))
		}
	}
	fmt.Fprintf(w, "Addresses with failures: %d\nBans: %d\n", len(rep.IPs), len(rep.Bans))
	if summary {
		return
	}
	if len(rep.IPs) > 0 {
		fmt.Fprintln(w, "\nFailures per address:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, ip := range rep.IPs {
			if ip.Ignored {
				fmt.Fprintf(tw, "  %s\t%d\t(ignored)\n", ip.IP, ip.Failures)
			} else {
				fmt.Fprintf(tw, "  %s\t%d\n", ip.IP, ip.Failures)
			}
		}
		tw.Flush()
	}
	if len(rep.Bans) > 0 {
		fmt.Fprintln(w, "\nBans:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  AT\tJAIL\tADDRESS\tUNTIL\tFAILURES")
		for _, b := range rep.Bans {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\n", b.At.Format(time.RFC3339), b.Jail, b.IP, b.Until.Format(time.RFC3339), b.Failures)
		}
		tw.Flush()
	}
}

// ignoredNote is " (N from ignored addresses)", or "" for none.
func ignoredNote(n int64) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d from ignored addresses)", n)
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
