package source

import (
	"bytes"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// wake turns inotify events on a file's directory into wake-ups of the
// tailer, so appended lines are read at once instead of at the next poll.
// The poll stays as the fallback (and catches what inotify cannot see,
// such as files on some network filesystems).
type wake struct {
	f  *os.File
	C  chan struct{}
	nm []byte
}

// newWake watches dir for events on names starting with base (the file
// and its rotated siblings). It returns nil when inotify is unavailable.
func newWake(path string) *wake {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil
	}
	mask := uint32(unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE | unix.IN_CLOSE_WRITE | unix.IN_ATTRIB)
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(path), mask); err != nil {
		unix.Close(fd)
		return nil
	}
	w := &wake{f: os.NewFile(uintptr(fd), "inotify"), C: make(chan struct{}, 1), nm: []byte(filepath.Base(path))}
	go w.run()
	return w
}

func (w *wake) run() {
	buf := make([]byte, 64<<10)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return // closed
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := buf[off+unix.SizeofInotifyEvent : min(n, off+unix.SizeofInotifyEvent+int(ev.Len))]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if ev.Len == 0 || bytes.HasPrefix(name, w.nm) || ev.Mask&unix.IN_Q_OVERFLOW != 0 {
				select {
				case w.C <- struct{}{}:
				default:
				}
			}
		}
	}
}

// Close stops watching.
func (w *wake) Close() {
	if w != nil {
		w.f.Close()
	}
}

// wakeC is w.C, or nil (blocks forever) without inotify.
func (w *wake) wakeC() <-chan struct{} {
	if w == nil {
		return nil
	}
	return w.C
}
