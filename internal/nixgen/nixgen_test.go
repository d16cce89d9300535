package nixgen

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/rampart-sec/rampart/internal/nixfacts"
	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// profiles are the policies every release is rendered for.
func profiles(t testing.TB) map[string]*policy.Policy {
	t.Helper()
	site := policy.MustDefault("tailnet")
	site.Source = "site.toml"
	site.Admin.Users = []policy.AdminUser{
		{Name: "alice", Sudo: true, AuthorizedKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0wmN/Cr3JXqmLW7u+g9pTh+wyqDHpSQEIQczXkVx9q alice@example.org"}},
		{Name: "deploy", AuthorizedKeys: []string{`ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl deploy "${x}" \ ''`}},
	}
	site.Tailnet.AuthKeyFile = "/var/lib/rampart/tailscale-authkey"
	site.Tailnet.UseRoutingFeatures = "both"
	site.Ban.Ignore = []string{"127.0.0.1/8", "::1", "192.168.1.0/24", "2001:db8::/32"}
	site.Ban.Increment.Enabled = true
	site.Audit.BacklogLimit = 8192
	site.Time.Servers = []string{"0.pool.ntp.org", "time.cloudflare.com"}
	site.Firewall.AllowedTCPPorts = []int{80, 443}
	// off: every service the policy can turn off is off.
	off := policy.MustDefault("baseline")
	off.Source = "off.toml"
	off.SSH.Enabled = false
	off.Ban.Enabled = false
	off.Audit.Enabled = false
	off.Time.Chrony = false
	off.Firewall.Enabled = false
	off.Sysctl = nil
	off.Journald = policy.Journald{}
	// jails: unusual jails and values.
	jails := policy.MustDefault("baseline")
	jails.Source = "jails.toml"
	jails.SSH.PasswordAuthentication = true
	jails.SSH.PermitRootLogin = "without-password"
	jails.SSH.Ports = []int{22, 2222}
	jails.Ban.Bantime = policy.Dur("1month")
	jails.Ban.Jails[0].Mode = "aggressive"
	jails.Ban.Jails[0].Findtime = policy.Dur("1h 30m")
	jails.Ban.Jails[1].Enabled = false
	jails.Ban.Jails = append(jails.Ban.Jails,
		policy.Jail{Name: "apache-auth", Enabled: true, Filter: "fail2ban:/etc/fail2ban/filter.d/apache-auth.conf", Source: "file",
			Paths: []string{"/var/log/httpd/error_log", "/var/log/httpd/other_error_log"}, Ports: []int{80, 443}, Bantime: policy.Dur("2d")},
		policy.Jail{Name: "postfix", Enabled: true, Filter: "fail2ban:postfix", Source: "journal", Journal: []string{"_SYSTEMD_UNIT=postfix.service"}},
		policy.Jail{Name: "piped", Enabled: true, Filter: "sshd", Source: "stdin"},
	)
	jails.Sysctl = append(jails.Sysctl, policy.Sysctl{Name: "kernel.kptr_restrict", Value: 2}, policy.Sysctl{Name: "vm.mmap_min_addr", Value: 65536})
	jails.Journald.SystemMaxFileSize = policy.Size{Bytes: 1536 << 20}
	jails.Journald.MaxRetention = policy.Dur("90d")
	jails.Audit.Watches = append(jails.Audit.Watches, policy.Watch{Path: "/var/lib/secret", Perms: "rwxa", Key: "odd"})
	ps := map[string]*policy.Policy{
		"baseline": policy.MustDefault("baseline"),
		"tailnet":  policy.MustDefault("tailnet"),
		"site":     site,
		"off":      off,
		"jails":    jails,
	}
	// These render fail2ban (their goldens are the fail2ban-engine ones).
	for _, p := range ps {
		p.Ban.Engine = policy.EngineFail2ban
	}
	// guard: the site policy banned by rampart guard (the default engine),
	// with the guard-only keys set.
	guard := policy.MustDefault("tailnet")
	guard.Source = "guard.toml"
	guard.Admin.Users = site.Admin.Users
	guard.Tailnet.AuthKeyFile = site.Tailnet.AuthKeyFile
	guard.Ban.Ignore = site.Ban.Ignore
	guard.Ban.Increment = policy.Increment{Enabled: true, Factor: 1.5, Max: policy.Dur("2w")}
	guard.Ban.IPv6Prefix = 64
	guard.Ban.Metrics = "127.0.0.1:9180"
	guard.Ban.MaxTracked = 5000
	guard.Ban.SocketGroup = "wheel"
	guard.Ban.Actions = []policy.Action{
		{Name: "hook", Type: "webhook", URL: "https://hooks.example.org/ban?x=${y}", Timeout: policy.Dur("5s"), Retries: 2},
		{Name: "log", Type: "exec", On: []string{"ban"}, Argv: []string{"/run/current-system/sw/bin/logger", "-t", "rampart", "{action} {prefix} '' ${prefix}"}},
	}
	guard.Ban.Jails = append(guard.Ban.Jails, jails.Ban.Jails[2]) // apache-auth
	guard.Sysctl = append(guard.Sysctl, policy.Sysctl{Name: "kernel.kptr_restrict", Value: 2})
	if guard.Ban.Engine != policy.EngineRampart {
		t.Fatalf("default ban.engine = %q", guard.Ban.Engine)
	}
	ps["guard"] = guard
	return ps
}

var profileNames = []string{"baseline", "tailnet", "site", "off", "jails", "guard"}

// flakeProfiles are rendered with --flake too: site bans with fail2ban,
// guard with rampart guard (the rampart flake input).
var flakeProfiles = []string{"site", "guard"}

func render(t testing.TB, r nixfacts.Release, p *policy.Policy, flake bool) []File {
	t.Helper()
	files, _, err := Render(p, Options{Release: r, AllowLockoutRisk: true, Flake: flake, Host: "web1"})
	if err != nil {
		t.Fatalf("render %v: %v", r, err)
	}
	return files
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", path, got)
	}
}

func TestGolden(t *testing.T) {
	ps := profiles(t)
	for _, r := range nixfacts.Releases() {
		for _, name := range profileNames {
			files := render(t, r, ps[name], false)
			golden(t, filepath.Join("module", r.String()+"-"+name+".nix"), files[0].Data)
		}
		for _, name := range flakeProfiles {
			files := render(t, r, ps[name], true)
			ar := &txtar.Archive{Comment: []byte("flake files for release " + r.String() + ", " + name + " policy, host web1\n")}
			for _, f := range files[1:] {
				ar.Files = append(ar.Files, txtar.File{Name: f.Name, Data: f.Data})
			}
			file := r.String() + ".txtar" // the fail2ban engine's
			if name != "site" {
				file = r.String() + "-" + name + ".txtar"
			}
			golden(t, filepath.Join("flake", file), txtar.Format(ar))
		}
	}
}

func TestDeterministic(t *testing.T) {
	for _, r := range nixfacts.Releases() {
		for _, name := range profileNames {
			a := render(t, r, profiles(t)[name], true)
			b := render(t, r, profiles(t)[name], true)
			if len(a) != len(b) {
				t.Fatalf("%v %s: %d files, then %d", r, name, len(a), len(b))
			}
			for i := range a {
				if a[i].Name != b[i].Name || !bytes.Equal(a[i].Data, b[i].Data) {
					t.Errorf("%v %s: %s differs between two renders", r, name, a[i].Name)
				}
			}
		}
	}
}

// TestNoAbsentOptions fails if an option the facts say is absent (renamed,
// removed, never declared, or not yet/no longer in the release) is defined
// in that release's module, or a typed option gets the wrong type.
func TestNoAbsentOptions(t *testing.T) {
	for _, r := range nixfacts.Releases() {
		absent := nixfacts.Absent(r)
		if len(absent) == 0 {
			t.Fatalf("%v: no absent facts", r)
		}
		for name, p := range profiles(t) {
			mod, err := ModuleExpr(r, p)
			if err != nil {
				t.Fatal(err)
			}
			// Not even mentioned: the text holds no absent path.
			text := string(render(t, r, p, false)[0].Data)
			for _, f := range absent {
				if !strings.Contains(f.Path, "*") && strings.Contains(text, f.Path) {
					t.Errorf("%v %s: the module text mentions %s (%s in %v)", r, name, f.Path, f.Kind, r)
				}
			}
			leaves := nixexpr.Flatten(mod)
			if len(leaves) < 20 && name != "off" {
				t.Fatalf("%v %s: only %d definitions", r, name, len(leaves))
			}
			for _, l := range leaves {
				for _, f := range absent {
					if covers(strings.Split(f.Path, "."), l.Path) {
						t.Errorf("%v %s: defines %s, which is %s in %v (%s)", r, name, nixexpr.KeyPath(l.Path), f.Kind, r, f.Source)
					}
				}
				if err := nixfacts.Check(r, l.Path, l.Value); err != nil {
					t.Errorf("%v %s: %v", r, name, err)
				}
			}
		}
	}
}

func covers(f, p []string) bool {
	if len(p) < len(f) {
		return false
	}
	for i, s := range f {
		if s != "*" && s != p[i] {
			return false
		}
	}
	return true
}

// TestAcceptance is issue 2's acceptance check, literally.
func TestAcceptance(t *testing.T) {
	p := policy.MustDefault("")
	p.Ban.Engine = policy.EngineFail2ban
	files := render(t, nixfacts.R2505, p, false)
	out := string(files[0].Data)
	for _, bad := range []string{"systemd.journald", "services.openssh.passwordAuthentication", "protocol", "ignoreip"} {
		if strings.Contains(strings.ToLower(out), strings.ToLower(bad)) && !(bad == "ignoreip" && !strings.Contains(out, "ignoreip")) {
			t.Errorf("25.05 module contains %q", bad)
		}
	}
	if strings.Contains(out, "ignoreip") {
		t.Errorf("25.05 module contains ignoreip")
	}
	if regexp.MustCompile(`(?i)protocol`).MatchString(out) {
		t.Errorf("25.05 module mentions protocol")
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "maxAuthTries") || (strings.Contains(line, "MaxAuthTries") && !strings.Contains(line, "settings.MaxAuthTries") && !strings.HasPrefix(strings.TrimSpace(line), "#")) {
			t.Errorf("MaxAuthTries outside settings: %q", line)
		}
	}
	if m := regexp.MustCompile(`bantime\s*=\s*[0-9]`).FindString(out); m != "" {
		t.Errorf("integer bantime: %q", m)
	}
	for _, want := range []string{
		"settings.PasswordAuthentication = false;",
		"settings.MaxAuthTries = 3;",
		`bantime = "1h";`,
		"ignoreIP = ",
		`jails.DEFAULT.settings.findtime = "10m";`,
		"services.journald = {",
		"extraConfig = ''",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("25.05 module lacks %q", want)
		}
	}
	un := string(render(t, nixfacts.Unstable, p, false)[0].Data)
	if !strings.Contains(un, "services.journald.settings.Journal = {") || strings.Contains(un, "extraConfig =") {
		t.Errorf("unstable journald must go through services.journald.settings.Journal:\n%s", un)
	}
	if !strings.Contains(out, "{ config, lib, pkgs, ... }:\n{\n") || strings.Contains(out, "imports") {
		t.Errorf("module is not a plain module function without imports")
	}
}

func TestLockout(t *testing.T) {
	tail := policy.MustDefault("tailnet")
	withKey := policy.MustDefault("tailnet")
	withKey.Admin.Users = []policy.AdminUser{{Name: "alice", AuthorizedKeys: []string{"ssh-ed25519 AAAA alice"}}}
	withKey.Tailnet.AuthKeyFile = "/run/secrets/ts"
	noTail := policy.MustDefault("")
	noTail.Admin.Users = withKey.Admin.Users
	noTail.SSH.TailnetOnly = true
	pw := policy.MustDefault("")
	pw.SSH.PasswordAuthentication = true
	for _, tc := range []struct {
		name string
		p    *policy.Policy
		want []string
	}{
		{"default", policy.MustDefault(""), []string{"no admin user has an authorized key"}},
		{"tailnet", tail, []string{"no admin user has an authorized key", "tailnet.auth_key_file is not set"}},
		{"tailnet-ok", withKey, nil},
		{"tailnet-disabled", noTail, []string{"the tailnet is not enabled"}},
		{"passwords", pw, nil},
	} {
		_, _, err := Render(tc.p, Options{Release: nixfacts.R2605})
		var le *LockoutError
		if len(tc.want) == 0 {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.As(err, &le) || len(le.Reasons) != len(tc.want) {
			t.Errorf("%s: err = %v, want %d lock-out reasons", tc.name, err, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(le.Reasons[i], w) {
				t.Errorf("%s: reason %q lacks %q", tc.name, le.Reasons[i], w)
			}
		}
		if _, _, err := Render(tc.p, Options{Release: nixfacts.R2605, AllowLockoutRisk: true}); err != nil {
			t.Errorf("%s with AllowLockoutRisk: %v", tc.name, err)
		}
	}
}

// TestFail2banLimits: the [ban] settings fail2ban cannot express are named
// on stderr (issue 9 point 16), and nothing is said at their defaults.
func TestFail2banLimits(t *testing.T) {
	p := policy.MustDefault("")
	p.Ban.Engine = policy.EngineFail2ban
	p.Admin.Users = []policy.AdminUser{{Name: "alice", AuthorizedKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0wmN/Cr3JXqmLW7u+g9pTh+wyqDHpSQEIQczXkVx9q alice@example.org"}}}
	if _, warn, err := Render(p, Options{}); err != nil || len(warn) != 0 {
		t.Fatalf("defaults: %q, %v", warn, err)
	}
	p.Ban.IPv6Prefix = 64
	p.Ban.Metrics = "127.0.0.1:9180"
	p.Ban.MaxTracked = 5000
	_, warn, err := Render(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ban.ipv6_prefix = 64: fail2ban bans single addresses", `ban.metrics = "127.0.0.1:9180": fail2ban has no metrics endpoint`, "ban.max_tracked = 5000: fail2ban keeps no such bound"}
	if len(warn) != len(want) {
		t.Fatalf("warnings = %q", warn)
	}
	for i, w := range want {
		if !strings.HasPrefix(warn[i], w) {
			t.Errorf("warning %d = %q, want %q…", i, warn[i], w)
		}
	}
	// rampart guard keeps them: no warning, and the module hands them
	// to services.rampart.
	p.Ban.Engine = policy.EngineRampart
	files, warn, err := Render(p, Options{})
	if err != nil || len(warn) != 0 {
		t.Errorf("engine rampart: %q, %v", warn, err)
	}
	for _, want := range []string{"ipv6_prefix = 64;", `metrics = "127.0.0.1:9180";`, "max_tracked = 5000;"} {
		if err == nil && !strings.Contains(string(files[0].Data), want) {
			t.Errorf("engine rampart: the module lacks %q", want)
		}
	}
	p.Ban.Engine = policy.EngineFail2ban
	p.Ban.Enabled = false
	if _, warn, _ := Render(p, Options{}); len(warn) != 0 {
		t.Errorf("ban off: %q", warn)
	}
}

func TestWarnings(t *testing.T) {
	p := profiles(t)["site"] // use_routing_features = both
	_, warn, err := Render(p, Options{Release: nixfacts.R2605, AllowLockoutRisk: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(warn) != 3 || !strings.Contains(warn[0], "net.ipv4.ip_forward") || !strings.Contains(warn[1], "rp_filter") ||
		warn[2] != "the module leaves out net.ipv4.ip_forward = 0 and net.ipv4.conf.all.rp_filter = 1 so that the tailnet routing works" {
		t.Fatalf("warnings = %q", warn)
	}
	mod := string(render(t, nixfacts.R2605, p, false)[0].Data)
	if strings.Contains(mod, `"net.ipv4.ip_forward" = 0`) || strings.Contains(mod, `"net.ipv4.conf.all.rp_filter" = 1`) {
		t.Errorf("conflicting sysctls are emitted:\n%s", mod)
	}
	if _, warn, _ := Render(policy.MustDefault(""), Options{AllowLockoutRisk: true}); len(warn) != 0 {
		t.Errorf("default policy warnings: %q", warn)
	}
}

func TestFlakeArgs(t *testing.T) {
	p := profiles(t)["site"]
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Flake: true, Host: ""}, "host name"},
		{Options{Flake: true, Host: "a b"}, "host name"},
		{Options{Flake: true, Host: "web1", Disk: "sda; rm"}, "disk"},
		{Options{Flake: true, Host: "web1", System: "x86_64-darwin"}, "system"},
	} {
		if _, _, err := Render(p, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.o, err, tc.want)
		}
	}
	files := render(t, nixfacts.R2511, p, true)
	names := []string{}
	for _, f := range files {
		names = append(names, f.Name)
	}
	if strings.Join(names, " ") != "rampart.nix flake.nix configuration.nix disko.nix install.sh" {
		t.Errorf("files = %v", names)
	}
	if !bytes.Contains(files[1].Data, []byte(`nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";`)) ||
		!bytes.Contains(files[1].Data, []byte(`disko.inputs.nixpkgs.follows = "nixpkgs";`)) ||
		!bytes.Contains(files[1].Data, []byte(`nixosConfigurations.web1 = nixpkgs.lib.nixosSystem {`)) {
		t.Errorf("flake.nix:\n%s", files[1].Data)
	}
}

func TestBadNames(t *testing.T) {
	p := policy.MustDefault("")
	p.Admin.Users = []policy.AdminUser{{Name: `x"; evil = true; "`, AuthorizedKeys: []string{"k"}}}
	if _, _, err := Render(p, Options{}); err == nil || !strings.Contains(err.Error(), "expected a Linux user name") {
		t.Errorf("err = %v", err)
	}
	p.Admin.Users = []policy.AdminUser{{Name: "ok", AuthorizedKeys: []string{"ssh-ed25519 AAAA\nrm -rf /"}}}
	if _, _, err := Render(p, Options{}); err == nil || !strings.Contains(err.Error(), "line break") {
		t.Errorf("err = %v", err)
	}
	p = policy.MustDefault("")
	p.Audit.Watches = []policy.Watch{{Path: "/etc/a b", Perms: "wa", Key: "k"}}
	if _, _, err := Render(p, Options{AllowLockoutRisk: true}); err == nil || !strings.Contains(err.Error(), "audit watch") {
		t.Errorf("err = %v", err)
	}
}

func BenchmarkRender(b *testing.B) {
	p := profiles(b)["site"]
	for b.Loop() {
		if _, _, err := Render(p, Options{Release: nixfacts.R2605, Flake: true, Host: "web1"}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFlakeKeyDelivery (issue 9 point 13): a tailnet-only flake whose auth
// key sits on a tmpfs is refused (nothing puts it there after
// nixos-anywhere's reboot); with a persistent path the flake renders an
// install.sh that refuses to run without the key and otherwise hands
// nixos-anywhere an --extra-files tree holding the key, mode 0600, at the
// policy's path.
func TestFlakeKeyDelivery(t *testing.T) {
	bash := testenv.RequireCommands(t, "bash")[0]
	p := profiles(t)["site"] // tailnet-only SSH
	p.Tailnet.AuthKeyFile = "/run/secrets/tailscale-authkey"
	_, _, err := Render(p, Options{Flake: true, Host: "web1"})
	var le *LockoutError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "/run/secrets/tailscale-authkey is on a file system emptied at every boot") {
		t.Fatalf("tmpfs key: err = %v", err)
	}
	if _, _, err := Render(p, Options{}); err != nil {
		t.Errorf("the module alone (no install) is not refused: %v", err)
	}
	// Public SSH too: not a lock-out, but said.
	pub := *p
	pub.SSH.TailnetOnly = false
	if _, warn, err := Render(&pub, Options{Flake: true, Host: "web1"}); err != nil || len(warn) == 0 || !strings.Contains(warn[len(warn)-1], "install.sh cannot deliver /run/secrets/tailscale-authkey") {
		t.Errorf("public SSH, tmpfs key: %q, %v", warn, err)
	}
	p.Tailnet.AuthKeyFile = "/var/lib/rampart/tailscale-authkey"
	files, warn, err := Render(p, Options{Flake: true, Host: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warn {
		if strings.Contains(w, "auth_key_file") {
			t.Errorf("persistent key: %q", w)
		}
	}
	dir := t.TempDir()
	for _, f := range files {
		mode := os.FileMode(0o644)
		if f.Mode != 0 {
			mode = os.FileMode(f.Mode)
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, mode); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Contains(files[1].Data, []byte("Install:  ./install.sh root@ADDRESS")) {
		t.Errorf("flake.nix does not give the install command:\n%s", files[1].Data)
	}
	// nixos-anywhere cannot run here (it installs a remote machine): a
	// stand-in on PATH records what install.sh hands it.
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	rec := filepath.Join(dir, "record")
	os.WriteFile(filepath.Join(bin, "nixos-anywhere"), []byte("#!/bin/sh\n"+
		"echo \"$@\" > "+rec+"\n"+
		"while [ $# -gt 0 ]; do if [ \"$1\" = --extra-files ]; then find \"$2\" -printf '%P %m\\n' | sort >> "+rec+"; cat \"$2/var/lib/rampart/tailscale-authkey\" >> "+rec+"; fi; shift; done\n"), 0o755)
	run := func(args ...string) (string, error) {
		// A restrictive umask must not reach the modes of /var and /var/lib.
		cmd := exec.Command(bash, append([]string{"-c", `umask 077; exec bash "$0" "$@"`, filepath.Join(dir, "install.sh")}, args...)...)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// No key: refused before nixos-anywhere runs.
	if out, err := run("root@203.0.113.10"); err == nil || !strings.Contains(out, "tailscale auth key") || !strings.Contains(out, "missing") {
		t.Errorf("without the key: %v\n%s", err, out)
	}
	if _, err := os.Stat(rec); err == nil {
		t.Fatalf("nixos-anywhere ran without the key")
	}
	os.WriteFile(filepath.Join(dir, KeyFileName), nil, 0o600)
	if out, err := run("root@203.0.113.10"); err == nil || !strings.Contains(out, "missing or empty") {
		t.Errorf("empty key: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(dir, KeyFileName), []byte("tskey-auth-test\n"), 0o600)
	if out, err := run("root@203.0.113.10"); err != nil {
		t.Fatalf("with the key: %v\n%s", err, out)
	}
	got, _ := os.ReadFile(rec)
	want := "--flake " + dir + "#web1 --extra-files "
	if !strings.HasPrefix(string(got), want) || !strings.Contains(string(got), " root@203.0.113.10\n") ||
		!strings.Contains(string(got), "\n 755\nvar 755\nvar/lib 755\nvar/lib/rampart 755\nvar/lib/rampart/tailscale-authkey 600\n") || !strings.HasSuffix(string(got), "tskey-auth-test\n") {
		t.Errorf("nixos-anywhere got:\n%s", got)
	}
	// A key file given as the second argument.
	other := filepath.Join(t.TempDir(), "key")
	os.WriteFile(other, []byte("tskey-other\n"), 0o600)
	if out, err := run("root@203.0.113.10", other); err != nil {
		t.Fatalf("key argument: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(rec); !strings.HasSuffix(string(got), "tskey-other\n") {
		t.Errorf("key argument: nixos-anywhere got:\n%s", got)
	}
}
