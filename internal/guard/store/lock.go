package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// LockName is the lock file inside the state directory. The daemon holds
// it while it runs; `rampart guard unban` and `flush` take it to change
// the store and the kernel set when the daemon is down.
const LockName = "guard.lock"

// ErrLocked reports that another process (a running daemon) holds the
// state directory's lock.
var ErrLocked = errors.New("the state directory is locked by a running rampart guard")

// Lock is a held lock on a state directory.
type Lock struct {
	f *os.File
}

// TryLock takes the state directory's lock without waiting (flock, so a
// killed holder releases it). It returns an error wrapping ErrLocked when
// another process holds it.
func (s *Store) TryLock() (*Lock, error) {
	p := filepath.Join(s.dir, LockName)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", p, ErrLocked)
		}
		return nil, fmt.Errorf("state lock %s: %w", p, err)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
