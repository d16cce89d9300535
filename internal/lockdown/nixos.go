package lockdown

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/internal/host"
)

// NixOS paths.
const (
	NixOSMarker      = host.NixOSMarker
	SystemProfile    = "/nix/var/nix/profiles/system"
	DefaultModule    = "/etc/nixos/rampart.nix"
	DefaultNixConfig = "/etc/nixos/configuration.nix"
)

// IsNixOS reports whether h is a NixOS host.
func IsNixOS(ctx context.Context, h host.Host) bool {
	_, err := h.ReadFile(ctx, NixOSMarker)
	return err == nil || errors.Is(err, fs.ErrPermission)
}

// NixOSOptions describe the commit-confirmed flow on NixOS.
type NixOSOptions struct {
	// Module is the rendered NixOS module (rampart nix).
	Module []byte
	// ModulePath is where it is written (DefaultModule).
	ModulePath string
	// ConfigPath is the configuration that must import ModulePath.
	ConfigPath string
}

func (o *NixOSOptions) defaults() {
	if o.ModulePath == "" {
		o.ModulePath = DefaultModule
	}
	if o.ConfigPath == "" {
		o.ConfigPath = DefaultNixConfig
	}
}

// NixOSFlow is the commit-confirmed procedure, as commands a person can
// run by hand; `rampart lockdown apply --nixos` runs the same steps.
func NixOSFlow(o NixOSOptions, within time.Duration) string {
	o.defaults()
	secs := int(within.Round(time.Second) / time.Second)
	var b strings.Builder
	fmt.Fprintf(&b, "NixOS commit-confirmed lockdown (what `rampart lockdown apply --nixos` runs):\n\n")
	fmt.Fprintf(&b, "  1. make sure %s imports %s:  imports = [ ./%s ];\n", o.ConfigPath, o.ModulePath, path.Base(o.ModulePath))
	fmt.Fprintf(&b, "  2. remember the running generation:  prev=$(readlink -f %s)\n", SystemProfile)
	fmt.Fprintf(&b, "  3. write the module:  rampart nix -p POLICY > %s\n", o.ModulePath)
	b.WriteString("  4. activate it WITHOUT making it the boot default:  nixos-rebuild test\n")
	fmt.Fprintf(&b, "  5. arm the rollback:  systemd-run --unit=rampart-lockdown-rollback --on-active=%ds \"$prev/bin/switch-to-configuration\" test\n", secs)
	b.WriteString("  6. from a NEW ssh session over the tailnet (ip route get ${SSH_CONNECTION%% *} shows tailscale0):\n")
	b.WriteString("       systemctl stop rampart-lockdown-rollback.timer && nixos-rebuild switch\n")
	b.WriteString("  Without step 6 the timer re-activates the previous generation; a reboot does too, because\n")
	b.WriteString("  `nixos-rebuild test` never changed the boot entry.\n")
	return b.String()
}

// ApplyNixOS runs the commit-confirmed flow on a NixOS host.
func (m *Manager) ApplyNixOS(ctx context.Context, cfg Config, o ApplyOptions, n NixOSOptions) (*State, error) {
	n.defaults()
	if len(n.Module) == 0 {
		return nil, errors.New("lockdown: no NixOS module to apply")
	}
	conf, err := m.Host.ReadFile(ctx, n.ConfigPath)
	if err != nil {
		return nil, fmt.Errorf("lockdown: read %s: %w", n.ConfigPath, err)
	}
	if !strings.Contains(string(conf), path.Base(n.ModulePath)) {
		return nil, fmt.Errorf("lockdown: %s does not import %s: add `imports = [ ./%s ];` and run again", n.ConfigPath, n.ModulePath, path.Base(n.ModulePath))
	}
	prevOut, err := host.RunOK(ctx, m.Host, host.C("readlink", "-f", SystemProfile))
	if err != nil {
		return nil, fmt.Errorf("lockdown: find the running generation: %w", err)
	}
	prev := strings.TrimSpace(string(prevOut))
	if !strings.HasPrefix(prev, "/nix/store/") || strings.ContainsAny(prev, " \n\t") {
		return nil, fmt.Errorf("lockdown: %s resolves to %q, expected a /nix/store path", SystemProfile, prev)
	}
	st, err := m.newState(ModeNixOS, cfg, o)
	if err != nil {
		return nil, err
	}
	st.PreviousSystem, st.ModulePath = prev, n.ModulePath
	old, err := os.ReadFile(n.ModulePath)
	switch {
	case err == nil:
		st.ModuleExisted = true
		st.ModuleBackup = filepath.Join(m.Store.Dir, "lockdown-module-"+st.ID+".nix")
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("lockdown: read %s: %w", n.ModulePath, err)
	}
	backup := func() error {
		if !st.ModuleExisted {
			return nil
		}
		if err := os.WriteFile(st.ModuleBackup, old, 0o600); err != nil {
			return fmt.Errorf("lockdown: back up %s: %w", n.ModulePath, err)
		}
		return nil
	}
	if err := m.begin(ctx, st, o, backup); err != nil {
		return st, err
	}
	if err := os.WriteFile(n.ModulePath, n.Module, 0o644); err != nil {
		m.fail(ctx, st, err)
		return st, fmt.Errorf("lockdown: write %s: %w", n.ModulePath, err)
	}
	m.logf("wrote %s; running nixos-rebuild test (the boot default stays %s)", n.ModulePath, prev)
	if _, err := host.RunOK(ctx, m.Host, host.Cmd{Name: "nixos-rebuild", Args: []string{"test"}, Sudo: true}); err != nil {
		m.fail(ctx, st, err)
		return st, fmt.Errorf("lockdown: %w", err)
	}
	return st, nil
}

// commitNixOS makes the tested configuration the boot default.
func (m *Manager) commitNixOS(ctx context.Context, st *State) error {
	if _, err := host.RunOK(ctx, m.Host, host.Cmd{Name: "nixos-rebuild", Args: []string{"switch"}, Sudo: true}); err != nil {
		return fmt.Errorf("lockdown: commit: %w", err)
	}
	if st.ModuleBackup != "" {
		_ = os.Remove(st.ModuleBackup)
	}
	return nil
}

// undoNixOS puts the module file back and re-activates the generation
// that ran before.
func (m *Manager) undoNixOS(ctx context.Context, st *State) error {
	var errs []error
	if st.ModulePath != "" {
		if st.ModuleExisted {
			if old, err := os.ReadFile(st.ModuleBackup); err == nil {
				errs = append(errs, os.WriteFile(st.ModulePath, old, 0o644))
			} else if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		} else if err := os.Remove(st.ModulePath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if st.PreviousSystem != "" {
		c := host.Cmd{Name: st.PreviousSystem + "/bin/switch-to-configuration", Args: []string{"test"}, Sudo: true}
		if _, err := host.RunOK(ctx, m.Host, c); err != nil {
			errs = append(errs, fmt.Errorf("lockdown: re-activate %s: %w", st.PreviousSystem, err))
		}
	}
	return errors.Join(errs...)
}
