// Package cli implements rampart's command line: a registry of commands and
// subcommands, each in its own file, with help text, examples and
// consistent exit codes. cmd/rampart only calls Main.
//
// Exit codes used by every command unless its help says otherwise:
//
//	0  success (for verify: every check passed)
//	1  the command ran and found a problem (invalid policy, failed check, refused change)
//	2  the command could not run (bad arguments, unreadable input, missing privilege)
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/version"
)

// Exit codes shared by all commands.
const (
	ExitOK      = 0
	ExitProblem = 1
	ExitUsage   = 2
)

// Env is what a command may use of its surroundings. Tests build one with
// buffers; Main builds one from the process.
type Env struct {
	Ctx    context.Context
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads an environment variable (os.Getenv in production).
	Getenv func(string) string
	// HomeDir returns a user's home directory from the user database
	// (os/user in production; nil means the same).
	HomeDir func(user string) (string, error)
	// Now is the clock (time.Now when nil; tests set it).
	Now func() time.Time

	// flagSet, when set, makes ParseFlags hand over the command's flag
	// set and stop (see commandFlags).
	flagSet **flag.FlagSet
}

// lookupHome is HomeDir from the system's user database.
func lookupHome(name string) (string, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return "", err
	}
	return u.HomeDir, nil
}

// Command is one node of the command tree. A command either has Run or
// Subcommands.
type Command struct {
	// Name is the word typed after its parent ("verify", "init").
	Name string
	// Summary is one line shown in listings.
	Summary string
	// Usage is the synopsis without the leading "rampart ".
	Usage string
	// Help is the long description, including examples and exit codes.
	Help string
	// Run executes the command with the arguments after its name.
	Run func(env *Env, args []string) int
	// Subcommands, for commands such as "policy" or "guard".
	Subcommands []*Command
}

var registry = map[string]*Command{}

// Register adds a top-level command. It panics on an empty or duplicate name,
// or a command with neither Run nor Subcommands, so mistakes show at start.
func Register(c *Command) {
	switch {
	case c == nil || c.Name == "":
		panic("cli: register: command without a name")
	case registry[c.Name] != nil:
		panic("cli: register: duplicate command " + c.Name)
	case c.Run == nil && len(c.Subcommands) == 0:
		panic("cli: register: command " + c.Name + " has neither Run nor Subcommands")
	}
	registry[c.Name] = c
}

// Main runs rampart with the given arguments and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(&Env{Ctx: ctx, Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv}, args)
}

// Run dispatches args against the registry using env.
func Run(env *Env, args []string) int {
	if env.Ctx == nil {
		env.Ctx = context.Background()
	}
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.HomeDir == nil {
		env.HomeDir = lookupHome
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if len(args) == 0 {
		printTop(env.Stderr)
		return ExitUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			return helpFor(env, args[1:])
		}
		printTop(env.Stdout)
		return ExitOK
	case "--version", "-version", "version":
		fmt.Fprintf(env.Stdout, "rampart %s\n", version.String())
		return ExitOK
	}
	c, rest, path := resolve(args)
	if c == nil {
		fmt.Fprintf(env.Stderr, "rampart: unknown command %q%s\nRun 'rampart help' for the list of commands.\n", args[0], suggest(args[0], names(registry)))
		return ExitUsage
	}
	if c.Run == nil {
		if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
			fmt.Fprintf(env.Stderr, "rampart %s: unknown subcommand %q%s\n", path, rest[0], suggest(rest[0], subNames(c)))
		} else if len(rest) > 0 && (rest[0] == "-h" || rest[0] == "--help") {
			printCommand(env.Stdout, path, c)
			return ExitOK
		} else {
			fmt.Fprintf(env.Stderr, "rampart %s: missing subcommand\n", path)
		}
		printCommand(env.Stderr, path, c)
		return ExitUsage
	}
	return c.Run(env, rest)
}

// resolve walks the command tree and returns the deepest command named by
// args, the remaining arguments and the command path ("guard run").
func resolve(args []string) (*Command, []string, string) {
	c := registry[args[0]]
	if c == nil {
		return nil, nil, ""
	}
	path := c.Name
	rest := args[1:]
	for len(rest) > 0 && len(c.Subcommands) > 0 {
		var next *Command
		for _, s := range c.Subcommands {
			if s.Name == rest[0] {
				next = s
			}
		}
		if next == nil {
			break
		}
		c, path, rest = next, path+" "+next.Name, rest[1:]
	}
	return c, rest, path
}

func helpFor(env *Env, args []string) int {
	c, rest, path := resolve(args)
	if c == nil || len(rest) > 0 {
		fmt.Fprintf(env.Stderr, "rampart help: unknown command %q\n", strings.Join(args, " "))
		return ExitUsage
	}
	printCommand(env.Stdout, path, c)
	return ExitOK
}

func printTop(w io.Writer) {
	fmt.Fprintf(w, "rampart %s: harden, verify and defend an internet-facing server\n\n", version.String())
	fmt.Fprintln(w, "Usage: rampart <command> [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, n := range names(registry) {
		fmt.Fprintf(tw, "  %s\t%s\n", n, registry[n].Summary)
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'rampart help <command>' for details and examples. 'rampart --version' prints the version.")
	fmt.Fprintln(w, "With no -p/--policy file every command uses the embedded default policy (the hardened server: profile baseline).")
}

func printCommand(w io.Writer, path string, c *Command) {
	usage := c.Usage
	if usage == "" {
		usage = path
	}
	fmt.Fprintf(w, "Usage: rampart %s\n\n", usage)
	if c.Summary != "" {
		fmt.Fprintln(w, c.Summary)
	}
	if help := helpText(c); help != "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, help)
	}
	if len(c.Subcommands) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Subcommands:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, s := range c.Subcommands {
			fmt.Fprintf(tw, "  %s\t%s\n", s.Name, s.Summary)
		}
		tw.Flush()
		fmt.Fprintf(w, "\nRun 'rampart help %s <subcommand>' for details.\n", path)
	}
}

func names(m map[string]*Command) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func subNames(c *Command) []string {
	out := make([]string, 0, len(c.Subcommands))
	for _, s := range c.Subcommands {
		out = append(out, s.Name)
	}
	return out
}

// suggest returns a " (did you mean X?)" hint when a candidate is close.
func suggest(word string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := Levenshtein(word, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// Levenshtein is the edit distance between a and b, used for did-you-mean hints.
func Levenshtein(a, b string) int { return policy.Levenshtein(a, b) }

// NewFlags returns a silent FlagSet that never exits the process; use it
// with ParseFlags, which reports errors together with the command's usage.
func NewFlags(path string) *flag.FlagSet {
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// ParseFlags parses args with fs; on error it prints the error and the
// command's usage and returns false with the exit code to use. Flags may
// follow positional arguments ("rampart guard test LOG --jail sshd").
func ParseFlags(env *Env, fs *flag.FlagSet, c *Command, path string, args []string) ([]string, int, bool) {
	if env.flagSet != nil {
		*env.flagSet = fs
		return nil, ExitOK, false
	}
	var positional []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printCommand(env.Stdout, path, c)
				return nil, ExitOK, false
			}
			fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
			fmt.Fprintf(env.Stderr, "Usage: rampart %s\nRun 'rampart help %s' for details.\n", c.Usage, path)
			return nil, ExitUsage, false
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		if rest[0] == "--" {
			positional = append(positional, rest[1:]...)
			break
		}
		positional = append(positional, rest[0])
		rest = rest[1:]
	}
	return positional, ExitOK, true
}

// ParseNoArgs is ParseFlags for a command that takes no positional
// arguments: one is a usage error (exit 2), not silently ignored.
func ParseNoArgs(env *Env, fs *flag.FlagSet, c *Command, path string, args []string) (int, bool) {
	pos, code, ok := ParseFlags(env, fs, c, path, args)
	if !ok {
		return code, false
	}
	if len(pos) > 0 {
		return usageErr(env, c, path, "unexpected argument %q", pos[0]), false
	}
	return ExitOK, true
}
