package host

import (
	"context"
	"fmt"
	"os"
	"syscall"
)

// Detacher is implemented by hosts that can start a program which outlives
// rampart: in its own session (setsid), with no controlling terminal and
// standard input from /dev/null, so neither a hang-up of the SSH session
// nor a kill of rampart's process group reaches it. lockdown uses it for
// the watchdog that rolls a change back when rampart itself is killed.
type Detacher interface {
	// StartDetached starts c and returns its process ID without waiting.
	// Its stdout and stderr are appended to logPath ("" discards them).
	StartDetached(c Cmd, logPath string) (int, error)
}

var _ Detacher = (*Local)(nil)

// StartDetached implements Detacher. The program path is looked up as for
// Run; Root does not apply to it, but applies to logPath.
func (l *Local) StartDetached(c Cmd, logPath string) (int, error) {
	// A background context: the child must outlive the caller's.
	cmd, err := l.command(context.Background(), c)
	if err != nil {
		return 0, err
	}
	out := os.DevNull
	if logPath != "" {
		out = l.path(logPath)
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, fmt.Errorf("start %s: log: %w", c.Name, err)
	}
	defer f.Close()
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", c.Name, err)
	}
	pid := cmd.Process.Pid
	// Reap the child if it ends while rampart still runs; if rampart ends
	// first, init adopts it.
	go func() { _ = cmd.Wait() }()
	return pid, nil
}
