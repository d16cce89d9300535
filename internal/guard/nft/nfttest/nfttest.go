// Package nfttest gives tests a throwaway network namespace to run the
// nftables backend in, so nothing touches the host's ruleset.
package nfttest

import (
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sec/rampart/internal/testenv"
)

// NewNetNS returns an open fd of a fresh, unnamed network namespace
// (closed at cleanup). The namespace is created on a locked OS thread that
// is never unlocked, so the runtime discards that thread and no goroutine
// is ever left running inside the namespace. Without root the test is
// skipped (failed under RAMPART_E2E=1).
func NewNetNS(t testing.TB) *os.File {
	t.Helper()
	testenv.RequireRoot(t)
	type res struct {
		f   *os.File
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- res{err: err}
			return
		}
		f, err := os.Open("/proc/thread-self/ns/net")
		ch <- res{f, err}
	}()
	r := <-ch
	if r.err != nil {
		testenv.Missing(t, "cannot create a network namespace: %v", r.err)
	}
	t.Cleanup(func() { r.f.Close() })
	return r.f
}
