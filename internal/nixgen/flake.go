package nixgen

import (
	"fmt"
	"regexp"

	"github.com/rampart-sec/rampart/internal/nixfacts"
	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
	"github.com/rampart-sec/rampart/internal/policy"
)

var (
	hostRE   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
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
	sys := &nixexpr.Attrs{}
	sys.Add("", nixexpr.Str(system), "system")
	sys.Add("", nixexpr.List{nixexpr.Raw("disko.nixosModules.disko"), nixexpr.Raw("./configuration.nix")}, "modules")
	outputs := &nixexpr.Attrs{}
	outputs.Add("", nixexpr.Apply{Fn: "nixpkgs.lib.nixosSystem", Args: []nixexpr.Value{sys}}, "nixosConfigurations", host)
	flake := &nixexpr.Attrs{}
	flake.Add("", nixexpr.Str(host+": hardened NixOS "+r.String()+" host rendered by rampart"), "description")
	flake.Add("", inputs, "inputs")
	flake.Add("", nixexpr.Func{Params: []string{"self", "nixpkgs", "disko"}, Body: outputs}, "outputs")
	flakeHdr := fmt.Sprintf("flake.nix rendered by `rampart nix --flake --host %s`.\n"+
		"Install:  nixos-anywhere --flake .#%s root@ADDRESS\n"+
		"Update:   nixos-rebuild switch --flake .#%s --target-host root@ADDRESS", host, host, host)

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
