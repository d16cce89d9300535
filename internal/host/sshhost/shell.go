package sshhost

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rampart-sec/rampart/internal/host"
)

// A session costs the server a fork of its connection process and a login
// shell: about 20 ms of CPU each on a small machine, measured with
// OpenSSH 9.2, against 80 ms for the whole connection. A verify run makes
// some 35 reads and commands, so one session per command spent two thirds
// of the server's CPU on sessions, and a fleet run of 50 hosts on a 2-core
// machine was bound by it. Commands therefore run in a few long-lived
// shells, one session each: the command line is written to the shell's
// standard input, and the end of its output on each stream is a marker
// line with 128 random bits chosen per command, which no output the
// command prints (a log line, a file an unprivileged user wrote) can
// forge, since nothing on the remote side but the shell ever sees it.
// Commands are pipelined: one that arrives while the shell is busy is
// written behind the running one instead of waiting for it, and the two
// streams are read in the order the commands were written. A host 100 ms
// away then costs a round trip for the whole burst of commands the checks
// start at once, not one per command. A
// server that will not run such a shell (a login shell that is not POSIX,
// a ForceCommand wrapper, startup files that wait for input) gets every
// command on a session of its own instead.

// errSession: no session could be opened for a shell (the connection's
// problem, not the shell's). errShellRefused: a shell was started but never
// became ready.
var (
	errSession      = errors.New("no session for a shell")
	errShellRefused = errors.New("the server would not run a command shell")
)

// errNotSent: the command never ran: it could not be written to the
// shell, or the shell died before it took its environment.
var errNotSent = errors.New("shell closed before the command ran")

// errClosed kills the shells of a connection being closed.
var errClosed = errors.New("connection closed")

// maxPipeline bounds the commands written to one shell and not yet
// answered.
const maxPipeline = 16

// shell is one long-lived remote sh on its own session.
type shell struct {
	pid int // the shell's, which is also its process group's
	uid int // effective uid the shell runs as, -1 if it could not tell
	// ch is the session channel, used directly: what ssh.Session adds
	// (the exec request waits for its reply, the exit status is kept)
	// costs a round trip and serves nothing here. Writing to it is the
	// shell's standard input.
	ch     ssh.Channel
	stdout *bufio.Reader
	stderr *bufio.Reader

	// mu orders the commands: each is written and queued for both
	// readers (serve) under it, so the queues hold the commands in the
	// order the shell runs them.
	mu sync.Mutex
	q  [2]chan *pending // stdout's readers queue, stderr's
	// done is closed when the shell is killed (kill); deadErr says why.
	done     chan struct{}
	killOnce sync.Once
	deadErr  error
	// sent counts the commands written (tests watch the pipeline).
	sent atomic.Int64
	// initDone is closed once shellInit has answered, or the shell
	// died first; initOK is set before.
	initDone chan struct{}
	initOK   bool
	// Under Host.mu: commands given this shell and not yet returned, and
	// whether it has left the Host's pool.
	inflight int
	removed  bool
	// groupKill runs the process-group kill once however many commands
	// were abandoned with the shell.
	groupKill sync.Once
}

// pending is one command written to a shell, waiting for its two streams.
type pending struct {
	marker []byte
	max    int64
	res    [2]chan streamResult // stdout's, stderr's: one result each
}

// shellCommand starts the shell: once the login shell has read its
// startup files, it prints ready on both streams, with its process ID and
// its effective uid on stdout, and execs a POSIX sh. The uid is read from
// /proc/self/status by the shell's builtins (a fleet run is bound by
// process starts, and id would be one more); where there is no /proc it
// is left out, and IsRoot asks id. Nothing is written to the shell before
// ready arrives, so startup files can neither read the commands nor slip
// their output into the first one. The first command (shellInit) then
// fixes PATH and LC_ALL for every command after it, inside sh itself: no
// env program is started.
func shellCommand(ready string) string {
	return "u=; if [ -r /proc/self/status ]; then while read -r k r e _; do if [ \"$k\" = Uid: ]; then u=$e; break; fi; done </proc/self/status; fi; " +
		"printf '\\n%s %s %s\\n' " + ready + " $$ \"$u\"; printf '\\n%s\\n' " + ready + " >&2; exec sh"
}

// shellInit is the shell's first command: the fixed environment.
const shellInit = "export LC_ALL=C PATH=" + remotePath

// readyWait bounds the login shell's startup.
var readyWait = 10 * time.Second

func (h *Host) startShell(ctx context.Context) (*shell, error) {
	ready, err := newMarker()
	if err != nil {
		return nil, err
	}
	var ch ssh.Channel
	if err := h.retryOpen(ctx, func() (err error) {
		var reqs <-chan *ssh.Request
		if ch, reqs, err = h.client.OpenChannel("session", nil); err == nil {
			go ssh.DiscardRequests(reqs) // exit-status: the markers say more
		}
		return err
	}); err != nil {
		return nil, fmt.Errorf("%w: %v", errSession, err)
	}
	sh := &shell{ch: ch, stdout: bufio.NewReaderSize(ch, 64<<10), stderr: bufio.NewReaderSize(ch.Stderr(), 64<<10),
		q: [2]chan *pending{make(chan *pending, maxPipeline+2), make(chan *pending, maxPipeline+2)}, done: make(chan struct{}),
		initDone: make(chan struct{}), uid: -1}
	err = func() error {
		// The exec request asks for no reply: ready (or the channel's
		// end, if the server refuses it) comes a round trip sooner.
		if _, err := ch.SendRequest("exec", false, ssh.Marshal(struct{ Command string }{shellCommand(ready)})); err != nil {
			return err
		}
		// Whatever the startup files print is dropped (at most 1 MiB).
		done := make(chan streamResult, 2)
		for _, r := range []*bufio.Reader{sh.stdout, sh.stderr} {
			go func() {
				var res streamResult
				_, res.rest, _, res.err = readUntil(r, []byte(ready), 1<<20)
				done <- res
			}()
		}
		// Startup files that wait for input would hold the shell
		// forever: after readyWait it counts as refused.
		rctx, cancel := context.WithTimeout(ctx, readyWait)
		defer cancel()
		for range 2 {
			select {
			case res := <-done:
				if res.err != nil {
					return fmt.Errorf("remote shell ended before it was ready: %w", res.err)
				}
				if f := strings.Fields(string(res.rest)); len(f) == 1 || len(f) == 2 {
					sh.pid, _ = strconv.Atoi(f[0])
					if len(f) == 2 {
						if n, err := strconv.Atoi(f[1]); err == nil && n >= 0 {
							sh.uid = n
						}
					}
				}
			case <-rctx.Done():
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("remote shell not ready within %s", readyWait)
			}
		}
		if sh.pid <= 1 {
			return errors.New("remote shell did not say its process ID")
		}
		go sh.serve(0, sh.stdout)
		go sh.serve(1, sh.stderr)
		// shellInit goes first, and the shell is handed out at once:
		// the commands behind it are pipelined (one round trip less).
		// Until it has answered, a shell that dies is one that never
		// ran them (init).
		p, err := sh.send(shellInit, 64)
		if err != nil {
			return err
		}
		go h.init(sh, p, readyWait)
		return nil
	}()
	if err != nil {
		sh.kill(err)
		return nil, err
	}
	return sh, nil
}

// init waits, at most limit, for the answer to shellInit (p): whether the
// shell runs commands at all. A shell that fails it is killed, and the
// server gets every command on a session of its own from then on, as for
// a shell that never became ready.
func (h *Host) init(sh *shell, p *pending, limit time.Duration) {
	defer close(sh.initDone)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	_, _, code, _, _, err := sh.wait(ctx, p)
	if err != nil || code != 0 {
		// Unless the shell was killed on purpose (the connection
		// closed, a command abandoned), it is the server's answer.
		mine := sh.isDead() && ctx.Err() == nil && (errors.Is(sh.deadErr, errClosed) ||
			errors.Is(sh.deadErr, context.Canceled) || errors.Is(sh.deadErr, context.DeadlineExceeded))
		if !mine {
			h.noShells.Store(true)
		}
		sh.kill(fmt.Errorf("the remote shell did not take its environment (status %d): %v", code, err))
		return
	}
	sh.initOK = true
}

// serve reads stream i of the shell (0 stdout, 1 stderr): the output of
// each command in queue order, up to its marker. A stream that ends or
// breaks kills the shell; the commands still queued then get their answer
// from done.
func (sh *shell) serve(i int, r *bufio.Reader) {
	for {
		select {
		case p := <-sh.q[i]:
			var res streamResult
			res.data, res.rest, res.over, res.err = readUntil(r, p.marker, p.max)
			p.res[i] <- res
			if res.err != nil {
				sh.kill(fmt.Errorf("shell ended: %w", res.err))
				return
			}
		case <-sh.done:
			return
		}
	}
}

// isDead reports whether the shell was killed.
func (sh *shell) isDead() bool {
	select {
	case <-sh.done:
		return true
	default:
		return false
	}
}

func newMarker() (string, error) {
	var rnd [16]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	return "rampart-end-" + hex.EncodeToString(rnd[:]), nil
}

// kill ends the shell, once: every command not yet answered fails with
// err. A command still running in it is killed by the caller through
// killGroup.
func (sh *shell) kill(err error) {
	sh.killOnce.Do(func() {
		sh.deadErr = err
		close(sh.done)
		// The signal request needs OpenSSH 7.9 or later; closing the
		// channel ends the shell's input and output in any case.
		_, _ = sh.ch.SendRequest("signal", false, ssh.Marshal(struct{ Signal string }{string(ssh.SIGKILL)}))
		sh.ch.Close()
	})
}

// streamResult is one stream of one command.
type streamResult struct {
	data []byte
	rest []byte // what followed the marker on its line
	over bool
	err  error
}

// run runs one command line in the shell, written behind the commands
// already sent to it. Its standard input is /dev/null: the shell's own is
// the channel commands arrive on. A cancelled context kills the shell and
// every command pipelined in it (dead is true: the caller must not reuse
// it); errNotSent means the command never ran.
func (sh *shell) run(ctx context.Context, line string, max int64) (out, errOut []byte, code int, over, dead bool, err error) {
	p, err := sh.send(line, max)
	if err != nil {
		return nil, nil, 0, false, true, err
	}
	out, errOut, code, over, dead, err = sh.wait(ctx, p)
	if dead && ctx.Err() == nil {
		// A shell that died before it took its environment ran
		// nothing written behind shellInit.
		<-sh.initDone
		if !sh.initOK {
			err = fmt.Errorf("%w: %v", errNotSent, err)
		}
	}
	return out, errOut, code, over, dead, err
}

// send writes line to the shell, behind the commands already sent, and
// queues it for both streams' readers.
func (sh *shell) send(line string, max int64) (*pending, error) {
	marker, err := newMarker()
	if err != nil {
		return nil, err
	}
	script := "{\n" + line + "\n} </dev/null\n" +
		"printf '\\n%s %d\\n' " + marker + " $?\n" +
		"printf '\\n%s\\n' " + marker + " >&2\n"
	p := &pending{marker: []byte(marker), max: max, res: [2]chan streamResult{make(chan streamResult, 1), make(chan streamResult, 1)}}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.isDead() {
		return nil, fmt.Errorf("%w: %v", errNotSent, sh.deadErr)
	}
	if _, err := io.WriteString(sh.ch, script); err != nil {
		sh.kill(fmt.Errorf("shell ended: %v", err))
		return nil, fmt.Errorf("%w: %v", errNotSent, err)
	}
	sh.sent.Add(1)
	// Never blocks: the Host gives a shell at most maxPipeline commands,
	// and shellInit is one more.
	sh.q[0] <- p
	sh.q[1] <- p
	return p, nil
}

// wait waits for both streams of p, sent by send.
func (sh *shell) wait(ctx context.Context, p *pending) (out, errOut []byte, code int, over, dead bool, err error) {
	var o, e streamResult
	for got := 0; got < 2; got++ {
		select {
		case o = <-p.res[0]:
		case e = <-p.res[1]:
		case <-ctx.Done():
			sh.kill(fmt.Errorf("the shell was killed with a command written before this one, abandoned: %w", ctx.Err()))
			return nil, nil, 0, false, true, ctx.Err()
		case <-sh.done:
			// Killed for another command, or a stream broke; what
			// this one already received still counts.
			for ; got < 2; got++ {
				select {
				case o = <-p.res[0]:
				case e = <-p.res[1]:
				default:
					return nil, nil, 0, false, true, sh.deadErr
				}
			}
		}
	}
	if o.err != nil || e.err != nil {
		sh.kill(fmt.Errorf("shell ended: %w", errors.Join(o.err, e.err)))
		return nil, nil, 0, false, true, fmt.Errorf("shell ended: %w", errors.Join(o.err, e.err))
	}
	// stdout's marker line carries the status, stderr's nothing.
	code, cerr := strconv.Atoi(string(bytes.TrimSpace(o.rest)))
	if cerr != nil || len(o.rest) == 0 || o.rest[0] != ' ' || len(bytes.TrimSpace(e.rest)) != 0 {
		err := fmt.Errorf("shell printed a malformed end of command: %q", host.SafeText(string(o.rest)))
		sh.kill(err)
		return nil, nil, 0, false, true, err
	}
	return o.data, e.data, code, o.over || e.over, false, nil
}

// readUntil reads r up to the line that starts with marker, which follows
// a newline the shell printed before it (dropped here). It keeps at most
// max bytes of what came before (over reports more) and returns the rest
// of the marker's line.
func readUntil(r *bufio.Reader, marker []byte, max int64) (data, rest []byte, over bool, err error) {
	var buf bytes.Buffer
	var total int64
	atStart := false // the output is never empty: the shell's newline comes first
	for {
		line, err := r.ReadSlice('\n')
		if atStart && err == nil && bytes.HasPrefix(line, marker) {
			rest = bytes.Clone(line[len(marker):])
			// The newline printed before the marker is the shell's.
			if n := total - 1; n <= max {
				return buf.Bytes()[:n], rest, false, nil
			}
			return buf.Bytes()[:max], rest, true, nil
		}
		total += int64(len(line))
		if room := max + 1 - int64(buf.Len()); room > 0 {
			buf.Write(line[:min(int64(len(line)), room)])
		}
		switch {
		case err == nil:
			atStart = true
		case errors.Is(err, bufio.ErrBufferFull):
			atStart = false
		default:
			return nil, nil, false, err
		}
	}
}
