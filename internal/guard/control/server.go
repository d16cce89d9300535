package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Timeout bounds one exchange.
const Timeout = 10 * time.Second

// Server serves Handler on a unix socket.
type Server struct {
	Handler Handler
	Log     *slog.Logger
	// AllowUID is served besides root (the daemon's own euid by default;
	// -1 serves root only).
	AllowUID int

	ln   *net.UnixListener
	path string
	wg   sync.WaitGroup
}

// Listen creates the socket at path: its directory is created 0700 when
// missing (an existing one must not be writable by group or others), a
// stale socket left by a killed daemon is replaced, and a live one is an
// error ("already running").
func Listen(path string, h Handler, log *slog.Logger) (*Server, error) {
	if path == "" {
		return nil, errors.New("control socket: empty path")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	} else if fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("control socket: directory %s is writable by group or others (mode %v); use a private directory", dir, fi.Mode().Perm())
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("control socket: %s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket: %s: another rampart guard is already running", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control socket: remove stale %s: %w", path, err)
		}
	}
	old := unix.Umask(0o177) // the socket is born 0600
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return &Server{Handler: h, Log: log, AllowUID: os.Geteuid(), ln: ln, path: path}, nil
}

// Path is the socket path.
func (s *Server) Path() string { return s.path }

// Serve accepts connections until ctx ends, then closes the socket and
// waits for exchanges in flight.
func (s *Server) Serve(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		s.ln.Close()
	}()
	defer s.wg.Wait()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("control socket: accept: %w", err)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(ctx, c)
		}()
	}
}

func peerUID(c *net.UnixConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) }); err != nil {
		return -1, err
	}
	if cerr != nil {
		return -1, cerr
	}
	return int(cred.Uid), nil
}

func (s *Server) serve(ctx context.Context, c *net.UnixConn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(Timeout))
	resp := s.exchange(ctx, c)
	b, _ := json.Marshal(resp)
	_, _ = c.Write(append(b, '\n'))
}

func (s *Server) exchange(ctx context.Context, c *net.UnixConn) Response {
	uid, err := peerUID(c)
	if err != nil {
		return fail(fmt.Errorf("cannot identify the peer: %w", err))
	}
	if uid != 0 && uid != s.AllowUID {
		s.Log.Warn("control request refused", "uid", uid)
		return fail(fmt.Errorf("permission denied: uid %d is not root", uid))
	}
	data, err := bufio.NewReader(io.LimitReader(c, MaxRequest+1)).ReadBytes('\n')
	if err != nil && !isEOFish(err) {
		return fail(fmt.Errorf("read request: %w", err))
	}
	data = bytes.TrimSuffix(data, []byte{'\n'})
	if len(data) > MaxRequest {
		return fail(fmt.Errorf("request larger than %d bytes", MaxRequest))
	}
	var req Request
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return fail(fmt.Errorf("request: %w", err))
	}
	v, err := Validate(req)
	if err != nil {
		return fail(fmt.Errorf("request: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	attrs := []any{"op", v.Op, "uid", uid}
	if v.Jail != "" {
		attrs = append(attrs, "jail", v.Jail)
	}
	if v.Prefix.IsValid() {
		attrs = append(attrs, "prefix", v.Prefix.String())
	}
	s.Log.Info("control request", attrs...)
	switch v.Op {
	case OpStatus:
		st, err := s.Handler.Status(ctx, v.Jail)
		if err != nil {
			return fail(err)
		}
		return Response{OK: true, Status: st}
	case OpList:
		bs, err := s.Handler.List(ctx, v.Jail)
		if err != nil {
			return fail(err)
		}
		return Response{OK: true, Bans: bs}
	case OpBan:
		b, err := s.Handler.Ban(ctx, v.Prefix, v.Jail, v.For)
		if err != nil {
			return fail(err)
		}
		return Response{OK: true, Bans: []BanInfo{b}}
	default: // OpUnban
		b, err := s.Handler.Unban(ctx, v.Prefix)
		if err != nil {
			return fail(err)
		}
		return Response{OK: true, Bans: []BanInfo{b}}
	}
}

// isEOFish: the client half-closed or the deadline hit after it wrote.
func isEOFish(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded)
}

func fail(err error) Response { return Response{Error: err.Error()} }
