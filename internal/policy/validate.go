package policy

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rampart-sec/rampart/internal/guard/filter"
	"github.com/rampart-sec/rampart/internal/guard/source"
	"github.com/rampart-sec/rampart/internal/lazyre"
)

// Validate checks an in-memory policy (one built in Go rather than parsed)
// with the same rules as Parse. Lock-out risks are not errors; see
// LockoutRisks.
func (p *Policy) Validate() error {
	d := &decoder{file: p.Source}
	if d.file == "" {
		d.file = "(policy)"
	}
	(&validator{d: d, p: p}).run()
	if len(d.errs) > 0 {
		return d.errs
	}
	return nil
}

// LockoutRisks returns the reasons this policy could lock the administrator
// out of the machine, or nil. They are not validation errors of the model:
// the embedded default has no admin keys (they are site-specific), so
// `rampart nix` refuses such a policy unless --allow-lockout-risk, and
// `rampart policy check FILE` reports them as errors for a file.
func (p *Policy) LockoutRisks() []string {
	var out []string
	for _, r := range lockoutRules(p) {
		out = append(out, FieldName(r.paths[0])+": "+r.msg)
	}
	return out
}

// Conflicts returns warnings about settings that work against each other
// (valid, but probably not what the author wants).
func (p *Policy) Conflicts() []string {
	var out []string
	if p.Tailnet.Enabled && (p.Tailnet.UseRoutingFeatures == "server" || p.Tailnet.UseRoutingFeatures == "both") {
		if v, ok := p.Sysctl.Get("net.ipv4.ip_forward"); ok && v == 0 {
			out = append(out, `sysctl."net.ipv4.ip_forward": 0 disables the forwarding that tailnet.use_routing_features = "`+p.Tailnet.UseRoutingFeatures+`" needs (subnet router / exit node)`)
		}
	}
	if p.Tailnet.Enabled && (p.Tailnet.UseRoutingFeatures == "client" || p.Tailnet.UseRoutingFeatures == "both") {
		if v, ok := p.Sysctl.Get("net.ipv4.conf.all.rp_filter"); ok && v == 1 {
			out = append(out, `sysctl."net.ipv4.conf.all.rp_filter": strict (1) reverse-path filtering drops replies through a tailnet exit node; use 2 (loose)`)
		}
	}
	if p.SSH.Enabled && p.SSH.PermitRootLogin == "yes" && (p.SSH.PasswordAuthentication || p.SSH.KbdInteractiveAuthentication) {
		out = append(out, `ssh.permit_root_login: "yes" with password logins on lets bots guess root's password; use "prohibit-password"`)
	}
	if j, ok := p.Ban.Jail("sshd"); ok && j.Enabled && p.SSH.Enabled && j.Filter == "sshd" && !slices.Equal(j.Ports, p.SSH.Ports) {
		out = append(out, fmt.Sprintf("ban.jails.sshd.ports: %v differ from ssh.ports %v (the NixOS fail2ban jail would watch the wrong ports)", j.Ports, p.SSH.Ports))
	}
	if p.tailnetOnly() && p.Ban.Enabled {
		for _, r := range TailnetRanges {
			if !covers(p.Tailnet.Addresses, r) {
				out = append(out, fmt.Sprintf("tailnet.addresses: does not cover %s while ssh.tailnet_only is on; the ban engines never ban tailnet.addresses, so a tailnet peer outside them that fails SSH logins (an agent offering more keys than ssh.max_auth_tries) can be banned from the only way in", r))
			}
		}
	}
	if p.SSH.Enabled && p.SSH.TailnetOnly && p.Firewall.Enabled {
		for _, port := range p.SSH.Ports {
			for _, open := range p.Firewall.AllowedTCPPorts {
				if port == open {
					out = append(out, fmt.Sprintf("firewall.allowed_tcp_ports: %d opens SSH on every interface, which defeats ssh.tailnet_only", port))
				}
			}
		}
	}
	return out
}

// covers reports whether some CIDR in list contains all of prefix want.
func covers(list []string, want string) bool {
	w := netip.MustParsePrefix(want)
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil && p.Bits() <= w.Bits() && p.Contains(w.Addr()) {
			return true
		}
	}
	return false
}

type rule struct {
	// paths are candidate places to report at, most specific first; the
	// first one the file sets gives the position.
	paths [][]string
	msg   string
}

func lockoutRules(p *Policy) []rule {
	var out []rule
	if p.SSH.Enabled && !p.SSH.PasswordAuthentication && !p.SSH.KbdInteractiveAuthentication && !p.Admin.HasAuthorizedKey() {
		out = append(out, rule{
			// Reported where the fix goes ([admin]) when the file has it.
			paths: [][]string{{"admin", "users"}, {"admin"}, {"ssh", "password_authentication"}, {"ssh", "kbd_interactive_authentication"}, {"ssh"}},
			msg:   "password and keyboard-interactive authentication are off but no admin user has an authorized key; add [[admin.users]] with authorized_keys (rampart policy init --admin NAME --key FILE writes them) or nobody can log in",
		})
	}
	if p.SSH.Enabled && p.SSH.TailnetOnly && p.Tailnet.Enabled && p.Tailnet.AuthKeyFile == "" {
		out = append(out, rule{
			paths: [][]string{{"tailnet", "auth_key_file"}, {"ssh", "tailnet_only"}, {"tailnet"}, {"profile"}},
			msg:   "SSH is reachable only over the tailnet but tailnet.auth_key_file is not set; the machine may never join the tailnet",
		})
	}
	return out
}

// validator checks value ranges, enums and cross-field rules on the merged
// policy and reports each problem at the file position of the value.
type validator struct {
	d *decoder
	p *Policy
}

func (v *validator) bad(path []string, format string, args ...any) {
	v.d.add(path, false, false, format, args...)
}

func (v *validator) report(r rule, lockout bool) {
	at := r.paths[0]
	if v.d.ix != nil {
		for _, c := range r.paths {
			if v.d.ix.has(c) {
				at = c
				break
			}
		}
	}
	v.d.add(at, true, lockout, "%s", r.msg)
}

func (v *validator) lockout() {
	for _, r := range lockoutRules(v.p) {
		v.report(r, true)
	}
}

var (
	userRe     = lazyre.New(`^[a-z_][a-z0-9_-]{0,30}$`)
	auditKeyRe = lazyre.New(`^[A-Za-z0-9_.:-]{1,31}$`)
	jailRe     = lazyre.New(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	tableRe    = lazyre.New(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)
	ifaceRe    = lazyre.New(`^[A-Za-z0-9_.:-]{1,15}$`)
	journalRe  = regexp.MustCompile(`^[A-Z0-9_]+=.+$`)
	hostRe     = lazyre.New(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$`)
	modeRe     = lazyre.New(`^[A-Za-z0-9_-]{1,32}$`)
)

func (v *validator) run() {
	p := v.p
	v.enum([]string{"profile"}, p.Profile, ProfileBaseline, ProfileTailnet)
	v.admin()
	v.ssh()
	v.ban()
	v.audit()
	v.sysctl()
	v.time()
	v.journald()
	v.tailnet()
	v.firewall()
	v.fleet()
	if p.SSH.TailnetOnly && !p.Tailnet.Enabled {
		v.report(rule{paths: [][]string{{"ssh", "tailnet_only"}, {"tailnet", "enabled"}, {"ssh"}}, msg: "SSH only over the tailnet needs [tailnet] enabled = true"}, false)
	}
}

func (v *validator) enum(path []string, got string, allowed ...string) bool {
	for _, a := range allowed {
		if got == a {
			return true
		}
	}
	v.bad(path, "invalid value %q (expected %s)", got, orList(allowed))
	return false
}

func orList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return joinOr(q)
}

// joinOr joins "a, b or c".
func joinOr(xs []string) string {
	if len(xs) <= 1 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

func (v *validator) intRange(path []string, n, lo, hi int64) {
	if n < lo || n > hi {
		if hi == math.MaxInt64 {
			v.bad(path, "%d is out of range (at least %d)", n, lo)
		} else {
			v.bad(path, "%d is out of range (%d to %d)", n, lo, hi)
		}
	}
}

func (v *validator) ports(path []string, ps []int, allowEmpty bool) {
	if len(ps) == 0 && !allowEmpty {
		v.bad(path, "needs at least one port")
	}
	seen := map[int]bool{}
	for i, n := range ps {
		ep := with(path, elem(i))
		if n < 1 || n > 65535 {
			v.bad(ep, "port %d is out of range (1 to 65535)", n)
		} else if seen[n] {
			v.bad(ep, "duplicate port %d", n)
		}
		seen[n] = true
	}
}

func (v *validator) positive(path []string, d Duration) {
	if d.D <= 0 {
		v.bad(path, "duration must be greater than 0")
	}
}

func (v *validator) absPath(path []string, s string, allowEmpty bool) {
	switch {
	case s == "" && allowEmpty:
	case s == "":
		v.bad(path, "must not be empty (expected an absolute path)")
	case !strings.HasPrefix(s, "/"):
		v.bad(path, "%q is not an absolute path", s)
	case strings.ContainsAny(s, "\x00\n\r") || path2clean(s) != s:
		v.bad(path, "%q is not a clean absolute path", s)
	}
}

func path2clean(s string) string {
	c := path.Clean(s)
	if strings.HasSuffix(s, "/") && c != "/" {
		c += "/"
	}
	return c
}

func (v *validator) admin() {
	seen := map[string]bool{}
	for i, u := range v.p.Admin.Users {
		up := []string{"admin", "users", elem(i)}
		switch {
		case u.Name == "":
			v.d.add(up, true, false, "name is required")
		case !userRe.MatchString(u.Name):
			v.bad(with(up, "name"), userNameMsg, u.Name)
		case seen[u.Name]:
			v.bad(with(up, "name"), "duplicate admin user %q", u.Name)
		}
		seen[u.Name] = true
		for j, k := range u.AuthorizedKeys {
			if msg := checkAuthorizedKey(k); msg != "" {
				v.bad(with(up, "authorized_keys", elem(j)), "%s", msg)
			}
		}
	}
}

// CheckAuthorizedKey reports what is wrong with k as an admin's authorized
// key (one authorized_keys line: [OPTIONS] TYPE BASE64 [COMMENT]), or nil.
func CheckAuthorizedKey(k string) error {
	if msg := checkAuthorizedKey(k); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// CheckUserName reports whether name is acceptable as an admin user name.
func CheckUserName(name string) error {
	if !userRe.MatchString(name) {
		return fmt.Errorf(userNameMsg, name)
	}
	return nil
}

const userNameMsg = "invalid user name %q (expected lower-case letters, digits, _ or -, starting with a letter or _, at most 31 characters)"

func checkAuthorizedKey(k string) string {
	if strings.ContainsAny(k, "\n\r") {
		return "an authorized key must be one line"
	}
	f := strings.Fields(k)
	if len(f) < 2 {
		return `invalid public key: expected "TYPE BASE64 [COMMENT]", e.g. "ssh-ed25519 AAAAC3Nz... alice@laptop"`
	}
	if pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k)); err == nil {
		if pk.Type() == "ssh-dss" {
			return "DSA (ssh-dss) keys are refused by current OpenSSH; use ssh-ed25519"
		}
		return ""
	}
	// Say what is wrong: find the key type (options may come first).
	for i, typ := range f[:len(f)-1] {
		if !keyTypes[typ] {
			continue
		}
		blob, err := base64.StdEncoding.DecodeString(f[i+1])
		if err != nil {
			return fmt.Sprintf("invalid public key: the data after %q is not base64", typ)
		}
		pk, err := ssh.ParsePublicKey(blob)
		if err != nil {
			return fmt.Sprintf("invalid public key: bad %s key data", typ)
		}
		if pk.Type() != typ {
			return fmt.Sprintf("invalid public key: type %q but the data holds a %q key", typ, pk.Type())
		}
		return "invalid public key: bad options before the key type"
	}
	return fmt.Sprintf("invalid public key: unknown key type %q (expected one of ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa, sk-ssh-ed25519@openssh.com …)", abbrev(f[0]))
}

var keyTypes = map[string]bool{
	ssh.KeyAlgoED25519: true, ssh.KeyAlgoRSA: true,
	ssh.KeyAlgoECDSA256: true, ssh.KeyAlgoECDSA384: true, ssh.KeyAlgoECDSA521: true,
	ssh.KeyAlgoSKED25519: true, ssh.KeyAlgoSKECDSA256: true,
}

func abbrev(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

func (v *validator) ssh() {
	s := v.p.SSH
	v.ports([]string{"ssh", "ports"}, s.Ports, !s.Enabled)
	if v.enum([]string{"ssh", "permit_root_login"}, s.PermitRootLogin, "yes", "prohibit-password", "without-password", "forced-commands-only", "no") &&
		s.PermitRootLogin == "without-password" {
		v.p.SSH.PermitRootLogin = "prohibit-password"
	}
	v.intRange([]string{"ssh", "max_auth_tries"}, int64(s.MaxAuthTries), 1, 100)
	d := s.ClientAliveInterval.D
	if d < 0 || d%time.Second != 0 {
		v.bad([]string{"ssh", "client_alive_interval"}, "must be whole seconds, at least 0 (0 turns keep-alives off)")
	}
	v.intRange([]string{"ssh", "client_alive_count_max"}, int64(s.ClientAliveCountMax), 0, 1000)
}

func (v *validator) ban() {
	b := v.p.Ban
	bp := func(k ...string) []string { return with([]string{"ban"}, k...) }
	if !slices.Contains(Engines, b.Engine) {
		v.bad(bp("engine"), "invalid value %q%s", b.Engine, didYouMean(b.Engine, Engines))
	}
	v.positive(bp("bantime"), b.Bantime)
	v.positive(bp("findtime"), b.Findtime)
	v.intRange(bp("maxretry"), int64(b.Maxretry), 1, math.MaxInt64)
	for i, s := range b.Ignore {
		if !isAddrOrPrefix(s) {
			v.bad(bp("ignore", elem(i)), "%q is not an IP address or CIDR (e.g. \"192.0.2.7\", \"192.168.1.0/24\", \"2001:db8::/32\")", s)
		}
	}
	if f := b.Increment.Factor; math.IsNaN(f) || f < 1 || f > 1000 {
		v.bad(bp("increment", "factor"), "%v is out of range (1 to 1000)", f)
	}
	v.positive(bp("increment", "max"), b.Increment.Max)
	if b.Increment.Enabled && b.Increment.Max.D > 0 && b.Increment.Max.D < b.Bantime.D {
		v.bad(bp("increment", "max"), "%s is shorter than ban.bantime %s", b.Increment.Max, b.Bantime)
	}
	v.intRange(bp("ipv6_prefix"), int64(b.IPv6Prefix), 1, 128)
	v.intRange(bp("max_tracked"), int64(b.MaxTracked), 1, math.MaxInt64)
	v.absPath(bp("state_dir"), b.StateDir, false)
	v.absPath(bp("socket"), b.Socket, false)
	if b.SocketGroup != "" && !groupRe.MatchString(b.SocketGroup) {
		v.bad(bp("socket_group"), "invalid group name %q (lower-case letters, digits, _ or -, starting with a letter or _, at most 32 characters; \"\" for root only)", b.SocketGroup)
	}
	if b.Metrics != "" {
		host, port, err := net.SplitHostPort(b.Metrics)
		n, perr := strconv.Atoi(port)
		if err != nil || perr != nil || n < 1 || n > 65535 || (host != "" && !isAddr(host) && !hostRe.MatchString(host)) {
			v.bad(bp("metrics"), "%q is not a listen address (expected HOST:PORT such as \"127.0.0.1:9180\", or \"\" for off)", b.Metrics)
		}
	}
	if !tableRe.MatchString(b.Table) {
		v.bad(bp("table"), "invalid nftables table name %q (letters, digits, _ or -, starting with a letter)", b.Table)
	}
	for _, j := range b.Jails {
		v.jail(j)
	}
	names := map[string]bool{}
	for i, a := range b.Actions {
		v.action(with([]string{"ban", "actions"}, elem(i)), a, b, names)
	}
}

var placeholderRe = regexp.MustCompile(`\{[^{}]*\}`)

func (v *validator) action(ap []string, a Action, b Ban, names map[string]bool) {
	p := func(k ...string) []string { return with(ap, k...) }
	switch {
	case !jailRe.MatchString(a.Name):
		v.bad(p("name"), "name %q: want 1 to 64 letters, digits, _, . or -", a.Name)
	case names[a.Name]:
		v.bad(p("name"), "a second action named %q", a.Name)
	}
	names[a.Name] = true
	for i, on := range a.On {
		v.enum(p("on", elem(i)), on, "ban", "unban")
	}
	for i, j := range a.Jails {
		if _, ok := b.Jail(j); !ok && j != "manual" {
			v.bad(p("jails", elem(i)), "no jail %q in the policy (or \"manual\")", j)
		}
	}
	if a.Timeout.D < 0 || a.Timeout.D > 5*time.Minute {
		v.bad(p("timeout"), "%s is out of range (0 for the default 10s, at most 5m)", a.Timeout)
	}
	v.intRange(p("retries"), int64(a.Retries), 0, 10)
	if !v.enum(p("type"), a.Type, "webhook", "exec") {
		return
	}
	if a.Type == "webhook" {
		u, err := url.Parse(a.URL)
		if a.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.bad(p("url"), "%q is not an http or https URL (a webhook needs url)", a.URL)
		}
		if len(a.Argv) > 0 {
			v.bad(p("argv"), "argv is for type \"exec\"")
		}
		return
	}
	if a.URL != "" {
		v.bad(p("url"), "url is for type \"webhook\"")
	}
	if len(a.Argv) == 0 {
		v.bad(p("argv"), "an exec action needs argv (the program and its arguments; no shell)")
		return
	}
	v.absPath(p("argv", elem(0)), a.Argv[0], false)
	for i, arg := range a.Argv {
		for _, ph := range placeholderRe.FindAllString(arg, -1) {
			if !slices.Contains(ActionPlaceholders, ph[1:len(ph)-1]) {
				v.bad(p("argv", elem(i)), "unknown placeholder %s (expected one of {%s})", ph, strings.Join(ActionPlaceholders, "}, {"))
			}
		}
	}
}

var groupRe = lazyre.New(`^[a-z_][a-z0-9_-]{0,31}$`)

func (v *validator) jail(j Jail) {
	jp := func(k ...string) []string { return with([]string{"ban", "jails", j.Name}, k...) }
	if !jailRe.MatchString(j.Name) {
		v.d.add(jp(), true, false, "invalid jail name (letters, digits, _, . or -, at most 64 characters)")
	}
	switch b, builtin := filter.Lookup(j.Filter); {
	case builtin:
		v.enum(jp("mode"), j.Mode, b.Modes...)
	case strings.HasPrefix(j.Filter, filter.Fail2banPrefix):
		v.absPath(jp("filter"), strings.TrimPrefix(j.Filter, filter.Fail2banPrefix), false)
		if j.Mode != "" && !modeRe.MatchString(j.Mode) {
			v.bad(jp("mode"), "invalid mode %q", j.Mode)
		}
	case j.Filter == "":
		v.bad(jp("filter"), "filter is required (expected %s)", filterChoices())
	default:
		v.bad(jp("filter"), "unknown filter %q (expected %s)", j.Filter, filterChoices())
	}
	if v.enum(jp("source"), j.Source, source.KindNames()...) {
		k, _ := source.Lookup(j.Source)
		if k.Check != nil {
			for _, pr := range k.Check(j.SourceConfig()) {
				v.bad(jp(pr.Field), "%s", pr.Msg)
			}
		}
	}
	for i, m := range j.Journal {
		if !journalRe.MatchString(m) {
			v.bad(jp("journal", elem(i)), "invalid journal match %q (expected FIELD=value with an upper-case field name, e.g. \"_SYSTEMD_UNIT=sshd.service\")", m)
		}
	}
	for i, p := range j.Paths {
		v.absPath(jp("paths", elem(i)), p, false)
	}
	v.ports(jp("ports"), j.Ports, true)
	// Zero inherits [ban]; only a zero the file writes explicitly is wrong.
	if v.explicitOrNegative(jp("maxretry"), int64(j.Maxretry)) {
		v.intRange(jp("maxretry"), int64(j.Maxretry), 1, math.MaxInt64)
	}
	if v.explicitOrNegative(jp("findtime"), int64(j.Findtime.D)) && j.Findtime.D <= 0 {
		v.bad(jp("findtime"), "duration must be greater than 0 (leave it out to inherit ban.findtime)")
	}
	if v.explicitOrNegative(jp("bantime"), int64(j.Bantime.D)) && j.Bantime.D <= 0 {
		v.bad(jp("bantime"), "duration must be greater than 0 (leave it out to inherit ban.bantime)")
	}
}

// filterChoices lists what ban.jails.NAME.filter accepts: the registered
// filters and a fail2ban filter file.
func filterChoices() string {
	return orList(append(filter.Names(), filter.Fail2banPrefix+"/path/to/filter.conf"))
}

// explicitOrNegative reports whether a "zero inherits" value must be
// checked: the file sets it, or it is negative.
func (v *validator) explicitOrNegative(path []string, n int64) bool {
	return n < 0 || v.d.ix != nil && v.d.ix.has(path)
}

func isAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func isAddrOrPrefix(s string) bool {
	if isAddr(s) {
		return true
	}
	_, err := netip.ParsePrefix(s)
	return err == nil
}

func (v *validator) audit() {
	a := v.p.Audit
	v.intRange([]string{"audit", "backlog_limit"}, int64(a.BacklogLimit), 0, 1<<26)
	seen := map[string]bool{}
	for i, w := range a.Watches {
		wp := func(k ...string) []string { return with([]string{"audit", "watches", elem(i)}, k...) }
		v.absPath(wp("path"), w.Path, false)
		if w.Path != "" && seen[w.Path] {
			v.bad(wp("path"), "duplicate watch on %q", w.Path)
		}
		seen[w.Path] = true
		if msg := checkPerms(w.Perms); msg != "" {
			v.bad(wp("perms"), "%s", msg)
		}
		if !auditKeyRe.MatchString(w.Key) {
			v.bad(wp("key"), "invalid audit key %q (1 to 31 characters: letters, digits, _ . : or -)", w.Key)
		}
	}
}

func checkPerms(s string) string {
	if s == "" {
		return `perms must not be empty (a subset of "rwxa": r read, w write, x execute, a attribute change)`
	}
	seen := map[rune]bool{}
	for _, c := range s {
		if !strings.ContainsRune("rwxa", c) {
			return fmt.Sprintf("invalid permission %q in %q (expected a subset of \"rwxa\")", c, s)
		}
		if seen[c] {
			return fmt.Sprintf("permission %q repeated in %q", c, s)
		}
		seen[c] = true
	}
	return ""
}

func (v *validator) sysctl() {
	for _, s := range v.p.Sysctl {
		sp := []string{"sysctl", s.Name}
		r, ok := KnownSysctls[s.Name]
		if !ok {
			hint := didYouMean(s.Name, knownSysctlNames())
			if strings.HasPrefix(hint, " (expected") {
				hint = fmt.Sprintf(" (rampart knows %d hardening keys under net., kernel., fs. and vm., the baseline's seven among them; a near miss gets a suggestion)", len(KnownSysctls))
			}
			v.d.add(sp, true, false, "unknown kernel parameter%s", hint)
			continue
		}
		v.intRange(sp, s.Value, r.Min, r.Max)
	}
}

func (v *validator) time() {
	t := v.p.Time
	for i, s := range t.Servers {
		if !isAddr(s) && !hostRe.MatchString(s) {
			v.bad([]string{"time", "servers", elem(i)}, "%q is not a host name or IP address", s)
		}
	}
	v.positive([]string{"time", "max_offset"}, t.MaxOffset)
}

func (v *validator) journald() {
	j := v.p.Journald
	if j.MaxRetention.D < 0 || j.MaxRetention.D%time.Second != 0 {
		v.bad([]string{"journald", "max_retention"}, "must be whole seconds, at least 0 (0 keeps entries without a time limit)")
	}
	v.intRange([]string{"journald", "system_max_files"}, int64(j.SystemMaxFiles), 0, 1<<20)
	v.enum([]string{"journald", "storage"}, j.Storage, "persistent", "volatile", "auto", "none")
}

func (v *validator) tailnet() {
	t := v.p.Tailnet
	tp := func(k ...string) []string { return with([]string{"tailnet"}, k...) }
	v.iface(tp("interface"), t.Interface)
	v.absPath(tp("auth_key_file"), t.AuthKeyFile, true)
	v.intRange(tp("port"), int64(t.Port), 0, 65535) // 0: tailscaled picks one
	v.enum(tp("use_routing_features"), t.UseRoutingFeatures, "none", "client", "server", "both")
	for i, s := range t.Addresses {
		if _, err := netip.ParsePrefix(s); err != nil {
			v.bad(tp("addresses", elem(i)), "%q is not a CIDR (e.g. \"100.64.0.0/10\")", s)
		}
	}
}

func (v *validator) iface(path []string, s string) {
	if !ifaceRe.MatchString(s) || s == "." || s == ".." {
		v.bad(path, "invalid interface name %q (1 to 15 characters: letters, digits, _ . : or -)", s)
	}
}

func (v *validator) firewall() {
	f := v.p.Firewall
	for i, s := range f.TrustedInterfaces {
		v.iface([]string{"firewall", "trusted_interfaces", elem(i)}, s)
	}
	v.ports([]string{"firewall", "allowed_tcp_ports"}, f.AllowedTCPPorts, true)
	v.ports([]string{"firewall", "allowed_udp_ports"}, f.AllowedUDPPorts, true)
}

var (
	nodeRe   = lazyre.New(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	streamRe = lazyre.New(`^[A-Za-z0-9_-]{1,64}$`)
)

// ValidNode checks a fleet node name: it is a NATS subject token, so no
// dots or wildcards.
func ValidNode(s string) error {
	if !nodeRe.MatchString(s) {
		return fmt.Errorf("invalid node name %q (1 to 64 letters, digits, _ or -, starting with a letter or digit)", s)
	}
	return nil
}

func (v *validator) fleet() {
	f := v.p.Fleet
	fp := func(k ...string) []string { return with([]string{"fleet"}, k...) }
	if f.Enabled && len(f.Servers) == 0 {
		v.d.add(fp("enabled"), false, false, `fleet needs at least one server in servers (e.g. ["nats://203.0.113.10:4222"])`)
	}
	for i, s := range f.Servers {
		if msg := checkNATSURL(s); msg != "" {
			v.bad(fp("servers", elem(i)), "%s", msg)
		}
	}
	for _, k := range []struct {
		key, val string
	}{{"creds_file", f.CredsFile}, {"nkey_file", f.NkeyFile}, {"password_file", f.PasswordFile}, {"ca_file", f.CAFile}, {"cert_file", f.CertFile}, {"key_file", f.KeyFile}} {
		v.absPath(fp(k.key), k.val, true)
	}
	var auth []string
	for _, k := range []struct{ key, val string }{{"creds_file", f.CredsFile}, {"nkey_file", f.NkeyFile}, {"password_file", f.PasswordFile}} {
		if k.val != "" {
			auth = append(auth, k.key)
		}
	}
	if len(auth) > 1 {
		v.bad(fp(auth[1]), "set only one of creds_file, nkey_file and password_file (found %s)", strings.Join(auth, " and "))
	}
	switch {
	case f.PasswordFile != "" && f.User == "":
		v.d.add(fp("password_file"), false, false, "password_file needs user")
	case f.User != "" && f.PasswordFile == "":
		v.bad(fp("user"), "user needs password_file (the password is read from that file, never written in the policy)")
	case f.User != "" && (strings.ContainsAny(f.User, " \t\r\n\x00") || len(f.User) > 128):
		v.bad(fp("user"), "invalid user name %q", f.User)
	}
	if (f.CertFile == "") != (f.KeyFile == "") {
		if f.CertFile == "" {
			v.bad(fp("key_file"), "key_file needs cert_file")
		} else {
			v.bad(fp("cert_file"), "cert_file needs key_file")
		}
	}
	if f.Node != "" {
		if err := ValidNode(f.Node); err != nil {
			v.bad(fp("node"), "%v", err)
		}
	}
	if !streamRe.MatchString(f.Stream) {
		v.bad(fp("stream"), "invalid stream name %q (1 to 64 letters, digits, _ or -)", f.Stream)
	}
	seen := map[string]bool{}
	for i, n := range f.AcceptFrom {
		switch err := ValidNode(n); {
		case err != nil:
			v.bad(fp("accept_from", elem(i)), "%v", err)
		case seen[n]:
			v.bad(fp("accept_from", elem(i)), "duplicate node %q", n)
		}
		seen[n] = true
	}
	v.intRange(fp("rate"), int64(f.Rate), 1, 1_000_000)
	v.intRange(fp("burst"), int64(f.Burst), 1, 10_000_000)
	v.intRange(fp("outbox_max"), int64(f.OutboxMax), 1, 10_000_000)
}

// checkNATSURL checks one fleet server URL.
func checkNATSURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Opaque != "":
		return fmt.Sprintf("%q is not a URL (expected nats://HOST:PORT or tls://HOST:PORT)", s)
	case u.Scheme != "nats" && u.Scheme != "tls":
		return fmt.Sprintf("%q: scheme %q (expected nats:// or tls://)", s, u.Scheme)
	case u.User != nil:
		return fmt.Sprintf("%q: credentials in the URL are not allowed (use creds_file, nkey_file or password_file)", s)
	case u.Hostname() == "" || !isAddr(u.Hostname()) && !hostRe.MatchString(u.Hostname()):
		return fmt.Sprintf("%q: missing or invalid host", s)
	case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "":
		return fmt.Sprintf("%q: expected no path, query or fragment", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("%q: port %q is out of range (1 to 65535)", s, p)
		}
	}
	return ""
}
