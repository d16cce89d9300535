package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-sec/rampart/internal/fleet"
	"github.com/rampart-sec/rampart/internal/guard/control"
	"github.com/rampart-sec/rampart/internal/policy"
)

var fleetCmd = &Command{
	Name:    "fleet",
	Summary: "the fleet's shared bans over NATS JetStream: list them, lift one everywhere",
	Usage:   "fleet <bans|unban> [flags]",
	Help: `Every 'rampart guard run' with [fleet] enabled publishes its bans to a NATS
JetStream stream and applies the other nodes' bans (within its guardrails).
These commands talk to the stream directly with the policy's [fleet]
servers and credentials, so an admin laptop needs no local daemon.

Examples:
  rampart fleet bans -p admin.toml
  rampart fleet unban 198.51.100.7 -p admin.toml

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
	},
}

func init() {
	fleetCmd.Subcommands[0].Run = runFleetBans
	fleetCmd.Subcommands[1].Run = runFleetUnban
	Register(fleetCmd)
}

// fleetConnect loads the policy and connects to its fleet stream.
func fleetConnect(env *Env, path string, polPath string) (*policy.Policy, jetstream.JetStream, func(), int) {
	p, code := LoadPolicy(env, polPath, "")
	if p == nil {
		return nil, nil, nil, code
	}
	if len(p.Fleet.Servers) == 0 {
		fmt.Fprintf(env.Stderr, "rampart %s: the policy has no fleet.servers\n", path)
		return nil, nil, nil, ExitUsage
	}
	nc, err := fleet.Connect(p.Fleet, "rampart "+path)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return nil, nil, nil, ExitUsage
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return nil, nil, nil, ExitUsage
	}
	return p, js, nc.Close, ExitOK
}

func runFleetBans(env *Env, args []string) int {
	const path = "fleet bans"
	c := fleetCmd.Subcommands[0]
	fs := NewFlags(path)
	var polPath string
	fs.StringVar(&polPath, "p", "", "policy file with the [fleet] settings")
	fs.StringVar(&polPath, "policy", "", "policy file")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, code, ok := ParseFlags(env, fs, c, path, args)
	if !ok {
		return code
	}
	if len(pos) != 0 {
		return guardUsage(env, path, c)("unexpected argument %q", pos[0])
	}
	p, js, closeFn, code := fleetConnect(env, path, polPath)
	if p == nil {
		return code
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(env.Ctx, time.Minute)
	defer cancel()
	l, err := fleet.ReadBans(ctx, js, p.Fleet.Stream)
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
	fs := NewFlags(path)
	var polPath, reason string
	fs.StringVar(&polPath, "p", "", "policy file with the [fleet] settings")
	fs.StringVar(&polPath, "policy", "", "policy file")
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
	p, js, closeFn, code := fleetConnect(env, path, polPath)
	if p == nil {
		return code
	}
	defer closeFn()
	data, err := fleet.Encode(fleet.Message{Kind: fleet.KindFleetUnban, Prefix: pre, DecidedAt: time.Now(), Reason: reason})
	if err != nil {
		return usage("%v", err)
	}
	ctx, cancel := context.WithTimeout(env.Ctx, 10*time.Second)
	defer cancel()
	ack, err := js.Publish(ctx, fleet.SubjectFleetUnban, data, jetstream.WithExpectStream(p.Fleet.Stream), jetstream.WithMsgID(fleet.NewID()))
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
