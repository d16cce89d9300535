package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// follower runs a File source in the background and collects its lines.
type follower struct {
	t      *testing.T
	ch     chan Record
	cancel context.CancelFunc
	done   chan error
	got    []Record
}

func follow(t *testing.T, f *File, c Cursor) *follower {
	t.Helper()
	if f.Poll == 0 {
		f.Poll = 2 * time.Millisecond
	}
	ready := make(chan struct{})
	f.started = func() { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { <-ready }()
	fl := &follower{t: t, ch: make(chan Record, 1000), cancel: cancel, done: make(chan error, 1)}
	go func() { fl.done <- f.Run(ctx, c, fl.ch) }()
	t.Cleanup(fl.stop)
	return fl
}

// want waits until n more records arrived (or fails after 5 s).
func (fl *follower) want(n int) []Record {
	fl.t.Helper()
	start := len(fl.got)
	deadline := time.After(5 * time.Second)
	for len(fl.got) < start+n {
		select {
		case r := <-fl.ch:
			fl.got = append(fl.got, r)
		case <-deadline:
			fl.t.Fatalf("got %d of %d records: %q", len(fl.got)-start, n, texts(fl.got[start:]))
		}
	}
	return fl.got[start:]
}

// quiet checks that nothing more arrives for a while.
func (fl *follower) quiet() {
	fl.t.Helper()
	select {
	case r := <-fl.ch:
		fl.t.Fatalf("unexpected record %q", r.Text)
	case <-time.After(50 * time.Millisecond):
	}
}

func (fl *follower) stop() {
	if fl.cancel != nil {
		fl.cancel()
		if err := <-fl.done; err != nil {
			fl.t.Errorf("Run: %v", err)
		}
		fl.cancel = nil
	}
}

func texts(rs []Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Text)
	}
	return out
}

func appendTo(t *testing.T, path string, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func lines(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s %d\n", prefix, i)
	}
	return b.String()
}

func wantLines(t *testing.T, got []Record, prefix string, from, to int) {
	t.Helper()
	want := strings.Split(strings.TrimSuffix(lines(prefix, from, to), "\n"), "\n")
	if strings.Join(texts(got), "|") != strings.Join(want, "|") {
		t.Fatalf("lines:\n%q\nwant:\n%q", texts(got), want)
	}
}

func TestFilePartialLinesAndStart(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "auth.log")
	appendTo(t, p, "old line\n")
	fl := follow(t, &File{Path: p}, Cursor{}) // default: from the end
	appendTo(t, p, "new li")
	fl.quiet() // a partial line is held back
	appendTo(t, p, "ne\r\nsecond\n")
	got := fl.want(2)
	if got[0].Text != "new line" || got[1].Text != "second" || got[0].Source != "file:"+p {
		t.Fatalf("got %q", texts(got))
	}
	if got[1].Cursor.Off != int64(len("old line\nnew line\r\nsecond\n")) {
		t.Errorf("cursor offset %d", got[1].Cursor.Off)
	}
}

func TestFileFromStartAndLongLine(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	appendTo(t, p, "first\n"+strings.Repeat("x", 100)+"\nafter\n")
	fl := follow(t, &File{Path: p, FromStart: true, MaxLine: 10}, Cursor{})
	got := fl.want(3)
	if got[0].Text != "first" || got[1].Text != strings.Repeat("x", 10) || got[2].Text != "after" {
		t.Fatalf("got %q", texts(got))
	}
}

func TestFileMissingThenCreated(t *testing.T) {
	p := filepath.Join(t.TempDir(), "later.log")
	fl := follow(t, &File{Path: p}, Cursor{})
	time.Sleep(10 * time.Millisecond)
	appendTo(t, p, lines("l", 0, 3))
	wantLines(t, fl.want(3), "l", 0, 3)
}

// TestFileRotation: rename+create, delete+recreate and copytruncate, each
// with lines written to the old file after the tailer's last read and just
// before the rotation: every line arrives exactly once, in order. (For
// copytruncate the lines come back from the rotated copy.)
func TestFileRotation(t *testing.T) {
	for _, mode := range []string{"rename", "delete", "copytruncate"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "auth.log")
			appendTo(t, p, "")
			fl := follow(t, &File{Path: p}, Cursor{})
			for round := range 20 {
				base := round * 10
				appendTo(t, p, lines("a", base, base+3))
				wantLines(t, fl.want(3), "a", base, base+3)
				// Lines written right before the rotation, not read yet.
				appendTo(t, p, lines("a", base+3, base+5)+"part")
				switch mode {
				case "rename":
					if err := os.Rename(p, p+".1"); err != nil {
						t.Fatal(err)
					}
					appendTo(t, p+".1", "ial\n") // the writer finishes its line in the old file
					appendTo(t, p, lines("a", base+6, base+10))
				case "delete":
					// Open first so the old inode survives the unlink as rotated
					// data does; the tailer holds its own fd.
					appendTo(t, p, "ial\n")
					if err := os.Remove(p); err != nil {
						t.Fatal(err)
					}
					appendTo(t, p, lines("a", base+6, base+10))
				case "copytruncate":
					appendTo(t, p, "ial\n")
					copyFile(t, p, p+".1")
					if err := os.Truncate(p, 0); err != nil {
						t.Fatal(err)
					}
					appendTo(t, p, lines("a", base+6, base+10))
				}
				got := fl.want(7)
				var want []string
				for i := base + 3; i < base+5; i++ {
					want = append(want, fmt.Sprintf("a %d", i))
				}
				want = append(want, "partial")
				for i := base + 6; i < base+10; i++ {
					want = append(want, fmt.Sprintf("a %d", i))
				}
				if strings.Join(texts(got), "|") != strings.Join(want, "|") {
					t.Fatalf("round %d:\n%q\nwant\n%q", round, texts(got), want)
				}
				os.Remove(p + ".1")
			}
			fl.quiet()
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.Close()
}

// TestFileResume: stop, write more, restart from the last cursor: nothing
// skipped, nothing repeated, also when the file was rotated meanwhile or
// rewritten under the same inode.
func TestFileResume(t *testing.T) {
	for _, mode := range []string{"same", "rotated", "rewritten", "truncated"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "auth.log")
			appendTo(t, p, lines("x", 0, 5))
			fl := follow(t, &File{Path: p, FromStart: true}, Cursor{})
			got := fl.want(5)
			fl.stop()
			c := got[4].Cursor
			switch mode {
			case "same":
				appendTo(t, p, lines("x", 5, 8))
			case "rotated":
				appendTo(t, p, lines("x", 5, 7))
				if err := os.Rename(p, p+".1"); err != nil {
					t.Fatal(err)
				}
				appendTo(t, p, lines("x", 7, 8))
			case "rewritten":
				// Same inode, different first line, longer than before.
				if err := os.WriteFile(p, []byte(lines("y", 0, 10)), 0o644); err != nil {
					t.Fatal(err)
				}
			case "truncated":
				if err := os.WriteFile(p, []byte(lines("x", 5, 8)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			fl2 := follow(t, &File{Path: p}, c)
			switch mode {
			case "rewritten":
				wantLines(t, fl2.want(10), "y", 0, 10)
			default:
				wantLines(t, fl2.want(3), "x", 5, 8)
			}
			fl2.quiet()
		})
	}
}

func TestReader(t *testing.T) {
	r := &Reader{R: strings.NewReader("one\r\n" + strings.Repeat("z", 40) + "\nthree"), MaxLine: 16}
	got := collect(t, r, Cursor{})
	if strings.Join(texts(got), "|") != "one|"+strings.Repeat("z", 16)+"|three" || got[0].Source != "stdin" {
		t.Fatalf("got %q", texts(got))
	}
}

// TestFileInotifyWake: with a poll of an hour, appended lines and a
// rotation still arrive at once, woken by inotify.
func TestFileInotifyWake(t *testing.T) {
	p := filepath.Join(t.TempDir(), "auth.log")
	appendTo(t, p, "")
	fl := follow(t, &File{Path: p, Poll: time.Hour}, Cursor{})
	appendTo(t, p, lines("w", 0, 2))
	wantLines(t, fl.want(2), "w", 0, 2)
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, p, lines("w", 2, 4))
	wantLines(t, fl.want(2), "w", 2, 4)
}

// TestCopytruncateBetweenCheckAndRead replays the race the follower can
// lose: step finds the file intact, then logrotate copies and truncates
// it and the writer adds enough to pass the old offset, then the read
// happens. drain must send nothing it read at the old offset; step then
// takes the unread lines from the rotated copy and the new file from its
// start: every line once, in order.
func TestCopytruncateBetweenCheckAndRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "auth.log")
	appendTo(t, p, lines("a", 0, 3))
	f := &File{Path: p}
	tl, err := f.open(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan Record, 100)
	ctx := context.Background()
	if err := f.drain(ctx, tl, out, false); err != nil {
		t.Fatal(err)
	}
	appendTo(t, p, lines("a", 3, 5))
	copyFile(t, p, p+".1")
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, p, lines("a", 6, 10))
	// The read that follows an intact check: nothing of it is sent.
	before := len(out)
	if err := f.drain(ctx, tl, out, false); !errors.Is(err, errTruncated) || len(out) != before {
		t.Fatalf("drain after the rewrite: err %v, %d records sent", err, len(out)-before)
	}
	nt, err := f.step(ctx, tl, out, slog.New(slog.DiscardHandler))
	if err != nil || nt == nil {
		t.Fatalf("step: %v", err)
	}
	if _, err := f.step(ctx, nt, out, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	close(out)
	var got []string
	for r := range out {
		got = append(got, r.Text)
	}
	want := strings.Split(strings.TrimSuffix(lines("a", 0, 5)+lines("a", 6, 10), "\n"), "\n")
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
