package nixgen

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/rampart-sec/rampart/internal/nixfacts"
	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
	"github.com/rampart-sec/rampart/internal/policy"
)

// Options select what Render writes.
type Options struct {
	Release nixfacts.Release
	// AllowLockoutRisk renders a policy even when LockoutRisks finds
	// reasons the administrator could not log in afterwards.
	AllowLockoutRisk bool
	// Flake also writes flake.nix, configuration.nix and disko.nix for
	// nixosConfigurations.<Host>.
	Flake bool
	Host  string
	// Disk is the install disk for disko ("" = /dev/sda).
	Disk string
	// System is the flake's system ("" = x86_64-linux).
	System string
}

// File is one rendered file.
type File struct {
	Name string
	Data []byte
	// Once marks a file the administrator owns after the first render
	// (configuration.nix says "edit freely", system.stateVersion must not
	// move): re-rendering into the same directory keeps it unless forced.
	Once bool
	// Mode is the file mode (0 = 0644).
	Mode uint32
}

// LockoutError is returned when the policy would lock the administrator
// out and Options.AllowLockoutRisk is not set.
type LockoutError struct{ Reasons []string }

func (e *LockoutError) Error() string {
	return "refusing to render: the policy would lock the administrator out:\n  " + strings.Join(e.Reasons, "\n  ") +
		"\n(use --allow-lockout-risk to render anyway)"
}

// ModuleName is the file name of the rendered module.
const ModuleName = "rampart.nix"

// Render renders p for opts.Release. It returns the files (the module
// first) and warnings about known conflicts in the policy.
func Render(p *policy.Policy, opts Options) ([]File, []string, error) {
	if opts.Release == 0 {
		opts.Release = nixfacts.Newest()
	}
	risks := LockoutRisks(p)
	if opts.Flake {
		risks = append(risks, FlakeLockoutRisks(p)...)
	}
	if len(risks) > 0 && !opts.AllowLockoutRisk {
		return nil, nil, &LockoutError{Reasons: risks}
	}
	mod, err := Module(opts.Release, p)
	if err != nil {
		return nil, nil, err
	}
	files := []File{{Name: ModuleName, Data: mod}}
	if opts.Flake {
		fl, err := Flake(opts, p)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, fl...)
	}
	warnings := Warnings(p)
	if k := p.Tailnet.AuthKeyFile; opts.Flake && p.Tailnet.Enabled && k != "" && deliveredKey(p) == "" && len(FlakeLockoutRisks(p)) == 0 {
		warnings = append(warnings, "tailnet.auth_key_file: install.sh cannot deliver "+k+" (emptied at every boot): "+
			"the machine joins the tailnet once something else (sops-nix, agenix) puts the key there")
	}
	return files, warnings, nil
}

// LockoutRisks lists the reasons the administrator could not log in once
// the policy is applied (nil when there is none): the policy's own rules
// (policy.Policy.LockoutRisks), plus tailnet-only SSH without a tailnet,
// which the loader rejects but a policy built in code can still carry.
func LockoutRisks(p *policy.Policy) []string {
	out := p.LockoutRisks()
	if p.SSH.Enabled && p.SSH.TailnetOnly && !p.Tailnet.Enabled {
		out = append(out, "ssh.tailnet_only: SSH is reachable only over the tailnet, but the tailnet is not enabled")
	}
	return out
}

// Warnings lists known conflicts in the policy (policy.Policy.Conflicts)
// and what the module does about them.
func Warnings(p *policy.Policy) []string {
	out := p.Conflicts()
	var left []string
	for _, s := range p.Sysctl {
		if nixfacts.SysctlConflict(p, s.Name, s.Value) != "" {
			left = append(left, fmt.Sprintf("%s = %d", s.Name, s.Value))
		}
	}
	if len(left) > 0 {
		out = append(out, "the module leaves out "+strings.Join(left, " and ")+" so that the tailnet routing works")
	}
	return append(out, fail2banLimits(p)...)
}

// fail2banLimits names the [ban] settings fail2ban cannot express: the
// rendered system bans with fail2ban, not rampart guard. Settings at their
// profile default are not mentioned (nothing was asked for that is lost),
// except where the default itself is a promise fail2ban does not keep.
func fail2banLimits(p *policy.Policy) []string {
	if !p.Ban.Enabled || nixfacts.RampartModule(p) {
		return nil
	}
	var out []string
	b := p.Ban
	if b.IPv6Prefix > 0 && b.IPv6Prefix < 128 {
		out = append(out, fmt.Sprintf("ban.ipv6_prefix = %d: fail2ban bans single addresses, so an IPv6 offender can "+
			"return from another address of its /%d (rampart guard bans the prefix)", b.IPv6Prefix, b.IPv6Prefix))
	}
	if b.Metrics != "" {
		out = append(out, fmt.Sprintf("ban.metrics = %q: fail2ban has no metrics endpoint; nothing will listen there "+
			"(ban counts: fail2ban-client status JAIL)", b.Metrics))
	}
	def := 0
	if d, err := policy.Default(p.Profile); err == nil {
		def = d.Ban.MaxTracked
	}
	if b.MaxTracked > 0 && b.MaxTracked != def {
		out = append(out, fmt.Sprintf("ban.max_tracked = %d: fail2ban keeps no such bound on the addresses it "+
			"tracks (its memory grows with the failing addresses within findtime)", b.MaxTracked))
	}
	return out
}

// block groups the definitions under one option prefix ("*" matches any
// attribute name) with a comment on why the block exists.
type block struct {
	prefix  []string
	comment func(r nixfacts.Release, p *policy.Policy) string
}

func fixed(s string) func(nixfacts.Release, *policy.Policy) string {
	return func(nixfacts.Release, *policy.Policy) string { return s }
}

var blocks = []block{
	{[]string{"services", "openssh"}, fixed("OpenSSH: keys only, few tries, idle sessions closed. sshd_config keys the module\n" +
		"does not declare (MaxAuthTries, ClientAlive*, AllowTcpForwarding) go through the\n" +
		"freeform settings; there is nothing to set for the SSH version.")},
	{[]string{"users", "users", "*"}, fixed("Administrator: with passwords off, these keys are the way in.")},
	{[]string{"security", "sudo"}, fixed("sudo for the wheel administrators.")},
	{[]string{"services", "rampart"}, fixed("rampart guard bans brute-force sources (ban.engine = \"rampart\"). services.rampart is\n" +
		"declared by rampart's flake (nixosModules.default): it installs rampart, writes the policy\n" +
		"to /etc/rampart/policy.toml (a bad policy fails the build) and runs rampart-guard.service.\n" +
		"The guard-only [ban] keys (ipv6_prefix, metrics, max_tracked, actions) take effect there.")},
	{[]string{"services", "fail2ban"}, fixed("fail2ban: ban brute-force sources. The module's DEFAULT jail reads the journal\n" +
		"(backend systemd; NixOS has no /var/log/auth.log) and it creates the sshd jail\n" +
		"itself when OpenSSH is on. findtime has no option of its own: it is a DEFAULT\n" +
		"jail setting. Jail keys go under settings (filter names too).")},
	{[]string{"environment", "etc"}, fixed("Filters rampart defines itself (fail2ban reads filter.d/*.local).")},
	{[]string{"systemd", "services", "fail2ban"}, fixed("fail2ban's unit: what it starts after, what restarts it.")},
	{[]string{"systemd", "tmpfiles"}, fixed("Files created at boot.")},
	{[]string{"systemd", "services", nixfacts.AuditWatchService}, fixed("Audit watches that load on every kernel.")},
	{[]string{"security", "auditd"}, fixed("Kernel audit: auditd records, keyed watches say what changed.")},
	{[]string{"security", "audit"}, func(r nixfacts.Release, p *policy.Policy) string {
		if r >= nixfacts.R2511 {
			return "25.11+: the module prepends -D, -b (backlogLimit, default 1024), -f and -r\n" +
				"to the rules file and appends -e, and adds audit=1 to the kernel command line."
		}
		return "Before 25.11 the audit service runs auditctl -D, loads these rules, then sets\n" +
			"-e/-b/-f/-r from the options (backlogLimit defaults to 64)."
	}},
	{[]string{"boot", "kernel", "sysctl"}, fixed("Kernel network hardening (written to /etc/sysctl.d/60-nixos.conf).")},
	{[]string{"services", "chrony"}, fixed("Accurate time keeps logs and bans comparable.")},
	{[]string{"services", "journald", "settings", "Journal"}, fixed("journald retention. From 26.11 extraConfig is gone (nixpkgs PR #536538):\n" +
		"[Journal] keys go under settings.Journal. (NixOS has no journald options under systemd.)")},
	{[]string{"services", "journald"}, func(r nixfacts.Release, p *policy.Policy) string {
		return "journald retention. These keys have no options of their own up to 26.05, so they go\n" +
			"to extraConfig ([Journal] section). (NixOS has no journald options under systemd.)"
	}},
	{[]string{"services", "tailscale"}, fixed("Tailscale: administrators reach the machine over the tailnet.")},
	{[]string{"networking", "firewall"}, fixed("Host firewall: default deny inbound; only the listed ports and trusted\ninterfaces are open.")},
}

func matchPrefix(prefix, path []string) bool {
	if len(path) <= len(prefix) {
		return false
	}
	for i, s := range prefix {
		if s != "*" && s != path[i] {
			return false
		}
	}
	return true
}

// Module renders the NixOS module implementing p for release r.
func Module(r nixfacts.Release, p *policy.Policy) ([]byte, error) {
	body, err := ModuleExpr(r, p)
	if err != nil {
		return nil, err
	}
	header := fmt.Sprintf("%s: NixOS %s module rendered by `rampart nix --release %s`\n"+
		"from policy %s, profile %s. Every option below exists in NixOS %s;\n"+
		"render again rather than editing, and for another release.",
		ModuleName, r, r, p.Source, p.Profile, r)
	if nixfacts.RampartModule(p) {
		header += "\nservices.rampart comes from rampart's flake: import its nixosModules.default\n" +
			"(flake input " + nixfacts.FlakeURL + ") next to this module."
	}
	return nixexpr.File(header, body)
}

// ModuleExpr builds the module as an expression (for tests that inspect
// the option definitions).
func ModuleExpr(r nixfacts.Release, p *policy.Policy) (nixexpr.Func, error) {
	if err := checkNames(p); err != nil {
		return nixexpr.Func{}, err
	}
	var ss []nixfacts.Setting
	for _, t := range nixfacts.PolicyTopics(p) {
		ss = append(ss, nixfacts.Settings(r, t, p)...)
	}
	ss = nixfacts.MergeSettings(ss)
	var errs []error
	for _, s := range ss {
		if s.Value == nil {
			continue
		}
		for _, l := range nixexpr.Flatten(s.Value) {
			path := append(append([]string{}, s.Path...), l.Path...)
			if err := nixfacts.Check(r, path, l.Value); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return nixexpr.Func{}, fmt.Errorf("render NixOS %s module: %w", r, errors.Join(errs...))
	}

	// Group into blocks, in the order blocks first appear.
	type group struct {
		prefix  []string
		comment string
		attrs   *nixexpr.Attrs
		pattern string
		single  []nixfacts.Setting
	}
	var groups []*group
	byKey := map[string]*group{}
	top := &nixexpr.Attrs{}
	for _, s := range ss {
		var g *group
		for _, b := range blocks {
			if !matchPrefix(b.prefix, s.Path) {
				continue
			}
			prefix := s.Path[:len(b.prefix)]
			k := nixexpr.KeyPath(prefix)
			if g = byKey[k]; g == nil {
				g = &group{prefix: prefix, comment: b.comment(r, p), attrs: &nixexpr.Attrs{}, pattern: strings.Join(b.prefix, ".")}
				byKey[k] = g
				groups = append(groups, g)
			}
			break
		}
		if g == nil {
			return nixexpr.Func{}, fmt.Errorf("render NixOS %s module: no block for %s", r, nixexpr.KeyPath(s.Path))
		}
		g.single = append(g.single, s)
		g.attrs.Add(s.Comment, s.Value, s.Path[len(g.prefix):]...)
	}
	commented := map[string]bool{}
	for _, g := range groups {
		// Blocks of one kind (users.users.*) share their comment.
		if commented[g.pattern] {
			g.comment = ""
		}
		commented[g.pattern] = true
		if len(g.single) == 1 {
			s := g.single[0]
			c := g.comment
			if s.Value == nixexpr.Value(nixexpr.Bool(false)) && s.Path[len(s.Path)-1] == "enable" {
				// A default, not a definition: a module of the user's that
				// turns the service on must not fail evaluation with
				// "conflicting definition values".
				c, s.Comment = "Off in the policy (a default: another module may still turn it on).", ""
				s.Value = nixexpr.Apply{Fn: "lib.mkDefault", Args: []nixexpr.Value{nixexpr.Bool(false)}}
			}
			if s.Comment != "" && c != "" {
				c += "\n" + s.Comment
			} else if s.Comment != "" {
				c = s.Comment
			}
			top.Add(c, s.Value, s.Path...)
			continue
		}
		top.Add(g.comment, g.attrs, g.prefix...)
	}
	return nixexpr.Func{Params: []string{"config", "lib", "pkgs"}, Body: top}, nil
}

var userNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]*[$]?$`)

// checkNames refuses names the module would have to invent quoting rules
// for; the policy loader validates them too, this guards the renderer.
func checkNames(p *policy.Policy) error {
	for _, u := range p.Admin.Users {
		if !userNameRE.MatchString(u.Name) || len(u.Name) > 32 {
			return fmt.Errorf("admin user %q: expected a Linux user name (lower case letters, digits, _ and -)", u.Name)
		}
		for _, k := range u.AuthorizedKeys {
			if strings.ContainsAny(k, "\n\r\x00") {
				return fmt.Errorf("admin user %q: an authorized key contains a line break", u.Name)
			}
		}
	}
	for _, w := range p.Audit.Watches {
		// auditctl splits rule lines at white space and has no quoting.
		if w.Path == "" || strings.ContainsAny(w.Path+w.Key+w.Perms, " \t\n\r\x00") {
			return fmt.Errorf("audit watch %q (key %q): expected a path and key without white space", w.Path, w.Key)
		}
	}
	return nil
}
