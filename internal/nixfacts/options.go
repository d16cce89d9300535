package nixfacts

import (
	"fmt"
	"strings"

	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
)

// nixpkgs files the facts come from (paths inside github.com/NixOS/nixpkgs).
const (
	srcFail2ban    = "nixos/modules/services/security/fail2ban.nix"
	srcSSHD        = "nixos/modules/services/networking/ssh/sshd.nix"
	srcAudit       = "nixos/modules/security/audit.nix"
	srcAuditd      = "nixos/modules/security/auditd.nix"
	srcJournald    = "nixos/modules/system/boot/systemd/journald.nix"
	srcChrony      = "nixos/modules/services/networking/ntp/chrony.nix"
	srcTailscale   = "nixos/modules/services/networking/tailscale.nix"
	srcFirewall    = "nixos/modules/services/networking/firewall.nix"
	srcSysctl      = "nixos/modules/config/sysctl.nix"
	srcUsers       = "nixos/modules/config/users-groups.nix"
	srcEtc         = "nixos/modules/system/etc/etc.nix"
	srcHardened    = "nixos/modules/profiles/hardened.nix"
	srcNetworking  = "nixos/modules/tasks/network-interfaces.nix"
	srcGrub        = "nixos/modules/system/boot/loader/grub/grub.nix"
	srcVersion     = "nixos/modules/misc/version.nix"
	srcUnitOptions = "nixos/lib/systemd-unit-options.nix"
	srcTimesyncd   = "nixos/modules/system/boot/timesyncd.nix"
	srcNftables    = "nixos/modules/services/networking/nftables.nix"
)

// srcRampart is rampart's own NixOS module (this repository's flake,
// nixosModules.default): its options exist in every release that imports it.
const srcRampart = "rampart flake: nix/module.nix (nixosModules.default)"

// Kind says what a path is in the releases where it is not available.
type Kind int

const (
	// Option is a declared option (available in [Since, Until)).
	Option Kind = iota
	// Renamed is an alias that only forwards with a deprecation warning;
	// rampart never emits it.
	Renamed
	// Removed is declared with mkRemovedOptionModule: setting it fails
	// evaluation.
	Removed
	// Undeclared was never an option: setting it fails with "The option
	// ... does not exist".
	Undeclared
)

func (k Kind) String() string {
	return [...]string{"option", "renamed (warning)", "removed (evaluation error)", "not an option (evaluation error)"}[k]
}

// Fact is what nixpkgs says about one option path in the supported
// releases. Path segments are attribute names; "*" matches any one name.
type Fact struct {
	Path string
	// Type is the value type rampart emits for it: "bool", "int", "str",
	// "lines", "strs" (list of strings), "ints" (list of ints), "audit"
	// (bool or "lock"), "atom" (bool, int or str: freeform key-value
	// settings), "toml" (any value pkgs.formats.toml accepts) or "" (not
	// checked).
	Type string
	// Prefix facts also cover every path below Path (freeform attrsets).
	Prefix bool
	// Since is the first release with the option (0: every release);
	// Until the first release without it (0: still there).
	Since, Until Release
	// Kind applies to the releases outside [Since, Until); Renamed,
	// Removed and Undeclared facts are never available.
	Kind Kind
	// Use says what to write instead, for absent paths.
	Use string
	// Source is the nixpkgs file the fact comes from.
	Source string
	Note   string
}

// Available reports whether rampart may define the path in release r.
func (f Fact) Available(r Release) bool {
	if f.Kind != Option {
		return false
	}
	return (f.Since == 0 || r >= f.Since) && (f.Until == 0 || r < f.Until)
}

func (f Fact) segments() []string {
	if seg, ok := segmentCache[f.Path]; ok {
		return seg
	}
	return strings.Split(f.Path, ".")
}

// segmentCache holds the split paths of the fact table.
var segmentCache = func() map[string][]string {
	m := make(map[string][]string, len(facts))
	for _, f := range facts {
		m[f.Path] = strings.Split(f.Path, ".")
	}
	return m
}()

// facts is the data. Absent paths are listed so that tests and the
// renderer refuse them; present paths are every option rampart emits.
var facts = []Fact{
	// OpenSSH: every sshd_config key lives under the freeform settings.
	{Path: "services.openssh.enable", Type: "bool", Source: srcSSHD},
	{Path: "services.openssh.ports", Type: "ints", Source: srcSSHD},
	{Path: "services.openssh.openFirewall", Type: "bool", Source: srcSSHD, Note: "default true: adds ports to networking.firewall.allowedTCPPorts"},
	{Path: "services.openssh.settings.PasswordAuthentication", Type: "bool", Source: srcSSHD},
	{Path: "services.openssh.settings.KbdInteractiveAuthentication", Type: "bool", Source: srcSSHD},
	{Path: "services.openssh.settings.PermitRootLogin", Type: "str", Source: srcSSHD, Note: "enum yes, without-password, prohibit-password, forced-commands-only, no"},
	{Path: "services.openssh.settings.X11Forwarding", Type: "bool", Source: srcSSHD},
	{Path: "services.openssh.settings.MaxAuthTries", Type: "int", Source: srcSSHD, Note: "freeform key"},
	{Path: "services.openssh.settings.ClientAliveInterval", Type: "int", Source: srcSSHD, Note: "freeform key"},
	{Path: "services.openssh.settings.ClientAliveCountMax", Type: "int", Source: srcSSHD, Note: "freeform key"},
	{Path: "services.openssh.settings.AllowTcpForwarding", Type: "bool", Source: srcSSHD, Note: "freeform key, rendered yes/no"},
	{Path: "services.openssh.settings.PubkeyAuthentication", Type: "bool", Source: srcSSHD, Note: "freeform key, rendered yes/no; OpenSSH's default is yes"},
	{Path: "services.openssh.settings.PermitEmptyPasswords", Type: "bool", Source: srcSSHD, Note: "freeform key, rendered yes/no; OpenSSH's default is no"},
	{Path: "services.openssh.extraConfig", Type: "lines", Source: srcSSHD, Note: "verbatim sshd_config lines after the generated ones (Match blocks go here)"},
	{Path: "services.openssh.listenAddresses", Source: srcSSHD, Note: "list of { addr; port; }; empty (the default) listens on every address"},
	{Path: "services.openssh.passwordAuthentication", Kind: Renamed, Use: "services.openssh.settings.PasswordAuthentication", Source: srcSSHD},
	{Path: "services.openssh.kbdInteractiveAuthentication", Kind: Renamed, Use: "services.openssh.settings.KbdInteractiveAuthentication", Source: srcSSHD},
	{Path: "services.openssh.challengeResponseAuthentication", Kind: Renamed, Use: "services.openssh.settings.KbdInteractiveAuthentication", Source: srcSSHD},
	{Path: "services.openssh.permitRootLogin", Kind: Renamed, Use: "services.openssh.settings.PermitRootLogin", Source: srcSSHD},
	{Path: "services.openssh.forwardX11", Kind: Renamed, Use: "services.openssh.settings.X11Forwarding", Source: srcSSHD},
	{Path: "services.openssh.maxAuthTries", Kind: Undeclared, Use: "services.openssh.settings.MaxAuthTries", Source: srcSSHD},
	{Path: "services.openssh.clientAliveInterval", Kind: Undeclared, Use: "services.openssh.settings.ClientAliveInterval", Source: srcSSHD},
	{Path: "services.openssh.clientAliveCountMax", Kind: Undeclared, Use: "services.openssh.settings.ClientAliveCountMax", Source: srcSSHD},
	{Path: "services.openssh.allowTcpForwarding", Kind: Undeclared, Use: "services.openssh.settings.AllowTcpForwarding", Source: srcSSHD},
	{Path: "services.openssh.x11Forwarding", Kind: Undeclared, Use: "services.openssh.settings.X11Forwarding", Source: srcSSHD},
	{Path: "services.openssh.protocol", Kind: Undeclared, Use: "nothing: every current OpenSSH speaks only version 2", Source: srcSSHD},

	// Admin accounts.
	{Path: "users.users.*.isNormalUser", Type: "bool", Source: srcUsers},
	{Path: "users.users.*.extraGroups", Type: "strs", Source: srcUsers},
	{Path: "users.users.*.openssh.authorizedKeys.keys", Type: "strs", Source: srcSSHD},
	{Path: "security.sudo.wheelNeedsPassword", Type: "bool", Source: "nixos/modules/security/sudo.nix"},

	// rampart's own module (ban.engine = "rampart").
	{Path: "services.rampart.enable", Type: "bool", Source: srcRampart},
	{Path: "services.rampart.guard.enable", Type: "bool", Source: srcRampart},
	{Path: "services.rampart.policy", Type: "toml", Prefix: true, Source: srcRampart, Note: "(pkgs.formats.toml { }).type: written to /etc/rampart/policy.toml and checked by `rampart policy check` when the system is built"},

	// fail2ban (RFC 42 jails since before 24.11).
	{Path: "services.fail2ban.enable", Type: "bool", Source: srcFail2ban},
	{Path: "services.fail2ban.bantime", Type: "str", Source: srcFail2ban, Note: "types.str; an integer fails evaluation"},
	{Path: "services.fail2ban.maxretry", Type: "int", Source: srcFail2ban},
	{Path: "services.fail2ban.ignoreIP", Type: "strs", Source: srcFail2ban, Note: "127.0.0.1/8 and ::1 are always added"},
	{Path: "services.fail2ban.banaction", Type: "str", Source: srcFail2ban, Note: "default nftables-multiport with networking.nftables.enable, else iptables-multiport"},
	{Path: "services.fail2ban.bantime-increment.enable", Type: "bool", Source: srcFail2ban},
	{Path: "services.fail2ban.bantime-increment.factor", Type: "str", Source: srcFail2ban},
	{Path: "services.fail2ban.bantime-increment.maxtime", Type: "str", Source: srcFail2ban},
	{Path: "services.fail2ban.bantime-increment.formula", Type: "str", Source: srcFail2ban, Note: "nullOr str, written as bantime.formula; fail2ban evaluates it with ban.Time, ban.Count and banFactor (fail2ban/server/jail.py setBanTimeExtra); exclusive with multipliers (assertion)"},
	{Path: "services.fail2ban.jails.*", Source: srcFail2ban, Note: "one jail, a submodule (enabled, filter, settings); rampart defines a file jail whole, under mkIf config.services.nginx.enable"},
	{Path: "services.fail2ban.jails.*.enabled", Type: "bool", Source: srcFail2ban},
	{Path: "services.fail2ban.jails.*.settings", Type: "atom", Prefix: true, Source: srcFail2ban, Note: "any jail.conf key; the 24.x module replaced a top-level string filter with the jail name, so filter names go here"},
	{Path: "services.fail2ban.filters", Type: "atom", Prefix: true, Since: R2611, Use: `environment.etc."fail2ban/filter.d/NAME.local".text`, Source: srcFail2ban, Note: "writes /etc/fail2ban/filter.d/<name>.local (nixpkgs issue #241321; newest fail2ban.nix, which also has fail2ban.socket, a 26.11 release note)"},
	{Path: "services.fail2ban.findtime", Kind: Undeclared, Use: "services.fail2ban.jails.DEFAULT.settings.findtime", Source: srcFail2ban},
	{Path: "services.fail2ban.ignoreip", Kind: Undeclared, Use: "services.fail2ban.ignoreIP", Source: srcFail2ban},
	{Path: "services.fail2ban.daemonConfig", Kind: Removed, Use: "services.fail2ban.daemonSettings", Source: srcFail2ban},
	{Path: "services.fail2ban.extraSettings", Kind: Removed, Use: "services.fail2ban.jails.DEFAULT.settings", Source: srcFail2ban},
	{Path: "services.fail2ban.jails.*.port", Kind: Undeclared, Use: "services.fail2ban.jails.<name>.settings.port", Source: srcFail2ban},
	{Path: "services.fail2ban.jails.*.logpath", Kind: Undeclared, Use: "services.fail2ban.jails.<name>.settings.logpath", Source: srcFail2ban},
	{Path: "services.fail2ban.jails.*.maxretry", Kind: Undeclared, Use: "services.fail2ban.jails.<name>.settings.maxretry", Source: srcFail2ban},

	// Files under /etc (the nginx-noscript filter before services.fail2ban.filters).
	{Path: "environment.etc.*.text", Type: "lines", Source: srcEtc},
	{Path: "systemd.tmpfiles.rules", Source: "nixos/modules/system/boot/systemd/tmpfiles.nix", Note: "list of tmpfiles.d lines, created at boot and on switch"},
	{Path: "systemd.services.*.after", Type: "strs", Source: srcUnitOptions},
	{Path: "systemd.services.*.wantedBy", Type: "strs", Source: srcUnitOptions},
	{Path: "systemd.services.*.partOf", Type: "strs", Source: srcUnitOptions},
	{Path: "systemd.services.*.description", Type: "str", Source: srcUnitOptions},
	{Path: "systemd.services.*.path", Source: srcUnitOptions, Note: "packages whose bin/ goes on PATH"},
	{Path: "systemd.services.*.script", Type: "lines", Source: srcUnitOptions},
	{Path: "systemd.services.*.serviceConfig", Type: "atom", Prefix: true, Source: srcUnitOptions},
	{Path: "systemd.services.*.unitConfig", Type: "atom", Prefix: true, Source: srcUnitOptions},
	{Path: "systemd.services.*.restartTriggers", Source: srcUnitOptions, Note: "list merged with the module's own triggers"},

	// Audit.
	{Path: "security.auditd.enable", Type: "bool", Source: srcAuditd},
	{Path: "security.audit.enable", Type: "audit", Source: srcAudit},
	{Path: "security.audit.rules", Type: "strs", Source: srcAudit, Note: "25.11+ writes -D, -b, -f, -r and -e itself; rules hold only watches"},
	{Path: "security.audit.backlogLimit", Type: "int", Source: srcAudit, Note: "default 64 before 25.11, 1024 from 25.11"},
	{Path: "security.auditd.settings", Prefix: true, Since: R2511, Source: srcAuditd},
	{Path: "security.auditd.plugins", Prefix: true, Since: R2511, Source: srcAuditd},
	{Path: "security.audit.package", Since: R2511, Source: srcAudit},

	// Kernel parameters.
	{Path: "boot.kernel.sysctl.*", Type: "atom", Source: srcSysctl},

	// Time.
	{Path: "services.chrony.enable", Type: "bool", Source: srcChrony, Note: "forces services.timesyncd.enable = false"},
	{Path: "services.chrony.servers", Type: "strs", Source: srcChrony},
	{Path: "services.timesyncd.enable", Type: "bool", Source: srcTimesyncd, Note: "default true; chrony.nix sets it to mkForce false"},

	// journald: extraConfig until 26.05, settings.Journal on unstable.
	{Path: "systemd.journald", Prefix: true, Kind: Undeclared, Use: "services.journald", Source: srcJournald},
	{Path: "services.journald.extraConfig", Type: "lines", Until: R2611, Use: "services.journald.settings.Journal", Source: srcJournald, Note: "removed by nixpkgs PR #536538"},
	{Path: "services.journald.storage", Type: "str", Until: R2611, Use: "services.journald.settings.Journal.Storage (the old name only warns)", Source: srcJournald, Note: "renamed to settings.Journal.Storage by PR #536538"},
	{Path: "services.journald.console", Until: R2611, Use: "services.journald.settings.Journal.ForwardToConsole / TTYPath", Source: srcJournald},
	{Path: "services.journald.audit", Since: R2505, Until: R2611, Use: "services.journald.settings.Journal.Audit (26.11+)", Source: srcJournald, Note: "added by PR #379629"},
	{Path: "services.journald.settings.Journal", Type: "atom", Prefix: true, Since: R2611, Use: "services.journald.extraConfig (up to 26.05)", Source: srcJournald, Note: "added by PR #536538 (release note in rl-2611.section.md)"},

	// Tailscale.
	{Path: "services.tailscale.enable", Type: "bool", Source: srcTailscale},
	{Path: "services.tailscale.openFirewall", Type: "bool", Source: srcTailscale, Note: "opens the UDP port only"},
	{Path: "services.tailscale.port", Type: "int", Source: srcTailscale},
	{Path: "services.tailscale.interfaceName", Type: "str", Source: srcTailscale},
	{Path: "services.tailscale.authKeyFile", Type: "str", Source: srcTailscale, Note: "a runtime path string; a Nix path literal would copy the key into the store"},
	{Path: "services.tailscale.useRoutingFeatures", Type: "str", Source: srcTailscale, Note: "server/both force conf.all.forwarding on; client/both loosen checkReversePath"},
	{Path: "services.tailscale.extraSetFlags", Type: "strs", Source: srcTailscale, Note: "flags for `tailscale set` (added in 24.05)"},

	// Firewall.
	{Path: "networking.firewall.enable", Type: "bool", Source: srcFirewall},
	{Path: "networking.firewall.trustedInterfaces", Type: "strs", Source: srcFirewall},
	{Path: "networking.firewall.allowedTCPPorts", Type: "ints", Source: srcFirewall},
	{Path: "networking.firewall.allowedUDPPorts", Type: "ints", Source: srcFirewall},
	{Path: "networking.firewall.interfaces.*.allowedTCPPorts", Type: "ints", Source: srcFirewall},
	{Path: "networking.nftables.enable", Type: "bool", Source: srcNftables, Note: "the firewall module then writes nftables rules instead of iptables"},

	// Hardened profile: an option in 25.05/25.11, removed in 26.05.
	{Path: "profiles.hardened", Type: "bool", Since: R2505, Until: R2605, Use: "the wanted settings themselves (26.05 removed the profile)", Source: srcHardened, Note: "removed by PR #501199; rampart emits the settings it wants explicitly"},

	// configuration.nix of a flake.
	{Path: "networking.hostName", Type: "str", Source: srcNetworking},
	{Path: "boot.loader.grub.efiSupport", Type: "bool", Source: srcGrub},
	{Path: "boot.loader.grub.efiInstallAsRemovable", Type: "bool", Source: srcGrub},
	{Path: "system.stateVersion", Type: "str", Source: srcVersion},
	{Path: "users.users.root.openssh.authorizedKeys.keys", Type: "strs", Source: srcSSHD},
}

// Facts returns a copy of the fact table.
func Facts() []Fact { return append([]Fact(nil), facts...) }

// matches reports whether fact segments f cover path p: exactly, or as a
// prefix when prefix is set.
func matches(f, p []string, prefix bool) bool {
	if len(p) < len(f) || (!prefix && len(p) != len(f)) {
		return false
	}
	for i, s := range f {
		if s != "*" && s != p[i] {
			return false
		}
	}
	return true
}

// Absent returns the facts that are not available in r: paths rampart must
// never define for that release.
func Absent(r Release) []Fact {
	var out []Fact
	for _, f := range facts {
		if !f.Available(r) {
			out = append(out, f)
		}
	}
	return out
}

// Known says whether path is an option rampart may name for release r:
// no absent fact covers it and an available fact matches it. A path with
// a "*" segment (a name placeholder in prose, "users.users.<name>") is
// matched against the facts' own "*" segments. It is the gate of every
// option path remediation text prints.
func Known(r Release, path []string) error {
	_, err := known(r, path)
	return err
}

func known(r Release, path []string) (Fact, error) {
	for _, f := range facts {
		if !f.Available(r) && matches(f.segments(), path, true) {
			name := nixexpr.KeyPath(path)
			msg := fmt.Sprintf("%s is %s in NixOS %s", name, f.Kind, r)
			if f.Kind == Option {
				msg = fmt.Sprintf("%s does not exist in NixOS %s", name, r)
			}
			if f.Use != "" {
				msg += "; use " + f.Use
			}
			return f, fmt.Errorf("%s (%s)", msg, f.Source)
		}
	}
	for _, f := range facts {
		if f.Available(r) && matches(f.segments(), path, f.Prefix) {
			return f, nil
		}
	}
	return Fact{}, fmt.Errorf("%s is not a known option for NixOS %s", nixexpr.KeyPath(path), r)
}

// Check says whether defining path with value v is right for release r:
// the path must be a known option available in r (Known), and v must have
// the option's type. It is the renderer's gate.
func Check(r Release, path []string, v nixexpr.Value) error {
	f, err := known(r, path)
	if err != nil {
		return err
	}
	if !typeOK(f.Type, v) {
		name := nixexpr.KeyPath(path)
		s, _ := nixexpr.Render(v)
		return fmt.Errorf("%s must be of type %s, not %s (%s)", name, f.Type, s, f.Source)
	}
	return nil
}

// Line is the definition `path = v;` for release r, checked by Check.
func Line(r Release, v nixexpr.Value, path ...string) (string, error) {
	if err := Check(r, path, v); err != nil {
		return "", err
	}
	return nixexpr.Assign(path, v)
}

func typeOK(t string, v nixexpr.Value) bool {
	switch t {
	case "":
		return true
	case "bool":
		_, ok := v.(nixexpr.Bool)
		return ok
	case "int":
		_, ok := v.(nixexpr.Int)
		return ok
	case "str":
		_, ok := v.(nixexpr.Str)
		return ok
	case "lines":
		switch v.(type) {
		case nixexpr.Lines, nixexpr.Str:
			return true
		}
	case "audit":
		switch x := v.(type) {
		case nixexpr.Bool:
			return true
		case nixexpr.Str:
			return x == "lock"
		}
	case "atom":
		switch v.(type) {
		case nixexpr.Bool, nixexpr.Int, nixexpr.Str, nixexpr.Lines:
			return true
		}
	case "toml":
		switch x := v.(type) {
		case nixexpr.Bool, nixexpr.Int, nixexpr.Float, nixexpr.Str, *nixexpr.Attrs:
			return true
		case nixexpr.List:
			for _, e := range x {
				if !typeOK("toml", e) {
					return false
				}
			}
			return true
		}
	case "strs", "ints":
		l, ok := v.(nixexpr.List)
		if !ok {
			return false
		}
		for _, e := range l {
			if !typeOK(map[string]string{"strs": "str", "ints": "int"}[t], e) {
				return false
			}
		}
		return true
	}
	return false
}
