package host_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/host/hostconformance"
	"github.com/rampart-sec/rampart/internal/host/hosttest"
)

// WriteWorld writes w's files under a new temporary directory.
func writeWorld(t *testing.T, w hostconformance.World) string {
	t.Helper()
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
	return dir
}

func TestConformanceLocal(t *testing.T) {
	hostconformance.Run(t, hostconformance.Default(), func(t *testing.T, w hostconformance.World) hostconformance.Subject {
		return hostconformance.Subject{Host: &host.Local{}, Base: writeWorld(t, w)}
	})
}

// Local with Root answers for paths below Root as if they were at /.
func TestConformanceLocalRoot(t *testing.T) {
	hostconformance.Run(t, hostconformance.Default(), func(t *testing.T, w hostconformance.World) hostconformance.Subject {
		return hostconformance.Subject{Host: &host.Local{Root: writeWorld(t, w)}, Base: "/"}
	})
}

func TestConformanceFixture(t *testing.T) {
	hostconformance.Run(t, hostconformance.Default(), func(t *testing.T, w hostconformance.World) hostconformance.Subject {
		f := hosttest.New(t)
		for name, content := range w.Files {
			f.SetFile("/fx/"+name, content)
		}
		for _, c := range w.Cmds {
			f.SetCmd(c.Cmd, c.Stdout, c.Exit)
			f.Cmds[host.Cmd{Name: c.Cmd.Name, Args: c.Cmd.Args}.String()].Stderr = []byte(c.Stderr)
		}
		f.Missing[w.Missing] = true
		return hostconformance.Subject{Host: f, Base: "/fx"}
	})
}
