package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/store"
	"github.com/rampart-sec/rampart/internal/report/htmlreport"
)

func init() {
	AddGuardSubcommand(&Command{
		Name:    "report",
		Summary: "report the bans in force from the guard's state: by jail, over time, top sources",
		Usage:   "guard report [-p POLICY] [--state-dir DIR] [--format text|json|html] [-o FILE]",
		Help: `Reads the guard's state file (ban.state_dir/guard-state.json; the daemon
need not run) and reports the bans in force: per jail, when they were
decided, the source networks (IPv4 /24, IPv6 /48) with most bans and the
repeat offenders. --format html writes one self-contained page with the
charts drawn as inline SVG. The state keeps only bans in force.

Examples:
  sudo rampart guard report
  sudo rampart guard report --format html -o bans.html
  rampart guard report --state-dir ./state --format json

Exit codes: 0 done, 2 bad arguments or unreadable state.`,
		Run: runGuardReport,
	})
}

func runGuardReport(env *Env, args []string) int {
	const path = "guard report"
	c := guardSub("report")
	fs := NewFlags(path)
	pf := AddPolicyFlags(fs)
	stateDir := fs.String("state-dir", "", "state `DIR` (default: ban.state_dir)")
	format := fs.String("format", "text", "text, json or html")
	output := fs.String("o", "", "write to `FILE`")
	pos, code, ok := ParseFlags(env, fs, c, path, args)
	if !ok {
		return code
	}
	usage := guardUsage(env, path, c)
	if len(pos) != 0 {
		return usage("unexpected argument %q", pos[0])
	}
	if *format != "text" && *format != "json" && *format != "html" {
		return usage("--format %q: expected text, json or html", *format)
	}
	if *stateDir == "" {
		p, code := pf.Load(env)
		if p == nil {
			return code
		}
		*stateDir = p.Ban.StateDir
	}
	file := filepath.Join(*stateDir, store.FileName)
	now := time.Now()
	st := store.State{Version: store.Version}
	data, err := os.ReadFile(file)
	switch {
	case os.IsNotExist(err):
		fmt.Fprintf(env.Stderr, "rampart %s: no state file %s: no ban is stored there\n", path, file)
	case err != nil:
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return ExitUsage
	default:
		if st, err = store.Decode(file, data, now); err != nil {
			fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
			return ExitUsage
		}
	}
	var out bytes.Buffer
	switch *format {
	case "html":
		err = htmlreport.Guard(&out, file, st, now, time.Local)
	case "json":
		type jailCount struct {
			Jail string `json:"jail"`
			Bans int    `json:"bans"`
		}
		byJail := map[string]int{}
		for _, b := range st.Bans {
			byJail[b.Jail]++
		}
		doc := struct {
			Schema string      `json:"schema"`
			State  string      `json:"state"`
			Bans   []store.Ban `json:"bans"`
			Jails  []jailCount `json:"jails"`
		}{Schema: "rampart.guard.report/v1", State: file, Bans: st.Bans, Jails: []jailCount{}}
		if doc.Bans == nil {
			doc.Bans = []store.Ban{}
		}
		for j, n := range byJail {
			doc.Jails = append(doc.Jails, jailCount{j, n})
		}
		sort.Slice(doc.Jails, func(i, k int) bool { return doc.Jails[i].Jail < doc.Jails[k].Jail })
		enc := json.NewEncoder(&out)
		enc.SetIndent("", "  ")
		err = enc.Encode(doc)
	default:
		byJail := map[string]int{}
		for _, b := range st.Bans {
			byJail[b.Jail]++
		}
		jails := make([]string, 0, len(byJail))
		for j := range byJail {
			jails = append(jails, j)
		}
		sort.Strings(jails)
		fmt.Fprintf(&out, "%d bans in force (%s)\n", len(st.Bans), file)
		for _, j := range jails {
			fmt.Fprintf(&out, "  %-16s %d\n", j, byJail[j])
		}
		nets := map[string]int{}
		for _, b := range st.Bans {
			nets[htmlreport.SourceNet(b.Prefix).String()]++
		}
		type nc struct {
			n string
			c int
		}
		var l []nc
		for n, c := range nets {
			l = append(l, nc{n, c})
		}
		sort.Slice(l, func(i, k int) bool { return l[i].c > l[k].c || l[i].c == l[k].c && l[i].n < l[k].n })
		if len(l) > 0 {
			fmt.Fprintln(&out, "top source networks:")
		}
		for i, x := range l {
			if i == 10 {
				break
			}
			fmt.Fprintf(&out, "  %-20s %d\n", x.n, x.c)
		}
	}
	if err == nil {
		err = writeBytes(env, *output, out.Bytes())
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return ExitUsage
	}
	return ExitOK
}
