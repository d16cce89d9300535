package nixfacts

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
	"github.com/rampart-sec/rampart/internal/policy"
)

// Setting is one option definition that implements (part of) a policy
// topic. A Setting with a nil Value is a note: it explains in a comment why
// nothing is defined.
type Setting struct {
	Path    []string
	Value   nixexpr.Value
	Comment string
}

type topicDef struct {
	// name is the topic ("ssh.max_auth_tries"); a trailing ".*" takes an
	// argument ("sysctl.net.ipv4.ip_forward").
	name string
	// args lists the arguments a policy has for a ".*" topic.
	args func(p *policy.Policy) []string
	gen  func(r Release, p *policy.Policy, arg string) []Setting
	// also are topics whose definitions a remediation of this topic
	// includes (the module defines them once, under their own topic).
	also []string
}

func set(comment string, v nixexpr.Value, path ...string) Setting {
	return Setting{Path: path, Value: v, Comment: comment}
}

func note(comment string, path ...string) Setting { return Setting{Path: path, Comment: comment} }

var ssh = []string{"services", "openssh"}
var sshSettings = []string{"services", "openssh", "settings"}
var f2b = []string{"services", "fail2ban"}

func at(prefix []string, rest ...string) []string {
	return append(append([]string{}, prefix...), rest...)
}

// topics in rendering order.
var topics = []topicDef{
	{name: "ssh.enabled", gen: func(r Release, p *policy.Policy, _ string) []Setting {
		return []Setting{set("", nixexpr.Bool(p.SSH.Enabled), at(ssh, "enable")...)}
	}},
	{name: "ssh.ports", gen: func(r Release, p *policy.Policy, _ string) []Setting {
		if !p.SSH.Enabled || len(p.SSH.Ports) == 0 {
			return nil
		}
		return []Setting{set("", nixexpr.Ints(p.SSH.Ports...), at(ssh, "ports")...)}
	}},
	{name: "ssh.tailnet_only", gen: func(r Release, p *policy.Policy, _ string) []Setting {
		if !p.SSH.Enabled {
			return nil
		}
		if !p.SSH.TailnetOnly {
			return []Setting{set("the SSH ports are open on every interface", nixexpr.Bool(true), at(ssh, "openFirewall")...)}
		}
		return []Setting{set("SSH only over the tailnet: no global port; the tailnet interface is trusted", nixexpr.Bool(false), at(ssh, "openFirewall")...)}
	}, also: []string{"firewall.trusted_interfaces"}},
	{name: "ssh.password_authentication", gen: sshSetting("PasswordAuthentication", "", func(s policy.SSH) nixexpr.Value { return nixexpr.Bool(s.PasswordAuthentication) })},
	{name: "ssh.kbd_interactive_authentication", gen: sshSetting("KbdInteractiveAuthentication", "PAM answers keyboard-interactive with the password", func(s policy.SSH) nixexpr.Value {
		return nixexpr.Bool(s.KbdInteractiveAuthentication)
	})},
	{name: "ssh.permit_root_login", gen: sshSetting("PermitRootLogin", "", func(s policy.SSH) nixexpr.Value {
		v := s.PermitRootLogin
		if v == "without-password" {
			v = "prohibit-password"
		}
		return nixexpr.Str(v)
	})},
	{name: "ssh.max_auth_tries", gen: sshSetting("MaxAuthTries", "", func(s policy.SSH) nixexpr.Value { return nixexpr.Int(s.MaxAuthTries) })},
	{name: "ssh.client_alive_interval", gen: sshSetting("ClientAliveInterval", "seconds", func(s policy.SSH) nixexpr.Value { return nixexpr.Int(s.ClientAliveInterval.Seconds()) })},
	{name: "ssh.client_alive_count_max", gen: sshSetting("ClientAliveCountMax", "", func(s policy.SSH) nixexpr.Value { return nixexpr.Int(s.ClientAliveCountMax) })},
	{name: "ssh.allow_tcp_forwarding", gen: sshSetting("AllowTcpForwarding", "", func(s policy.SSH) nixexpr.Value { return nixexpr.Bool(s.AllowTCPForwarding) })},
	{name: "ssh.x11_forwarding", gen: sshSetting("X11Forwarding", "", func(s policy.SSH) nixexpr.Value { return nixexpr.Bool(s.X11Forwarding) })},

	{name: "admin.users.*", args: func(p *policy.Policy) []string {
		var out []string
		for _, u := range p.Admin.Users {
			out = append(out, u.Name)
		}
		return out
	}, gen: func(r Release, p *policy.Policy, name string) []Setting {
		var out []Setting
		for _, u := range p.Admin.Users {
			if u.Name != name {
				continue
			}
			base := []string{"users", "users", u.Name}
			out = append(out, set("", nixexpr.Bool(true), at(base, "isNormalUser")...))
			if u.Sudo {
				out = append(out, set("", nixexpr.Strs("wheel"), at(base, "extraGroups")...))
			}
			out = append(out, set("", nixexpr.Strs(u.AuthorizedKeys...), at(base, "openssh", "authorizedKeys", "keys")...))
		}
		return out
	}},

	{name: "admin.sudo", gen: func(r Release, p *policy.Policy, _ string) []Setting {
		sudo := false
		for _, u := range p.Admin.Users {
			sudo = sudo || u.Sudo
		}
		if !sudo || !p.SSH.Enabled || p.SSH.PasswordAuthentication || p.SSH.KbdInteractiveAuthentication {
			return nil
		}
		return []Setting{set("key-only administrators have no password to give sudo", nixexpr.Bool(false), "security", "sudo", "wheelNeedsPassword")}
	}},

	{name: "ban.enabled", gen: func(r Release, p *policy.Policy, _ string) []Setting {
		if RampartModule(p) {
			return rampartSettings(p)
		}
		return []Setting{set("", nixexpr.Bool(p.Ban.Enabled), at(f2b, "enable")...)}
	}},
	{name: "ban.bantime", gen: banSetting(func(r Release, p *policy.Policy) []Setting {
		return []Setting{set("a string: an integer fails evaluation", nixexpr.Str(F2BDuration(p.Ban.Bantime.D)), at(f2b, "bantime")...)}
	})},
	{name: "ban.maxretry", gen: banSetting(func(r Release, p *policy.Policy) []Setting {
		return []Setting{set("", nixexpr.Int(p.Ban.Maxretry), at(f2b, "maxretry")...)}
	})},
	{name: "ban.findtime", gen: banSetting(func(r Release, p *policy.Policy) []Setting {
		return []Setting{set("there is no findtime option: it goes to the DEFAULT jail", nixexpr.Str(F2BDuration(p.Ban.Findtime.D)), at(f2b, "jails", "DEFAULT", "settings", "findtime")...)}
	})},
	{name: "ban.ignore", gen: banSetting(func(r Release, p *policy.Policy) []Setting {
		ignore := p.BanIgnore()
		var keep []string
		for _, s := range ignore {
			if !loopback(s) {
				keep = append(keep, s)
			}
		}
		note := "127.0.0.1/8 and ::1 are always ignored by the module"
		if len(ignore) > len(p.Ban.Ignore) {
			note += "; so are the tailnet ranges: SSH comes only over the tailnet"
		}
		return []Setting{set(note, nixexpr.Strs(keep...), at(f2b, "ignoreIP")...)}
	})},
	{name: "ban.increment", gen: banSetting(func(r Release, p *policy.Policy) []Setting {
		inc := p.Ban.Increment
		if !inc.Enabled {
			return nil
		}
		base := at(f2b, "bantime-increment")
		out := []Setting{set("repeat offenders get longer bans", nixexpr.Bool(true), at(base, "enable")...)}
		if inc.Factor > 0 {
			out = append(out,
				set("", nixexpr.Str(strconv.FormatFloat(inc.Factor, 'f', -1, 64)), at(base, "factor")...),
				set("the nth ban lasts bantime * factor^(n-1), as rampart guard computes it (fail2ban's\n"+
					"default formula would double it once more: bantime * 2^(n-1) * factor)",
					nixexpr.Str(BantimeFormula(p)), at(base, "formula")...))
		}
		if inc.Max.D > 0 {
			out = append(out, set("", nixexpr.Str(F2BDuration(inc.Max.D)), at(base, "maxtime")...))
		}
		return out
	})},
	{name: "ban.jails.*", args: func(p *policy.Policy) []string {
		var out []string
		for _, j := range p.Ban.Jails {
			out = append(out, j.Name)
		}
		return out
	}, gen: func(r Release, p *policy.Policy, name string) []Setting {
		j, ok := p.Ban.Jail(name)
		if !ok || !p.Ban.Enabled || RampartModule(p) {
			return nil
		}
		return jailSettings(r, p, j)
	}},

	{name: "ban.log_files", gen: banSetting(func(r Release, p *policy.Policy) []Setting {
		logs := nginxLogs(p)
		if len(logs) == 0 {
			return nil
		}
		// As the nginx module's own LogsDirectory (0750) and UMask 0027.
		owner := " ${config.services.nginx.user} ${config.services.nginx.group} - -"
		rules := nixexpr.List{nixexpr.Raw(quoteRaw("d " + nginxLogDir + " 0750" + owner))}
		for _, l := range logs {
			rules = append(rules, nixexpr.Raw(quoteRaw("f "+l+" 0640"+owner)))
		}
		return []Setting{
			set("fail2ban exits when a file jail's log does not exist yet (and its unit does not\n"+
				"restart), taking the sshd jail down with it: create nginx's logs at boot, with\n"+
				"nginx's owner and modes", nixexpr.MkIf(nginxEnabled, rules), "systemd", "tmpfiles", "rules"),
			set("read the nginx logs once nginx has opened them", nixexpr.MkIf(nginxEnabled, nixexpr.Strs("nginx.service")),
				"systemd", "services", "fail2ban", "after"),
		}
	})},

	{name: "audit.enabled", gen: func(r Release, p *policy.Policy, _ string) []Setting {
		c := ""
		if r >= R2511 {
			c = "25.11+: rules load through audit-rules-nixos.service (auditctl -R)"
		}
		return []Setting{
			set("", nixexpr.Bool(p.Audit.Enabled), "security", "auditd", "enable"),
			set(c, nixexpr.Bool(p.Audit.Enabled), "security", "audit", "enable"),
		}
	}},
	{name: "audit.backlog_limit", gen: func(r Release, p *policy.Policy, _ string) []Setting {
		if !p.Audit.Enabled || p.Audit.BacklogLimit <= 0 {
			return nil
		}
		return []Setting{set("", nixexpr.Int(p.Audit.BacklogLimit), "security", "audit", "backlogLimit")}
	}},
	{name: "audit.watches", gen: func(r Release, p *policy.Policy, _ string) []Setting {
		if !p.Audit.Enabled {
			return nil
		}
		var rules []string
		for _, w := range p.Audit.Watches {
			rule := "-w " + w.Path
			if w.Perms != "" {
				rule += " -p " + w.Perms
			}
			if w.Key != "" {
				rule += " -k " + w.Key
			}
			rules = append(rules, rule)
		}
		c := "watches only: the module writes the -D/-b/-f/-e control lines itself"
		out := []Setting{set(c, nixexpr.Strs(rules...), "security", "audit", "rules")}
		if r >= R2511 && len(p.Audit.Watches) > 0 {
			out = append(out, auditWatchService(p)...)
		}
		return out
	}},

	{name: "sysctl.*", args: func(p *policy.Policy) []string {
		var out []string
		for _, s := range p.Sysctl {
			out = append(out, s.Name)
		}
		return out
	}, gen: func(r Release, p *policy.Policy, name string) []Setting {
		v, ok := p.Sysctl.Get(name)
		if !ok {
			return nil
		}
		path := []string{"boot", "kernel", "sysctl", name}
		if why := SysctlConflict(p, name, v); why != "" {
			return []Setting{note(name+" = "+strconv.FormatInt(v, 10)+" is not set: "+why, path...)}
		}
		return []Setting{set("", nixexpr.Int(v), path...)}
	}},

	{name: "time.chrony", gen: func(r Release, p *policy.Policy, _ string) []Setting {
		c := ""
		if p.Time.Chrony {
			c = "chrony turns systemd-timesyncd off"
		}
		return []Setting{set(c, nixexpr.Bool(p.Time.Chrony), "services", "chrony", "enable")}
	}},
	{name: "time.servers", gen: func(r Release, p *policy.Policy, _ string) []Setting {
		if !p.Time.Chrony || len(p.Time.Servers) == 0 {
			return nil
		}
		return []Setting{set("", nixexpr.Strs(p.Time.Servers...), "services", "chrony", "servers")}
	}},

	{name: "journald.storage", gen: journald("Storage", func(p *policy.Policy) (string, bool) {
		return p.Journald.Storage, p.Journald.Storage != ""
	})},
	{name: "journald.max_retention", gen: journald("MaxRetentionSec", func(p *policy.Policy) (string, bool) {
		return policy.FormatDuration(p.Journald.MaxRetention.D), p.Journald.MaxRetention.D > 0
	})},
	{name: "journald.system_max_file_size", gen: journald("SystemMaxFileSize", func(p *policy.Policy) (string, bool) {
		return policy.FormatSize(p.Journald.SystemMaxFileSize.Bytes), p.Journald.SystemMaxFileSize.Bytes > 0
	})},
	{name: "journald.system_max_files", gen: journald("SystemMaxFiles", func(p *policy.Policy) (string, bool) {
		return strconv.Itoa(p.Journald.SystemMaxFiles), p.Journald.SystemMaxFiles > 0
	})},

	{name: "tailnet.enabled", gen: func(r Release, p *policy.Policy, _ string) []Setting {
		return []Setting{set("", nixexpr.Bool(p.Tailnet.Enabled), "services", "tailscale", "enable")}
	}},
	{name: "tailnet.open_firewall", gen: tailnet(func(p *policy.Policy) []Setting {
		return []Setting{set("UDP port only; it does not trust the interface", nixexpr.Bool(p.Tailnet.OpenFirewall), "services", "tailscale", "openFirewall")}
	})},
	{name: "tailnet.port", gen: tailnet(func(p *policy.Policy) []Setting {
		if p.Tailnet.Port == 0 || p.Tailnet.Port == 41641 {
			return nil
		}
		return []Setting{set("", nixexpr.Int(p.Tailnet.Port), "services", "tailscale", "port")}
	})},
	{name: "tailnet.interface", gen: tailnet(func(p *policy.Policy) []Setting {
		if p.Tailnet.Interface == "" || p.Tailnet.Interface == "tailscale0" {
			return nil
		}
		return []Setting{set("", nixexpr.Str(p.Tailnet.Interface), "services", "tailscale", "interfaceName")}
	})},
	{name: "tailnet.auth_key_file", gen: tailnet(func(p *policy.Policy) []Setting {
		if p.Tailnet.AuthKeyFile == "" {
			return []Setting{note("no auth key file: join the tailnet by hand with `tailscale up`", "services", "tailscale", "authKeyFile")}
		}
		return []Setting{set("use a tagged key: tagged nodes never expire", nixexpr.Str(p.Tailnet.AuthKeyFile), "services", "tailscale", "authKeyFile")}
	})},
	{name: "tailnet.use_routing_features", gen: tailnet(func(p *policy.Policy) []Setting {
		v := p.Tailnet.UseRoutingFeatures
		if v == "" {
			v = "none"
		}
		return []Setting{set("", nixexpr.Str(v), "services", "tailscale", "useRoutingFeatures")}
	})},

	{name: "firewall.enabled", gen: func(r Release, p *policy.Policy, _ string) []Setting {
		return []Setting{set("", nixexpr.Bool(p.Firewall.Enabled), "networking", "firewall", "enable")}
	}},
	{name: "firewall.trusted_interfaces", gen: func(r Release, p *policy.Policy, _ string) []Setting {
		ifs := p.TrustedInterfaces()
		if len(ifs) == 0 {
			return nil
		}
		return []Setting{set("all traffic from these interfaces is accepted", nixexpr.Strs(ifs...), "networking", "firewall", "trustedInterfaces")}
	}},
	{name: "firewall.allowed_tcp_ports", gen: func(r Release, p *policy.Policy, _ string) []Setting {
		if len(p.Firewall.AllowedTCPPorts) == 0 {
			return nil
		}
		return []Setting{set("", nixexpr.Ints(p.Firewall.AllowedTCPPorts...), "networking", "firewall", "allowedTCPPorts")}
	}},
	{name: "firewall.allowed_udp_ports", gen: func(r Release, p *policy.Policy, _ string) []Setting {
		if len(p.Firewall.AllowedUDPPorts) == 0 {
			return nil
		}
		return []Setting{set("", nixexpr.Ints(p.Firewall.AllowedUDPPorts...), "networking", "firewall", "allowedUDPPorts")}
	}},
}

func sshSetting(key, comment string, val func(policy.SSH) nixexpr.Value) func(Release, *policy.Policy, string) []Setting {
	return func(r Release, p *policy.Policy, _ string) []Setting {
		if !p.SSH.Enabled {
			return nil
		}
		return []Setting{set(comment, val(p.SSH), at(sshSettings, key)...)}
	}
}

func banSetting(gen func(Release, *policy.Policy) []Setting) func(Release, *policy.Policy, string) []Setting {
	return func(r Release, p *policy.Policy, _ string) []Setting {
		if !p.Ban.Enabled || RampartModule(p) {
			// With rampart guard, services.rampart.policy (ban.enabled)
			// carries every [ban] key.
			return nil
		}
		return gen(r, p)
	}
}

func tailnet(gen func(*policy.Policy) []Setting) func(Release, *policy.Policy, string) []Setting {
	return func(r Release, p *policy.Policy, _ string) []Setting {
		if !p.Tailnet.Enabled {
			return nil
		}
		return gen(p)
	}
}

// journald sets one [Journal] key: through extraConfig lines up to 26.05,
// through settings.Journal from 26.11 (where extraConfig fails evaluation).
func journald(key string, val func(*policy.Policy) (string, bool)) func(Release, *policy.Policy, string) []Setting {
	return func(r Release, p *policy.Policy, _ string) []Setting {
		v, ok := val(p)
		if !ok {
			return nil
		}
		if r >= R2611 {
			var nv nixexpr.Value = nixexpr.Str(v)
			if n, err := strconv.Atoi(v); err == nil && key == "SystemMaxFiles" {
				nv = nixexpr.Int(n)
			}
			return []Setting{set("", nv, "services", "journald", "settings", "Journal", key)}
		}
		if key == "Storage" {
			return []Setting{set("", nixexpr.Str(v), "services", "journald", "storage")}
		}
		return []Setting{set("", nixexpr.Lines{key + "=" + v}, "services", "journald", "extraConfig")}
	}
}

func loopback(s string) bool {
	switch strings.TrimSpace(s) {
	case "127.0.0.1/8", "127.0.0.1", "127.0.0.0/8", "::1", "::1/128":
		return true
	}
	return false
}

// F2BDuration writes d the way fail2ban reads it: the largest of w, d, h,
// m, s that divides d exactly ("1h", "10m", "90s"). Months and years are
// written in weeks, days or seconds, whose meaning fail2ban never varies.
func F2BDuration(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	for _, u := range []struct {
		s string
		d time.Duration
	}{{"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}} {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.s
		}
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// AuditWatchService is the unit that loads the policy's watches one by one
// after audit-rules-nixos.service (25.11+).
const AuditWatchService = "rampart-audit-watches"

// auditWatchService works around nixpkgs issue #513202: on kernels >= 6.19
// the -b line the 25.11+ module puts before the rules fails, and auditctl
// -R stops at the first error, so audit-rules-nixos.service loads no rule
// at all. The unit adds each watch with its own auditctl call (watches
// still load on those kernels), skips the ones already loaded ("Rule
// exists": the module's service worked) and fails if any other is missing,
// so that systemctl --failed shows it.
func auditWatchService(p *policy.Policy) []Setting {
	script := nixexpr.Lines{
		`case "$(auditctl -s)" in *"enabled 2"*) echo "audit rules are locked: nothing to add"; exit 0 ;; esac`,
		"failed=0",
		"add() {",
		`  if out=$(auditctl "$@" 2>&1); then echo "added: $*"; return; fi`,
		`  case "$out" in`,
		`    *"Rule exists"*) echo "already loaded: $*" ;;`,
		`    *) echo "auditctl $*: $out" >&2; failed=1 ;;`,
		"  esac",
		"}",
	}
	for _, w := range p.Audit.Watches {
		line := "add -w " + shellQuote(w.Path)
		if w.Perms != "" {
			line += " -p " + shellQuote(w.Perms)
		}
		if w.Key != "" {
			line += " -k " + shellQuote(w.Key)
		}
		script = append(script, line)
	}
	script = append(script, `exit "$failed"`)
	base := []string{"systemd", "services", AuditWatchService}
	return []Setting{
		set("nixpkgs issue #513202: on kernels >= 6.19 audit-rules-nixos.service stops at the -b\n"+
			"line and loads no rule; this unit loads each watch by itself after it (a no-op where\n"+
			"the module's service worked)", nixexpr.Str("Load rampart's audit watches (nixpkgs issue #513202)"), at(base, "description")...),
		set("", nixexpr.Strs("multi-user.target"), at(base, "wantedBy")...),
		set("", nixexpr.Strs("audit-rules-nixos.service"), at(base, "after")...),
		set("restarted with it: its rules file starts with -D, which drops these watches too",
			nixexpr.Strs("audit-rules-nixos.service"), at(base, "partOf")...),
		set("", nixexpr.List{nixexpr.Raw("config.security.audit.package")}, at(base, "path")...),
		set("", nixexpr.Str("oneshot"), at(base, "serviceConfig", "Type")...),
		set("", nixexpr.Bool(true), at(base, "serviceConfig", "RemainAfterExit")...),
		set("", script, at(base, "script")...),
	}
}

// shellQuote quotes s as one shell word.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// BantimeFormula is the bantime.formula that makes fail2ban lengthen bans
// as the policy says (and rampart guard does): the nth ban of an address
// lasts bantime * factor^(n-1), capped at ban.increment.max. fail2ban
// evaluates it with ban.Count = n-1 (the bans of the address it has on
// record), banFactor = bantime.factor, and takes min(result, maxtime).
// The exponent stops growing once the smallest bantime has reached the cap,
// so that a float power never overflows (fail2ban would then log an error
// and keep the first bantime).
func BantimeFormula(p *policy.Policy) string {
	return fmt.Sprintf("ban.Time * banFactor**min(ban.Count, %d)", bantimeExponentCap(p))
}

func bantimeExponentCap(p *policy.Policy) int {
	inc := p.Ban.Increment
	smallest := p.Ban.Bantime.D
	for _, j := range p.Ban.Jails {
		if j.Bantime.D > 0 && (smallest <= 0 || j.Bantime.D < smallest) {
			smallest = j.Bantime.D
		}
	}
	const most = 60
	if inc.Factor <= 1 || smallest <= 0 || inc.Max.D <= 0 {
		if inc.Factor <= 1 {
			return 0
		}
		return most
	}
	n := 0
	for d := float64(smallest); d < float64(inc.Max.D) && n < most; n++ {
		d *= inc.Factor
	}
	return n
}

// SysctlConflict explains why a policy sysctl is left out of the module, or
// returns "": net.ipv4.ip_forward = 0 would undo the forwarding Tailscale's
// server/both routing features turn on (the key sorts after
// conf.all.forwarding in the same file), and a strict rp_filter defeats
// client routing (the firewall's loose reverse-path check covers it).
func SysctlConflict(p *policy.Policy, name string, v int64) string {
	if !p.Tailnet.Enabled {
		return ""
	}
	rf := p.Tailnet.UseRoutingFeatures
	switch {
	case name == "net.ipv4.ip_forward" && v == 0 && (rf == "server" || rf == "both"):
		return "tailscale use_routing_features = " + rf + " needs forwarding"
	case strings.HasSuffix(name, ".rp_filter") && v == 1 && (rf == "client" || rf == "both"):
		return "a strict rp_filter drops tailnet exit-node traffic; networking.firewall.checkReversePath (loose with client routing) filters instead"
	}
	return ""
}

// NoscriptFilter is rampart's nginx-noscript fail2ban filter: a client
// whose request for a script file (PHP, ASP, CGI, …) is answered 404 in the
// nginx access log (combined format) is probing. fail2ban does not ship a
// filter by that name in every release, so rampart defines it.
func NoscriptFilter() (failregex, ignoreregex string) {
	return `^<HOST> \S+ \S+ \[[^\]]*\] "[A-Z]+ /[^" ]*\.(?:php[0-9]?|phtml|aspx?|exe|pl|cgi|jsp|cfm|dll)(?:[?;#][^" ]*)? HTTP/[0-9.]+" 404\s`, ""
}

// builtinFilters are the filter names rampart defines itself.
var builtinFilters = map[string]bool{"nginx-noscript": true}

// jailSettings renders one policy jail for the NixOS fail2ban module.
func jailSettings(r Release, p *policy.Policy, j policy.Jail) []Setting {
	base := at(f2b, "jails", j.Name)
	if !j.Enabled {
		return []Setting{set("disabled in the policy", nixexpr.Bool(false), at(base, "enabled")...)}
	}
	st := &nixexpr.Attrs{}
	var out []Setting
	filter := j.Filter
	if strings.HasPrefix(filter, "fail2ban:") {
		filter = strings.TrimSuffix(strings.TrimSuffix(path.Base(strings.TrimPrefix(filter, "fail2ban:")), ".conf"), ".local")
	}
	if filter != "" {
		f := filter
		if j.Mode != "" && j.Mode != "normal" {
			f += "[mode=" + j.Mode + "]"
		}
		st.Add("", nixexpr.Str(f), "filter")
	}
	ports, portNote := j.Ports, ""
	if filter == "sshd" && p.SSH.Enabled && len(p.SSH.Ports) > 0 {
		// The policy's jail ports are a default; sshd listens on ssh.ports.
		ports, portNote = p.SSH.Ports, "the policy's ssh.ports"
	}
	if len(ports) > 0 {
		ps := make([]string, len(ports))
		for i, n := range ports {
			ps[i] = strconv.Itoa(n)
		}
		st.Add(portNote, nixexpr.Str(strings.Join(ps, ",")), "port")
	}
	st.Add("bans cover every port of the offender (the module's banaction-allports)", nixexpr.Str("%(banaction_allports)s"), "banaction")
	switch j.Source {
	case "file":
		// Continuation lines must be indented, or fail2ban reads them as keys.
		st.Add("", nixexpr.Str(strings.Join(j.Paths, "\n  ")), "logpath")
		st.Add("the DEFAULT backend (systemd) would ignore logpath", nixexpr.Str("auto"), "backend")
	case "journal":
		if len(j.Journal) > 0 {
			c := ""
			if j.Filter == "sshd" {
				c = "also sshd-session: OpenSSH >= 9.8 logs failures from it"
			}
			st.Add(c, nixexpr.Str(strings.Join(j.Journal, " + ")), "journalmatch")
		}
	default:
		return []Setting{note("jail "+j.Name+" reads "+j.Source+", which the NixOS module cannot express", base...)}
	}
	if j.Maxretry > 0 {
		st.Add("", nixexpr.Int(j.Maxretry), "maxretry")
	}
	if j.Findtime.D > 0 {
		st.Add("", nixexpr.Str(F2BDuration(j.Findtime.D)), "findtime")
	}
	if j.Bantime.D > 0 {
		st.Add("", nixexpr.Str(F2BDuration(j.Bantime.D)), "bantime")
	}
	if j.Source == "file" && allUnder(j.Paths, nginxLogDir+"/") {
		jail := &nixexpr.Attrs{}
		jail.Add("", st, "settings")
		out = append(out, set("only with nginx: fail2ban refuses a file jail whose log does not exist",
			nixexpr.MkIf(nginxEnabled, jail), base...))
	} else {
		out = append(out, set("", st, at(base, "settings")...))
	}
	if builtinFilters[filter] {
		out = append(out, filterDefinition(r, filter)...)
	}
	return out
}

// nginxLogDir is where the NixOS nginx module logs (LogsDirectory=nginx).
const nginxLogDir = "/var/log/nginx"

const nginxEnabled = nixexpr.Raw("config.services.nginx.enable")

// nginxLogs returns the nginx log files the enabled file jails read, in
// policy order without repeats.
func nginxLogs(p *policy.Policy) []string {
	var out []string
	seen := map[string]bool{}
	for _, j := range p.Ban.Jails {
		if !j.Enabled || j.Source != "file" || !allUnder(j.Paths, nginxLogDir+"/") {
			continue
		}
		for _, l := range j.Paths {
			if !seen[l] && !strings.ContainsAny(l, "*?[ \t\n\"\\$") {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	return out
}

// quoteRaw is a Nix string literal for s, which holds ${…} interpolations
// of rampart's own making and nothing else that needs escaping.
func quoteRaw(s string) string { return `"` + s + `"` }

func allUnder(paths []string, dir string) bool {
	for _, p := range paths {
		if !strings.HasPrefix(p, dir) {
			return false
		}
	}
	return len(paths) > 0
}

// filterDefinition defines a rampart filter as filter.d/NAME.local: with
// services.fail2ban.filters where the release has it, else as a file in
// /etc (which works in every release; a string filter in
// jails.NAME.settings then names it).
func filterDefinition(r Release, name string) []Setting {
	fail, ignore := NoscriptFilter()
	if Fact := lookup("services.fail2ban.filters"); Fact.Available(r) {
		def := &nixexpr.Attrs{}
		def.Add("", nixexpr.Str(fail), "failregex")
		def.Add("", nixexpr.Str(ignore), "ignoreregex")
		return []Setting{set("fail2ban ships no "+name+" filter in every release: rampart defines it", def, "services", "fail2ban", "filters", name, "Definition")}
	}
	text := nixexpr.Lines{"[Definition]", iniLine("failregex", fail), iniLine("ignoreregex", ignore)}
	file := "fail2ban/filter.d/" + name + ".local"
	return []Setting{
		set("fail2ban ships no "+name+" filter in every release: rampart defines it", text, "environment", "etc", file, "text"),
		set("the module does not restart fail2ban when a filter file changes (nixpkgs issue #288436)",
			nixexpr.List{nixexpr.Raw("config.environment.etc." + nixexpr.Key(file) + ".text")}, "systemd", "services", "fail2ban", "restartTriggers"),
	}
}

func iniLine(k, v string) string {
	if v == "" {
		return k + " ="
	}
	return k + " = " + v
}

func lookup(p string) Fact {
	for _, f := range facts {
		if f.Path == p {
			return f
		}
	}
	return Fact{}
}

// Topics returns the topic names in rendering order; names ending in ".*"
// take an argument (a sysctl name, a jail name, an admin user name).
func Topics() []string {
	out := make([]string, len(topics))
	for i, t := range topics {
		out[i] = t.name
	}
	return out
}

// PolicyTopics returns the concrete topics of p in rendering order, with
// the ".*" topics expanded ("sysctl.net.ipv4.ip_forward").
func PolicyTopics(p *policy.Policy) []string {
	var out []string
	for _, t := range topics {
		if t.args == nil {
			out = append(out, t.name)
			continue
		}
		stem := strings.TrimSuffix(t.name, "*")
		for _, a := range t.args(p) {
			out = append(out, stem+a)
		}
	}
	return out
}

// Settings returns the option definitions that implement topic in release
// r for policy p (nil for an unknown topic or one the policy turns off).
func Settings(r Release, topic string, p *policy.Policy) []Setting {
	for _, t := range topics {
		if t.args == nil && t.name == topic {
			return t.gen(r, p, "")
		}
	}
	// The longest matching ".*" stem wins.
	var best *topicDef
	for i := range topics {
		t := &topics[i]
		if t.args != nil && strings.HasPrefix(topic, strings.TrimSuffix(t.name, "*")) && len(topic) > len(t.name)-1 {
			if best == nil || len(t.name) > len(best.name) {
				best = t
			}
		}
	}
	if best == nil {
		return nil
	}
	return best.gen(r, p, strings.TrimPrefix(topic, strings.TrimSuffix(best.name, "*")))
}

// Remediation returns the exact Nix line(s) that set topic in release r for
// policy p, e.g. `services.openssh.settings.MaxAuthTries = 3;`, or "" for
// an unknown topic. Sub-keys are aliases: "ban.jails" gives every jail,
// "sysctl" every sysctl, "admin.users" every admin, "journald" every
// journald key, "ssh" every SSH setting.
func Remediation(r Release, topic string, p *policy.Policy) string {
	if p == nil || r < R2411 || r > Unstable {
		return ""
	}
	var ss []Setting
	for _, t := range PolicyTopics(p) {
		if t == topic || strings.HasPrefix(t, topic+".") {
			ss = append(ss, Settings(r, t, p)...)
		}
	}
	for _, t := range topics {
		if t.name == topic {
			for _, a := range t.also {
				ss = append(ss, Settings(r, a, p)...)
			}
		}
	}
	if len(ss) == 0 {
		ss = Settings(r, topic, p)
	}
	return Lines(mergeSettings(ss))
}

// Lines renders settings as dotted definitions, one per option, with notes
// as comments.
func Lines(ss []Setting) string {
	var b strings.Builder
	for _, s := range ss {
		if s.Value == nil {
			b.WriteString("# " + s.Comment + "\n")
			continue
		}
		line, err := nixexpr.Assign(s.Path, s.Value)
		if err != nil {
			continue
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// mergeSettings joins Lines values defined at the same path (journald's
// extraConfig collects one line per key) and keeps first-seen order.
func mergeSettings(ss []Setting) []Setting {
	var out []Setting
	idx := map[string]int{}
	for _, s := range ss {
		k := nixexpr.KeyPath(s.Path)
		if i, seen := idx[k]; seen && sameValue(out[i].Value, s.Value) {
			continue
		}
		if l, ok := s.Value.(nixexpr.Lines); ok {
			if i, seen := idx[k]; seen {
				if prev, ok := out[i].Value.(nixexpr.Lines); ok {
					out[i].Value = append(append(nixexpr.Lines{}, prev...), l...)
					continue
				}
			}
		}
		idx[k] = len(out)
		out = append(out, s)
	}
	return out
}

func sameValue(a, b nixexpr.Value) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	x, err1 := nixexpr.Render(a)
	y, err2 := nixexpr.Render(b)
	return err1 == nil && err2 == nil && x == y
}

// MergeSettings is mergeSettings for the renderer.
func MergeSettings(ss []Setting) []Setting { return mergeSettings(ss) }
