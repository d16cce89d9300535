package verify_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/cli"
	"github.com/rampart-sec/rampart/internal/guard/control"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/testenv"
	"github.com/rampart-sec/rampart/internal/verify"
)

// TestLocalGuardViaControlSocket: verify on this machine finds a running
// `rampart guard run` through its control socket, with no `rampart` on
// PATH (the README's `./rampart verify`). The daemon is the real one
// (dry-run backend, journal source), started in this process.
func TestLocalGuardViaControlSocket(t *testing.T) {
	testenv.RequireCommands(t, "journalctl")
	// No rampart on PATH: keep only the directories without one.
	var dirs []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(d, "rampart")); err != nil {
			dirs = append(dirs, d)
		}
	}
	t.Setenv("PATH", strings.Join(dirs, string(os.PathListSeparator)))
	if p, err := exec.LookPath("rampart"); err == nil {
		t.Fatalf("rampart still on PATH: %s", p)
	}

	dir := t.TempDir()
	sock := filepath.Join(dir, "guard.sock")
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cli.Run(&cli.Env{Ctx: ctx, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: os.Getenv},
			[]string{"guard", "run", "--dry-run", "--jail", "sshd", "--socket", sock, "--state-dir", filepath.Join(dir, "state")})
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if t.Failed() {
			t.Logf("guard run output:\n%s", out.String())
		}
	})
	// Readiness: the daemon answers on its socket (a start-up wait, not
	// an assertion on timing).
	for i := 0; ; i++ {
		if _, err := control.Call(sock, control.Request{Op: control.OpStatus}); err == nil {
			break
		} else if i == 200 {
			t.Fatalf("guard run did not answer on %s: %v", sock, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	p := policy.MustDefault("")
	p.Ban.Socket = sock
	cs, err := check.Select(check.All(), []string{"ban.daemon-running", "ban.actions", "ban.maxretry"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rs := verify.Run(context.Background(), check.NewEnv(&host.Local{}, p, ""), verify.Options{}, cs)
	got := map[string]check.Result{}
	for _, r := range rs {
		got[r.ID] = r
	}
	r := got["ban.daemon-running"]
	if r.Status != check.Pass || r.Message != "rampart guard answers on its socket" {
		t.Fatalf("ban.daemon-running: %s %q\nevidence: %+v", r.Status, r.Message, r.Evidence)
	}
	last := r.Evidence[len(r.Evidence)-1]
	if last.Source != "control socket "+sock+" (op status)" || !strings.Contains(last.Text, `"backend": "dry-run"`) {
		t.Errorf("evidence is not the control socket's answer: %+v", last)
	}
	if a := got["ban.actions"]; a.Status != check.Fail || !strings.Contains(a.Message, `the "dry-run" backend`) {
		t.Errorf("ban.actions: %s %q", a.Status, a.Message)
	}
	if m := got["ban.maxretry"]; m.Status == check.Fail {
		t.Errorf("ban.maxretry: %s %q", m.Status, m.Message)
	}
}
