package host

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestStartDetached(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "child.log")
	l := &Local{}
	pid, err := l.StartDetached(C("sh", "-c", "echo started; cat /proc/self/stat"), log)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for i := 0; i < 200; i++ {
		out, _ = os.ReadFile(log)
		if strings.Count(string(out), "\n") >= 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || lines[0] != "started" {
		t.Fatalf("child output = %q", out)
	}
	// /proc/self/stat: pid (comm) state ppid pgrp session ...
	f := strings.Fields(lines[1][strings.LastIndexByte(lines[1], ')')+1:])
	if f[3] != strconv.Itoa(pid) {
		t.Errorf("child session = %s, want its own (%d): not detached", f[3], pid)
	}
	if sid, _ := unix.Getsid(0); strconv.Itoa(sid) == f[3] {
		t.Errorf("child shares the test's session %d", sid)
	}
	if _, err := l.StartDetached(C("no-such-program-rampart"), ""); err == nil {
		t.Error("missing program started")
	}
}
