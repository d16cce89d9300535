package policy

import (
	"slices"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/source"
)

// Profiles understood by Default and by the "profile" key.
const (
	ProfileBaseline = "baseline"
	ProfileTailnet  = "tailnet"
)

// Policy is the whole model. Field tags give the TOML/JSON key names.
type Policy struct {
	// Profile is "baseline" (the hardened server) or "tailnet" (baseline + SSH
	// only over Tailscale).
	Profile  string   `toml:"profile" json:"profile"`
	Admin    Admin    `toml:"admin" json:"admin"`
	SSH      SSH      `toml:"ssh" json:"ssh"`
	Ban      Ban      `toml:"ban" json:"ban"`
	Audit    Audit    `toml:"audit" json:"audit"`
	Sysctl   Sysctls  `toml:"sysctl" json:"sysctl"`
	Time     Time     `toml:"time" json:"time"`
	Journald Journald `toml:"journald" json:"journald"`
	Tailnet  Tailnet  `toml:"tailnet" json:"tailnet"`
	Firewall Firewall `toml:"firewall" json:"firewall"`
	Fleet    Fleet    `toml:"fleet" json:"fleet"`

	// Source is where the policy came from: a file path, or "(default)".
	// Not part of the file format.
	Source string `toml:"-" json:"-"`
}

// Admin lists the people who must always be able to log in.
type Admin struct {
	Users []AdminUser `toml:"users" json:"users"`
}

// AdminUser is one administrator account with its SSH public keys.
type AdminUser struct {
	Name           string   `toml:"name" json:"name"`
	AuthorizedKeys []string `toml:"authorized_keys" json:"authorized_keys"`
	// Sudo grants wheel membership in the rendered NixOS module.
	Sudo bool `toml:"sudo" json:"sudo"`
}

// HasAuthorizedKey reports whether at least one admin has a public key.
func (a Admin) HasAuthorizedKey() bool {
	for _, u := range a.Users {
		if len(u.AuthorizedKeys) > 0 {
			return true
		}
	}
	return false
}

// SSH is the OpenSSH server policy (the baseline's services.openssh block).
type SSH struct {
	Enabled bool  `toml:"enabled" json:"enabled"`
	Ports   []int `toml:"ports" json:"ports"`
	// PasswordAuthentication and KbdInteractiveAuthentication must both be
	// off for passwords to be off: PAM answers keyboard-interactive.
	PasswordAuthentication       bool `toml:"password_authentication" json:"password_authentication"`
	KbdInteractiveAuthentication bool `toml:"kbd_interactive_authentication" json:"kbd_interactive_authentication"`
	// PermitRootLogin is one of yes, prohibit-password, forced-commands-only,
	// no ("without-password" is accepted as an alias of prohibit-password).
	PermitRootLogin     string   `toml:"permit_root_login" json:"permit_root_login"`
	MaxAuthTries        int      `toml:"max_auth_tries" json:"max_auth_tries"`
	ClientAliveInterval Duration `toml:"client_alive_interval" json:"client_alive_interval"`
	ClientAliveCountMax int      `toml:"client_alive_count_max" json:"client_alive_count_max"`
	AllowTCPForwarding  bool     `toml:"allow_tcp_forwarding" json:"allow_tcp_forwarding"`
	X11Forwarding       bool     `toml:"x11_forwarding" json:"x11_forwarding"`
	// TailnetOnly closes the SSH ports on every interface except the
	// tailnet's (the tailnet profile). Requires [tailnet] enabled.
	TailnetOnly bool `toml:"tailnet_only" json:"tailnet_only"`
}

// Ban is the brute-force defence: global jail defaults and the jails.
type Ban struct {
	Enabled bool `toml:"enabled" json:"enabled"`
	// Engine is what bans on the host: "rampart" (rampart guard, the
	// services.rampart module on NixOS) or "fail2ban".
	Engine   string   `toml:"engine" json:"engine"`
	Bantime  Duration `toml:"bantime" json:"bantime"`
	Findtime Duration `toml:"findtime" json:"findtime"`
	Maxretry int      `toml:"maxretry" json:"maxretry"`
	// Ignore lists addresses and CIDRs that are never banned. Loopback is
	// always ignored whether listed or not, and with SSH reachable only over
	// the tailnet so are the tailnet's ranges: Policy.BanIgnore is the list
	// both ban engines use.
	Ignore    []string  `toml:"ignore" json:"ignore"`
	Increment Increment `toml:"increment" json:"increment"`
	// IPv6Prefix is the prefix length banned for an IPv6 offender
	// (128 bans the single address; 64 bans its /64).
	IPv6Prefix int `toml:"ipv6_prefix" json:"ipv6_prefix"`
	// MaxTracked bounds memory: at most this many addresses with pending
	// failures are remembered (oldest evicted first).
	MaxTracked int `toml:"max_tracked" json:"max_tracked"`
	// StateDir holds the ban store and source cursors.
	StateDir string `toml:"state_dir" json:"state_dir"`
	// Socket is the control socket of `rampart guard run`.
	Socket string `toml:"socket" json:"socket"`
	// SocketGroup is the group whose members may use the control socket
	// besides root ("" = root only).
	SocketGroup string `toml:"socket_group" json:"socket_group"`
	// Metrics is an optional listen address for Prometheus metrics ("" = off).
	Metrics string `toml:"metrics" json:"metrics"`
	// Table is the name of rampart's own nftables inet table.
	Table string `toml:"table" json:"table"`
	Jails []Jail `toml:"jails" json:"jails"`
	// Actions run on every ban and unban ([[ban.actions]]), off the ban
	// path: a webhook or a program.
	Actions []Action `toml:"actions" json:"actions"`
}

// Action is a notification or integration run on bans and unbans. Its
// values are rampart's own (the prefix, the jail, the times): nothing read
// from a log line reaches it.
type Action struct {
	Name string `toml:"name" json:"name"`
	// Type is "webhook" (POST a JSON body to URL) or "exec" (run Argv,
	// no shell).
	Type string `toml:"type" json:"type"`
	// On lists the events: "ban", "unban" (both when empty).
	On []string `toml:"on" json:"on"`
	// Jails limits the action to these jails (every jail when empty).
	Jails []string `toml:"jails" json:"jails"`
	URL   string   `toml:"url" json:"url"`
	// Argv is the program and its arguments; {action}, {prefix}, {ip},
	// {jail}, {until}, {failures} and {bantime} are replaced inside each
	// argument, which stays one argument whatever the value.
	Argv    []string `toml:"argv" json:"argv"`
	Timeout Duration `toml:"timeout" json:"timeout"`
	// Retries is how many times a failed run is tried again.
	Retries int `toml:"retries" json:"retries"`
}

// Ban engines (Ban.Engine).
const (
	EngineRampart  = "rampart"
	EngineFail2ban = "fail2ban"
)

// Engines are the valid Ban.Engine values.
var Engines = []string{EngineRampart, EngineFail2ban}

// ActionPlaceholders are the names Action.Argv may use.
var ActionPlaceholders = []string{"action", "prefix", "ip", "jail", "until", "failures", "bantime"}

// Increment lengthens bans for repeat offenders: each new ban of the same
// address lasts Factor times the previous one, capped at Max.
type Increment struct {
	Enabled bool     `toml:"enabled" json:"enabled"`
	Factor  float64  `toml:"factor" json:"factor"`
	Max     Duration `toml:"max" json:"max"`
}

// Jail is one filter applied to one log source, with its own thresholds.
// Zero Maxretry, Findtime or Bantime inherit the [ban] values.
type Jail struct {
	Name    string `toml:"name" json:"name"`
	Enabled bool   `toml:"enabled" json:"enabled"`
	// Filter is the name of a filter registered in internal/guard/filter
	// (filter.Names) or "fail2ban:PATH" for a fail2ban filter file read at
	// run time.
	Filter string `toml:"filter" json:"filter"`
	// Mode selects one of the filter's modes (filter.Builtin.Modes).
	Mode string `toml:"mode" json:"mode"`
	// Source is the name of a log source kind registered in
	// internal/guard/source (source.KindNames).
	Source string `toml:"source" json:"source"`
	// Journal holds journal matches for the journal source
	// (e.g. "_SYSTEMD_UNIT=sshd.service", "SYSLOG_IDENTIFIER=sshd-session").
	Journal []string `toml:"journal" json:"journal"`
	// Paths are the log files for the file source.
	Paths []string `toml:"paths" json:"paths"`
	// Ports are the service ports (for the NixOS fail2ban rendering and
	// reports); bans cover every port of the offending address.
	Ports    []int    `toml:"ports" json:"ports"`
	Maxretry int      `toml:"maxretry" json:"maxretry"`
	Findtime Duration `toml:"findtime" json:"findtime"`
	Bantime  Duration `toml:"bantime" json:"bantime"`
}

// SourceConfig is what the jail says about its log source, as the source
// registry (internal/guard/source) takes it.
func (j Jail) SourceConfig() source.Config {
	return source.Config{Jail: j.Name, Kind: j.Source, Journal: j.Journal, Paths: j.Paths}
}

// EffectiveMaxretry returns the jail's maxretry or the global one.
func (j Jail) EffectiveMaxretry(b Ban) int {
	if j.Maxretry > 0 {
		return j.Maxretry
	}
	return b.Maxretry
}

// EffectiveFindtime returns the jail's findtime or the global one.
func (j Jail) EffectiveFindtime(b Ban) Duration {
	if j.Findtime.D > 0 {
		return j.Findtime
	}
	return b.Findtime
}

// EffectiveBantime returns the jail's bantime or the global one.
func (j Jail) EffectiveBantime(b Ban) Duration {
	if j.Bantime.D > 0 {
		return j.Bantime
	}
	return b.Bantime
}

// TailnetRanges are the ranges Tailscale (and headscale's defaults) give
// tailnet nodes: CGNAT 100.64.0.0/10 and the Tailscale ULA prefix.
var TailnetRanges = []string{"100.64.0.0/10", "fd7a:115c:a1e0::/48"}

// BanIgnore returns the addresses and CIDRs neither ban engine (rampart guard,
// the rendered fail2ban ignoreIP) ever bans: ban.ignore, then, when SSH is
// reachable only over the tailnet, tailnet.addresses. There a ban of a tailnet
// address closes the only way in (an agent offering more keys than
// MaxAuthTries fails a connection, three such connections ban the admin), and
// fail2ban's table hooks in before the firewall's trusted-interface accept.
// Loopback is not added here: both engines always ignore it.
func (p *Policy) BanIgnore() []string {
	out := slices.Clone(p.Ban.Ignore)
	if p.tailnetOnly() {
		for _, a := range p.Tailnet.Addresses {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// tailnetOnly reports whether SSH is on and reachable only over the tailnet.
func (p *Policy) tailnetOnly() bool {
	return p.SSH.Enabled && p.SSH.TailnetOnly && p.Tailnet.Enabled
}

// Jail returns the named jail and whether it exists.
func (b Ban) Jail(name string) (Jail, bool) {
	for _, j := range b.Jails {
		if j.Name == name {
			return j, true
		}
	}
	return Jail{}, false
}

// Audit is the kernel audit policy: auditd running and keyed watches.
type Audit struct {
	Enabled bool `toml:"enabled" json:"enabled"`
	// BacklogLimit is the kernel's audit backlog (0 = leave the default).
	BacklogLimit int     `toml:"backlog_limit" json:"backlog_limit"`
	Watches      []Watch `toml:"watches" json:"watches"`
}

// Watch is one file or directory watch, as `-w PATH -p PERMS -k KEY`.
type Watch struct {
	Path string `toml:"path" json:"path"`
	// Perms is a subset of "rwxa" in that order.
	Perms string `toml:"perms" json:"perms"`
	Key   string `toml:"key" json:"key"`
}

// Sysctls are kernel parameters with their wanted values, in file order.
type Sysctls []Sysctl

// Sysctl is one kernel parameter.
type Sysctl struct {
	Name  string `json:"name"`
	Value int64  `json:"value"`
}

// Get returns the wanted value of name and whether the policy sets it.
func (s Sysctls) Get(name string) (int64, bool) {
	for _, x := range s {
		if x.Name == name {
			return x.Value, true
		}
	}
	return 0, false
}

// Time is the clock synchronisation policy.
type Time struct {
	Chrony  bool     `toml:"chrony" json:"chrony"`
	Servers []string `toml:"servers" json:"servers"`
	// MaxOffset is the largest |offset| counted as synchronised.
	MaxOffset Duration `toml:"max_offset" json:"max_offset"`
}

// Journald is the journal retention policy.
type Journald struct {
	MaxRetention      Duration `toml:"max_retention" json:"max_retention"`
	SystemMaxFileSize Size     `toml:"system_max_file_size" json:"system_max_file_size"`
	SystemMaxFiles    int      `toml:"system_max_files" json:"system_max_files"`
	// Storage is persistent, volatile, auto or none.
	Storage string `toml:"storage" json:"storage"`
}

// Tailnet is the Tailscale policy: SSH reachable only over the tailnet.
type Tailnet struct {
	Enabled bool `toml:"enabled" json:"enabled"`
	// Interface is the tailnet interface, trusted by the firewall.
	Interface string `toml:"interface" json:"interface"`
	// AuthKeyFile is a runtime path to a tagged (non-expiring) auth key.
	AuthKeyFile string `toml:"auth_key_file" json:"auth_key_file"`
	// OpenFirewall opens Tailscale's UDP port.
	OpenFirewall bool `toml:"open_firewall" json:"open_firewall"`
	Port         int  `toml:"port" json:"port"`
	// UseRoutingFeatures is none, client, server or both.
	UseRoutingFeatures string `toml:"use_routing_features" json:"use_routing_features"`
	// Addresses are the ranges a tailnet peer connects from.
	Addresses []string `toml:"addresses" json:"addresses"`
}

// Firewall is the host firewall policy beyond SSH.
type Firewall struct {
	Enabled bool `toml:"enabled" json:"enabled"`
	// TrustedInterfaces accept all traffic (the tailnet interface is added
	// automatically when [tailnet] is enabled).
	TrustedInterfaces []string `toml:"trusted_interfaces" json:"trusted_interfaces"`
	AllowedTCPPorts   []int    `toml:"allowed_tcp_ports" json:"allowed_tcp_ports"`
	AllowedUDPPorts   []int    `toml:"allowed_udp_ports" json:"allowed_udp_ports"`
}

// TrustedInterfaces returns the firewall's trusted interfaces including the
// tailnet interface when the tailnet is enabled, without duplicates.
func (p *Policy) TrustedInterfaces() []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, s := range p.Firewall.TrustedInterfaces {
		add(s)
	}
	if p.Tailnet.Enabled {
		add(p.Tailnet.Interface)
	}
	return out
}

// Fleet shares bans between hosts over a NATS JetStream stream: each local
// ban is published under this node's name, and other nodes' bans are
// applied here (within the guardrails of this policy). Secrets live in
// files named here, never in the policy itself.
type Fleet struct {
	Enabled bool `toml:"enabled" json:"enabled"`
	// Servers are nats:// or tls:// URLs, tried in order.
	Servers []string `toml:"servers" json:"servers"`
	// CredsFile is a NATS credentials file (user JWT and nkey seed).
	CredsFile string `toml:"creds_file" json:"creds_file"`
	// NkeyFile is an nkey seed file (the user's public key is derived).
	NkeyFile string `toml:"nkey_file" json:"nkey_file"`
	// User and PasswordFile: user/password authentication for small setups.
	User         string `toml:"user" json:"user"`
	PasswordFile string `toml:"password_file" json:"password_file"`
	// CAFile verifies the servers' certificates; CertFile and KeyFile are
	// the client certificate (mutual TLS).
	CAFile   string `toml:"ca_file" json:"ca_file"`
	CertFile string `toml:"cert_file" json:"cert_file"`
	KeyFile  string `toml:"key_file" json:"key_file"`
	// Node is this host's name in the fleet ("" = the host name's first
	// label). It is the subject token bans are published under.
	Node string `toml:"node" json:"node"`
	// Stream is the JetStream stream holding the fleet's bans.
	Stream string `toml:"stream" json:"stream"`
	// Share publishes local bans and unbans.
	Share bool `toml:"share" json:"share"`
	// Accept applies other nodes' bans here.
	Accept bool `toml:"accept" json:"accept"`
	// AcceptFrom limits Accept to these node names (empty = every node).
	AcceptFrom []string `toml:"accept_from" json:"accept_from"`
	// Rate and Burst bound the bans accepted from one origin: Rate per
	// second on average, Burst at once (by the stream's time stamps).
	Rate  int `toml:"rate" json:"rate"`
	Burst int `toml:"burst" json:"burst"`
	// OutboxMax bounds the bans waiting to be published while NATS is
	// unreachable (the oldest are dropped first).
	OutboxMax int `toml:"outbox_max" json:"outbox_max"`
}

// MaxBantime is the longest ban this policy can give: the longest bantime
// of [ban] and the enabled jails, or increment.max when increments are on.
func (p *Policy) MaxBantime() time.Duration {
	d := p.Ban.Bantime.D
	for _, j := range p.Ban.Jails {
		if j.Enabled {
			d = max(d, j.EffectiveBantime(p.Ban).D)
		}
	}
	if p.Ban.Increment.Enabled {
		d = max(d, p.Ban.Increment.Max.D)
	}
	return d
}
