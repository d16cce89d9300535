// Package host is rampart's one seam to the machine it inspects or changes:
// every program run, file read and kernel query of the other packages goes
// through a Host. Local runs on this machine, the ssh sub-package runs on a
// remote one, and Fixture answers from captured real outputs so that every
// check, parser and planner is tested without touching a real host.
//
// Only this package (and tests) may import os/exec.
package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
)

// Cmd is a program to run, without a shell: arguments are passed as they
// are, never interpreted.
type Cmd struct {
	Name  string
	Args  []string
	Stdin []byte
	// Sudo asks for the command to run with privilege ("sudo -n") when the
	// host session is not root. Local root and fixtures ignore it.
	Sudo bool
}

// C is shorthand for Cmd{Name: name, Args: args}.
func C(name string, args ...string) Cmd { return Cmd{Name: name, Args: args} }

// String is the command line as a person would type it (for evidence).
func (c Cmd) String() string {
	parts := make([]string, 0, 1+len(c.Args))
	parts = append(parts, c.Name)
	for _, a := range c.Args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// Output is what a finished program produced. A non-zero exit status is
// not an error: callers decide what it means.
type Output struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

// Host runs programs and reads files on one machine.
type Host interface {
	// Name identifies the host in reports ("local", "admin@203.0.113.5").
	Name() string
	// Run runs a program to completion. err is non-nil only when the
	// program could not be run at all; ErrNotFound when it is not installed.
	Run(ctx context.Context, c Cmd) (*Output, error)
	// ReadFile reads a whole file (fs.ErrNotExist, fs.ErrPermission).
	ReadFile(ctx context.Context, path string) ([]byte, error)
	// Glob lists paths matching a shell pattern (path.Match syntax), sorted.
	Glob(ctx context.Context, pattern string) ([]string, error)
	// IsRoot reports whether the session runs with uid 0.
	IsRoot(ctx context.Context) bool
}

// Streamer is implemented by hosts that can run a long-lived program and
// hand its standard output over as it is written (journalctl -f).
type Streamer interface {
	// Stream starts c; the returned reader yields its stdout. Closing the
	// reader, or cancelling ctx, stops the program.
	Stream(ctx context.Context, c Cmd) (io.ReadCloser, error)
}

// UnixDialer is implemented by hosts whose unix sockets this process can
// connect to itself (Local). A remote host has none: its daemons are asked
// through programs run there.
type UnixDialer interface {
	// DialUnix connects to the unix stream socket at path.
	DialUnix(ctx context.Context, path string) (net.Conn, error)
}

// Opener is implemented by hosts that can hand a file over as a stream,
// for files too large to read whole (audit.log).
type Opener interface {
	// Open opens a file for reading (fs.ErrNotExist, fs.ErrPermission).
	Open(ctx context.Context, path string) (io.ReadCloser, error)
}

// OpenFile streams a file from h: through Open where h has it, otherwise
// from ReadFile.
func OpenFile(ctx context.Context, h Host, path string) (io.ReadCloser, error) {
	if o, ok := h.(Opener); ok {
		return o.Open(ctx, path)
	}
	b, err := h.ReadFile(ctx, path)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// ErrNotFound reports that a program is not installed on the host.
var ErrNotFound = errors.New("program not found")

// NotFoundError names the missing program.
type NotFoundError struct{ Name string }

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s: %v", e.Name, ErrNotFound) }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// IsNotExist reports whether err means a file does not exist.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// RunOK runs c and returns stdout, turning a non-zero exit into an error
// that quotes the first line of stderr.
func RunOK(ctx context.Context, h Host, c Cmd) ([]byte, error) {
	out, err := h.Run(ctx, c)
	if err != nil {
		return nil, err
	}
	if out.ExitCode != 0 {
		msg := strings.TrimSpace(string(out.Stderr))
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if msg == "" {
			msg = "no error output"
		}
		return out.Stdout, fmt.Errorf("%s: exit status %d: %s", c.String(), out.ExitCode, msg)
	}
	return out.Stdout, nil
}

// FileResult is one file of ReadFiles: its bytes, or why it could not be
// read (fs.ErrNotExist, fs.ErrPermission, …).
type FileResult struct {
	Data []byte
	Err  error
}

// BatchReader is implemented by hosts that read many text files for the
// cost of one (a remote host, where each ReadFile starts a program).
type BatchReader interface {
	// ReadFiles reads every path; results are in the order of paths.
	ReadFiles(ctx context.Context, paths []string) ([]FileResult, error)
}

// ReadFiles reads text files from h, through BatchReader where h has it,
// otherwise one ReadFile each. A file whose last line has no newline reads
// as if it had one, on every host, so that callers see the same bytes
// whichever way the file was read; it is for files read as lines (config
// files, /proc text), not for exact bytes. The error is for the whole
// call (a cancelled context); each file's own error is in its result.
func ReadFiles(ctx context.Context, h Host, paths []string) ([]FileResult, error) {
	if br, ok := h.(BatchReader); ok {
		return br.ReadFiles(ctx, paths)
	}
	out := make([]FileResult, len(paths))
	for i, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := h.ReadFile(ctx, p)
		out[i] = FileResult{Data: TextLines(b), Err: err}
	}
	return out, nil
}

// TextLines returns b with a final newline when it is not empty and does
// not end in one.
func TextLines(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return append(b[:len(b):len(b)], '\n')
	}
	return b
}

// BatchGlobber is implemented by hosts that expand many glob patterns for
// the cost of one (a remote host, where each Glob is a round trip).
type BatchGlobber interface {
	// GlobAll expands every pattern; results are in the order of
	// patterns, each as Glob returns it.
	GlobAll(ctx context.Context, patterns []string) ([][]string, error)
}

// NamedFile is one match of ReadGlobs: its path and what ReadFiles reads
// there.
type NamedFile struct {
	Path string
	FileResult
}

// GlobReader is implemented by hosts that expand glob patterns and read
// every match for the cost of one step (a remote host, where the listing
// and the reading are otherwise two round trips).
type GlobReader interface {
	// ReadGlobs expands every pattern and reads each match as ReadFiles
	// does; result i holds the matches of patterns[i], sorted by path.
	// A match that is gone by the time it is read has fs.ErrNotExist.
	ReadGlobs(ctx context.Context, patterns []string) ([][]NamedFile, error)
}

// ReadGlobs expands patterns on h and reads what they match: through
// GlobReader where h has it, otherwise GlobAll then one ReadFiles.
func ReadGlobs(ctx context.Context, h Host, patterns []string) ([][]NamedFile, error) {
	if gr, ok := h.(GlobReader); ok {
		return gr.ReadGlobs(ctx, patterns)
	}
	return ReadGlobsApart(ctx, h, patterns)
}

// ReadGlobsApart is ReadGlobs in two steps, GlobAll then ReadFiles, for
// hosts (and patterns) a GlobReader does not take in one.
func ReadGlobsApart(ctx context.Context, h Host, patterns []string) ([][]NamedFile, error) {
	matches, err := GlobAll(ctx, h, patterns)
	if err != nil {
		return nil, err
	}
	var all []string
	for _, ms := range matches {
		all = append(all, ms...)
	}
	rs, err := ReadFiles(ctx, h, all)
	if err != nil {
		return nil, err
	}
	out := make([][]NamedFile, len(patterns))
	for i, ms := range matches {
		out[i] = make([]NamedFile, len(ms))
		for k, m := range ms {
			out[i][k] = NamedFile{Path: m, FileResult: rs[0]}
			rs = rs[1:]
		}
	}
	return out, nil
}

// GlobAll expands patterns on h, through BatchGlobber where h has it,
// otherwise one Glob each.
func GlobAll(ctx context.Context, h Host, patterns []string) ([][]string, error) {
	if bg, ok := h.(BatchGlobber); ok {
		return bg.GlobAll(ctx, patterns)
	}
	out := make([][]string, len(patterns))
	for i, p := range patterns {
		ms, err := h.Glob(ctx, p)
		if err != nil {
			return nil, err
		}
		out[i] = ms
	}
	return out, nil
}
