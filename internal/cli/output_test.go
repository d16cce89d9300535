package cli

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// -o replaces a regular file in one rename and leaves no temporary file;
// through a symlink it replaces the file pointed to; a device or FIFO is
// written to, never renamed over (`-o /dev/null` as root once replaced
// /dev/null with a regular file).
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "report.json")
	if err := os.WriteFile(reg, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(reg, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(reg); string(b) != "new" {
		t.Errorf("regular file holds %q", b)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink("report.json", link); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(link, []byte("via link"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v %v", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(reg); string(b) != "via link" {
		t.Errorf("the link's target holds %q", b)
	}

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		b, _ := os.ReadFile(fifo)
		got <- string(b)
	}()
	if err := writeFileAtomic(fifo, []byte("through the fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "through the fifo" {
		t.Errorf("the FIFO's reader got %q", s)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v %v", fi.Mode(), err)
	}
	if os.Geteuid() == 0 {
		// A null device of our own, as /dev/null is.
		null := filepath.Join(dir, "null")
		if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
			t.Fatal(err)
		}
		if err := writeFileAtomic(null, []byte("discarded"), 0o644); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(null); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			t.Errorf("the device was replaced: %v %v", fi.Mode(), err)
		}
	}
	if err := writeFileAtomic(dir, []byte("x"), 0o644); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("a directory: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// A render that fails after writing part of its report leaves the old
// file as it was and no temporary file; in a FIFO (written only once the
// render finished) and on standard output it writes nothing at all. A
// report larger than the write buffer arrives whole.
func TestRenderFileAtomicFailure(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "fleet.json")
	if err := os.WriteFile(reg, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("render failed")
	half := func(w io.Writer) error {
		if _, err := w.Write(bytes.Repeat([]byte("x"), 200<<10)); err != nil {
			return err
		}
		return boom
	}
	if err := renderFileAtomic(reg, 0o644, half); !errors.Is(err, boom) {
		t.Errorf("regular file: err = %v, want %v", err, boom)
	}
	if b, _ := os.ReadFile(reg); string(b) != "old" {
		t.Errorf("a failed render changed the file: %d bytes", len(b))
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Nothing may open the FIFO for writing: a reader opened without
	// blocking would see a writer come and go.
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := renderFileAtomic(fifo, 0o644, half); !errors.Is(err, boom) {
		t.Errorf("fifo: err = %v, want %v", err, boom)
	}
	if n, _ := r.Read(make([]byte, 1)); n != 0 {
		t.Errorf("a failed render wrote %d byte(s) to the FIFO", n)
	}
	var stdout bytes.Buffer
	if err := writeOutput(&Env{Stdout: &stdout}, "", half); !errors.Is(err, boom) || stdout.Len() != 0 {
		t.Errorf("stdout: err = %v, %d bytes written", err, stdout.Len())
	}
	want := bytes.Repeat([]byte("0123456789abcdef"), 50<<10) // 800 KiB
	if err := renderFileAtomic(reg, 0o644, func(w io.Writer) error { _, err := w.Write(want); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(reg); !bytes.Equal(b, want) {
		t.Errorf("the file holds %d bytes, want %d", len(b), len(want))
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
