// Package hosttest provides Fixture, a host.Host that answers from captured
// real outputs, so checks and planners are tested without a real machine.
//
// A fixture is a txtar archive (or built in code). Section names:
//
//	file PATH          contents of PATH
//	denied PATH        reading PATH fails with permission denied
//	exec ARGV...       stdout of the command line (as host.Cmd.String prints it)
//	exec.stderr ARGV   its stderr
//	exec.exit ARGV     its exit code (a decimal number; default 0)
//	missing PROGRAM    PROGRAM is not installed
//	user NAME          the session user ("root" by default)
//
// A command with no section fails the test (through the testing.TB the
// fixture was made with) naming the command line and the section to add, so
// a typo in a fixture never reads as "not installed": a program that is not
// installed is said so explicitly with a missing section.
package hosttest

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/rampart-sec/rampart/internal/host"
)

// Fixture is an in-memory host.
type Fixture struct {
	HostName string
	Files    map[string][]byte
	Denied   map[string]bool
	Cmds     map[string]*host.Output
	Missing  map[string]bool
	User     string

	tb  testing.TB
	mu  sync.Mutex
	ran []string
}

var _ host.Host = (*Fixture)(nil)

// New returns an empty fixture named "fixture". A command run on it that has
// neither an exec nor a missing section fails tb.
func New(tb testing.TB) *Fixture {
	return &Fixture{HostName: "fixture", Files: map[string][]byte{}, Denied: map[string]bool{},
		Cmds: map[string]*host.Output{}, Missing: map[string]bool{}, User: "root", tb: tb}
}

// Load reads a txtar fixture file; a file that cannot be read or parsed
// fails tb at once.
func Load(tb testing.TB, file string) *Fixture {
	tb.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	f, err := Parse(tb, data)
	if err != nil {
		tb.Fatalf("%s: %v", file, err)
	}
	return f
}

// Parse builds a fixture from txtar data.
func Parse(tb testing.TB, data []byte) (*Fixture, error) {
	f := New(tb)
	ar := txtar.Parse(data)
	for _, s := range ar.Files {
		kind, arg, _ := strings.Cut(s.Name, " ")
		switch kind {
		case "file":
			f.Files[arg] = s.Data
		case "denied":
			f.Denied[arg] = true
		case "exec":
			f.out(arg).Stdout = s.Data
		case "exec.stderr":
			f.out(arg).Stderr = s.Data
		case "exec.exit":
			n, err := strconv.Atoi(strings.TrimSpace(string(s.Data)))
			if err != nil {
				return nil, fmt.Errorf("fixture section %q: exit code: %v", s.Name, err)
			}
			f.out(arg).ExitCode = n
		case "missing":
			f.Missing[arg] = true
		case "user":
			f.User = arg
		default:
			return nil, fmt.Errorf("fixture section %q: unknown kind %q", s.Name, kind)
		}
	}
	return f, nil
}

func (f *Fixture) out(argv string) *host.Output {
	o := f.Cmds[argv]
	if o == nil {
		o = &host.Output{}
		f.Cmds[argv] = o
	}
	return o
}

// SetFile sets a file's contents.
func (f *Fixture) SetFile(p, content string) *Fixture { f.Files[p] = []byte(content); return f }

// SetCmd sets a command's stdout and exit code.
func (f *Fixture) SetCmd(c host.Cmd, stdout string, exit int) *Fixture {
	o := f.out(c.String())
	o.Stdout, o.ExitCode = []byte(stdout), exit
	return f
}

// Ran returns the command lines run so far, in order.
func (f *Fixture) Ran() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ran...)
}

// Name implements host.Host.
func (f *Fixture) Name() string { return f.HostName }

// IsRoot implements host.Host.
func (f *Fixture) IsRoot(context.Context) bool { return f.User == "root" }

// Run implements host.Host.
func (f *Fixture) Run(ctx context.Context, c host.Cmd) (*host.Output, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	line := host.Cmd{Name: c.Name, Args: c.Args}.String()
	f.mu.Lock()
	f.ran = append(f.ran, line)
	f.mu.Unlock()
	if f.Missing[c.Name] {
		return nil, &host.NotFoundError{Name: c.Name}
	}
	o, ok := f.Cmds[line]
	if !ok {
		f.tb.Errorf("fixture %s has no section for the command %q: add \"-- exec %s --\" with its captured output, or \"-- missing %s --\" if the program is not installed",
			f.HostName, line, line, c.Name)
		return nil, fmt.Errorf("fixture has no output for %q", line)
	}
	cp := *o
	return &cp, nil
}

// ReadFile implements host.Host.
func (f *Fixture) ReadFile(_ context.Context, p string) ([]byte, error) {
	if f.Denied[p] {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
	}
	b, ok := f.Files[p]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	return append([]byte(nil), b...), nil
}

// Glob implements host.Host.
func (f *Fixture) Glob(_ context.Context, pattern string) ([]string, error) {
	var out []string
	for p := range f.Files {
		ok, err := path.Match(pattern, p)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, nil
}
