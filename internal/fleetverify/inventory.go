package fleetverify

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/rampart-sec/rampart/internal/host/sshhost"
	"github.com/rampart-sec/rampart/internal/lazyre"
	"github.com/rampart-sec/rampart/internal/policy"
)

// Target is one host to verify, with its group's settings already
// applied.
type Target struct {
	Name      string // as given in the inventory or on the command line
	User      string
	Address   string
	Port      int
	PortSet   bool    // the inventory or the command line gave Port (else it is the default 22)
	ProxyJump *Target // nil: dial directly
	Group     string
	Labels    []string
	// Policy is the policy file (resolved against the inventory's
	// directory); "" uses the run's policy flags.
	Policy      string
	Profile     string
	SSHDConfigs []string
	Timeout     time.Duration // 0: the run's --host-timeout
	// Identities and KnownHosts, when set (from the ssh client
	// configuration, WithSSHConfig), replace the run's for this host.
	Identities []string
	KnownHosts []string
	configured bool // WithSSHConfig has filled it in
}

// TargetOf is the target called name at pt, a parsed [USER@]HOST[:PORT].
func TargetOf(name string, pt sshhost.Target) *Target {
	return &Target{Name: name, User: pt.User, Address: pt.Host, Port: pt.Port, PortSet: pt.PortSet}
}

// Dest is [USER@]ADDRESS[:PORT] for sshhost.Dial.
func (t *Target) Dest() string {
	return sshhost.Target{User: t.User, Host: t.Address, Port: t.Port}.String()
}

// Inventory is a parsed fleet file.
type Inventory struct {
	File       string
	Hosts      []*Target
	Identities []string
	KnownHosts []string
}

// The keys each table accepts.
var (
	topKeys   = []string{"user", "port", "proxy_jump", "timeout", "identity", "known_hosts", "group", "host"}
	groupKeys = []string{"user", "port", "proxy_jump", "timeout", "labels", "policy", "profile", "sshd_config"}
	hostKeys  = []string{"name", "address", "user", "port", "proxy_jump", "timeout", "labels", "group", "policy", "profile", "sshd_config"}
	nameRE    = lazyre.New(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$`)
	labelRE   = lazyre.New(`^[a-z0-9]([a-z0-9._=-]{0,62})$`)
)

// LoadInventory reads and validates a fleet inventory. Every problem is
// reported, each as FILE:LINE:COL: field: message (policy.Errors).
func LoadInventory(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	return ParseInventory(path, data)
}

// ParseInventory validates an inventory; relative policy, identity and
// known_hosts paths are resolved against name's directory.
func ParseInventory(name string, data []byte) (*Inventory, error) {
	src := string(data)
	var raw map[string]any
	if _, err := toml.Decode(src, &raw); err != nil {
		return nil, policy.Errors{policy.SyntaxIssue(name, src, err)}
	}
	d := &invDecoder{file: name, dir: filepath.Dir(name), pos: policy.IndexTOML(src)}
	inv := &Inventory{File: name}
	d.unknown(raw, nil, topKeys)
	defaults := d.settings(raw, nil)
	inv.Identities = d.paths(raw, []string{"identity"})
	inv.KnownHosts = d.paths(raw, []string{"known_hosts"})

	groups := map[string]settings{}
	if g, ok := raw["group"]; ok {
		gm, ok := g.(map[string]any)
		if !ok {
			d.add([]string{"group"}, false, "must be a table of groups ([group.NAME])")
		}
		for _, gname := range sortedKeys(gm) {
			path := []string{"group", gname}
			t, ok := gm[gname].(map[string]any)
			if !ok {
				d.add(path, false, "must be a table ([group.%s])", gname)
				continue
			}
			if !nameRE.MatchString(gname) {
				d.add(path, true, "group name %q: use letters, digits, '.', '_' or '-'", gname)
			}
			d.unknown(t, path, groupKeys)
			groups[gname] = defaults.over(d.settings(t, path))
		}
	}

	hs, ok := raw["host"]
	if !ok {
		d.add(nil, false, "no hosts: add [[host]] tables with name = \"…\"")
		return nil, d.result()
	}
	list, ok := tables(hs)
	if !ok {
		d.add([]string{"host"}, false, "must be an array of tables ([[host]])")
		return nil, d.result()
	}
	if len(list) == 0 {
		d.add([]string{"host"}, false, "no hosts: add [[host]] tables with name = \"…\"")
		return nil, d.result()
	}
	byName := map[string]*Target{}
	jumps := map[*Target][]string{}
	for i, t := range list {
		path := []string{"host", policy.Elem(i)}
		d.unknown(t, path, hostKeys)
		hn := d.str(t, path, "name")
		switch {
		case hn == "":
			if _, ok := t["name"]; !ok { // else d.str said what is wrong with it
				d.add(path, true, "name is required")
			}
		case !nameRE.MatchString(hn):
			d.add(with(path, "name"), false, "%q: use letters, digits, '.', '_' or '-' (at most 63)", hn)
		case byName[hn] != nil:
			d.add(with(path, "name"), false, "%q is already defined", hn)
		}
		s := defaults
		gname := d.str(t, path, "group")
		if gname != "" {
			g, ok := groups[gname]
			if !ok {
				d.add(with(path, "group"), false, "no group %q%s", gname, policy.DidYouMean(gname, sortedKeys(groupsAny(groups))))
			}
			s = g
		}
		s = s.over(d.settings(t, path))
		tg := &Target{Name: hn, User: s.user, Port: s.port, Group: gname, Labels: s.labels, Policy: s.policy,
			Profile: s.profile, SSHDConfigs: s.sshdConfigs, Timeout: s.timeout}
		addr := d.str(t, path, "address")
		tg.Address = addr
		if tg.Address == "" {
			tg.Address = hn
		}
		tg.PortSet = tg.Port != 0
		if tg.Port == 0 {
			tg.Port = 22
		}
		// The address alone: user and port have their own checks, and a
		// name already refused is not refused again as an address.
		checkAddr := addr != "" || hn != "" && nameRE.MatchString(hn)
		if _, err := sshhost.ParseTarget(sshhost.Target{Host: tg.Address, Port: 22}.String()); checkAddr && (err != nil || strings.ContainsAny(tg.Address, "@[]")) {
			at := with(path, "address")
			if _, ok := t["address"]; !ok {
				at = with(path, "name")
			}
			d.add(at, false, "%q is not a host name or address (user and port are separate keys)", tg.Address)
		}
		if s.jump != "" {
			jumps[tg] = append(s.jumpPath, s.jump)
		}
		if hn != "" && byName[hn] == nil {
			byName[hn] = tg
		}
		inv.Hosts = append(inv.Hosts, tg)
	}
	// proxy_jump names another host of the inventory or is [USER@]HOST[:PORT].
	for _, tg := range inv.Hosts {
		j, ok := jumps[tg]
		if !ok {
			continue
		}
		at, val := j[:len(j)-1], j[len(j)-1]
		if other := byName[val]; other != nil {
			tg.ProxyJump = other
			continue
		}
		pt, err := sshhost.ParseTarget(val)
		if err != nil {
			d.add(at, false, "%q is neither a host of this inventory nor [USER@]HOST[:PORT]: %v", val, err)
			continue
		}
		tg.ProxyJump = TargetOf(pt.String(), pt)
		if tg.ProxyJump.User == "" {
			tg.ProxyJump.User = tg.User
		}
	}
	for i, tg := range inv.Hosts {
		seen := map[*Target]bool{}
		for j := tg; j != nil; j = j.ProxyJump {
			if seen[j] {
				d.add([]string{"host", policy.Elem(i), "proxy_jump"}, false, "jump hosts form a loop through %q", j.Name)
				break
			}
			seen[j] = true
		}
	}
	if err := d.result(); err != nil {
		return nil, err
	}
	return inv, nil
}

// tables accepts [[host]] and host = [{…}, …].
func tables(v any) ([]map[string]any, bool) {
	switch l := v.(type) {
	case []map[string]any:
		return l, true
	case []any:
		out := make([]map[string]any, 0, len(l))
		for _, e := range l {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, false
			}
			out = append(out, m)
		}
		return out, true
	}
	return nil, false
}

func groupsAny(g map[string]settings) map[string]any {
	m := map[string]any{}
	for k := range g {
		m[k] = nil
	}
	return m
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func with(path []string, more ...string) []string {
	return append(append(make([]string, 0, len(path)+len(more)), path...), more...)
}

// settings are the keys a host inherits from the file's top level and its
// group; zero values are unset.
type settings struct {
	user        string
	port        int
	jump        string
	jumpPath    []string
	timeout     time.Duration
	labels      []string
	policy      string
	profile     string
	sshdConfigs []string
}

// over returns s with what o sets; labels add up.
func (s settings) over(o settings) settings {
	if o.user != "" {
		s.user = o.user
	}
	if o.port != 0 {
		s.port = o.port
	}
	if o.jump != "" {
		s.jump, s.jumpPath = o.jump, o.jumpPath
	}
	if o.timeout != 0 {
		s.timeout = o.timeout
	}
	if len(o.labels) > 0 {
		s.labels = append(append([]string(nil), s.labels...), o.labels...)
	}
	if o.policy != "" {
		s.policy = o.policy
	}
	if o.profile != "" {
		s.profile = o.profile
	}
	if len(o.sshdConfigs) > 0 {
		s.sshdConfigs = o.sshdConfigs
	}
	return s
}

type invDecoder struct {
	file string
	dir  string
	pos  *policy.Positions
	errs policy.Errors
}

func (d *invDecoder) add(path []string, atKey bool, format string, args ...any) {
	var p policy.Pos
	for at := path; len(at) > 0; at, atKey = at[:len(at)-1], true {
		var ok bool
		if atKey {
			p, ok = d.pos.Key(at...)
		} else {
			p, ok = d.pos.Value(at...)
		}
		if ok {
			break
		}
	}
	if !p.IsValid() {
		p = policy.Pos{Line: 1, Col: 1}
	}
	d.errs = append(d.errs, &policy.Issue{File: d.file, Pos: p, Field: policy.FieldName(path), Msg: fmt.Sprintf(format, args...)})
}

func (d *invDecoder) result() error {
	if len(d.errs) == 0 {
		return nil
	}
	sort.SliceStable(d.errs, func(i, j int) bool {
		a, b := d.errs[i].Pos, d.errs[j].Pos
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
	return d.errs
}

func (d *invDecoder) unknown(m map[string]any, path []string, keys []string) {
	known := map[string]bool{}
	for _, k := range keys {
		known[k] = true
	}
	for _, k := range sortedKeys(m) {
		if !known[k] {
			d.add(with(path, k), true, "unknown key%s", policy.DidYouMean(k, keys))
		}
	}
}

func (d *invDecoder) str(m map[string]any, path []string, key string) string {
	v, ok := m[key]
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		d.add(with(path, key), false, "must be a string")
		return ""
	}
	if s == "" {
		d.add(with(path, key), false, "must not be empty")
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		d.add(with(path, key), false, "must not contain control characters")
		return ""
	}
	return s
}

func (d *invDecoder) strs(m map[string]any, path []string, key string) []string {
	v, ok := m[key]
	if !ok {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		d.add(with(path, key), false, "must be an array of strings")
		return nil
	}
	var out []string
	for i, e := range l {
		s, ok := e.(string)
		if !ok || s == "" || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			d.add(with(path, key, policy.Elem(i)), false, "must be a non-empty string")
			continue
		}
		out = append(out, s)
	}
	return out
}

// paths reads an array of file names, resolved against the inventory's
// directory.
func (d *invDecoder) paths(m map[string]any, path []string) []string {
	key := path[len(path)-1]
	l := d.strs(m, path[:len(path)-1], key)
	for i, p := range l {
		l[i] = d.resolve(p)
	}
	return l
}

func (d *invDecoder) resolve(p string) string {
	if filepath.IsAbs(p) || strings.HasPrefix(p, "~") {
		return p
	}
	return filepath.Join(d.dir, p)
}

func (d *invDecoder) settings(m map[string]any, path []string) settings {
	var s settings
	s.user = d.str(m, path, "user")
	if s.user != "" {
		if _, err := sshhost.ParseTarget(s.user + "@h"); err != nil {
			d.add(with(path, "user"), false, "%q is not a user name", s.user)
		}
	}
	if v, ok := m["port"]; ok {
		n, ok := v.(int64)
		if !ok || n < 1 || n > 65535 {
			d.add(with(path, "port"), false, "must be a number from 1 to 65535")
		} else {
			s.port = int(n)
		}
	}
	if j := d.str(m, path, "proxy_jump"); j != "" {
		s.jump, s.jumpPath = j, with(path, "proxy_jump")
	}
	if t := d.str(m, path, "timeout"); t != "" {
		dur, err := time.ParseDuration(t)
		if err != nil || dur <= 0 {
			d.add(with(path, "timeout"), false, "%q is not a positive duration (e.g. \"30s\", \"2m\")", t)
		}
		s.timeout = dur
	}
	for i, l := range d.strs(m, path, "labels") {
		if !labelRE.MatchString(l) {
			d.add(with(path, "labels", policy.Elem(i)), false, "%q: labels are lower-case letters, digits and . _ = -", l)
			continue
		}
		s.labels = append(s.labels, l)
	}
	if p := d.str(m, path, "policy"); p != "" {
		s.policy = d.resolve(p)
		if _, err := os.Stat(s.policy); err != nil {
			d.add(with(path, "policy"), false, "policy file: %v", err)
		}
	}
	if p := d.str(m, path, "profile"); p != "" {
		if p != policy.ProfileBaseline && p != policy.ProfileTailnet {
			d.add(with(path, "profile"), false, "%q: expected %q or %q", p, policy.ProfileBaseline, policy.ProfileTailnet)
		}
		s.profile = p
	}
	for i, c := range d.strs(m, path, "sshd_config") {
		if !filepath.IsAbs(c) {
			d.add(with(path, "sshd_config", policy.Elem(i)), false, "%q: must be an absolute path on the host", c)
		}
		s.sshdConfigs = append(s.sshdConfigs, c)
	}
	return s
}
