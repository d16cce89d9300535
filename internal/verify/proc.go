package verify

import (
	"bytes"
	"context"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/internal/check"
)

// process is one entry of the process table.
type process struct {
	PID int
	// Argv is the command line. A daemon that retitled itself (sshd's
	// "sshd: /usr/sbin/sshd -D [listener] …") has its title split on
	// spaces.
	Argv []string
	// Title is the raw command line with NULs shown as spaces.
	Title string
	// Spaced is set when Argv was split on spaces (a retitled process, or
	// ps output), so an argument may have been cut at its spaces.
	Spaced bool
}

// Name is the program's base name ("sshd", "chronyd").
func (p process) Name() string {
	if len(p.Argv) == 0 {
		return ""
	}
	a := p.Argv[0]
	a = strings.TrimSuffix(a, ":")
	return path.Base(a)
}

// parseCmdline turns /proc/PID/cmdline into argv.
func parseCmdline(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return strings.Split(string(b), "\x00")
	}
	return strings.Fields(string(b))
}

// processes reads the process table once per run from /proc: every
// cmdline, read in one batch (on a remote host one program for all of
// them). Processes that exit while it is read are left out.
func processes(ctx context.Context, env *check.Env) ([]process, error) {
	v, err := env.Memo("verify.proc", func() (any, error) {
		paths, err := cmdlinePaths(ctx, env)
		if err != nil {
			return nil, err
		}
		files, err := readFiles(ctx, env, paths)
		if err != nil {
			return nil, err
		}
		var out []process
		for i, p := range paths {
			pid, err := strconv.Atoi(path.Base(path.Dir(p)))
			if err != nil {
				continue
			}
			// ReadFiles ends the text with a newline; a command line
			// ends in a NUL.
			b := bytes.TrimSuffix(files[i].Data, []byte("\n"))
			if files[i].Err != nil || len(b) == 0 {
				continue // gone, or a kernel thread
			}
			argv := parseCmdline(b)
			out = append(out, process{PID: pid, Argv: argv, Title: strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")),
				Spaced: bytes.IndexByte(bytes.TrimRight(b, "\x00"), 0) < 0})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]process), nil
}

// cmdlinePaths lists /proc/*/cmdline once per run (prefetch reads them,
// the process table is built from the same list).
func cmdlinePaths(ctx context.Context, env *check.Env) ([]string, error) {
	v, err := env.Memo("verify.proc.paths", func() (any, error) { return env.Host.Glob(ctx, "/proc/[0-9]*/cmdline") })
	if err != nil {
		return nil, err
	}
	return v.([]string), nil
}

// running returns the processes whose program name is one of names.
func running(ctx context.Context, env *check.Env, names ...string) ([]process, error) {
	ps, err := processes(ctx, env)
	if err != nil {
		return nil, err
	}
	var out []process
	for _, p := range ps {
		for _, n := range names {
			if p.Name() == n {
				out = append(out, p)
				break
			}
		}
	}
	return out, nil
}

func describeProcs(ps []process) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strconv.Itoa(p.PID))
		b.WriteString(": ")
		b.WriteString(p.Title)
	}
	return b.String()
}
