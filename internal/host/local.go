package host

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
)

// Local is the machine rampart runs on.
type Local struct {
	// Root prefixes every file path (not program paths); "" means "/".
	// Tests point it at a fixture tree.
	Root string
}

var _ Host = (*Local)(nil)
var _ Streamer = (*Local)(nil)
var _ UnixDialer = (*Local)(nil)

// Name implements Host.
func (l *Local) Name() string { return "local" }

// IsRoot implements Host.
func (l *Local) IsRoot(context.Context) bool { return os.Geteuid() == 0 }

func (l *Local) command(ctx context.Context, c Cmd) (*exec.Cmd, error) {
	name := c.Name
	args := c.Args
	if c.Sudo && os.Geteuid() != 0 {
		args = append([]string{"-n", "--", name}, args...)
		name = "sudo"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		// Programs in sbin are often outside a user's PATH.
		for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin", "/run/current-system/sw/bin"} {
			p := filepath.Join(dir, name)
			if st, e := os.Stat(p); e == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
				path, err = p, nil
				break
			}
		}
		if err != nil {
			return nil, &NotFoundError{Name: name}
		}
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.Stdin != nil {
		cmd.Stdin = bytes.NewReader(c.Stdin)
	}
	return cmd, nil
}

// Run implements Host.
func (l *Local) Run(ctx context.Context, c Cmd) (*Output, error) {
	cmd, err := l.command(ctx, c)
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	out := &Output{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		out.ExitCode = ee.ExitCode()
		if out.ExitCode < 0 { // killed by a signal
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			out.ExitCode = 128 + 9
		}
	default:
		return out, err
	}
	return out, nil
}

// Stream implements Streamer.
func (l *Local) Stream(ctx context.Context, c Cmd) (io.ReadCloser, error) {
	cmd, err := l.command(ctx, c)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = io.Discard
	r, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &streamReader{r: r, cmd: cmd}, nil
}

type streamReader struct {
	r   io.ReadCloser
	cmd *exec.Cmd
}

func (s *streamReader) Read(p []byte) (int, error) { return s.r.Read(p) }

func (s *streamReader) Close() error {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
	_ = s.r.Close()
	_ = s.cmd.Wait()
	return nil
}

func (l *Local) path(p string) string {
	if l.Root == "" {
		return p
	}
	return filepath.Join(l.Root, p)
}

// ReadFile implements Host.
func (l *Local) ReadFile(_ context.Context, path string) ([]byte, error) {
	return os.ReadFile(l.path(path))
}

// DialUnix implements UnixDialer.
func (l *Local) DialUnix(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", l.path(path))
}

// Open implements Opener.
func (l *Local) Open(_ context.Context, path string) (io.ReadCloser, error) {
	return os.Open(l.path(path))
}

// Glob implements Host.
func (l *Local) Glob(_ context.Context, pattern string) ([]string, error) {
	m, err := filepath.Glob(l.path(pattern))
	if err != nil {
		return nil, err
	}
	if l.Root != "" {
		for i := range m {
			rel, _ := filepath.Rel(l.Root, m[i])
			m[i] = "/" + rel
		}
	}
	sort.Strings(m)
	return m, nil
}
