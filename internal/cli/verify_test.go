package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/fleetverify"
	"github.com/rampart-sec/rampart/internal/host/sshhost/sshtest"
	"github.com/rampart-sec/rampart/internal/nixfacts"
	"github.com/rampart-sec/rampart/internal/testenv"
)

func TestVerifyExit(t *testing.T) {
	for _, tc := range []struct {
		s    check.Summary
		want int
	}{
		{check.Summary{Total: 3, Pass: 3}, ExitOK},
		{check.Summary{Total: 3, Pass: 1, Warn: 1, Skip: 1}, ExitOK},
		{check.Summary{Total: 3, Pass: 2, Fail: 1}, ExitProblem},
		{check.Summary{Total: 3, Fail: 1, Unknown: 2}, ExitProblem},
		{check.Summary{Total: 3, Pass: 2, Unknown: 1}, ExitUsage},
		{check.Summary{Total: 2, Skip: 2}, ExitUsage},
		{check.Summary{}, ExitUsage},
	} {
		if got := verifyExit(tc.s); got != tc.want {
			t.Errorf("verifyExit(%+v) = %d, want %d", tc.s, got, tc.want)
		}
	}
}

// TestVerifyExitCodes runs the command for the documented exit codes.
func TestVerifyExitCodes(t *testing.T) {
	dir := t.TempDir()
	nossh := filepath.Join(dir, "nossh.toml")
	if err := os.WriteFile(nossh, []byte("[ssh]\nenabled = false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Run(&Env{Stdout: &out, Stderr: &errb}, append([]string{"verify"}, args...))
		return code, out.String(), errb.String()
	}
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"--only", "sssh"}, ExitUsage, `no check or area named "sssh"`},
		{[]string{"--format", "yaml"}, ExitUsage, "unknown --format"},
		{[]string{"-p", nossh, "--only", "ssh"}, ExitUsage, "nothing was evaluated"},
		{[]string{"--list"}, ExitOK, ""},
	} {
		code, _, stderr := run(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("verify %v: exit %d, stderr %q; want %d with %q", tc.args, code, stderr, tc.code, tc.stderr)
		}
	}
	// A check that fails for sure: chronyd asked where nothing listens.
	testenv.RequireRoot(t)
	testenv.RequireCommands(t, "chronyc")
	code, out, _ := run("--only", "time.chrony-running", "--chrony-socket", filepath.Join(dir, "none.sock"), "--format", "json")
	if code != ExitProblem || !strings.Contains(out, `"status": "fail"`) {
		t.Errorf("failing check: exit %d, output %s", code, out)
	}
}

// TestVerifyHelpRelease: the help names the real default release, from
// the release list (not an example that goes stale).
func TestVerifyHelpRelease(t *testing.T) {
	var out bytes.Buffer
	if code := Run(&Env{Stdout: &out, Stderr: &out}, []string{"help", "verify"}); code != ExitOK {
		t.Fatalf("help verify: exit %d\n%s", code, out.String())
	}
	want := "(default: " + nixfacts.Newest().String() + ", the same as rampart nix)"
	if !strings.Contains(out.String(), want) || strings.Contains(out.String(), "e.g.") || strings.Contains(out.String(), "{{") {
		t.Errorf("help verify does not say %q:\n%s", want, out.String())
	}
	for _, r := range nixfacts.Releases() {
		if !strings.Contains(out.String(), r.String()) {
			t.Errorf("help verify does not name release %s", r)
		}
	}
}

// --ssh-config reaches ssh's client configuration on both paths: one
// --host (dialled alone) and several (the fleet run), and a setting
// rampart cannot honour stops the run before any connection.
func TestVerifySSHConfig(t *testing.T) {
	testenv.RequireCommands(t, "ssh")
	cfg := filepath.Join(t.TempDir(), "ssh_config")
	if err := os.WriteFile(cfg, []byte("Host legacy\n  ProxyCommand nc %h %p\nHost web1\n  HostName 192.0.2.10\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--ssh-config", "-F", cfg, "--host", "legacy"},
		{"-F", cfg, "--host", "web1", "--host", "legacy"}, // -F implies --ssh-config
	} {
		var out, errb bytes.Buffer
		code := Run(&Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}, append([]string{"verify", "--only", "ssh"}, args...))
		if code != ExitUsage || !strings.Contains(errb.String(), "--ssh-config: legacy: ssh -G -F "+cfg+" -- legacy: line ") ||
			!strings.Contains(errb.String(), "ProxyCommand is not supported") {
			t.Errorf("verify %v: exit %d, stderr %q", args, code, errb.String())
		}
	}
}

// TestVerifyJump: -J puts every --host behind the jump hosts it lists, on
// the one-host path and the fleet path; a jump host that refuses the
// connection makes the host unverified, naming the jump host.
func TestVerifyJump(t *testing.T) {
	dir := t.TempDir()
	key, kh := filepath.Join(dir, "id"), filepath.Join(dir, "known_hosts")
	sshtest.NewKey(t, key)
	if err := os.WriteFile(kh, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Run(&Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }},
			append([]string{"verify", "--only", "sysctl.ip-forward", "-i", key, "--known-hosts", kh}, args...))
		return code, out.String(), errb.String()
	}
	// Nothing listens on loopback port 1: the jump host refuses at once.
	refused := "jump host 127.0.0.1: ssh root@127.0.0.1:1: connect: "
	for _, tc := range []struct {
		args       []string
		code       int
		stdout     string
		stderr     string
		fleetError string
	}{
		{args: []string{"-J", "root@127.0.0.1:1"}, code: ExitUsage, stderr: "-J reaches the hosts of --host through jump hosts; give --host"},
		{args: []string{"-J", "root@127.0.0.1:1,", "--host", "root@192.0.2.1"}, code: ExitUsage, stderr: `-J: jump host 2 of "root@127.0.0.1:1," is empty`},
		{args: []string{"-J", "root@127.0.0.1:1", "--host", "root@192.0.2.1"}, code: ExitUsage, stderr: "rampart verify: " + refused},
		{args: []string{"-J", "root@127.0.0.1:1", "--host", "root@192.0.2.1", "--host", "root@192.0.2.3", "--format", "json"},
			code: ExitUsage, fleetError: refused},
	} {
		code, out, errs := run(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.stderr) {
			t.Errorf("verify %v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errs, tc.code, tc.stderr)
		}
		if tc.fleetError == "" {
			continue
		}
		f, err := fleetverify.Read(strings.NewReader(out))
		if err != nil {
			t.Fatalf("verify %v: %v\n%s", tc.args, err, out)
		}
		if len(f.Hosts) != 2 {
			t.Fatalf("verify %v: %d hosts, want 2", tc.args, len(f.Hosts))
		}
		for _, h := range f.Hosts {
			if !strings.HasPrefix(h.Error, tc.fleetError) {
				t.Errorf("verify %v: %s: error %q, want it to start %q", tc.args, h.Target.Name, h.Error, tc.fleetError)
			}
		}
	}
}
