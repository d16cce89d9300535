package lockdown

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/host"
)

const prevSystem = "/nix/store/8kq3x1b0d9s7f2m1c5n4p6r0t8v2w4y6-nixos-system-srv-26.05.20261120.abcdef0"

func nixManager(t *testing.T, existing string) (*Manager, *detachHost, NixOSOptions) {
	m, h, _ := newTestManager(t)
	h.SetFile(NixOSMarker, "")
	h.SetFile(DefaultNixConfig, "{ ... }: {\n  imports = [ ./hardware-configuration.nix ./rampart.nix ];\n}\n")
	h.SetCmd(host.C("readlink", "-f", SystemProfile), prevSystem+"\n", 0)
	h.SetCmd(host.C("nixos-rebuild", "test"), "activating the configuration...\n", 0)
	h.SetCmd(host.C("nixos-rebuild", "switch"), "activating the configuration...\n", 0)
	h.SetCmd(host.C(prevSystem+"/bin/switch-to-configuration", "test"), "", 0)
	mod := filepath.Join(t.TempDir(), "rampart.nix")
	if existing != "" {
		if err := os.WriteFile(mod, []byte(existing), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return m, h, NixOSOptions{Module: []byte("{ ... }: { services.openssh.openFirewall = false; }\n"), ModulePath: mod}
}

func TestNixOSCommitConfirmed(t *testing.T) {
	ctx := context.Background()
	cfg := defaultConfig(t)

	// No confirm: the watchdog re-activates the previous generation and
	// removes the module it wrote.
	m, h, n := nixManager(t, "")
	if !IsNixOS(ctx, h) {
		t.Fatal("fixture not detected as NixOS")
	}
	st, err := m.ApplyNixOS(ctx, cfg, ApplyOptions{Within: time.Minute}, n)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode != ModeNixOS || st.PreviousSystem != prevSystem {
		t.Errorf("state %+v", st)
	}
	if b, _ := os.ReadFile(n.ModulePath); string(b) != string(n.Module) {
		t.Errorf("module not written: %q", b)
	}
	if got, err := m.Watchdog(ctx, st.ID); err != nil || got.Phase != PhaseRolledBack {
		t.Fatalf("watchdog: %+v %v", got, err)
	}
	if count(h.Ran(), prevSystem+"/bin/switch-to-configuration test") != 1 {
		t.Errorf("previous generation not re-activated: %q", h.Ran())
	}
	if _, err := os.Stat(n.ModulePath); !os.IsNotExist(err) {
		t.Errorf("module left behind: %v", err)
	}

	// An existing module is restored, not deleted.
	m, _, n = nixManager(t, "# the old module\n")
	if _, err = m.ApplyNixOS(ctx, cfg, ApplyOptions{Within: time.Minute}, n); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Rollback(ctx, "", ""); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(n.ModulePath); string(b) != "# the old module\n" {
		t.Errorf("module not restored: %q", b)
	}

	// A confirm over the tailnet makes it the boot default.
	m, h, n = nixManager(t, "")
	if _, err = m.ApplyNixOS(ctx, cfg, ApplyOptions{Within: time.Minute}, n); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Confirm(ctx, ConfirmOptions{SSHConnection: "100.64.0.2 50001 100.64.0.1 22"}); err != nil || got.Phase != PhaseConfirmed {
		t.Fatalf("confirm: %+v %v", got, err)
	}
	if count(h.Ran(), "nixos-rebuild switch") != 1 || count(h.Ran(), prevSystem+"/bin/switch-to-configuration test") != 0 {
		t.Errorf("ran %q", h.Ran())
	}
}

func TestNixOSRefusals(t *testing.T) {
	ctx := context.Background()
	cfg := defaultConfig(t)

	m, h, n := nixManager(t, "")
	h.SetFile(DefaultNixConfig, "{ ... }: { }\n")
	if _, err := m.ApplyNixOS(ctx, cfg, ApplyOptions{Within: time.Minute}, n); err == nil || !strings.Contains(err.Error(), "imports = [ ./rampart.nix ]") {
		t.Errorf("missing import: %v", err)
	}

	m, h, n = nixManager(t, "")
	h.SetCmd(host.C("readlink", "-f", SystemProfile), "/tmp/evil path\n", 0)
	if _, err := m.ApplyNixOS(ctx, cfg, ApplyOptions{Within: time.Minute}, n); err == nil || !strings.Contains(err.Error(), "expected a /nix/store path") {
		t.Errorf("odd profile: %v", err)
	}

	// nixos-rebuild test fails: the flow undoes itself.
	m, h, n = nixManager(t, "")
	h.SetCmd(host.C("nixos-rebuild", "test"), "", 1)
	h.Cmds["nixos-rebuild test"].Stderr = []byte("error: undefined variable 'pkgs'\n")
	st, err := m.ApplyNixOS(ctx, cfg, ApplyOptions{Within: time.Minute}, n)
	if err == nil || !strings.Contains(err.Error(), "undefined variable") {
		t.Fatalf("err = %v", err)
	}
	if s, _ := m.Store.Load(); s.Phase != PhaseFailed || s.ID != st.ID {
		t.Errorf("state %+v", s)
	}
	if _, err := os.Stat(n.ModulePath); !os.IsNotExist(err) {
		t.Errorf("module left behind after a failed test build")
	}
	if count(h.Ran(), prevSystem+"/bin/switch-to-configuration test") != 1 {
		t.Errorf("ran %q", h.Ran())
	}
}

func TestNixOSFlowText(t *testing.T) {
	s := NixOSFlow(NixOSOptions{}, 2*time.Minute)
	for _, want := range []string{"nixos-rebuild test", "--on-active=120s", "readlink -f /nix/var/nix/profiles/system",
		"\"$prev/bin/switch-to-configuration\" test", "imports = [ ./rampart.nix ]", "ip route get ${SSH_CONNECTION%% *}", "nixos-rebuild switch"} {
		if !strings.Contains(s, want) {
			t.Errorf("flow lacks %q:\n%s", want, s)
		}
	}
}
