package cli

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

// walkCase is one invocation of the usage walk and the exit code it must
// give.
type walkCase struct {
	args []string
	want int
}

// synopsis is what a leaf's Usage says about its arguments: operands and
// flags outside brackets are required; a bracketed group not starting with
// "-" is an optional operand; "..." makes the last operand repeatable.
type synopsis struct {
	required, optional int
	variadic           bool
	requiredFlag       bool
}

func parseSynopsis(usage, path string) synopsis {
	var s synopsis
	depth := 0
	prevFlag, inOperand := false, false
	for _, tok := range strings.Fields(strings.TrimPrefix(usage, path)) {
		if depth == 0 {
			switch bare := strings.TrimLeft(tok, "["); {
			case strings.HasPrefix(tok, "["):
				inOperand = !strings.HasPrefix(bare, "-")
				if inOperand {
					s.optional++
				}
			case strings.HasPrefix(tok, "-"):
				s.requiredFlag, prevFlag = true, true
				continue
			case prevFlag:
				inOperand = false // the value of a required flag (--id ID)
			default:
				s.required++
				inOperand = true
			}
		}
		prevFlag = false
		if inOperand && strings.HasSuffix(strings.TrimRight(tok, "]"), "...") {
			s.variadic = true
		}
		depth += strings.Count(tok, "[") - strings.Count(tok, "]")
	}
	return s
}

// walkCases lists, for the command at path, every usage and error path
// that must print help or refuse before doing any work: help, -h, --help,
// an unknown flag; for a command with subcommands no subcommand and an
// unknown one; for a leaf, no arguments when its synopsis needs some, and
// more operands than it accepts.
func walkCases(path string, c *Command) []walkCase {
	words := strings.Fields(path)
	with := func(more ...string) []string { return append(append([]string(nil), words...), more...) }
	cases := []walkCase{
		{append([]string{"help"}, words...), ExitOK},
		{with("-h"), ExitOK},
		{with("--help"), ExitOK},
		{with("--no-such-flag"), ExitUsage},
		{with("--no-such-flag=1", "x"), ExitUsage},
	}
	if c.Run == nil {
		return append(cases, walkCase{with(), ExitUsage}, walkCase{with("no-such-subcommand"), ExitUsage})
	}
	s := parseSynopsis(c.Usage, path)
	if s.required > 0 || s.requiredFlag {
		cases = append(cases, walkCase{with(), ExitUsage})
	}
	if !s.variadic {
		extra := with()
		for i := range s.required + s.optional + 2 {
			extra = append(extra, fmt.Sprintf("extra%d", i+1))
		}
		cases = append(cases, walkCase{extra, ExitUsage})
	}
	return cases
}

// TestUsageWalk runs every command and subcommand of the registry through
// its usage and error paths (walkCases) and fails on a wrong exit code, on
// an error without a message, and on any fmt mistake ("%!s(MISSING)",
// "%!d(string=…)") in what it prints. New commands are walked without a
// change here. The context is already cancelled, so a command that ran
// instead of refusing does as little as possible (and fails the test).
func TestUsageWalk(t *testing.T) {
	var paths []string
	var cmds []*Command
	var walk func(prefix string, c *Command)
	walk = func(prefix string, c *Command) {
		path := strings.TrimSpace(prefix + " " + c.Name)
		paths, cmds = append(paths, path), append(cmds, c)
		for _, s := range c.Subcommands {
			walk(path, s)
		}
	}
	for _, n := range names(registry) {
		walk("", registry[n])
	}
	if len(paths) < 20 {
		t.Fatalf("walked only %d commands: %q", len(paths), paths)
	}
	top := []walkCase{{nil, ExitUsage}, {[]string{"no-such-command"}, ExitUsage}, {[]string{"help", "no-such-command"}, ExitUsage},
		{[]string{"help"}, ExitOK}, {[]string{"--help"}, ExitOK}, {[]string{"--version"}, ExitOK}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	run := func(tc walkCase) {
		name := strings.Join(tc.args, " ")
		if name == "" {
			name = "(no arguments)"
		}
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			env := &Env{Ctx: ctx, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr}
			code := Run(env, tc.args)
			out := stdout.String() + stderr.String()
			if i := strings.Index(out, "%!"); i >= 0 {
				t.Errorf("fmt mistake in the output: %q\nstdout:\n%s\nstderr:\n%s", out[max(0, i-40):min(len(out), i+40)], stdout.String(), stderr.String())
			}
			if code != tc.want {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.want, stdout.String(), stderr.String())
			}
			switch {
			case tc.want == ExitOK && !strings.Contains(stdout.String(), "rampart"):
				t.Errorf("no help on stdout:\n%s", stdout.String())
			case tc.want == ExitUsage && !strings.Contains(stderr.String(), "rampart"):
				t.Errorf("refused without saying why: stderr %q", stderr.String())
			}
		})
	}
	for _, tc := range top {
		run(tc)
	}
	for i, path := range paths {
		for _, tc := range walkCases(path, cmds[i]) {
			run(tc)
		}
	}
}

func TestParseSynopsis(t *testing.T) {
	for _, tt := range []struct {
		usage, path string
		want        synopsis
	}{
		{"guard test LOGFILE|- [-p POLICY] [--filter NAME [--mode MODE] | --jail NAME] [--format text|json]", "guard test", synopsis{required: 1}},
		{"policy check [FILE] [--profile baseline|tailnet]", "policy check", synopsis{optional: 1}},
		{"probe [--port N] [--timeout D] HOST...", "probe", synopsis{required: 1, variadic: true}},
		{"lockdown watchdog --id ID [--state-dir DIR]", "lockdown watchdog", synopsis{requiredFlag: true}},
		{"nix [--release R] [--flake --host NAME [--disk DEV] [--system S]] [--facts]", "nix", synopsis{}},
		{"policy init [--profile baseline|tailnet] [--admin NAME] [--key FILE|- ...]", "policy init", synopsis{}},
	} {
		if got := parseSynopsis(tt.usage, tt.path); got != tt.want {
			t.Errorf("%q: got %+v, want %+v", tt.usage, got, tt.want)
		}
	}
}
