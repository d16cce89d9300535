package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadPolicy(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.toml", "[ssh]\nports = [2222]\n")
	bad := write("bad.toml", "[ssh]\nports = [0]\nx = 1\n")
	many := write("many.toml", "[ban]\nignore = ["+strings.Repeat(`"x", `, 150)+"]\n")
	tests := []struct {
		name, path, profile string
		wantCode            int
		wantStderr          []string // lines, in order; "" = no output
	}{
		{"default", "", "", ExitOK, nil},
		{"default tailnet", "", "tailnet", ExitOK, nil},
		{"good", good, "", ExitOK, nil},
		{"bad", bad, "", ExitProblem, []string{
			bad + ":2:10: ssh.ports[0]: port 0 is out of range (1 to 65535)",
			bad + ":3:1: ssh.x: unknown key (expected one of enabled, ports, password_authentication, kbd_interactive_authentication, permit_root_login, max_auth_tries, client_alive_interval, client_alive_count_max, allow_tcp_forwarding, x11_forwarding, tailnet_only)",
			"rampart: " + bad + ": invalid policy (2 problems)",
		}},
		{"missing", filepath.Join(dir, "nope.toml"), "", ExitUsage, []string{
			"rampart: read policy: open " + filepath.Join(dir, "nope.toml") + ": no such file or directory",
		}},
		{"bad profile", "", "paranoid", ExitUsage, []string{`rampart: unknown profile "paranoid" (expected "baseline" or "tailnet")`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			p, code := LoadPolicy(&Env{Stderr: &stderr}, tt.path, tt.profile)
			if code != tt.wantCode || (p == nil) != (code != ExitOK) {
				t.Fatalf("code %d, policy %v; want code %d", code, p != nil, tt.wantCode)
			}
			if got, want := strings.TrimSuffix(stderr.String(), "\n"), strings.Join(tt.wantStderr, "\n"); got != want {
				t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	// Thousands of problems: the first maxPrinted, then a count.
	var stderr bytes.Buffer
	if _, code := LoadPolicy(&Env{Stderr: &stderr}, many, ""); code != ExitProblem {
		t.Fatalf("code %d", code)
	}
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	if len(lines) != maxPrinted+2 || lines[maxPrinted] != many+": ... and 50 more" || lines[maxPrinted+1] != "rampart: "+many+": invalid policy (150 problems)" {
		t.Errorf("got %d lines, tail %q", len(lines), lines[len(lines)-2:])
	}
}

func TestPolicyFlags(t *testing.T) {
	for _, args := range [][]string{{"-p", "f.toml"}, {"--policy", "f.toml"}, {"-policy=f.toml"}} {
		fs := NewFlags("x")
		pf := AddPolicyFlags(fs)
		if err := fs.Parse(append(args, "--profile", "tailnet")); err != nil {
			t.Fatal(err)
		}
		if pf.Path != "f.toml" || pf.Profile != "tailnet" {
			t.Errorf("%q: got %+v", args, *pf)
		}
	}
}
