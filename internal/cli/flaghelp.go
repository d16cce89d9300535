package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
)

// Help text never lists flags by hand: printCommand generates the flag
// part from the command's own flag set, so the two cannot drift apart.
// The flag set is obtained by calling the command's Run with an Env whose
// flagSet is set: ParseFlags hands the set over and Run returns before
// doing anything. A run function therefore only defines flags before it
// calls ParseFlags.

// flagsMarker is the line of Help after which the generated flag list goes;
// without it the list follows the help text.
const flagsMarker = "Flags:"

// commandFlags returns the flag set of a runnable command, or nil.
func commandFlags(c *Command) *flag.FlagSet {
	if c.Run == nil {
		return nil
	}
	var fs *flag.FlagSet
	c.Run(&Env{Ctx: context.Background(), Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
		Getenv: func(string) string { return "" }, flagSet: &fs}, nil)
	return fs
}

// flagGroup is one setting with all its names (-p and --policy).
type flagGroup struct {
	names []string
	arg   string
	usage string
	def   string
}

// flagGroups groups the flags of fs that share one variable, in the order
// of their first name.
func flagGroups(fs *flag.FlagSet) []*flagGroup {
	var groups []*flagGroup
	byVar := map[uintptr]*flagGroup{}
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		var key uintptr
		if v := reflect.ValueOf(f.Value); v.Kind() == reflect.Pointer {
			key = v.Pointer()
		}
		if g := byVar[key]; key != 0 && g != nil {
			g.names = append(g.names, f.Name)
			if len(usage) > len(g.usage) {
				g.usage = usage
			}
			return
		}
		g := &flagGroup{names: []string{f.Name}, arg: arg, usage: usage, def: f.DefValue}
		groups = append(groups, g)
		if key != 0 {
			byVar[key] = g
		}
	})
	for _, g := range groups {
		sort.Slice(g.names, func(i, j int) bool {
			if (len(g.names[i]) == 1) != (len(g.names[j]) == 1) {
				return len(g.names[i]) == 1
			}
			return g.names[i] < g.names[j]
		})
	}
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].names[0] < groups[j].names[0] })
	return groups
}

// dashed is a flag name as help writes it: -x for one letter, --name else.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// writeFlags writes one entry per flag group, the way the rest of the help
// is laid out: names and argument, then the description from column 26,
// wrapped before column 80.
func writeFlags(w io.Writer, fs *flag.FlagSet) {
	const col, width = 26, 79
	for _, g := range flagGroups(fs) {
		var ns []string
		for _, n := range g.names {
			ns = append(ns, dashed(n))
		}
		left := "  " + strings.Join(ns, ", ")
		if g.arg != "" {
			left += " " + g.arg
		}
		usage := g.usage
		if g.def != "" && g.def != "false" && g.def != "0" && g.def != "[]" && !strings.Contains(usage, "default") {
			usage += " (default " + g.def + ")"
		}
		lines := wrap(usage, width-col+1)
		if len(left) >= col-1 {
			fmt.Fprintln(w, left)
			left = ""
		}
		fmt.Fprintf(w, "%-*s%s\n", col-1, left, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(w, "%*s%s\n", col-1, "", l)
		}
	}
}

// helpText is c's Help with the generated flag list in it.
func helpText(c *Command) string {
	help := strings.TrimRight(c.Help, "\n")
	fs := commandFlags(c)
	if fs == nil {
		return help
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return help
	}
	var b strings.Builder
	writeFlags(&b, fs)
	list := strings.TrimRight(b.String(), "\n")
	lines := strings.Split(help, "\n")
	for i, l := range lines {
		if l == flagsMarker {
			return strings.Join(append(append(lines[:i+1:i+1], list), lines[i+1:]...), "\n")
		}
	}
	if help == "" {
		return flagsMarker + "\n" + list
	}
	return help + "\n\n" + flagsMarker + "\n" + list
}

// wrap breaks text into lines of at most width bytes at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}
