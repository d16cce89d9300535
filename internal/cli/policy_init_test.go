package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/policy"
)

// TestPolicyInitUnderSudo: the invoking user's ~/.ssh/authorized_keys
// becomes the admin's keys, and stderr says so. The user database is the
// one seam (HomeDir): creating a real account would change this machine.
func TestPolicyInitUnderSudo(t *testing.T) {
	home := t.TempDir()
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIISk67cw4UWCfYeCwf3D5oiaiZD2XpotVxpvqdH9jTvB bob@laptop"
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(home, ".ssh", "authorized_keys")
	if err := os.WriteFile(keys, []byte("# mine\n"+key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	homes := map[string]string{"bob": home, "carol": filepath.Join(home, "nonexistent")}
	run := func(sudoUser string, args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		env := &Env{Stdout: &stdout, Stderr: &stderr, Stdin: strings.NewReader(""),
			Getenv: func(k string) string {
				if k == "SUDO_USER" {
					return sudoUser
				}
				return ""
			},
			HomeDir: func(u string) (string, error) {
				if h, ok := homes[u]; ok {
					return h, nil
				}
				return "", errors.New("unknown user " + u)
			}}
		code := Run(env, append([]string{"policy", "init"}, args...))
		return code, stdout.String(), stderr.String()
	}
	check := func(src string) *policy.Policy {
		t.Helper()
		p, err := policy.ParseOptions("init.toml", []byte(src), policy.Options{Strict: true})
		if err != nil {
			t.Fatalf("policy check refuses the output: %v", err)
		}
		return p
	}

	code, out, errOut := run("bob")
	if code != ExitOK || errOut != "rampart policy init: under sudo: admin bob gets the keys of "+keys+" (SUDO_USER bob); use --admin/--key for others\n" {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	if p := check(out); len(p.Admin.Users) != 1 || p.Admin.Users[0].Name != "bob" || p.Admin.Users[0].AuthorizedKeys[0] != key {
		t.Errorf("admin users %+v", p.Admin.Users)
	}
	// --admin names someone else: bob's keys log in as alice (said so).
	code, out, errOut = run("bob", "--admin", "alice")
	if p := check(out); code != ExitOK || p.Admin.Users[0].Name != "alice" || !strings.Contains(errOut, "admin alice gets the keys of "+keys) {
		t.Errorf("code %d, users %+v, stderr %q", code, p.Admin.Users, errOut)
	}
	// --key wins over the sudo default, and nothing is said about it.
	other := filepath.Join(t.TempDir(), "other.pub")
	if err := os.WriteFile(other, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINTHgWLSnHH0esUyX49C/6aDot69QW/Of8bllP6gQLks other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run("bob", "--key", other)
	if p := check(out); code != ExitOK || errOut != "" || p.Admin.Users[0].Name != "bob" || !strings.HasSuffix(p.Admin.Users[0].AuthorizedKeys[0], " other") {
		t.Errorf("code %d, users %+v, stderr %q", code, p.Admin.Users, errOut)
	}
	// A sudo user without the file: the plain template; with --admin, an error.
	if code, out, _ = run("carol"); code != ExitOK || !strings.Contains(out, "\n# [[admin.users]]\n") {
		t.Errorf("carol: code %d\n%s", code, out)
	}
	if code, _, errOut = run("carol", "--admin", "carol"); code != ExitUsage || !strings.Contains(errOut, "--admin carol needs --key FILE") {
		t.Errorf("carol --admin: code %d, stderr %q", code, errOut)
	}
}
