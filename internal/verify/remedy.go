package verify

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/nixfacts"
	"github.com/rampart-sec/rampart/internal/policy"
)

// remedy returns the fix for topic (a check ID or "sysctl:KEY") under the
// env's policy and NixOS release. All remediation text is made here, so it
// can move to the shared NixOS facts in one place.
func remedy(env *check.Env, topic string) check.Remediation {
	if fix, ok := guardRemedy(env.Policy, topic); ok {
		return fix
	}
	fix := localRemedy(env, topic)
	if t, ok := nixTopics[topic]; ok {
		if nix := nixRemedy(env, t); nix != "" {
			fix.NixOS = nix
		}
	}
	if keys, ok := strings.CutPrefix(topic, "sysctl:"); ok {
		var lines []string
		for _, k := range strings.Split(keys, ",") {
			lines = append(lines, nixRemedy(env, "sysctl."+k))
			if base, ok := strings.CutPrefix(k, "net.ipv4.conf.all."); ok {
				v, _ := env.Policy.Sysctl.Get(k)
				lines = append(lines, fmt.Sprintf("boot.kernel.sysctl.%q = %d; # new interfaces inherit default, not all", "net.ipv4.conf.default."+base, v))
			}
		}
		if strings.Contains(keys, "forward") && env.Policy.Tailnet.Enabled {
			lines = append(lines, `services.tailscale.useRoutingFeatures = "none"; # "server"/"both" force forwarding on at mkOverride 97`)
		}
		if nix := strings.TrimSpace(strings.Join(lines, "\n")); nix != "" && !strings.HasPrefix(nix, "boot.kernel.sysctl.\"net.ipv4.conf.default") {
			fix.NixOS = nix
		}
	}
	return fix
}

// nixTopics maps check IDs to the nixfacts policy topics whose option
// definitions fix them.
var nixTopics = map[string]string{
	"ssh.sshd-discovered":                "ssh.enabled",
	"ssh.password-authentication":        "ssh.password_authentication",
	"ssh.kbd-interactive-authentication": "ssh.kbd_interactive_authentication",
	"ssh.permit-root-login":              "ssh.permit_root_login",
	"ssh.max-auth-tries":                 "ssh.max_auth_tries",
	"ssh.client-alive-interval":          "ssh.client_alive_interval",
	"ssh.client-alive-count-max":         "ssh.client_alive_count_max",
	"ssh.tcp-forwarding":                 "ssh.allow_tcp_forwarding",
	"ssh.x11-forwarding":                 "ssh.x11_forwarding",
	"time.chrony-running":                "time.chrony",
	"time.single-daemon":                 "time.chrony",
	"journald.max-retention":             "journald.max_retention",
	"journald.system-max-file-size":      "journald.system_max_file_size",
	"journald.system-max-files":          "journald.system_max_files",
	"journald.storage":                   "journald.storage",
	"ban.daemon-running":                 "ban.enabled",
	"ban.jails":                          "ban.jails",
	"ban.bantime":                        "ban.bantime",
	"ban.findtime":                       "ban.findtime",
	"ban.maxretry":                       "ban.maxretry",
	"ban.ignoreip":                       "ban.ignore",
	"sysctl.persisted":                   "sysctl",
}

// nixRemedy asks the shared NixOS facts for the option lines of topic in
// the env's release (the newest stable one when none is given).
func nixRemedy(env *check.Env, topic string) string {
	if env.Policy == nil {
		return ""
	}
	rel, ok := env.NixRelease()
	if !ok {
		return ""
	}
	return strings.TrimSpace(nixfacts.Remediation(rel, topic, env.Policy))
}

// localRemedy is the built-in text, used for the generic hint and where
// the NixOS facts have no topic.
func localRemedy(env *check.Env, topic string) check.Remediation {
	p := env.Policy
	if p == nil {
		p = policy.MustDefault("")
	}
	sshOpt := func(setting, val string) string {
		return fmt.Sprintf("services.openssh.settings.%s = %s;", setting, val)
	}
	boolNix := func(b bool) string { return strconv.FormatBool(b) }
	yesno := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	s := p.SSH
	switch topic {
	case "ssh.sshd-discovered":
		return check.Remediation{NixOS: "services.openssh.enable = true;",
			Generic: "start the OpenSSH server (systemctl enable --now ssh) with the hardened sshd_config"}
	case "ssh.password-authentication":
		return check.Remediation{NixOS: sshOpt("PasswordAuthentication", boolNix(s.PasswordAuthentication)),
			Generic: fmt.Sprintf("set \"PasswordAuthentication %s\" in sshd_config, remove it from every Match block, and reload sshd", yesno(s.PasswordAuthentication))}
	case "ssh.kbd-interactive-authentication":
		return check.Remediation{NixOS: sshOpt("KbdInteractiveAuthentication", boolNix(s.KbdInteractiveAuthentication)),
			Generic: fmt.Sprintf("set \"KbdInteractiveAuthentication %s\" in sshd_config (PAM answers keyboard-interactive with a password), and reload sshd", yesno(s.KbdInteractiveAuthentication))}
	case "ssh.permit-root-login":
		return check.Remediation{NixOS: sshOpt("PermitRootLogin", strconv.Quote(s.PermitRootLogin)),
			Generic: fmt.Sprintf("set \"PermitRootLogin %s\" in sshd_config and in every Match block", s.PermitRootLogin)}
	case "ssh.max-auth-tries":
		return check.Remediation{NixOS: sshOpt("MaxAuthTries", strconv.Itoa(s.MaxAuthTries)),
			Generic: fmt.Sprintf("set \"MaxAuthTries %d\" in sshd_config", s.MaxAuthTries)}
	case "ssh.client-alive-interval":
		return check.Remediation{NixOS: sshOpt("ClientAliveInterval", strconv.FormatInt(s.ClientAliveInterval.Seconds(), 10)),
			Generic: fmt.Sprintf("set \"ClientAliveInterval %d\" in sshd_config", s.ClientAliveInterval.Seconds())}
	case "ssh.client-alive-count-max":
		return check.Remediation{NixOS: sshOpt("ClientAliveCountMax", strconv.Itoa(s.ClientAliveCountMax)),
			Generic: fmt.Sprintf("set \"ClientAliveCountMax %d\" in sshd_config", s.ClientAliveCountMax)}
	case "ssh.tcp-forwarding":
		return check.Remediation{NixOS: sshOpt("AllowTcpForwarding", boolNix(s.AllowTCPForwarding)),
			Generic: fmt.Sprintf("set \"AllowTcpForwarding %s\" in sshd_config", yesno(s.AllowTCPForwarding))}
	case "ssh.x11-forwarding":
		return check.Remediation{NixOS: sshOpt("X11Forwarding", boolNix(s.X11Forwarding)),
			Generic: fmt.Sprintf("set \"X11Forwarding %s\" in sshd_config", yesno(s.X11Forwarding))}
	case "ssh.pubkey-authentication":
		return check.Remediation{NixOS: sshOpt("PubkeyAuthentication", "true") + " (the default; remove any override)",
			Generic: "set \"PubkeyAuthentication yes\" and leave AuthenticationMethods at any or publickey"}
	case "ssh.permit-empty-passwords":
		return check.Remediation{NixOS: sshOpt("PermitEmptyPasswords", "false"),
			Generic: "set \"PermitEmptyPasswords no\" in sshd_config"}
	case "ssh.match-consistency":
		return check.Remediation{NixOS: "remove the weakening Match block from services.openssh.extraConfig",
			Generic: "remove policy settings from Match blocks in sshd_config and its Include files, or repeat the hardened values there"}
	case "time.chrony-running":
		return check.Remediation{NixOS: "services.chrony.enable = true;",
			Generic: "install chrony and start it: systemctl enable --now chrony"}
	case "time.synchronised":
		servers := "[ \"0.nixos.pool.ntp.org\" \"1.nixos.pool.ntp.org\" ]"
		if len(p.Time.Servers) > 0 {
			servers = nixList(p.Time.Servers)
		}
		return check.Remediation{NixOS: "services.chrony.servers = " + servers + ";",
			Generic: "give chrony reachable NTP servers (server … iburst), allow UDP 123 out, and check `chronyc sources`"}
	case "time.single-daemon":
		return check.Remediation{NixOS: "services.timesyncd.enable = false;",
			Generic: "disable the second time daemon: systemctl disable --now systemd-timesyncd"}
	case "journald.running":
		return check.Remediation{NixOS: "systemd-journald is always part of NixOS; check `systemctl status systemd-journald`",
			Generic: "systemctl start systemd-journald"}
	case "journald.max-retention":
		return journaldFix("MaxRetentionSec", p.Journald.MaxRetention.String())
	case "journald.system-max-file-size":
		return journaldFix("SystemMaxFileSize", p.Journald.SystemMaxFileSize.String())
	case "journald.system-max-files":
		return journaldFix("SystemMaxFiles", strconv.Itoa(p.Journald.SystemMaxFiles))
	case "journald.storage":
		return journaldFix("Storage", p.Journald.Storage)
	case "ban.daemon-running":
		return check.Remediation{NixOS: "services.fail2ban.enable = true; (or run `rampart guard run` as a service)",
			Generic: "start the ban daemon: systemctl enable --now fail2ban (an enabled unit that is not running protects nothing)"}
	case "ban.jails":
		return check.Remediation{NixOS: "services.fail2ban.jails.<name>.settings.enabled = true;",
			Generic: "enable every policy jail in jail.local ([name] enabled = true) and reload: fail2ban-client reload"}
	case "ban.bantime":
		return check.Remediation{NixOS: fmt.Sprintf("services.fail2ban.bantime = %q;", p.Ban.Bantime.String()),
			Generic: fmt.Sprintf("set bantime = %d in jail.local and reload fail2ban", p.Ban.Bantime.Seconds())}
	case "ban.findtime":
		return check.Remediation{NixOS: fmt.Sprintf("services.fail2ban.jails.DEFAULT.settings.findtime = %q;", p.Ban.Findtime.String()),
			Generic: fmt.Sprintf("set findtime = %d in jail.local and reload fail2ban", p.Ban.Findtime.Seconds())}
	case "ban.maxretry":
		return check.Remediation{NixOS: fmt.Sprintf("services.fail2ban.maxretry = %d; (per jail: services.fail2ban.jails.<name>.settings.maxretry)", p.Ban.Maxretry),
			Generic: "set maxretry per jail in jail.local and reload fail2ban"}
	case "ban.ignoreip":
		return check.Remediation{NixOS: "services.fail2ban.ignoreIP = " + nixList(p.BanIgnore()) + ";",
			Generic: "set ignoreip to exactly the policy's networks in jail.local; never 0.0.0.0/0 or ::/0"}
	case "ban.actions":
		return check.Remediation{NixOS: "services.fail2ban.banaction = \"nftables-multiport\"; (with networking.nftables.enable = true)",
			Generic: "give every jail a firewall ban action (banaction = nftables-multiport); dummy actions ban nothing"}
	case "sysctl.persisted":
		return check.Remediation{NixOS: "declare every key in boot.kernel.sysctl (NixOS writes /etc/sysctl.d/60-nixos.conf)",
			Generic: "write the keys to /etc/sysctl.d/90-rampart.conf so they survive a reboot, then sysctl --system"}
	}
	if key, ok := strings.CutPrefix(topic, "sysctl:"); ok {
		return sysctlFix(p, key)
	}
	return check.Remediation{}
}

func sysctlFix(p *policy.Policy, keys string) check.Remediation {
	var nix, gen []string
	for _, k := range strings.Split(keys, ",") {
		v, _ := p.Sysctl.Get(k)
		nix = append(nix, fmt.Sprintf("boot.kernel.sysctl.%q = %d;", k, v))
		gen = append(gen, fmt.Sprintf("%s = %d", k, v))
		if base, ok := strings.CutPrefix(k, "net.ipv4.conf.all."); ok {
			nix = append(nix, fmt.Sprintf("boot.kernel.sysctl.%q = %d;", "net.ipv4.conf.default."+base, v))
			gen = append(gen, fmt.Sprintf("net.ipv4.conf.default.%s = %d (and each existing interface: sysctl -w net.ipv4.conf.IFACE.%s=%d)", base, v, base, v))
		}
	}
	fix := check.Remediation{NixOS: strings.Join(nix, " "),
		Generic: "in /etc/sysctl.d/90-rampart.conf: " + strings.Join(gen, "; ") + "; then sysctl --system"}
	if strings.Contains(keys, "forward") && p.Tailnet.Enabled {
		fix.NixOS += " services.tailscale.useRoutingFeatures = \"none\"; (its mkOverride 97 otherwise turns forwarding back on)"
	}
	return fix
}

func journaldFix(key, val string) check.Remediation {
	// extraConfig works on every release; newer ones also offer
	// services.journald.settings.Journal.*.
	nix := fmt.Sprintf("services.journald.extraConfig = ''\n  %s=%s\n'';", key, val)
	return check.Remediation{NixOS: nix,
		Generic: fmt.Sprintf("in /etc/systemd/journald.conf.d/90-rampart.conf: [Journal] %s=%s; then systemctl restart systemd-journald", key, val)}
}

func nixList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return "[ " + strings.Join(q, " ") + " ]"
}

// guardRemedy is the fix of a ban check when the policy bans with rampart
// guard (ban.engine = "rampart"): the guard reads every [ban] key from its
// policy file, services.rampart.policy on NixOS.
func guardRemedy(p *policy.Policy, topic string) (check.Remediation, bool) {
	if p == nil || p.Ban.Engine != policy.EngineRampart || !strings.HasPrefix(topic, "ban.") {
		return check.Remediation{}, false
	}
	const restart = " in /etc/rampart/policy.toml, then systemctl restart rampart-guard"
	set := func(key, val string) check.Remediation {
		return check.Remediation{NixOS: fmt.Sprintf("services.rampart.policy.ban.%s = %s; (rampart's flake, nixosModules.default)", key, val),
			Generic: "set ban." + key + " = " + val + restart}
	}
	switch topic {
	case "ban.daemon-running":
		return check.Remediation{NixOS: "services.rampart.guard.enable = true; (rampart's flake, nixosModules.default; `rampart nix` renders it)",
			Generic: "start the ban daemon: systemctl enable --now rampart-guard (the Debian package's unit; an enabled unit that is not running protects nothing)"}, true
	case "ban.jails":
		return check.Remediation{NixOS: "services.rampart.policy.ban.jails.<name>.enabled = true;",
			Generic: "enable every policy jail ([ban.jails.NAME] enabled = true)" + restart}, true
	case "ban.bantime":
		return set("bantime", strconv.Quote(p.Ban.Bantime.String())), true
	case "ban.findtime":
		return set("findtime", strconv.Quote(p.Ban.Findtime.String())), true
	case "ban.maxretry":
		return set("maxretry", strconv.Itoa(p.Ban.Maxretry)), true
	case "ban.ignoreip":
		return set("ignore", nixList(p.Ban.Ignore)), true
	case "ban.actions":
		return check.Remediation{NixOS: "services.rampart.guard.enable = true; (rampart guard bans into its own nftables table)",
			Generic: "run rampart guard (systemctl enable --now rampart-guard): it bans into its own nftables table " + p.Ban.Table}, true
	}
	return check.Remediation{}, false
}
