package sshhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/rampart-sec/rampart/internal/host"
)

// Options configure Dial. The zero value uses the user's known_hosts and
// keys.
type Options struct {
	// User overrides the target's user; default the target's, else $USER.
	User string
	// KnownHosts are the known_hosts files; default ~/.ssh/known_hosts
	// and /etc/ssh/ssh_known_hosts (the ones that exist).
	KnownHosts []string
	// Identities are private key files; default ~/.ssh/id_ed25519,
	// id_ecdsa, id_rsa (the ones that exist). The agent is always tried
	// first when SSH_AUTH_SOCK is set, unless NoAgent.
	Identities []string
	NoAgent    bool
	// Timeout bounds connecting and the SSH handshake (default 10s).
	Timeout time.Duration
	// MaxSessions bounds concurrent commands on the connection (default
	// 8, below OpenSSH's MaxSessions 10).
	MaxSessions int
	// Shells bounds the long-lived shells commands run in (default 3,
	// each holding one of MaxSessions).
	Shells int
	// MaxOutput caps each of stdout and stderr per command (default 32 MiB).
	MaxOutput int64
	// Getenv reads HOME, USER and SSH_AUTH_SOCK (default os.Getenv).
	Getenv func(string) string
	// Dial opens the TCP connection (default net.Dialer); tests dial
	// from inside a network namespace with it.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Host is a remote machine reached over one SSH connection.
type Host struct {
	name      string
	client    *ssh.Client
	sem       chan struct{}
	maxOutput int64

	// Long-lived shells (shell.go), at most bound of them, started or
	// starting; changed is closed (and replaced) whenever one starts,
	// fails to, ends or finishes a command.
	mu       sync.Mutex
	pool     []*shell
	starting int
	bound    int
	changed  chan struct{}
	// far: the connection and login took farLogin or more, so a
	// command waits behind a busy shell rather than open another
	// (getShell).
	far bool
	// noShells: a shell could not be started; commands run on sessions.
	noShells atomic.Bool

	rootOnce sync.Once
	root     bool
}

var (
	_ host.Host     = (*Host)(nil)
	_ host.Streamer = (*Host)(nil)
)

// farLogin: a host whose connection and login took this long or longer
// (some 7 round trips: about 7 ms each, or a busy server) is far, for
// getShell.
const farLogin = 50 * time.Millisecond

// ErrHostKey is wrapped by every host-key refusal.
var ErrHostKey = errors.New("host key not trusted")

// Dial connects to target ([USER@]HOST[:PORT]) and authenticates.
func Dial(ctx context.Context, target string, opts Options) (*Host, error) {
	t, err := ParseTarget(target)
	if err != nil {
		return nil, err
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	home := getenv("HOME")
	if opts.User != "" {
		t.User = opts.User
	}
	if t.User == "" {
		t.User = getenv("USER")
	}
	if t.User == "" {
		return nil, fmt.Errorf("ssh %s: no user name (give USER@HOST)", t)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 8
	}
	if opts.Shells <= 0 {
		opts.Shells = 3
	}
	opts.Shells = min(opts.Shells, max(1, opts.MaxSessions-1))
	if opts.MaxOutput <= 0 {
		opts.MaxOutput = 32 << 20
	}

	kh, err := newKnownHosts(opts.KnownHosts, home)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", t, err)
	}
	auth, closeAgent, authNote, err := authMethods(opts, getenv, home)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", t, err)
	}
	defer closeAgent()

	dctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	dial := opts.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	dialStart := time.Now()
	conn, err := dial(dctx, "tcp", t.Addr())
	if err != nil {
		return nil, fmt.Errorf("ssh %s: connect: %w", t, err)
	}
	conn = quickAck(conn)
	algos, err := kh.algorithms(t.Addr(), conn.RemoteAddr())
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ssh %s: %w", t, err)
	}
	cfg := &ssh.ClientConfig{
		User:              t.User,
		Auth:              auth,
		HostKeyCallback:   kh.callback(t),
		HostKeyAlgorithms: algos,
		Timeout:           opts.Timeout,
	}
	stop := context.AfterFunc(dctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, t.Addr(), cfg)
	login := time.Since(dialStart) // TCP, key exchange and authentication: some 7 round trips
	stopped := stop()
	if err != nil {
		conn.Close()
		if errors.Is(err, ErrHostKey) {
			return nil, err
		}
		var hk *hostKeyError
		if errors.As(err, &hk) {
			return nil, hk
		}
		if !stopped {
			return nil, fmt.Errorf("ssh %s: handshake timed out after %s", t, opts.Timeout)
		}
		if strings.Contains(err.Error(), "Too many authentication failures") {
			return nil, fmt.Errorf("ssh %s: authentication as %q failed (%s): the server stopped after too many keys; pass --identity FILE to offer only that key: %w", t, t.User, authNote, err)
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, fmt.Errorf("ssh %s: authentication as %q failed (%s): %w", t, t.User, authNote, err)
		}
		return nil, fmt.Errorf("ssh %s: %w", t, err)
	}
	return &Host{
		name:      t.String(),
		client:    ssh.NewClient(c, chans, reqs),
		sem:       make(chan struct{}, opts.MaxSessions),
		bound:     opts.Shells,
		changed:   make(chan struct{}),
		maxOutput: opts.MaxOutput,
		far:       login >= farLogin,
	}, nil
}

// Close ends the shells and closes the connection.
func (h *Host) Close() error {
	h.mu.Lock()
	pool := h.pool
	h.mu.Unlock()
	for _, sh := range pool {
		sh.kill(errClosed)
	}
	return h.client.Close()
}

// Name implements host.Host.
func (h *Host) Name() string { return h.name }

// IsRoot implements host.Host: the remote user has uid 0.
func (h *Host) IsRoot(ctx context.Context) bool {
	h.rootOnce.Do(func() {
		if !h.noShells.Load() {
			// A shell says its uid when it is ready (shellCommand).
			if sh, err := h.getShell(ctx); err == nil {
				uid := sh.uid
				h.putShell(sh)
				if uid >= 0 {
					h.root = uid == 0
					return
				}
			}
		}
		out, err := h.run(ctx, host.C("id", "-u"), false)
		h.root = err == nil && out.ExitCode == 0 && strings.TrimSpace(string(out.Stdout)) == "0"
	})
	return h.root
}

// Run implements host.Host.
func (h *Host) Run(ctx context.Context, c host.Cmd) (*host.Output, error) {
	return h.run(ctx, c, c.Sudo && !h.IsRoot(ctx))
}

func (h *Host) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Host) release() { <-h.sem }

func (h *Host) run(ctx context.Context, c host.Cmd, sudo bool) (*host.Output, error) {
	var out *host.Output
	var over bool
	var err error
	if c.Stdin != nil {
		// The shells' standard input carries their commands.
		out, over, err = h.runSession(ctx, c, sudo)
	} else {
		out, over, err = h.runShell(ctx, c, sudo)
	}
	if err != nil {
		return nil, err
	}
	if over {
		return out, fmt.Errorf("ssh %s: %s: output larger than %d bytes", h.name, c.String(), h.maxOutput)
	}
	// env reports a program it cannot find with 127 ("No such file or
	// directory"), and so does the shell ("not found").
	if out.ExitCode == 127 && (bytes.Contains(out.Stderr, []byte("No such file or directory")) || bytes.Contains(out.Stderr, []byte("not found"))) &&
		bytes.Contains(out.Stderr, []byte(c.Name)) {
		return nil, &host.NotFoundError{Name: c.Name}
	}
	if sudo && out.ExitCode == 1 && bytes.Contains(out.Stderr, []byte("sudo:")) &&
		sudoRefused(out.Stderr) {
		return out, fmt.Errorf("ssh %s: %s needs root and sudo -n was refused: %s: %w", h.name, c.String(),
			firstLine(out.Stderr), fs.ErrPermission)
	}
	return out, nil
}

// runShell runs c in one of the connection's long-lived shells (shell.go).
func (h *Host) runShell(ctx context.Context, c host.Cmd, sudo bool) (*host.Output, bool, error) {
	line, err := shellLine(c, sudo)
	if err != nil {
		return nil, false, fmt.Errorf("ssh %s: %w", h.name, err)
	}
	return h.runLine(ctx, c, sudo, line)
}

// runLine runs line, c's command line for the shell, in one of the
// connection's long-lived shells; without them, c on a session of its own.
func (h *Host) runLine(ctx context.Context, c host.Cmd, sudo bool, line string) (*host.Output, bool, error) {
	for attempt := 0; ; attempt++ {
		if h.noShells.Load() {
			return h.runSession(ctx, c, sudo)
		}
		sh, err := h.getShell(ctx)
		if errors.Is(err, errShellRefused) {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("ssh %s: open session: %w", h.name, err)
		}
		stdout, stderr, code, over, dead, err := sh.run(ctx, line, h.maxOutput)
		if dead && ctx.Err() != nil {
			sh.groupKill.Do(func() { go h.killGroup(sh.pid) })
		}
		h.putShell(sh)
		switch {
		case err == nil:
			return &host.Output{Stdout: stdout, Stderr: stderr, ExitCode: code}, over, nil
		case ctx.Err() != nil:
			return nil, false, ctx.Err()
		case errors.Is(err, errNotSent) && attempt == 0:
			// The server closed an idle shell: the command never ran,
			// so it is safe to send it again on a new one.
			continue
		}
		return nil, false, fmt.Errorf("ssh %s: %s: %w", h.name, c.String(), err)
	}
}

// getShell returns a shell for one command: an idle one, else a new one
// while fewer than the bound run, else the least busy, where the command
// is pipelined behind the ones it runs (shell.go). A far host gets no
// second shell: starting one costs two round trips (the channel, then
// ready), more than the commands ahead in the busy one usually take. The
// caller gives it back with putShell.
func (h *Host) getShell(ctx context.Context) (*shell, error) {
	for {
		if h.noShells.Load() {
			return nil, errShellRefused
		}
		h.mu.Lock()
		var best *shell
		for _, sh := range h.pool {
			if !sh.isDead() && sh.inflight < maxPipeline && (best == nil || sh.inflight < best.inflight) {
				best = sh
			}
		}
		room := len(h.pool)+h.starting < h.bound && !(h.far && len(h.pool)+h.starting > 0)
		if best != nil && (best.inflight == 0 || !room) {
			best.inflight++
			h.mu.Unlock()
			return best, nil
		}
		if room {
			h.starting++
			h.mu.Unlock()
			return h.newShell(ctx)
		}
		// Every shell is starting, or has maxPipeline commands.
		changed := h.changed
		h.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// newShell starts a shell for getShell, which counted it as starting.
func (h *Host) newShell(ctx context.Context) (*shell, error) {
	err := h.acquire(ctx)
	var sh *shell
	if err == nil {
		if sh, err = h.startShell(ctx); err != nil {
			h.release()
		}
	}
	h.mu.Lock()
	h.starting--
	if err == nil {
		sh.inflight = 1
		h.pool = append(h.pool, sh)
	}
	h.notify()
	h.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, errSession) {
			// The server runs commands but not this shell (a login
			// shell that is not POSIX, a ForceCommand wrapper):
			// every command gets a session of its own from now on.
			h.noShells.Store(true)
			return nil, fmt.Errorf("%w: %v", errShellRefused, err)
		}
		return nil, err
	}
	return sh, nil
}

// putShell gives back a shell getShell returned; one that was killed
// leaves the pool and gives back its session.
func (h *Host) putShell(sh *shell) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sh.inflight--
	if sh.isDead() && !sh.removed {
		sh.removed = true
		for i, x := range h.pool {
			if x == sh {
				h.pool = append(h.pool[:i], h.pool[i+1:]...)
				break
			}
		}
		h.release()
	}
	h.notify()
}

// notify wakes the getShell calls waiting for a change; h.mu is held.
func (h *Host) notify() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// killGroup kills what is left of a shell whose command was abandoned: the
// shell leads its own process group (sshd starts each session in a new
// session), so its program dies with it and no longer runs on after the
// deadline. A program under sudo runs as root and may outlive it.
func (h *Host) killGroup(pid int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, _ = h.runSession(ctx, host.C("kill", "-KILL", "--", "-"+strconv.Itoa(pid)), false)
}

// runSession runs c on a session of its own, for a command that reads
// standard input.
func (h *Host) runSession(ctx context.Context, c host.Cmd, sudo bool) (*host.Output, bool, error) {
	line, err := CommandLine(c, sudo)
	if err != nil {
		return nil, false, fmt.Errorf("ssh %s: %w", h.name, err)
	}
	return h.runSessionLine(ctx, c, line)
}

// runSessionLine runs line (c's, for messages) on a session of its own.
func (h *Host) runSessionLine(ctx context.Context, c host.Cmd, line string) (*host.Output, bool, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, false, err
	}
	defer h.release()
	s, err := h.newSession(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("ssh %s: open session: %w", h.name, err)
	}
	defer s.Close()
	stdout := &capped{max: h.maxOutput}
	stderr := &capped{max: h.maxOutput}
	s.Stdout, s.Stderr = stdout, stderr
	if c.Stdin != nil {
		s.Stdin = bytes.NewReader(c.Stdin)
	}
	done := make(chan error, 1)
	if err := s.Start(line); err != nil {
		return nil, false, fmt.Errorf("ssh %s: %s: %w", h.name, c.String(), err)
	}
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGKILL)
		s.Close()
		return nil, false, ctx.Err()
	}
	out := &host.Output{Stdout: stdout.buf.Bytes(), Stderr: stderr.buf.Bytes()}
	var ee *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		out.ExitCode = ee.ExitStatus()
		if ee.Signal() != "" && out.ExitCode == 0 {
			out.ExitCode = 128 + 9
		}
	default:
		return nil, false, fmt.Errorf("ssh %s: %s: %w", h.name, c.String(), err)
	}
	return out, stdout.over || stderr.over, nil
}

// newSession opens a session channel (retryOpen).
func (h *Host) newSession(ctx context.Context) (s *ssh.Session, err error) {
	err = h.retryOpen(ctx, func() error {
		s, err = h.client.NewSession()
		return err
	})
	return s, err
}

// retryOpen runs open, which opens a channel. A session closed a moment
// ago may still count against the server's MaxSessions (the client does
// not wait for the server's side of the close), and OpenSSH then refuses
// the new channel with "open failed": that refusal is retried for up to
// 5s, any other error is returned at once.
func (h *Host) retryOpen(ctx context.Context, open func() error) error {
	giveUp := time.Now().Add(5 * time.Second)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err := open()
		var oce *ssh.OpenChannelError
		if err == nil || !errors.As(err, &oce) || oce.Reason != ssh.ConnectionFailed || time.Now().After(giveUp) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (server refused the session: %v)", ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return host.SafeText(s)
}

// capped keeps at most max bytes and notes an overflow.
type capped struct {
	buf  bytes.Buffer
	max  int64
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - int64(c.buf.Len()); int64(len(p)) > room {
		if room > 0 {
			c.buf.Write(p[:room])
		}
		c.over = true
		return len(p), nil
	}
	return c.buf.Write(p)
}

// ReadFile implements host.Host with cat, retried under sudo -n when the
// remote user may not read the file.
func (h *Host) ReadFile(ctx context.Context, path string) ([]byte, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrInvalid}
	}
	if kernelText(path) {
		// The shell's own read; a file denied to a user who is not root
		// goes on to cat, which may retry it under sudo.
		r, err := h.shellRead(ctx, []string{path})
		if err != nil {
			return nil, err
		}
		if r != nil && (!errors.Is(r[0].Err, fs.ErrPermission) || h.IsRoot(ctx)) {
			return r[0].Data, r[0].Err
		}
	}
	c := host.C("cat", "--", path)
	var out *host.Output
	var err error
	if h.IsRoot(ctx) {
		line := missingLine(path)
		var over bool
		out, over, err = h.runLine(ctx, c, false, line)
		if err == nil && over {
			err = fmt.Errorf("ssh %s: %s: output larger than %d bytes", h.name, c.String(), h.maxOutput)
		}
	} else {
		out, err = h.run(ctx, c, false)
	}
	if err == nil && out.ExitCode != 0 && bytes.Contains(out.Stderr, []byte("Permission denied")) && !h.IsRoot(ctx) {
		out, err = h.run(ctx, c, true)
	}
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrPermission}
		}
		return nil, err
	}
	if out.ExitCode != 0 {
		switch {
		case bytes.Contains(out.Stderr, []byte("No such file or directory")):
			return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
		case bytes.Contains(out.Stderr, []byte("Permission denied")):
			return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrPermission}
		}
		return nil, fmt.Errorf("ssh %s: read %s: %s", h.name, path, firstLine(out.Stderr))
	}
	return out.Stdout, nil
}

// Glob implements host.Host with the remote shell's globbing.
func (h *Host) Glob(ctx context.Context, pattern string) ([]string, error) {
	r, err := h.GlobAll(ctx, []string{pattern})
	if err != nil {
		return nil, err
	}
	return r[0], nil
}

// GlobAll implements host.BatchGlobber: every pattern in one script of
// shell builtins, one round trip. Each pattern's matches follow a
// "\x01INDEX" token; tokens are NUL-terminated, and a match, an absolute
// path, never starts with \x01.
func (h *Host) GlobAll(ctx context.Context, patterns []string) ([][]string, error) {
	var b strings.Builder
	for i, p := range patterns {
		script, err := globScript(p)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, `printf '\001%d\0'; `, i)
		b.WriteString(script)
	}
	script := b.String()
	what := strings.Join(patterns, " ")
	c := host.Cmd{Name: "sh", Args: []string{"-c", script}, Sudo: true}
	var out *host.Output
	var err error
	if h.IsRoot(ctx) {
		// The script is shell builtins only: as root it runs in the
		// shell itself, with no process to start (a fleet run is bound
		// by process starts).
		var over bool
		out, over, err = h.runLine(ctx, c, false, script)
		if err == nil && over {
			err = fmt.Errorf("ssh %s: glob %s: output larger than %d bytes", h.name, host.SafeText(what), h.maxOutput)
		}
	} else {
		out, err = h.Run(ctx, c)
	}
	if errors.Is(err, fs.ErrPermission) {
		// No sudo: list what the user can see.
		out, err = h.run(ctx, c, false)
	}
	if err != nil {
		return nil, err
	}
	if out.ExitCode != 0 {
		return nil, fmt.Errorf("ssh %s: glob %s: exit status %d: %s", h.name, host.SafeText(what), out.ExitCode, firstLine(out.Stderr))
	}
	res := make([][]string, len(patterns))
	cur := -1
	for _, tok := range strings.Split(string(out.Stdout), "\x00") {
		switch {
		case tok == "":
		case tok[0] == 1:
			n, err := strconv.Atoi(tok[1:])
			if err != nil || n != cur+1 || n >= len(patterns) {
				return nil, fmt.Errorf("ssh %s: glob %s: malformed output", h.name, host.SafeText(what))
			}
			cur = n
		case cur < 0:
			return nil, fmt.Errorf("ssh %s: glob %s: malformed output", h.name, host.SafeText(what))
		default:
			res[cur] = append(res[cur], tok)
		}
	}
	if cur != len(patterns)-1 {
		return nil, fmt.Errorf("ssh %s: glob %s: output ended early", h.name, host.SafeText(what))
	}
	for _, r := range res {
		sort.Strings(r)
	}
	return res, nil
}

// Stream implements host.Streamer.
func (h *Host) Stream(ctx context.Context, c host.Cmd) (io.ReadCloser, error) {
	line, err := CommandLine(c, c.Sudo && !h.IsRoot(ctx))
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", h.name, err)
	}
	s, err := h.client.NewSession()
	if err != nil {
		return nil, fmt.Errorf("ssh %s: open session: %w", h.name, err)
	}
	r, err := s.StdoutPipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	if err := s.Start(line); err != nil {
		s.Close()
		return nil, fmt.Errorf("ssh %s: %s: %w", h.name, c.String(), err)
	}
	stop := context.AfterFunc(ctx, func() { s.Close() })
	return &stream{r: r, s: s, stop: stop}, nil
}

type stream struct {
	r    io.Reader
	s    *ssh.Session
	stop func() bool
}

func (st *stream) Read(p []byte) (int, error) { return st.r.Read(p) }

func (st *stream) Close() error {
	st.stop()
	_ = st.s.Signal(ssh.SIGTERM)
	return st.s.Close()
}

// authMethods builds key-only authentication. By default the agent's keys
// come first, then the default key files. With explicit identities only
// those keys are offered (from the file, or from the agent when the file
// is passphrase-protected), so an agent full of other keys cannot use up
// the server's MaxAuthTries. Passphrase-protected files are never
// prompted for.
func authMethods(opts Options, getenv func(string) string, home string) ([]ssh.AuthMethod, func(), string, error) {
	var fileSigners []ssh.Signer
	var notes []string
	wanted := map[string]bool{} // explicit identities' public keys
	files := opts.Identities
	explicit := len(files) > 0
	if !explicit && home != "" {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			files = append(files, filepath.Join(home, ".ssh", n))
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			if explicit {
				return nil, func() {}, "", fmt.Errorf("identity %s: %w", f, err)
			}
			continue
		}
		s, err := ssh.ParsePrivateKey(data)
		var pm *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &pm):
			notes = append(notes, f+": passphrase-protected, used only through ssh-agent")
			if pm.PublicKey != nil {
				wanted[string(pm.PublicKey.Marshal())] = true
			}
			continue
		case err != nil:
			return nil, func() {}, "", fmt.Errorf("identity %s: %w", f, err)
		}
		fileSigners = append(fileSigners, s)
		wanted[string(s.PublicKey().Marshal())] = true
		notes = append(notes, "key "+f)
	}
	var signers []ssh.Signer
	closeFn := func() {}
	if sock := getenv("SSH_AUTH_SOCK"); sock != "" && !opts.NoAgent {
		if conn, err := net.Dial("unix", sock); err == nil {
			closeFn = func() { conn.Close() }
			if ss, err := agent.NewClient(conn).Signers(); err == nil {
				n := 0
				for _, s := range ss {
					if explicit && !wanted[string(s.PublicKey().Marshal())] {
						continue
					}
					if !explicit || !hasKey(fileSigners, s) {
						signers = append(signers, s)
						n++
					}
				}
				notes = append(notes, fmt.Sprintf("agent: %d of %d keys", n, len(ss)))
			}
		} else {
			notes = append(notes, "agent unreachable")
		}
	}
	signers = append(signers, fileSigners...)
	if len(signers) == 0 {
		closeFn()
		why := ""
		if len(notes) > 0 {
			why = "; " + strings.Join(notes, "; ")
		}
		return nil, func() {}, "", fmt.Errorf("no SSH key to authenticate with: start ssh-agent (SSH_AUTH_SOCK) or pass --identity FILE (tried %s%s)",
			strings.Join(files, ", "), why)
	}
	return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, closeFn, strings.Join(notes, "; "), nil
}

func hasKey(l []ssh.Signer, s ssh.Signer) bool {
	for _, x := range l {
		if bytes.Equal(x.PublicKey().Marshal(), s.PublicKey().Marshal()) {
			return true
		}
	}
	return false
}

// sudoRefused recognises sudo's refusals (no NOPASSWD rule, not in
// sudoers).
func sudoRefused(stderr []byte) bool {
	for _, m := range []string{"password is required", "not allowed", "not in the sudoers", "may not run sudo"} {
		if bytes.Contains(stderr, []byte(m)) {
			return true
		}
	}
	return false
}
