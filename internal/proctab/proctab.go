// Package proctab is the host's process table for one check run: every
// /proc/PID/cmdline, listed once and read in one batch through the run's
// file cache (check.Env.ReadFiles), so that the checks of every area that
// look for a daemon (sshd, chronyd, systemd-journald, rampart) share one
// read, which on a remote host is one program start.
package proctab

import (
	"bytes"
	"context"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/internal/check"
)

// Process is one entry of the process table.
type Process struct {
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
func (p Process) Name() string {
	if len(p.Argv) == 0 {
		return ""
	}
	a := p.Argv[0]
	a = strings.TrimSuffix(a, ":")
	return path.Base(a)
}

// ParseCmdline turns /proc/PID/cmdline into argv.
func ParseCmdline(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return strings.Split(string(b), "\x00")
	}
	return strings.Fields(string(b))
}

// List reads the process table once per run from /proc: every
// cmdline, read in one batch (on a remote host one program for all of
// them). Processes that exit while it is read are left out.
func List(ctx context.Context, env *check.Env) ([]Process, error) {
	v, err := env.Memo("proctab", func() (any, error) {
		paths, err := Paths(ctx, env)
		if err != nil {
			return nil, err
		}
		files, err := env.ReadFiles(ctx, paths)
		if err != nil {
			return nil, err
		}
		var out []Process
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
			argv := ParseCmdline(b)
			out = append(out, Process{PID: pid, Argv: argv, Title: strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")),
				Spaced: bytes.IndexByte(bytes.TrimRight(b, "\x00"), 0) < 0})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]Process), nil
}

// RootOwned reports which of pids run with every uid (real, effective,
// saved, filesystem) 0, from the one "Uid:" line of /proc/PID/status
// (read through the run's file cache; on a remote host by the shell's
// builtins, no program started). A command line is whatever its process
// wrote there: any user can run a program of their own named sshd (`exec
// -a /home/eve/sshd …`), and verify runs an sshd's binary with sudo to ask
// it its configuration, so a process stands for a root daemon only when it
// is root's. The owner of /proc/PID is no answer: a process that makes
// itself not dumpable shows root there. A process whose status cannot be
// read (it exited) is left out.
func RootOwned(ctx context.Context, env *check.Env, pids []int) (map[int]bool, error) {
	paths := make([]string, len(pids))
	for i, pid := range pids {
		paths[i] = StatusPath(pid)
	}
	rs, err := env.ReadFiles(ctx, paths)
	if err != nil {
		return nil, err
	}
	out := map[int]bool{}
	for i, pid := range pids {
		if rs[i].Err == nil {
			out[pid] = rootUIDs(rs[i].Data)
		}
	}
	return out, nil
}

// RunningAsRoot is Running, keeping root's processes only (RootOwned).
func RunningAsRoot(ctx context.Context, env *check.Env, names ...string) ([]Process, error) {
	ps, err := Running(ctx, env, names...)
	if err != nil {
		return nil, err
	}
	pids := make([]int, len(ps))
	for i, p := range ps {
		pids[i] = p.PID
	}
	root, err := RootOwned(ctx, env, pids)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(ps, func(p Process) bool { return !root[p.PID] }), nil
}

// StatusPath is /proc/PID/status.
func StatusPath(pid int) string { return "/proc/" + strconv.Itoa(pid) + "/status" }

// rootUIDs reports a status file whose one "Uid:" line holds four zeros.
func rootUIDs(status []byte) bool {
	var uid []string
	n := 0
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			uid, n = strings.Fields(rest), n+1
		}
	}
	return n == 1 && len(uid) == 4 && uid[0] == "0" && uid[1] == "0" && uid[2] == "0" && uid[3] == "0"
}

// Pattern globs every process's cmdline.
const Pattern = "/proc/[0-9]*/cmdline"

// Paths lists /proc/*/cmdline once per run (a batch read ahead of the
// checks can take them; the table is built from the same list).
func Paths(ctx context.Context, env *check.Env) ([]string, error) {
	return env.Glob(ctx, Pattern)
}

// Running returns the processes whose program name is one of names.
func Running(ctx context.Context, env *check.Env, names ...string) ([]Process, error) {
	ps, err := List(ctx, env)
	if err != nil {
		return nil, err
	}
	var out []Process
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

// Describe lists processes one per line as "PID: command line", for
// evidence.
func Describe(ps []Process) string {
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
