package lockdown

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/internal/host"
)

// SessionFromAncestors finds $SSH_CONNECTION for a process whose own
// environment lost it, as under sudo (env_reset drops it): it walks up the
// parent chain from pid, reading each process's initial environment, and
// stops at sshd, the end of the session. It returns "" when no process
// between pid and sshd has it (not an SSH session).
func SessionFromAncestors(ctx context.Context, h host.Host, pid int) (string, error) {
	for depth := 0; depth < 32 && pid > 1; depth++ {
		comm, ppid, err := procStat(ctx, h, pid)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(comm, "sshd") {
			return "", nil
		}
		env, err := h.ReadFile(ctx, "/proc/"+strconv.Itoa(pid)+"/environ")
		if err != nil {
			return "", fmt.Errorf("lockdown: environment of pid %d: %w", pid, err)
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if v, ok := strings.CutPrefix(kv, "SSH_CONNECTION="); ok && strings.TrimSpace(v) != "" {
				return v, nil
			}
		}
		pid = ppid
	}
	return "", nil
}

// procStat reads the command name and parent of pid from /proc/PID/stat.
// The name may contain spaces and parentheses, so it is cut at the last ')'.
func procStat(ctx context.Context, h host.Host, pid int) (string, int, error) {
	p := "/proc/" + strconv.Itoa(pid) + "/stat"
	b, err := h.ReadFile(ctx, p)
	if err != nil {
		return "", 0, fmt.Errorf("lockdown: %w", err)
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", 0, fmt.Errorf("lockdown: %s: expected \"PID (COMM) STATE PPID …\"", p)
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 2 {
		return "", 0, fmt.Errorf("lockdown: %s: expected \"PID (COMM) STATE PPID …\"", p)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return "", 0, fmt.Errorf("lockdown: %s: parent pid %q: expected a number", p, f[1])
	}
	return s[open+1 : end], ppid, nil
}
