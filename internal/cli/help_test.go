package cli

import (
	"bytes"
	"flag"
	"regexp"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/nixfacts"
)

// walk calls fn for every command of the tree with its path.
func walk(fn func(path string, c *Command)) {
	var visit func(path string, c *Command)
	visit = func(path string, c *Command) {
		fn(path, c)
		for _, s := range c.Subcommands {
			visit(path+" "+s.Name, s)
		}
	}
	for _, n := range names(registry) {
		visit(n, registry[n])
	}
}

// flagToken is a flag as help writes it: after a space, bracket, paren or
// pipe, one or two dashes and a name.
var flagToken = regexp.MustCompile(`(?:^|[\s\[(|,])(--?[a-zA-Z][a-zA-Z0-9-]*)`)

// rampartLines are the parts of help that speak of this command's own
// flags: the usage line, the generated flag list, and every example that
// runs `rampart PATH` (up to a pipe or redirection, where another program
// starts).
func rampartLines(t *testing.T, path, help string) []string {
	t.Helper()
	lines := strings.Split(help, "\n")
	var out []string
	inFlags := false
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "Usage: rampart "):
			out = append(out, strings.TrimPrefix(l, "Usage: rampart "+path))
		case l == flagsMarker:
			inFlags = true
		case inFlags && strings.HasPrefix(l, "  "):
			// Only the names column: descriptions may cite other
			// programs' flags (chronyc -h S).
			if names, _, _ := strings.Cut(strings.TrimSpace(l), "  "); strings.HasPrefix(names, "-") {
				out = append(out, names)
			}
		case strings.Contains(l, "rampart "+path+" ") && !strings.HasPrefix(l, "Run 'rampart"):
			_, cmd, _ := strings.Cut(l, "rampart "+path+" ")
			if i := strings.IndexAny(cmd, "|>;&"); i >= 0 {
				cmd = cmd[:i]
			}
			out = append(out, cmd)
		default:
			inFlags = false
		}
	}
	return out
}

// TestHelpFlags: every flag of every command appears in its help, and the
// usage line, the flag list and the examples name no flag that does not
// exist.
func TestHelpFlags(t *testing.T) {
	n := 0
	walk(func(path string, c *Command) {
		if c.Run == nil {
			return
		}
		n++
		fs := commandFlags(c)
		if fs == nil {
			t.Errorf("rampart %s: Run never reached ParseFlags, so its help cannot list its flags", path)
			return
		}
		var b bytes.Buffer
		printCommand(&b, path, c)
		help := b.String()
		fs.VisitAll(func(f *flag.Flag) {
			if !regexp.MustCompile(`(?m)(^|[\s\[(|,])` + regexp.QuoteMeta(dashed(f.Name)) + `([\s\]=,)]|$)`).MatchString(help) {
				t.Errorf("rampart %s: flag %s is missing from help:\n%s", path, dashed(f.Name), help)
			}
		})
		for _, l := range rampartLines(t, path, help) {
			for _, m := range flagToken.FindAllStringSubmatch(l, -1) {
				name := strings.TrimLeft(m[1], "-")
				if fs.Lookup(name) == nil {
					t.Errorf("rampart %s: help names %s, which is no flag of the command (in %q)", path, m[1], l)
				}
			}
		}
	})
	if n < 10 {
		t.Fatalf("only %d runnable commands registered", n)
	}
}

// TestHelpReleaseDefault: the default release in help is the one the flag
// uses (the hand-written help once said 25.05 while the code took the
// newest).
func TestHelpReleaseDefault(t *testing.T) {
	var b bytes.Buffer
	printCommand(&b, "verify", verifyCmd)
	if want := "(default: " + nixfacts.Newest().String() + ", the same as rampart nix)"; !strings.Contains(b.String(), want) {
		t.Errorf("verify help does not say %q:\n%s", want, b.String())
	}
}
