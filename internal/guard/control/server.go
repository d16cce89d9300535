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
	"slices"
	"sync"
	"time"
	"unsafe"

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
	// AllowGID, when positive, also serves peers with this group as their
	// primary or a supplementary group (the socket's group, see
	// ListenGroup).
	AllowGID int

	ln   *net.UnixListener
	path string
	wg   sync.WaitGroup
}

// Listen creates the socket at path: its directory is created 0700 when
// missing (an existing one must not be writable by group or others), a
// stale socket left by a killed daemon is replaced, and a live one is an
// error ("already running"). Only root and the daemon's own uid are served.
func Listen(path string, h Handler, log *slog.Logger) (*Server, error) {
	return ListenGroup(path, 0, h, log)
}

// ListenGroup is Listen with a socket group: when gid is positive the
// socket is 0660 with group gid (a directory it creates is 0750 with that
// group), and peers in that group are served besides root. gid 0 means no
// group (root's group is never opened up).
func ListenGroup(path string, gid int, h Handler, log *slog.Logger) (*Server, error) {
	if path == "" {
		return nil, errors.New("control socket: empty path")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if gid < 0 {
		gid = 0
	}
	dir := filepath.Dir(path)
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if errors.Is(statErr, fs.ErrNotExist) && gid > 0 {
		if err := chgrp(dir, gid); err != nil {
			return nil, fmt.Errorf("control socket: directory group: %w", err)
		}
		if err := os.Chmod(dir, 0o750); err != nil {
			return nil, fmt.Errorf("control socket: %w", err)
		}
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
	mode := os.FileMode(0o600)
	if gid > 0 {
		// Group first, mode second: the socket is never 0660 with the
		// wrong group.
		if err := chgrp(path, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("control socket: group %d: %w (the daemon must be root or a member of that group)", gid, err)
		}
		mode = 0o660
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return &Server{Handler: h, Log: log, AllowUID: os.Geteuid(), AllowGID: gid, ln: ln, path: path}, nil
}

// chgrp sets path's group unless it already has it: under the systemd
// unit the daemon's own group is the socket group, and its syscall filter
// refuses chown.
func chgrp(path string, gid int) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err == nil && int(st.Gid) == gid {
		return nil
	}
	return os.Chown(path, -1, gid)
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

// peer is who is on the other end, as the kernel reports it.
type peer struct {
	uid, gid int
	groups   []int // supplementary groups (SO_PEERGROUPS)
}

func (p peer) inGroup(gid int) bool {
	return p.gid == gid || slices.Contains(p.groups, gid)
}

func peerCred(c *net.UnixConn) (peer, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return peer{}, err
	}
	var cred *unix.Ucred
	var groups []int
	var cerr, gerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		groups, gerr = peerGroups(int(fd))
	}); err != nil {
		return peer{}, err
	}
	if cerr != nil {
		return peer{}, cerr
	}
	if gerr != nil {
		return peer{}, fmt.Errorf("peer groups: %w", gerr)
	}
	return peer{uid: int(cred.Uid), gid: int(cred.Gid), groups: groups}, nil
}

// peerGroups reads SO_PEERGROUPS (Linux 4.13): the peer's supplementary
// groups when it connected.
func peerGroups(fd int) ([]int, error) {
	buf := make([]uint32, 64)
	for {
		n := uint32(len(buf) * 4)
		_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERGROUPS,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
		if errno == unix.ERANGE && int(n/4) > len(buf) {
			buf = make([]uint32, n/4)
			continue
		}
		if errno != 0 {
			return nil, errno
		}
		out := make([]int, 0, n/4)
		for _, g := range buf[:n/4] {
			out = append(out, int(g))
		}
		return out, nil
	}
}

func (s *Server) serve(ctx context.Context, c *net.UnixConn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(Timeout))
	resp := s.exchange(ctx, c)
	b, _ := json.Marshal(resp)
	_, _ = c.Write(append(b, '\n'))
}

func (s *Server) exchange(ctx context.Context, c *net.UnixConn) Response {
	p, err := peerCred(c)
	if err != nil {
		return fail(fmt.Errorf("cannot identify the peer: %w", err))
	}
	uid := p.uid
	if uid != 0 && uid != s.AllowUID && !(s.AllowGID > 0 && p.inGroup(s.AllowGID)) {
		s.Log.Warn("control request refused", "uid", uid, "gid", p.gid)
		if s.AllowGID > 0 {
			return fail(fmt.Errorf("permission denied: uid %d is neither root nor in the socket's group (gid %d)", uid, s.AllowGID))
		}
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
	case OpFlush:
		bs, err := s.Handler.Flush(ctx, v.Jail)
		if err != nil {
			return fail(err)
		}
		return Response{OK: true, Bans: bs}
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
