package sshhost

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/testenv"
)

var knownGlobal = []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"}

// Captured `ssh -G` output (testdata/README.md) gives the host's address,
// user, port, keys (~ expanded with the home given), known_hosts files
// and jump hosts; what rampart's client cannot do as ssh would is an error
// naming the line.
func TestParseClientConfig(t *testing.T) {
	for _, tc := range []struct {
		file string
		want *ClientConfig
		err  string
	}{
		{file: "ssh-G-web1.txt", want: &ClientConfig{HostName: "198.51.100.10", User: "admin", Port: 22,
			Identities: []string{"/etc/rampart/keys/web"}, KnownHosts: append([]string{"/etc/rampart/known_hosts"}, knownGlobal...),
			ProxyJump: "bastion"}},
		{file: "ssh-G-bastion.txt", want: &ClientConfig{HostName: "192.0.2.1", User: "jump", Port: 2222,
			Identities: []string{"/home/alice/.ssh/bastion_ed25519"}, KnownHosts: append([]string{"/root/.ssh/known_hosts", "/root/.ssh/known_hosts2"}, knownGlobal...)}},
		{file: "ssh-G-legacy.txt", err: `: proxycommand: "nc %h %p": a ProxyCommand is not supported (ProxyJump is)`},
	} {
		b, err := os.ReadFile("testdata/" + tc.file)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseClientConfig("ssh -G", b, "/home/alice")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "ssh -G: line ") {
				t.Errorf("%s: err = %v, want one naming its line and %q", tc.file, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.file, got, tc.want)
		}
	}
	for _, tc := range []struct{ out, err string }{
		{"user root\nport 22\n", "no hostname line"},
		{"hostname a/b\n", `line 1: hostname: "a/b" is not a host name`},
		{"hostname h\nuser -oProxyCommand=x\n", `line 2: user: "-oProxyCommand=x" is not a user name`},
		{"hostname h\nport 70000\n", `line 2: port: "70000" is not a port`},
		{"hostname h\nhostkeyalias other\n", "HostKeyAlias is not supported"},
		{"hostname h\x1b[2J\n", `line 1: hostname: "h\\x1b[2J" is not a host name`},
	} {
		if _, err := ParseClientConfig("ssh -G", []byte(tc.out), ""); err == nil || !strings.Contains(err.Error(), tc.err) || strings.ContainsRune(err.Error(), 0x1b) {
			t.Errorf("%q: err = %v, want %q", tc.out, err, tc.err)
		}
	}
	// No home: ~ stays, as ssh leaves it for its own expansion.
	c, err := ParseClientConfig("ssh -G", []byte("hostname h\nidentityfile ~/.ssh/k\nproxyjump none\n"), "")
	if err != nil || c.Identities[0] != "~/.ssh/k" || c.ProxyJump != "" || c.Port != 22 {
		t.Errorf("%+v, %v", c, err)
	}
}

// The real ssh client evaluates the configuration file as the capture
// shows; an alias that looks like an option is refused before any program
// runs.
func TestLoadClientConfig(t *testing.T) {
	testenv.RequireCommands(t, "ssh")
	ctx := context.Background()
	got, err := LoadClientConfig(ctx, &host.Local{}, "web1", "testdata/ssh_config", "/home/alice")
	if err != nil {
		t.Fatal(err)
	}
	want := &ClientConfig{HostName: "198.51.100.10", User: "admin", Port: 22, Identities: []string{"/etc/rampart/keys/web"},
		KnownHosts: append([]string{"/etc/rampart/known_hosts"}, knownGlobal...), ProxyJump: "bastion"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if _, err := LoadClientConfig(ctx, &host.Local{}, "legacy", "testdata/ssh_config", ""); err == nil || !strings.Contains(err.Error(), "ProxyCommand is not supported") {
		t.Errorf("legacy: %v", err)
	}
	if _, err := LoadClientConfig(ctx, &host.Local{}, "-oProxyCommand=touch /tmp/x", "", ""); err == nil || !strings.Contains(err.Error(), "expected a host name or alias") {
		t.Errorf("an option as the alias: %v", err)
	}
	if _, err := LoadClientConfig(ctx, &host.Local{}, "web1", "testdata/no-such-config", ""); err == nil || !strings.Contains(err.Error(), "ssh -G -F testdata/no-such-config -- web1") {
		t.Errorf("a missing file: %v", err)
	}
}

// FuzzParseClientConfig: whatever `ssh -G` prints (a configuration's
// values reach it unchanged), what is accepted is a usable host name,
// user and port, and an error never carries a raw control character.
func FuzzParseClientConfig(f *testing.F) {
	testenv.SeedFiles(f, "testdata/ssh-G-*.txt")
	f.Add([]byte("hostname web1\nport 0\n"))
	f.Add([]byte("hostname -oProxyCommand=x\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		cfg, err := ParseClientConfig("ssh -G -- x", out, "/home/u")
		if err != nil {
			for _, r := range err.Error() {
				if r < 0x20 || r == 0x7f {
					t.Fatalf("error carries control character %q: %q", r, err)
				}
			}
			return
		}
		if !nameOf(cfg.HostName, ".-_:%") || cfg.User != "" && !nameOf(cfg.User, ".-_") || cfg.Port < 1 || cfg.Port > 65535 {
			t.Fatalf("accepted %+v from %q", cfg, out)
		}
		if cfg.ProxyJump == "none" {
			t.Fatalf("ProxyJump none kept: %+v", cfg)
		}
	})
}
