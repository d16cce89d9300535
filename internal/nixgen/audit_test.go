package nixgen

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/nixfacts"
	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// TestAuditWatchService runs the script of the 25.11+ rampart-audit-watches
// unit (issue 9 point 20, nixpkgs issue #513202) against the real kernel
// audit subsystem, with watches on a temporary directory under a key of
// its own (removed afterwards): a rules file whose control line fails
// loads none of its watches with auditctl -R, as audit-rules-nixos does on
// kernels >= 6.19; the unit then loads every watch, is a no-op when they
// are loaded, and fails naming a watch that cannot be loaded.
func TestAuditWatchService(t *testing.T) {
	testenv.RequireRoot(t)
	cmds := testenv.RequireCommands(t, "auditctl", "bash")
	auditctl, bash := cmds[0], cmds[1]
	testenv.LockKernelAudit(t)
	dir := t.TempDir()
	key := testenv.UniqueName("rampart-test")
	p := policy.MustDefault("")
	p.Audit.Watches = []policy.Watch{
		{Path: filepath.Join(dir, "passwd"), Perms: "wa", Key: key},
		{Path: filepath.Join(dir, "sub"), Perms: "wa", Key: key},
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	t.Cleanup(func() {
		for _, w := range p.Audit.Watches {
			exec.Command(auditctl, "-W", w.Path, "-p", w.Perms, "-k", key).Run()
		}
	})
	listed := func() string {
		out, _ := exec.Command(auditctl, "-l", "-k", key).CombinedOutput()
		return string(out)
	}

	// auditctl -R stops at the first line that fails: no watch loads.
	rules := filepath.Join(dir, "audit.rules")
	var rl []string
	rl = append(rl, "-b not-a-number")
	for _, w := range p.Audit.Watches {
		rl = append(rl, "-w "+w.Path+" -p "+w.Perms+" -k "+w.Key)
	}
	os.WriteFile(rules, []byte(strings.Join(rl, "\n")+"\n"), 0o600)
	if out, err := exec.Command(auditctl, "-R", rules).CombinedOutput(); err == nil {
		t.Fatalf("auditctl -R accepted a bad first line: %s", out)
	}
	if l := listed(); strings.Contains(l, dir) {
		t.Fatalf("auditctl -R loaded watches after the failing line:\n%s", l)
	}

	script := watchScript(t, p)
	run := func() (string, error) {
		// NixOS runs a unit's script with bash -e.
		out, err := exec.Command(bash, "-e", "-c", script).CombinedOutput()
		return string(out), err
	}
	out, err := run()
	if err != nil {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	l := listed()
	for _, w := range p.Audit.Watches {
		if !strings.Contains(l, "-w "+w.Path) && !strings.Contains(l, "dir="+w.Path) {
			t.Errorf("watch %s not loaded; auditctl -l:\n%s\nscript output:\n%s", w.Path, l, out)
		}
	}
	if out, err := run(); err != nil || !strings.Contains(out, "already loaded") {
		t.Errorf("second run: %v\n%s", err, out)
	}

	// A watch that cannot be loaded fails the unit and is named.
	bad := *p
	bad.Audit.Watches = append(append([]policy.Watch{}, p.Audit.Watches...), policy.Watch{Path: filepath.Join(dir, "missing", "x"), Perms: "wa", Key: key})
	o, err := exec.Command(bash, "-e", "-c", watchScript(t, &bad)).CombinedOutput()
	if out = string(o); err == nil || !strings.Contains(out, filepath.Join(dir, "missing", "x")) {
		t.Errorf("a watch on a missing directory: %v\n%s", err, out)
	}
}

// watchScript is the script of the rampart-audit-watches unit in p's 25.11
// module.
func watchScript(t *testing.T, p *policy.Policy) string {
	t.Helper()
	expr, err := ModuleExpr(nixfacts.R2511, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range nixexpr.Flatten(expr) {
		if nixexpr.KeyPath(l.Path) == "systemd.services."+nixfacts.AuditWatchService+".script" {
			return strings.Join(l.Value.(nixexpr.Lines), "\n") + "\n"
		}
	}
	t.Fatalf("no %s script in the 25.11 module", nixfacts.AuditWatchService)
	return ""
}
