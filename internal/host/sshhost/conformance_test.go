package sshhost

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-sec/rampart/internal/host/hostconformance"
)

// The SSH host behaves as the local one and the fixture do.
func TestConformanceSSH(t *testing.T) {
	hostconformance.Run(t, hostconformance.Default(), func(t *testing.T, w hostconformance.World) hostconformance.Subject {
		l := newLab(t)
		h, err := Dial(context.Background(), "root@127.0.0.1", l.opts())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		dir := t.TempDir()
		for name, content := range w.Files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return hostconformance.Subject{Host: h, Base: dir}
	})
}
