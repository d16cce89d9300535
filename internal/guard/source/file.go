package source

import (
	"bytes"
	"context"
	"errors"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// File follows one log file the way `tail -F` would, without losing or
// repeating a line across rotation:
//
//   - rename+create and delete+recreate: when the path names a new inode,
//     the old file is read to its end (its last partial line counts as a
//     line, the writer has moved on), then the new one from its start;
//   - copytruncate: when the file shrinks below the read offset, the
//     rotated copy (a sibling whose first line hashes the same) is read
//     from the offset to its end, then the truncated file from its start;
//   - a restart resumes from the saved (device, inode, offset, first-line
//     hash); if the file was rotated meanwhile, the rotated sibling with
//     that inode is drained first.
//
// A partial last line is held back until its newline arrives.
type File struct {
	Path string
	// Poll is how often the file is checked for growth and rotation
	// (250ms when 0). Changes in the file's directory also wake the
	// tailer at once through inotify.
	Poll time.Duration
	// FromStart reads a file that exists at the first start (no saved
	// cursor) from its beginning instead of its end.
	FromStart bool
	// MaxLine cuts longer lines (DefaultMaxLine when 0).
	MaxLine int
	Log     *slog.Logger

	// started, when set, is called once the first open was attempted
	// (tests use it to know where "the end" was).
	started func()
}

var _ Source = (*File)(nil)

func init() {
	Register(&Kind{
		Name: "file",
		Help: "paths below",
		Check: func(c Config) []Problem {
			if len(c.Paths) == 0 {
				return []Problem{{"source", `source "file" needs at least one entry in paths`}}
			}
			return nil
		},
		Keys: func(c Config) []string {
			out := make([]string, len(c.Paths))
			for i, p := range c.Paths {
				out[i] = (&File{Path: p}).Key()
			}
			return out
		},
		// One tailer per distinct path.
		New: func(cs []Config, env Env) ([]Source, error) {
			var out []Source
			seen := map[string]bool{}
			for _, c := range cs {
				for _, p := range c.Paths {
					if !seen[p] {
						seen[p] = true
						f := &File{Path: p, Poll: env.Poll, FromStart: env.FromStart}
						f.Log = logger(env).With("source", f.Key())
						out = append(out, f)
					}
				}
			}
			return out, nil
		},
	})
}

// Key implements Source.
func (f *File) Key() string { return "file:" + f.Path }

// tail is one open file being read.
type tail struct {
	f       *os.File
	cur     Cursor // Off: just after the last complete line
	readOff int64  // bytes consumed, partial line included
	partial []byte
	cut     bool // the partial line hit MaxLine; the rest is dropped
}

func ident(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino
	}
	return 0, 0
}

// firstLineHash hashes the first line of f (0 while it has none).
func firstLineHash(f *os.File) uint64 {
	buf := make([]byte, 4096)
	n, _ := f.ReadAt(buf, 0)
	i := bytes.IndexByte(buf[:n], '\n')
	if i < 0 {
		if n < len(buf) {
			return 0
		}
		i = n
	}
	h := fnv.New64a()
	h.Write(buf[:i])
	return h.Sum64() | 1 // never 0, which means "unknown"
}

func (f *File) open(path string, at int64) (*tail, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	dev, ino := ident(fi)
	if at < 0 || at > fi.Size() {
		at = fi.Size()
	}
	if _, err := fh.Seek(at, io.SeekStart); err != nil {
		fh.Close()
		return nil, err
	}
	return &tail{f: fh, cur: Cursor{Dev: dev, Ino: ino, Off: at, Hash: firstLineHash(fh)}, readOff: at}, nil
}

// Run implements Source.
func (f *File) Run(ctx context.Context, c Cursor, out chan<- Record) error {
	log := f.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	poll := f.Poll
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	var t *tail
	defer func() {
		if t != nil {
			t.f.Close()
		}
	}()
	w := newWake(f.Path)
	defer w.Close()
	first := true
	for {
		if t == nil {
			nt, err := f.start(ctx, c, first, out, log)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if !errors.Is(err, fs.ErrNotExist) {
					return errf(f.Key(), "%w", err)
				}
			}
			t = nt
			if first && f.started != nil {
				f.started()
			}
			first = false
		}
		if t != nil {
			nt, err := f.step(ctx, t, out, log)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return errf(f.Key(), "%w", err)
			}
			if nt != t {
				t = nt
				continue // read the new file at once
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.wakeC():
		case <-time.After(poll):
		}
	}
}

// start opens the file at the first start or after it was missing.
func (f *File) start(ctx context.Context, c Cursor, first bool, out chan<- Record, log *slog.Logger) (*tail, error) {
	fi, err := os.Stat(f.Path)
	if err != nil {
		return nil, err
	}
	dev, ino := ident(fi)
	switch {
	case !first:
		// The file appeared after we started: all of it is new.
		return f.open(f.Path, 0)
	case c.IsZero():
		at := int64(-1) // the end
		if f.FromStart {
			at = 0
		}
		return f.open(f.Path, at)
	case c.Dev == dev && c.Ino == ino:
		t, err := f.open(f.Path, c.Off)
		if err != nil {
			return nil, err
		}
		if fi.Size() < c.Off || c.Hash != 0 && t.cur.Hash != c.Hash {
			log.Warn("file shrank or was rewritten while stopped; reading it from the start", "path", f.Path)
			t.f.Close()
			return f.open(f.Path, 0)
		}
		return t, nil
	}
	// Rotated while we were stopped: finish the old file first.
	if old := f.findRotated(c, -1); old != "" {
		if ot, err := f.open(old, c.Off); err == nil {
			log.Info("draining the file rotated while stopped", "path", old)
			err = f.drain(ctx, ot, out, true)
			ot.f.Close()
			if err != nil {
				return nil, err
			}
		}
	} else {
		log.Warn("file was replaced while stopped and its old copy is gone; lines written after the saved position may be missed", "path", f.Path)
	}
	return f.open(f.Path, 0)
}

// findRotated looks next to Path for the file c was in: the same inode,
// or (copytruncate, when ino is -1 not required) the same first-line hash
// with at least c.Off bytes.
func (f *File) findRotated(c Cursor, skipIno int64) string {
	matches, _ := filepath.Glob(f.Path + "*")
	for _, m := range matches {
		if m == f.Path {
			continue
		}
		fi, err := os.Stat(m)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		dev, ino := ident(fi)
		if dev == c.Dev && ino == c.Ino && fi.Size() >= c.Off {
			return m
		}
		if c.Hash != 0 && int64(ino) != skipIno && fi.Size() >= c.Off {
			fh, err := os.Open(m)
			if err != nil {
				continue
			}
			h := firstLineHash(fh)
			fh.Close()
			if h == c.Hash {
				return m
			}
		}
	}
	return ""
}

// step is one poll of t: a same-inode truncation is handled first (so no
// byte of the rewritten file is read at the old offset), then t is read to
// its end, then a new file at the path takes over once the old one is
// drained. It returns t, or the tail to continue with (nil: none yet).
func (f *File) step(ctx context.Context, t *tail, out chan<- Record, log *slog.Logger) (*tail, error) {
	st, err := t.f.Stat()
	if err != nil {
		return nil, err
	}
	truncated := st.Size() < t.readOff || t.cur.Hash != 0 && firstLineHash(t.f) != t.cur.Hash
	if !truncated {
		err := f.drain(ctx, t, out, false)
		if err != nil && !errors.Is(err, errTruncated) {
			return nil, err
		}
		truncated = err != nil
	}
	if truncated {
		// copytruncate (the file shrank, or was truncated and has grown
		// past our offset again with a different first line): the lines
		// between our offset and the copy are in the rotated copy.
		c := t.cur
		_, ino := ident(st)
		if old := f.findRotated(c, int64(ino)); old != "" {
			if ot, err := f.open(old, c.Off); err == nil {
				err = f.drain(ctx, ot, out, true)
				ot.f.Close()
				if err != nil && !errors.Is(err, errTruncated) {
					return nil, err
				}
			}
		} else {
			log.Warn("log file truncated and no rotated copy found; lines written just before the truncation may be missed", "path", f.Path)
		}
		log.Info("log file truncated; reading it from the start", "path", f.Path)
		t.f.Close()
		nt, err := f.open(f.Path, 0)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nt, err
	}
	fi, err := os.Stat(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil // renamed or deleted; wait for the new file
	}
	if err != nil {
		return nil, err
	}
	dev, ino := ident(fi)
	if dev == t.cur.Dev && ino == t.cur.Ino {
		return t, nil
	}
	// rename+create or delete+recreate: finish the old file.
	if err := f.drain(ctx, t, out, true); err != nil && !errors.Is(err, errTruncated) {
		return nil, err
	}
	t.f.Close()
	log.Info("log file rotated; following the new file", "path", f.Path)
	nt, err := f.open(f.Path, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return nt, err
}

// errTruncated reports that the file was truncated and rewritten while
// drain read it; nothing of that read was sent.
var errTruncated = errors.New("log file truncated while reading")

// drain reads t to its current end and sends every complete line. With
// final, a last line without newline is sent too (the file is done).
func (f *File) drain(ctx context.Context, t *tail, out chan<- Record, final bool) error {
	max := f.MaxLine
	if max <= 0 {
		max = DefaultMaxLine
	}
	buf := make([]byte, 64<<10)
	key := f.Key()
	emit := func(line []byte, end int64) error {
		t.cur.Off = end
		if t.cur.Hash == 0 {
			t.cur.Hash = firstLineHash(t.f)
		}
		return send(ctx, out, Record{Text: string(bytes.TrimSuffix(line, []byte{'\r'})), Source: key, Cursor: t.cur})
	}
	for {
		n, err := t.f.Read(buf)
		if n > 0 && t.cur.Hash != 0 && firstLineHash(t.f) != t.cur.Hash {
			// copytruncate between step's check and this read: these
			// bytes may be the new file's, read at the old offset. Drop
			// them; step reads the rest from the rotated copy.
			return errTruncated
		}
		data := buf[:n]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				t.appendPartial(data, max)
				t.readOff += int64(len(data))
				break
			}
			t.appendPartial(data[:i], max)
			t.readOff += int64(i + 1)
			line := t.partial
			t.partial, t.cut = t.partial[:0], false
			if err := emit(line, t.readOff); err != nil {
				return err
			}
			data = data[i+1:]
		}
		if err == io.EOF || n == 0 {
			if final && len(t.partial) > 0 {
				line := t.partial
				t.partial, t.cut = nil, false
				return emit(line, t.readOff)
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (t *tail) appendPartial(b []byte, max int) {
	if t.cut {
		return
	}
	if room := max - len(t.partial); len(b) > room {
		b, t.cut = b[:room], true
	}
	t.partial = append(t.partial, b...)
}
