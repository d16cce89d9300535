package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-sec/rampart/internal/fleet"
	"github.com/rampart-sec/rampart/internal/fleetverify"
	"github.com/rampart-sec/rampart/internal/guard/control"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/version"
)

var fleetCmd = &Command{
	Name:    "fleet",
	Summary: "the fleet over NATS JetStream: shared bans (list, lift everywhere) and published verify reports",
	Usage:   "fleet <bans|unban|status> [flags]",
	Help: `Every 'rampart guard run' with [fleet] enabled publishes its bans to a NATS
JetStream stream and applies the other nodes' bans (within its guardrails);
'rampart verify --publish' puts each node's report into a key-value bucket.
These commands talk to JetStream directly with the policy's [fleet]
servers and credentials, so an admin laptop needs no local daemon.

Examples:
  rampart fleet bans -p admin.toml
  rampart fleet unban 198.51.100.7 -p admin.toml
  rampart fleet status -p admin.toml --format html -o fleet.html

Exit codes: 0 done, 1 refused by the servers, 2 bad arguments or no
connection.`,
	Subcommands: []*Command{
		{
			Name:    "bans",
			Summary: "list the fleet's bans in force, read from the stream",
			Usage:   "fleet bans [-p POLICY] [--json]",
			Help: `Reads the whole fleet stream and prints the bans in force: prefix, origin
node, jail, expiry and time left. A node's unban lifts that node's ban; a
fleet unban lifts every node's.

Examples:
  rampart fleet bans -p admin.toml
  rampart fleet bans -p admin.toml --json | jq '.[].prefix'

Exit codes: 0 listed, 2 bad arguments, no [fleet] servers or no connection.`,
		},
		{
			Name:    "unban",
			Summary: "lift a ban on every node of the fleet",
			Usage:   "fleet unban IP|CIDR [-p POLICY] [--reason TEXT]",
			Help: `Publishes a fleet-wide unban (subject rampart.fleet.unban): every node
removes every ban overlapping the address or prefix, whichever node
decided it, and forgets its failure counts. The credential in the
policy's [fleet] section must be allowed to publish that subject (node
credentials are not, see the README's Fleet section).

Examples:
  rampart fleet unban 198.51.100.7 -p admin.toml
  rampart fleet unban 2001:db8:bad::/64 -p admin.toml --reason "false positive"

Exit codes: 0 published and stored, 1 refused by the servers, 2 bad
arguments or no connection.`,
		},
		{
			Name:    "status",
			Summary: "the fleet's verify reports, pushed by each node, as one fleet view with their ages",
			Usage:   "fleet status [-p POLICY] [--format text|json|junit|sarif|html] [-o FILE] [--max-age D] [--baseline FILE [--fail-on regressions]]",
			Help: `Reads every node's last report from the JetStream key-value bucket
rampart-verify (written by 'rampart verify --publish', key = node name) and
renders the same fleet view as 'rampart verify --inventory': the host x
area matrix and the failures grouped by check (text), the rampart.fleet/v1
document (json, with each host's "published", "age_s" and "stale"), JUnit,
SARIF or the HTML page, each host with the age of its report (now minus
the time the servers stored it).

A report older than --max-age is stale: the host counts as not verified
and each of its checks is unknown, its message saying what the old report
said. A value that is not one host's report named after its key (bad JSON,
another schema, more than 1 MiB, malformed check names) is shown as that
host's error, never trusted; control characters in reports are escaped.

Examples:
  rampart fleet status -p admin.toml
  rampart fleet status -p admin.toml --max-age 2h --format json | jq '.hosts[] | {name, age_s, stale}'
  rampart fleet status -p admin.toml --format html -o fleet.html

Exit codes: 0 every host's report is fresh and passes, 1 a check fails,
2 bad arguments, no connection or no bucket, a stale or unreadable
report, or a check unknown (as for 'rampart verify').`,
		},
	},
}

func init() {
	fleetCmd.Subcommands[0].Run = runFleetBans
	fleetCmd.Subcommands[1].Run = runFleetUnban
	fleetCmd.Subcommands[2].Run = runFleetStatus
	Register(fleetCmd)
}

// fleetSession is a fleet command's connection to JetStream, under a
// deadline.
type fleetSession struct {
	p     *policy.Policy
	js    jetstream.JetStream
	ctx   context.Context
	close func()
}

// fleetConnect loads the policy and connects to its fleet servers; the
// session's context ends after timeout. On failure it says why and
// returns nil and the exit status.
func fleetConnect(env *Env, path string, polPath string, timeout time.Duration) (*fleetSession, int) {
	p, code := LoadPolicy(env, polPath, "")
	if p == nil {
		return nil, code
	}
	if len(p.Fleet.Servers) == 0 {
		fmt.Fprintf(env.Stderr, "rampart %s: the policy has no fleet.servers\n", path)
		return nil, ExitUsage
	}
	nc, err := fleet.Connect(p.Fleet, "rampart "+path)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return nil, ExitUsage
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return nil, ExitUsage
	}
	ctx, cancel := context.WithTimeout(env.Ctx, timeout)
	return &fleetSession{p: p, js: js, ctx: ctx, close: func() { cancel(); nc.Close() }}, ExitOK
}

// fleetFlagSet is the flag set of a fleet subcommand with its -p/--policy.
func fleetFlagSet(path string) (*flag.FlagSet, *string) {
	fs := NewFlags(path)
	var polPath string
	fs.StringVar(&polPath, "p", "", "policy `FILE` with the [fleet] settings")
	fs.StringVar(&polPath, "policy", "", "policy `FILE` (same as -p)")
	return fs, &polPath
}

func runFleetBans(env *Env, args []string) int {
	const path = "fleet bans"
	c := fleetCmd.Subcommands[0]
	fs, polPath := fleetFlagSet(path)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, code, ok := ParseFlags(env, fs, c, path, args)
	if !ok {
		return code
	}
	if len(pos) != 0 {
		return guardUsage(env, path, c)("unexpected argument %q", pos[0])
	}
	fc, code := fleetConnect(env, path, *polPath, time.Minute)
	if fc == nil {
		return code
	}
	defer fc.close()
	l, err := fleet.ReadBans(fc.ctx, fc.js, fc.p.Fleet.Stream)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return ExitUsage
	}
	now := time.Now()
	bans := l.Active(now)
	if *asJSON {
		if bans == nil {
			bans = []fleet.FleetBan{}
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(bans)
		return ExitOK
	}
	if l.Skipped > 0 {
		fmt.Fprintf(env.Stderr, "rampart %s: %d malformed messages in the stream were skipped\n", path, l.Skipped)
	}
	if len(bans) == 0 {
		fmt.Fprintln(env.Stdout, "no fleet bans in force")
		return ExitOK
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PREFIX\tORIGIN\tJAIL\tUNTIL\tLEFT")
	for _, b := range bans {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.Prefix, b.Origin, b.Jail, b.ExpiresAt.UTC().Format(time.RFC3339), policy.FormatDuration(b.ExpiresAt.Sub(now).Round(time.Second)))
	}
	tw.Flush()
	return ExitOK
}

func runFleetUnban(env *Env, args []string) int {
	const path = "fleet unban"
	c := fleetCmd.Subcommands[1]
	fs, polPath := fleetFlagSet(path)
	var reason string
	fs.StringVar(&reason, "reason", "", "why (stored in the stream, at most 256 bytes)")
	pos, code, ok := ParseFlags(env, fs, c, path, args)
	if !ok {
		return code
	}
	usage := guardUsage(env, path, c)
	if len(pos) != 1 {
		return usage("want exactly one address or prefix")
	}
	pre, err := control.ParsePrefix(pos[0])
	if err != nil {
		return usage("%v", err)
	}
	if len(reason) > 256 {
		return usage("--reason: longer than 256 bytes")
	}
	data, err := fleet.Encode(fleet.Message{Kind: fleet.KindFleetUnban, Prefix: pre, DecidedAt: time.Now(), Reason: reason})
	if err != nil {
		return usage("%v", err)
	}
	fc, code := fleetConnect(env, path, *polPath, 10*time.Second)
	if fc == nil {
		return code
	}
	defer fc.close()
	// While the cluster elects its JetStream leader the publish finds no
	// responders: it is tried again until the deadline (the message ID
	// makes a repeat count once).
	ack, err := fc.js.Publish(fc.ctx, fleet.SubjectFleetUnban, data, jetstream.WithExpectStream(fc.p.Fleet.Stream), jetstream.WithMsgID(fleet.NewID()),
		jetstream.WithRetryAttempts(40), jetstream.WithRetryWait(250*time.Millisecond))
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v (the credential needs permission to publish %s)\n", path, err, fleet.SubjectFleetUnban)
		return ExitProblem
	}
	fmt.Fprintf(env.Stdout, "unbanned %s on every fleet node (stream %s, sequence %d)\n", pre, ack.Stream, ack.Sequence)
	return ExitOK
}

// printFleetLink is the fleet part of `guard status`.
func printFleetLink(w io.Writer, f *fleet.Status) {
	conn := "disconnected"
	if f.Connected {
		conn = "connected to " + f.Server
	}
	fmt.Fprintf(w, "fleet node %s, %s, stream %s at sequence %d (lag %d), outbox %d, published %d, received %d, applied %d",
		f.Node, conn, f.Stream, f.Seq, f.Lag, f.Outbox, f.Published, f.Received, f.Applied)
	if f.Lost > 0 {
		fmt.Fprintf(w, ", lost %d", f.Lost)
	}
	fmt.Fprintln(w)
	if f.Error != "" {
		fmt.Fprintf(w, "fleet last error: %s\n", f.Error)
	}
	var reasons []string
	for r := range f.Rejected {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(w, "fleet rejected %s: %d\n", r, f.Rejected[r])
	}
	for _, o := range f.SortedOrigins() {
		oc := f.Origins[o]
		fmt.Fprintf(w, "fleet origin %s: received %d, applied %d, rejected %d\n", o, oc.Received, oc.Applied, oc.Rejected)
	}
}

func runFleetStatus(env *Env, args []string) int {
	const path = "fleet status"
	c := fleetCmd.Subcommands[2]
	fs, polPath := fleetFlagSet(path)
	format := fs.String("format", "text", "output format `F`: text, json (rampart.fleet/v1), junit, sarif or html")
	maxAge := fs.Duration("max-age", 25*time.Hour, "a report older than `D` is stale: its host is not verified, its checks unknown (0: no limit)")
	ff := &fleetFlags{}
	addReportFlags(fs, ff)
	pos, code, ok := ParseFlags(env, fs, c, path, args)
	if !ok {
		return code
	}
	usage := guardUsage(env, path, c)
	switch {
	case len(pos) != 0:
		return usage("unexpected argument %q", pos[0])
	case *maxAge < 0:
		return usage("--max-age must not be negative")
	case !slices.Contains([]string{"text", "json", "junit", "sarif", "html"}, *format):
		return usage("unknown --format %q (expected text, json, junit, sarif or html)", *format)
	}
	fc, code := fleetConnect(env, path, *polPath, time.Minute)
	if fc == nil {
		return code
	}
	defer fc.close()
	entries, err := fleetverify.ReadBucket(fc.ctx, fc.js)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return ExitUsage
	}
	f := fleetverify.FromBucket(entries, env.Now(), *maxAge, "rampart fleet status", version.String())
	code = renderFleet(env, fleetRun{ff: ff, format: *format, usage: usage, cmd: path}, f)
	if len(f.Hosts) == 0 {
		fmt.Fprintf(env.Stderr, "rampart %s: bucket %s holds no report\n", path, fleetverify.Bucket)
		return ExitUsage
	}
	var stale, bad int
	for _, h := range f.Hosts {
		switch {
		case h.Stale:
			stale++
		case h.Error != "":
			bad++
		}
	}
	if stale+bad > 0 {
		fmt.Fprintf(env.Stderr, "rampart %s: %d of %d hosts not verified: %d stale (older than --max-age %s), %d unreadable\n",
			path, stale+bad, len(f.Hosts), stale, *maxAge, bad)
		if code == ExitOK && ff.failOn == "" {
			code = ExitUsage
		}
	}
	return code
}
