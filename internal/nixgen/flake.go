package nixgen

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/rampart-sec/rampart/internal/lazyre"
	"github.com/rampart-sec/rampart/internal/nixfacts"
	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
	"github.com/rampart-sec/rampart/internal/policy"
)

var (
	hostRE   = lazyre.New(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	diskRE   = regexp.MustCompile(`^/dev/[A-Za-z0-9/_.:-]+$`)
	systemRE = regexp.MustCompile(`^(x86_64|aarch64|i686|riscv64)-linux$`)
)

// Flake renders flake.nix, configuration.nix and disko.nix so that
//
//	nixos-anywhere --flake .#HOST root@ADDRESS
//
// installs the machine and
//
//	nixos-rebuild switch --flake .#HOST --target-host root@ADDRESS
//
// updates it.
func Flake(opts Options, p *policy.Policy) ([]File, error) {
	r := opts.Release
	if r == 0 {
		r = nixfacts.Newest()
	}
	host, disk, system := opts.Host, opts.Disk, opts.System
	if disk == "" {
		disk = "/dev/sda"
	}
	if system == "" {
		system = "x86_64-linux"
	}
	switch {
	case !hostRE.MatchString(host):
		return nil, fmt.Errorf("flake: host name %q: expected letters, digits and inner hyphens (at most 63), e.g. web1", host)
	case !diskRE.MatchString(disk):
		return nil, fmt.Errorf("flake: disk %q: expected a device path such as /dev/sda or /dev/nvme0n1", disk)
	case !systemRE.MatchString(system):
		return nil, fmt.Errorf("flake: system %q: expected e.g. x86_64-linux or aarch64-linux", system)
	}

	// flake.nix
	inputs := &nixexpr.Attrs{}
	inputs.Add("NixOS "+r.String()+": the release rampart rendered rampart.nix for.", nixexpr.Str(r.FlakeURL()), "nixpkgs", "url")
	inputs.Add("disko partitions and formats the disk during nixos-anywhere.", nixexpr.Str("github:nix-community/disko"), "disko", "url")
	inputs.Add("", nixexpr.Str("nixpkgs"), "disko", "inputs", "nixpkgs", "follows")
	params := []string{"self", "nixpkgs", "disko"}
	modules := nixexpr.List{nixexpr.Raw("disko.nixosModules.disko")}
	if nixfacts.RampartModule(p) {
		// No nixpkgs.follows: rampart builds with its own pinned nixpkgs
		// (its Go toolchain is newer than older releases ship).
		inputs.Add("rampart: services.rampart (the ban daemon, rampart guard) for rampart.nix; the\n"+
			"package builds with rampart's own nixpkgs.", nixexpr.Str(nixfacts.FlakeURL), "rampart", "url")
		params = append(params, "rampart")
		modules = append(modules, nixexpr.Raw("rampart.nixosModules.default"))
	}
	modules = append(modules, nixexpr.Raw("./configuration.nix"))
	sys := &nixexpr.Attrs{}
	sys.Add("", nixexpr.Str(system), "system")
	sys.Add("", modules, "modules")
	outputs := &nixexpr.Attrs{}
	outputs.Add("", nixexpr.Apply{Fn: "nixpkgs.lib.nixosSystem", Args: []nixexpr.Value{sys}}, "nixosConfigurations", host)
	flake := &nixexpr.Attrs{}
	flake.Add("", nixexpr.Str(host+": hardened NixOS "+r.String()+" host rendered by rampart"), "description")
	flake.Add("", inputs, "inputs")
	flake.Add("", nixexpr.Func{Params: params, Body: outputs}, "outputs")
	key := deliveredKey(p)
	install := fmt.Sprintf("nixos-anywhere --flake .#%s root@ADDRESS", host)
	if key != "" {
		install = fmt.Sprintf("./install.sh root@ADDRESS   (puts the tailscale auth key at %s\n"+
			"          with nixos-anywhere --extra-files; it refuses to run without the key)", key)
	}
	flakeHdr := fmt.Sprintf("flake.nix rendered by `rampart nix --flake --host %s`.\n"+
		"Install:  %s\n"+
		"Update:   nixos-rebuild switch --flake .#%s --target-host root@ADDRESS", host, install, host)

	// configuration.nix
	conf := &nixexpr.Attrs{}
	conf.Add("Hardware detection and virtio drivers (as nixos-anywhere's examples), the disk\n"+
		"layout, and the policy module.", nixexpr.List{
		nixexpr.Raw(`(modulesPath + "/installer/scan/not-detected.nix")`),
		nixexpr.Raw(`(modulesPath + "/profiles/qemu-guest.nix")`),
		nixexpr.Raw("./disko.nix"),
		nixexpr.Raw("./" + ModuleName),
	}, "imports")
	conf.Add("", nixexpr.Str(host), "networking", "hostName")
	conf.Add("GRUB boots BIOS and UEFI machines; disko adds the BIOS boot partition to its devices.", nixexpr.Bool(true), "boot", "loader", "grub", "efiSupport")
	conf.Add("", nixexpr.Bool(true), "boot", "loader", "grub", "efiInstallAsRemovable")
	var keys []string
	for _, u := range p.Admin.Users {
		keys = append(keys, u.AuthorizedKeys...)
	}
	rootLogin := p.SSH.PermitRootLogin != "no"
	switch {
	case rootLogin && len(keys) > 0:
		conf.Add("nixos-rebuild --target-host root@… logs in as root with the admins' keys\n"+
			"(PermitRootLogin "+p.SSH.PermitRootLogin+").", nixexpr.Strs(keys...), "users", "users", "root", "openssh", "authorizedKeys", "keys")
	case rootLogin:
		conf.Add("No admin key in the policy: add one here (or in the policy) before installing,\n"+
			"or root cannot log in for nixos-rebuild --target-host.", nil)
	default:
		conf.Add("PermitRootLogin is no: update with --target-host ADMIN@ADDRESS --use-remote-sudo.", nil)
	}
	conf.Add("The release this machine was first installed with; keep it when upgrading.", nixexpr.Str(r.StateVersion()), "system", "stateVersion")
	confExpr := nixexpr.Func{Params: []string{"modulesPath", "lib", "pkgs"}, Body: conf}
	confHdr := "configuration.nix for " + host + " (rendered by rampart; edit freely, rampart.nix holds the policy)."

	// disko.nix
	esp := &nixexpr.Attrs{}
	esp.Add("", nixexpr.Str("512M"), "size")
	esp.Add("", nixexpr.Str("EF00"), "type")
	espFS := &nixexpr.Attrs{}
	espFS.Add("", nixexpr.Str("filesystem"), "type")
	espFS.Add("", nixexpr.Str("vfat"), "format")
	espFS.Add("", nixexpr.Str("/boot"), "mountpoint")
	espFS.Add("", nixexpr.Strs("umask=0077"), "mountOptions")
	esp.Add("", espFS, "content")
	root := &nixexpr.Attrs{}
	root.Add("", nixexpr.Str("100%"), "size")
	rootFS := &nixexpr.Attrs{}
	rootFS.Add("", nixexpr.Str("filesystem"), "type")
	rootFS.Add("", nixexpr.Str("ext4"), "format")
	rootFS.Add("", nixexpr.Str("/"), "mountpoint")
	root.Add("", rootFS, "content")
	parts := &nixexpr.Attrs{}
	parts.Add("BIOS boot partition for GRUB on BIOS machines.", &nixexpr.Attrs{Entries: []nixexpr.Entry{
		{Path: []string{"size"}, Value: nixexpr.Str("1M")},
		{Path: []string{"type"}, Value: nixexpr.Str("EF02")},
	}}, "boot")
	parts.Add("EFI system partition.", esp, "ESP")
	parts.Add("Everything else.", root, "root")
	content := &nixexpr.Attrs{}
	content.Add("", nixexpr.Str("gpt"), "type")
	content.Add("", parts, "partitions")
	main := &nixexpr.Attrs{}
	main.Add("", nixexpr.Str("disk"), "type")
	main.Add("Override with lib.mkForce, or render again with --disk.", nixexpr.Apply{Fn: "lib.mkDefault", Args: []nixexpr.Value{nixexpr.Str(disk)}}, "device")
	main.Add("", content, "content")
	disko := &nixexpr.Attrs{}
	disko.Add("", main, "disko", "devices", "disk", "main")
	diskoExpr := nixexpr.Func{Params: []string{"lib"}, Body: disko}
	diskoHdr := "disko.nix: disk layout for nixos-anywhere (GPT: BIOS boot, 512M ESP, ext4 root).\n" +
		"nixos-anywhere ERASES " + disk + "."

	var out []File
	for _, f := range []struct {
		name, hdr string
		v         nixexpr.Value
	}{{"flake.nix", flakeHdr, flake}, {"configuration.nix", confHdr, confExpr}, {"disko.nix", diskoHdr, diskoExpr}} {
		b, err := nixexpr.File(f.hdr, f.v)
		if err != nil {
			return nil, fmt.Errorf("flake: render %s: %w", f.name, err)
		}
		out = append(out, File{Name: f.name, Data: b, Once: true})
	}
	note := ""
	if p.Tailnet.Enabled && p.Tailnet.AuthKeyFile != "" && key == "" {
		note = "The tailscale auth key " + p.Tailnet.AuthKeyFile + " is not delivered by this script:\n# put it there yourself (sops-nix, agenix) or the machine never joins the tailnet."
	}
	out = append(out, File{Name: "install.sh", Data: installScript(host, key, note), Mode: 0o755})
	// The option definitions of configuration.nix pass the same gate as
	// the module's.
	for _, l := range nixexpr.Flatten(confExpr) {
		if l.Path[0] == "imports" {
			continue
		}
		if err := nixfacts.Check(r, l.Path, l.Value); err != nil {
			return nil, fmt.Errorf("flake: configuration.nix: %w", err)
		}
	}
	return out, nil
}

// KeyFileName is where install.sh looks for the tailscale auth key by
// default, next to itself in the flake directory.
const KeyFileName = "tailscale-authkey"

// volatileDirs are wiped at every boot (or never on disk): nixos-anywhere
// --extra-files cannot put a file there for the installed system.
var volatileDirs = []string{"/run/", "/tmp/", "/dev/", "/proc/", "/sys/", "/nix/store/"}

// keyPathRE is a key path install.sh can name without quoting concerns.
var keyPathRE = regexp.MustCompile(`^/[A-Za-z0-9._/-]+$`)

// volatile reports whether install.sh cannot deliver a key to path.
func volatile(path string) bool {
	if !keyPathRE.MatchString(path) {
		return true
	}
	for _, d := range volatileDirs {
		if strings.HasPrefix(path, d) {
			return true
		}
	}
	return false
}

// deliveredKey is the auth key path install.sh delivers, or "" when the
// flake has no key to deliver (no tailnet, no key file, or a key file on a
// tmpfs that only a secrets manager such as sops-nix or agenix fills).
func deliveredKey(p *policy.Policy) string {
	k := p.Tailnet.AuthKeyFile
	if !p.Tailnet.Enabled || k == "" || volatile(k) {
		return ""
	}
	return k
}

// FlakeLockoutRisks lists why a machine installed from the flake could not
// be reached: with SSH only over the tailnet, the auth key must be on the
// machine when tailscaled first starts after nixos-anywhere's reboot, and
// only a persistent path can be delivered by install.sh.
func FlakeLockoutRisks(p *policy.Policy) []string {
	k := p.Tailnet.AuthKeyFile
	if !p.SSH.Enabled || !p.SSH.TailnetOnly || !p.Tailnet.Enabled || k == "" || !volatile(k) {
		return nil
	}
	return []string{fmt.Sprintf("tailnet.auth_key_file: %s is on a file system emptied at every boot, so nothing "+
		"puts the key there on the installed machine: it never joins the tailnet and SSH is reachable only over the "+
		"tailnet. Use a persistent path such as /var/lib/rampart/%s (install.sh delivers it with nixos-anywhere "+
		"--extra-files), or deliver the key yourself with sops-nix or agenix and render with --allow-lockout-risk", k, KeyFileName)}
}

// installScript is install.sh: the exact install command, which refuses
// to run when the tailscale auth key it must deliver is missing.
func installScript(host, key, note string) []byte {
	var b strings.Builder
	b.WriteString("#!/usr/bin/env bash\n")
	fmt.Fprintf(&b, "# install.sh rendered by `rampart nix --flake --host %s`: installs %s with\n# nixos-anywhere (it ERASES the disk in disko.nix).\n", host, host)
	if key == "" {
		if note != "" {
			b.WriteString("# " + note + "\n")
		}
		fmt.Fprintf(&b, "# Usage: ./install.sh root@ADDRESS\nset -euo pipefail\n")
		fmt.Fprintf(&b, "if [ $# -ne 1 ]; then echo \"usage: $0 root@ADDRESS\" >&2; exit 2; fi\n")
		fmt.Fprintf(&b, "here=$(cd \"$(dirname \"$0\")\" && pwd)\n")
		fmt.Fprintf(&b, "nixos-anywhere --flake \"$here#%s\" \"$1\"\n", host)
		return []byte(b.String())
	}
	fmt.Fprintf(&b, "# The machine joins the tailnet with the auth key at %s, which\n"+
		"# nixos-anywhere --extra-files copies onto the new root file system (mode 0600).\n"+
		"# Usage: ./install.sh root@ADDRESS [KEY_FILE]   (KEY_FILE default: %s next to this script)\n", key, KeyFileName)
	b.WriteString("set -euo pipefail\n")
	b.WriteString("if [ $# -lt 1 ] || [ $# -gt 2 ]; then echo \"usage: $0 root@ADDRESS [KEY_FILE]\" >&2; exit 2; fi\n")
	b.WriteString("here=$(cd \"$(dirname \"$0\")\" && pwd)\n")
	fmt.Fprintf(&b, "key=${2:-$here/%s}\n", KeyFileName)
	b.WriteString("if [ ! -s \"$key\" ]; then\n")
	fmt.Fprintf(&b, "  echo \"install.sh: the tailscale auth key $key is missing or empty: without it %s never joins\" >&2\n", host)
	b.WriteString("  echo \"the tailnet and SSH (tailnet only) cannot reach it. Put a tagged auth key there, or give its path.\" >&2\n")
	b.WriteString("  exit 1\nfi\n")
	b.WriteString("extra=$(mktemp -d)\ntrap 'rm -rf \"$extra\"' EXIT\nchmod 0755 \"$extra\"\n")
	// nixos-anywhere copies the tree with its modes onto the new root:
	// every directory on the way must have the mode it has on NixOS.
	var dirs []string
	for d := path.Dir(key); d != "/"; d = path.Dir(d) {
		dirs = append([]string{`"$extra` + d + `"`}, dirs...)
	}
	fmt.Fprintf(&b, "install -d -m 0755 %s\n", strings.Join(dirs, " "))
	fmt.Fprintf(&b, "install -m 0600 \"$key\" \"$extra%s\"\n", key)
	fmt.Fprintf(&b, "nixos-anywhere --flake \"$here#%s\" --extra-files \"$extra\" \"$1\"\n", host)
	return []byte(b.String())
}
