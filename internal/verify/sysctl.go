package verify

import (
	"context"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
	"github.com/rampart-sec/rampart/internal/policy"
)

// combine is how the kernel derives an interface's effective value from
// conf/all/KEY and conf/IFACE/KEY (include/linux/inetdevice.h).
type combine int

const (
	combineSelf      combine = iota // the interface's own value (forwarding, IPv6 keys)
	combineOr                       // on if all OR iface (send_redirects, log_martians …)
	combineAnd                      // on only if all AND iface (accept_source_route …)
	combineMax                      // max(all, iface) (rp_filter, arp_ignore)
	combineRedirects                // accept_redirects: AND when the interface forwards, else OR
)

// ipv4Combine is the rule per net.ipv4.conf key (IN_DEV_ORCONF,
// IN_DEV_ANDCONF, IN_DEV_MAXCONF, IN_DEV_RX_REDIRECTS). Keys not listed
// are read per interface.
var ipv4Combine = map[string]combine{
	"rp_filter":           combineMax,
	"arp_ignore":          combineMax,
	"send_redirects":      combineOr,
	"secure_redirects":    combineOr,
	"shared_media":        combineOr,
	"log_martians":        combineOr,
	"accept_local":        combineOr,
	"proxy_arp":           combineOr,
	"arp_filter":          combineOr,
	"src_valid_mark":      combineOr,
	"accept_source_route": combineAnd,
	"bootp_relay":         combineAnd,
	"mc_forwarding":       combineAnd,
	"accept_redirects":    combineRedirects,
}

func (c combine) explain(key string) string {
	switch c {
	case combineOr:
		return fmt.Sprintf("the kernel applies %s on an interface if conf/all OR conf/IFACE is set, so conf.all=0 alone leaves existing interfaces on", key)
	case combineAnd:
		return fmt.Sprintf("the kernel applies %s on an interface only if conf/all AND conf/IFACE are set", key)
	case combineMax:
		return fmt.Sprintf("the kernel uses max(conf/all, conf/IFACE) for %s, so a loose (2) or strict (1) value on either side wins over 0", key)
	case combineRedirects:
		return "the kernel accepts redirects on a non-forwarding interface if conf/all OR conf/IFACE is 1 (AND when it forwards), so conf.all=0 alone leaves existing interfaces accepting them"
	}
	if key == "forwarding" {
		return "forwarding is per interface: writing conf/all (or ip_forward) sets every existing interface, but a later per-interface write turns routing back on for that one"
	}
	return fmt.Sprintf("%s is read per interface: conf/all does not override existing interfaces, and new ones start from default", key)
}

// procSysPath turns "net.ipv4.tcp_syncookies" into its /proc/sys path.
// Interface names may contain dots; in the dotted form sysctl(8) writes
// them as slashes, which is undone here.
func procSysPath(key string) string {
	return "/proc/sys/" + strings.NewReplacer(".", "/", "/", ".").Replace(key)
}

func readSysctl(ctx context.Context, env *check.Env, key string) (int64, string, error) {
	p := procSysPath(key)
	v, err := env.Memo("verify.sysctl:"+p, func() (any, error) {
		b, err := env.Host.ReadFile(ctx, p)
		return sysctlValue(p, b, err)
	})
	if err != nil {
		return 0, p, err
	}
	return v.(int64), p, nil
}

// readSysctls reads keys in one batch (one round trip on a remote host,
// where a read each would cost one per interface and key) into the memo
// readSysctl answers from.
func readSysctls(ctx context.Context, env *check.Env, keys []string) {
	paths := make([]string, len(keys))
	for i, k := range keys {
		paths[i] = procSysPath(k)
	}
	res, err := env.ReadFiles(ctx, paths)
	if err != nil {
		return // each key is read alone, and fails alone
	}
	for i, p := range paths {
		_, _ = env.Memo("verify.sysctl:"+p, func() (any, error) { return sysctlValue(p, res[i].Data, res[i].Err) })
	}
}

// prefetchSysctls reads, once per run and in one batch, every value the
// policy's keys will ask for: each key, and for conf.all/default keys the
// same key of every interface (with its forwarding for accept_redirects;
// every forwarding for ip_forward).
func prefetchSysctls(ctx context.Context, env *check.Env) {
	_, _ = env.Memo("verify.sysctl.prefetch", func() (any, error) {
		readSysctls(ctx, env, sysctlKeys(ctx, env))
		return nil, nil
	})
}

// sysctlKeys are the keys the policy's sysctls are judged by: each key,
// and for conf.all/default keys the same key of every interface (with its
// forwarding for accept_redirects; every forwarding for ip_forward).
func sysctlKeys(ctx context.Context, env *check.Env) []string {
	var keys []string
	for _, s := range env.Policy.Sysctl {
		keys = append(keys, s.Name)
		fam, _, name, conf := confKey(s.Name)
		switch {
		case conf:
			ifcs, _ := interfaces(ctx, env, fam)
			keys = append(keys, ifaceKey(fam, "all", name), ifaceKey(fam, "default", name))
			for _, ifc := range ifcs {
				keys = append(keys, ifaceKey(fam, ifc, name))
				if fam == "ipv4" && ipv4Combine[name] == combineRedirects {
					keys = append(keys, ifaceKey(fam, ifc, "forwarding"))
				}
			}
		case s.Name == "net.ipv4.ip_forward":
			ifcs, _ := interfaces(ctx, env, "ipv4")
			for _, ifc := range append([]string{"all"}, ifcs...) {
				keys = append(keys, ifaceKey("ipv4", ifc, "forwarding"))
			}
		}
	}
	return keys
}

// sysctlValue is the number a /proc/sys file holds (the first one, for
// files that hold several).
func sysctlValue(p string, b []byte, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	s := strings.TrimSpace(string(b))
	n, err := strconv.ParseInt(strings.Fields(s + " 0")[0], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%s: expected a number, got %q", p, host.Truncate(s, 40))
	}
	return n, nil
}

// ifacePattern globs a family's interfaces: every interface directory has
// a forwarding entry; globbing the entry (not the directory) works on
// every host implementation.
func ifacePattern(family string) string { return ifaceKeyPattern(family, "forwarding") }

// ifaceKeyPattern globs the /proc/sys file of key name of every conf/
// directory of a family (all, default and each interface).
func ifaceKeyPattern(family, name string) string {
	return "/proc/sys/net/" + family + "/conf/*/" + name
}

// ifaceFamilies are the families whose interfaces sysctlKeys lists.
func ifaceFamilies(p *policy.Policy) []string {
	var out []string
	for _, s := range p.Sysctl {
		fam, _, _, ok := confKey(s.Name)
		if s.Name == "net.ipv4.ip_forward" {
			fam, ok = "ipv4", true
		}
		if ok && !slices.Contains(out, fam) {
			out = append(out, fam)
		}
	}
	return out
}

// confKey splits net.FAMILY.conf.SCOPE.NAME (FAMILY ipv4 or ipv6, SCOPE
// all or default), a key the kernel combines with each interface's own.
func confKey(key string) (family, scope, name string, ok bool) {
	parts := strings.Split(key, ".")
	if len(parts) == 5 && parts[0] == "net" && (parts[1] == "ipv4" || parts[1] == "ipv6") && parts[2] == "conf" && (parts[3] == "all" || parts[3] == "default") {
		return parts[1], parts[3], parts[4], true
	}
	return "", "", "", false
}

// interfaces lists the conf/ directories of a family other than all and
// default.
func interfaces(ctx context.Context, env *check.Env, family string) ([]string, error) {
	v, err := env.Memo("verify.ifaces:"+family, func() (any, error) {
		ps, err := env.Glob(ctx, ifacePattern(family))
		if err != nil {
			return nil, err
		}
		var out []string
		for _, p := range ps {
			if b := path.Base(path.Dir(p)); b != "all" && b != "default" {
				out = append(out, b)
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]string), nil
}

// sysctlFinding is one evaluated key.
type sysctlFinding struct {
	ok       bool
	evidence []check.Evidence
	problems []string
}

// evalSysctl compares the runtime value of one policy key with want. For
// net.ipv4.conf.{all,default}.X and net.ipv6.conf.{all,default}.X it
// evaluates default and every existing interface with the kernel's rule.
func evalSysctl(ctx context.Context, env *check.Env, key string, want int64) (sysctlFinding, error) {
	var f sysctlFinding
	if fam, scope, name, ok := confKey(key); ok {
		rule := combineSelf
		if fam == "ipv4" {
			rule = ipv4Combine[name]
		}
		conf := func(ifc string) string { return ifaceKey(fam, ifc, name) }
		ifcs, err := interfaces(ctx, env, fam)
		if err != nil {
			return f, err
		}
		prefetchSysctls(ctx, env)
		all, allPath, err := readSysctl(ctx, env, conf("all"))
		if err != nil {
			return f, err
		}
		def, defPath, err := readSysctl(ctx, env, conf("default"))
		if err != nil {
			return f, err
		}
		lines := []string{rule.explain(name), fmt.Sprintf("%s = %d", allPath, all), fmt.Sprintf("%s = %d", defPath, def)}
		effective := func(own int64, forwarding bool) int64 {
			switch rule {
			case combineOr:
				return b2i(all != 0 || own != 0)
			case combineAnd:
				return b2i(all != 0 && own != 0)
			case combineMax:
				return max(all, own)
			case combineRedirects:
				if forwarding {
					return b2i(all != 0 && own != 0)
				}
				return b2i(all != 0 || own != 0)
			}
			return own
		}
		if all != want && scope == "all" {
			f.problems = append(f.problems, fmt.Sprintf("conf.all.%s = %d", name, all))
		}
		if e := effective(def, false); e != want {
			f.problems = append(f.problems, fmt.Sprintf("new interfaces (default) get %s = %d", name, e))
		}
		for _, ifc := range ifcs {
			own, p, err := readSysctl(ctx, env, conf(ifc))
			if err != nil {
				if isGone(err) {
					continue // interface removed meanwhile
				}
				return f, err
			}
			fwd := false
			if rule == combineRedirects {
				fv, _, ferr := readSysctl(ctx, env, ifaceKey(fam, ifc, "forwarding"))
				fwd = ferr == nil && fv != 0
			}
			e := effective(own, fwd)
			lines = append(lines, fmt.Sprintf("%s = %d (effective %d)", p, own, e))
			if e != want {
				f.problems = append(f.problems, fmt.Sprintf("%s effectively %d", ifc, e))
			}
		}
		f.evidence = append(f.evidence, ev(fmt.Sprintf("/proc/sys/net/%s/conf/*/%s", fam, name), strings.Join(lines, "\n")))
		f.ok = len(f.problems) == 0
		return f, nil
	}
	prefetchSysctls(ctx, env)
	got, p, err := readSysctl(ctx, env, key)
	if err != nil {
		return f, err
	}
	f.evidence = append(f.evidence, evf(p, "%d", got))
	if got != want {
		f.problems = append(f.problems, fmt.Sprintf("%s = %d", key, got))
	}
	if key == "net.ipv4.ip_forward" && want == 0 {
		// ip_forward writes conf/all/forwarding and every interface; a
		// later per-interface write re-enables routing on that one.
		ifcs, err := interfaces(ctx, env, "ipv4")
		if err == nil {
			var lines []string
			for _, ifc := range append([]string{"all"}, ifcs...) {
				if v, fp, err := readSysctl(ctx, env, ifaceKey("ipv4", ifc, "forwarding")); err == nil {
					lines = append(lines, fmt.Sprintf("%s = %d", fp, v))
					if v != 0 {
						f.problems = append(f.problems, fmt.Sprintf("%s forwards (conf.%s.forwarding = %d)", ifc, ifc, v))
					}
				}
			}
			f.evidence = append(f.evidence, ev("/proc/sys/net/ipv4/conf/*/forwarding", strings.Join(lines, "\n")))
		}
	}
	f.ok = len(f.problems) == 0
	return f, nil
}

// ifaceKey is the dotted key of conf/IFACE/NAME; dots in an interface
// name ("eth0.100") are written as slashes, as sysctl(8) does.
func ifaceKey(fam, ifc, name string) string {
	return fmt.Sprintf("net.%s.conf.%s.%s", fam, strings.ReplaceAll(ifc, ".", "/"), name)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func isGone(err error) bool {
	return strings.Contains(err.Error(), "no such file") || errorsIsNotExist(err)
}

// sysctlGroups maps stable check IDs to the policy keys they cover; policy
// keys in no group are checked by sysctl.other.
var sysctlGroups = []struct {
	id, title string
	sev       check.Severity
	keys      []string
}{
	{"sysctl.ip-forward", "IP forwarding is off", check.High, []string{"net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding", "net.ipv6.conf.all.forwarding"}},
	{"sysctl.accept-redirects", "ICMP redirects are ignored on every interface", check.Medium, []string{"net.ipv4.conf.all.accept_redirects", "net.ipv4.conf.default.accept_redirects", "net.ipv6.conf.all.accept_redirects", "net.ipv6.conf.default.accept_redirects"}},
	{"sysctl.send-redirects", "ICMP redirects are not sent from any interface", check.Medium, []string{"net.ipv4.conf.all.send_redirects", "net.ipv4.conf.default.send_redirects"}},
	{"sysctl.rp-filter", "Reverse-path filtering is on for every interface", check.Medium, []string{"net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter"}},
	{"sysctl.tcp-syncookies", "TCP SYN cookies are on", check.Medium, []string{"net.ipv4.tcp_syncookies"}},
	{"sysctl.tcp-max-syn-backlog", "TCP SYN backlog is the policy's size", check.Low, []string{"net.ipv4.tcp_max_syn_backlog"}},
	{"sysctl.tcp-synack-retries", "TCP SYN-ACK retries are the policy's count", check.Low, []string{"net.ipv4.tcp_synack_retries"}},
}

func grouped(key string) bool {
	for _, g := range sysctlGroups {
		for _, k := range g.keys {
			if k == key {
				return true
			}
		}
	}
	return false
}

// policyKeys returns the policy's keys among keys (all keys not in any
// group when keys is nil).
func policyKeys(p *policy.Policy, keys []string) []policy.Sysctl {
	var out []policy.Sysctl
	for _, s := range p.Sysctl {
		in := false
		if keys == nil {
			in = !grouped(s.Name)
		}
		for _, k := range keys {
			in = in || k == s.Name
		}
		if in {
			out = append(out, s)
		}
	}
	return out
}

func init() {
	for _, g := range sysctlGroups {
		g := g
		check.Register(&check.Check{ID: g.id, Title: g.title, Severity: g.sev,
			Applies: func(p *policy.Policy) (bool, string) {
				return len(policyKeys(p, g.keys)) > 0, "the policy sets none of " + strings.Join(g.keys, ", ")
			},
			Eval: func(ctx context.Context, env *check.Env) check.Result {
				return evalSysctlKeys(ctx, env, g.id, policyKeys(env.Policy, g.keys))
			},
			Fix: func(env *check.Env) check.Remediation { return sysctlFix(env, policyKeys(policyOf(env), g.keys)) }})
	}
	check.Register(&check.Check{ID: "sysctl.other", Title: "Other policy kernel parameters have their values", Severity: check.Low,
		Applies: func(p *policy.Policy) (bool, string) {
			return len(policyKeys(p, nil)) > 0, "the policy sets no other kernel parameters"
		},
		Eval: func(ctx context.Context, env *check.Env) check.Result {
			return evalSysctlKeys(ctx, env, "sysctl.other", policyKeys(env.Policy, nil))
		},
		Fix: func(env *check.Env) check.Remediation { return sysctlFix(env, policyKeys(policyOf(env), nil)) }})
	check.Register(&check.Check{ID: "sysctl.persisted", Title: "Policy kernel parameters persist across reboots (sysctl.d)", Severity: check.Medium,
		Applies: func(p *policy.Policy) (bool, string) {
			return len(p.Sysctl) > 0, "the policy sets no kernel parameters"
		},
		Eval: evalSysctlPersisted,
		Fix: func(env *check.Env) check.Remediation {
			return check.Remediation{NixOS: env.Nix("sysctl"),
				Generic: "write the keys to /etc/sysctl.d/90-rampart.conf so they survive a reboot, then sysctl --system"}
		}})
}

// sysctlFix sets keys: boot.kernel.sysctl on NixOS (nixfacts' sysctl.KEY
// topics, which leave out a key that would undo the tailnet's routing),
// /etc/sysctl.d elsewhere. A conf.all key also gets its conf.default twin,
// which new interfaces inherit.
func sysctlFix(env *check.Env, keys []policy.Sysctl) check.Remediation {
	var nix, gen []string
	forward := false
	for _, k := range keys {
		if l := env.Nix("sysctl." + k.Name); l != "" {
			nix = append(nix, l)
		}
		gen = append(gen, fmt.Sprintf("%s = %d", k.Name, k.Value))
		if base, ok := strings.CutPrefix(k.Name, "net.ipv4.conf.all."); ok {
			if l := env.NixLine(nixexpr.Int(k.Value), "boot", "kernel", "sysctl", "net.ipv4.conf.default."+base); l != "" {
				nix = append(nix, l+" # new interfaces inherit default, not all")
			}
			gen = append(gen, fmt.Sprintf("net.ipv4.conf.default.%s = %d (and each existing interface: sysctl -w net.ipv4.conf.IFACE.%s=%d)", base, k.Value, base, k.Value))
		}
		forward = forward || strings.Contains(k.Name, "forward")
	}
	if forward && policyOf(env).Tailnet.Enabled {
		if l := env.NixLine(nixexpr.Str("none"), "services", "tailscale", "useRoutingFeatures"); l != "" {
			nix = append(nix, l+` # "server"/"both" force forwarding on at mkOverride 97`)
		}
	}
	return check.Remediation{NixOS: strings.Join(nix, "\n"),
		Generic: "in /etc/sysctl.d/90-rampart.conf: " + strings.Join(gen, "; ") + "; then sysctl --system"}
}

func evalSysctlKeys(ctx context.Context, env *check.Env, id string, keys []policy.Sysctl) check.Result {
	var evs []check.Evidence
	var problems []string
	for _, k := range keys {
		f, err := evalSysctl(ctx, env, k.Name, k.Value)
		if err != nil {
			return unknown(k.Name, err, evs...)
		}
		evs = append(evs, f.evidence...)
		for _, p := range f.problems {
			problems = append(problems, fmt.Sprintf("%s (want %d)", p, k.Value))
		}
	}
	if len(problems) > 0 {
		return fail(strings.Join(problems, "; "), evs...)
	}
	var want []string
	for _, k := range keys {
		want = append(want, fmt.Sprintf("%s = %d", k.Name, k.Value))
	}
	return pass(strings.Join(want, ", ")+" in effect (every interface checked where the key has one)", evs...)
}

// overlay lists the files matching pattern under dirs the way systemd
// (and procps) combine configuration directories: a file name in an earlier
// directory hides the same name in later ones, and the survivors are
// returned in file-name order, the order they apply in.
func overlay(ctx context.Context, env *check.Env, dirs []string, pattern string) ([]string, error) {
	byName := map[string]string{}
	all, err := env.GlobAll(ctx, overlayPatterns(dirs, pattern))
	if err != nil {
		return nil, err
	}
	for _, ps := range all {
		for _, p := range ps {
			if _, dup := byName[path.Base(p)]; !dup {
				byName[path.Base(p)] = p
			}
		}
	}
	out := make([]string, 0, len(byName))
	for _, n := range sortedKeys(byName) {
		out = append(out, byName[n])
	}
	return out, nil
}

// overlayPatterns are the globs overlay expands.
func overlayPatterns(dirs []string, pattern string) []string {
	pats := make([]string, len(dirs))
	for i, d := range dirs {
		pats[i] = d + "/" + pattern
	}
	return pats
}

// sysctlDirs are read by systemd-sysctl and `sysctl --system`; a file name
// in an earlier directory hides the same name in later ones, and the
// surviving files apply in file-name order, so the last assignment wins.
var sysctlDirs = []string{"/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"}

// sysctlFiles are the sysctl.d files that apply, in order, and
// /etc/sysctl.conf, which procps applies last.
func sysctlFiles(ctx context.Context, env *check.Env) ([]string, error) {
	files, err := overlay(ctx, env, sysctlDirs, "*.conf")
	if err != nil {
		return nil, err
	}
	return append(files, "/etc/sysctl.conf"), nil
}

// persistedSysctl is one key's last persisted assignment.
type persistedSysctl struct {
	value string
	where string // file:line
}

// sysctlPersisted merges the sysctl.d files (and /etc/sysctl.conf, which
// procps applies last) into key → last assignment. Keys may be globs
// (systemd ≥ 249: net.ipv4.conf.*.rp_filter).
func sysctlPersisted(ctx context.Context, env *check.Env) (map[string]persistedSysctl, []check.Evidence, error) {
	type out struct {
		m   map[string]persistedSysctl
		evs []check.Evidence
	}
	v, err := env.Memo("verify.sysctl.d", func() (any, error) {
		files, err := sysctlFiles(ctx, env)
		if err != nil {
			return nil, err
		}
		read, err := env.ReadFiles(ctx, files)
		if err != nil {
			return nil, err
		}
		o := out{m: map[string]persistedSysctl{}}
		for fi, f := range files {
			b, err := read[fi].Data, read[fi].Err
			if err != nil {
				if errorsIsNotExist(err) {
					continue
				}
				return nil, fmt.Errorf("read %s: %w", f, err)
			}
			var kept []string
			for i, line := range strings.Split(string(b), "\n") {
				line = strings.TrimSpace(line)
				if line == "" || line[0] == '#' || line[0] == ';' {
					continue
				}
				k, val, ok := strings.Cut(line, "=")
				if !ok {
					continue // systemd-sysctl ignores such lines with a warning
				}
				k = strings.TrimPrefix(strings.TrimSpace(k), "-")
				k = strings.ReplaceAll(k, "/", ".")
				o.m[k] = persistedSysctl{value: strings.TrimSpace(val), where: fmt.Sprintf("%s:%d", f, i+1)}
				kept = append(kept, fmt.Sprintf("%d: %s", i+1, line))
			}
			if len(kept) > 0 {
				o.evs = append(o.evs, ev(f, strings.Join(kept, "\n")))
			}
		}
		return o, nil
	})
	if err != nil {
		return nil, nil, err
	}
	o := v.(out)
	return o.m, o.evs, nil
}

// lookupPersisted finds the last assignment for key, honouring glob keys;
// an exact key and a glob written later both count, the later file line
// wins.
func lookupPersisted(m map[string]persistedSysctl, key string) (persistedSysctl, bool) {
	var best persistedSysctl
	found := false
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ok := k == key
		if !ok && strings.ContainsAny(k, "*?[") {
			ok, _ = path.Match(strings.ReplaceAll(k, ".", "/"), strings.ReplaceAll(key, ".", "/"))
		}
		if ok && (!found || laterThan(m[k].where, best.where)) {
			best, found = m[k], true
		}
	}
	return best, found
}

// laterThan compares "file:line" positions in application order; files
// are compared by base name (their application order) then line.
func laterThan(a, b string) bool {
	fa, la := splitWhere(a)
	fb, lb := splitWhere(b)
	if fa == "/etc/sysctl.conf" || fb == "/etc/sysctl.conf" {
		if fa != fb {
			return fa == "/etc/sysctl.conf"
		}
	}
	if path.Base(fa) != path.Base(fb) {
		return path.Base(fa) > path.Base(fb)
	}
	return la > lb
}

func splitWhere(w string) (string, int) {
	i := strings.LastIndexByte(w, ':')
	n, _ := strconv.Atoi(w[i+1:])
	return w[:i], n
}

func evalSysctlPersisted(ctx context.Context, env *check.Env) check.Result {
	m, evs, err := sysctlPersisted(ctx, env)
	if err != nil {
		return unknown("sysctl.d", err)
	}
	var problems, good []string
	for _, s := range env.Policy.Sysctl {
		want := strconv.FormatInt(s.Value, 10)
		got, ok := lookupPersisted(m, s.Name)
		switch {
		case !ok:
			problems = append(problems, s.Name+" is not in any sysctl.d file (a runtime value is lost at reboot)")
		case strings.Join(strings.Fields(got.value), " ") != want:
			problems = append(problems, fmt.Sprintf("%s = %s at %s (want %s)", s.Name, got.value, got.where, want))
		default:
			good = append(good, fmt.Sprintf("%s = %s at %s", s.Name, got.value, got.where))
		}
	}
	if len(good) > 0 {
		evs = append([]check.Evidence{ev("persisted (last assignment wins)", strings.Join(good, "\n"))}, evs...)
	}
	if len(evs) == 0 {
		evs = append(evs, ev(strings.Join(sysctlDirs, ", ")+", /etc/sysctl.conf", "no assignments found"))
	}
	if len(problems) > 0 {
		return fail(strings.Join(problems, "; "), evs...)
	}
	return pass(fmt.Sprintf("all %d policy keys persist with their values", len(env.Policy.Sysctl)), evs...)
}
