package policy

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rampart-sec/rampart/internal/guard/filter"
	"github.com/rampart-sec/rampart/internal/guard/source"
)

// MarshalTOML writes p as a complete policy file: every key with its value,
// defaults included. Parsing the output yields p again.
func MarshalTOML(p *Policy) []byte {
	w := &tomlWriter{}
	w.table(nil, reflect.ValueOf(p).Elem())
	return []byte(strings.TrimLeft(w.b.String(), "\n"))
}

// InitTOML returns the commented policy `rampart policy init` prints: every
// value equals Default(profile), each key is explained, and site-specific
// values (admin users and keys, the example LAN, the tailnet auth-key path)
// appear as commented examples. Given admins are written as [[admin.users]]
// instead of the example (the caller validates them).
func InitTOML(profile string, admins ...AdminUser) ([]byte, error) {
	p, err := Default(profile)
	if err != nil {
		return nil, err
	}
	p.Admin.Users = admins
	w := &tomlWriter{comments: true}
	w.b.WriteString(fmt.Sprintf(initHeader, p.Profile))
	if len(admins) > 0 {
		w.b.WriteString(initAdminNote)
	}
	w.table(nil, reflect.ValueOf(p).Elem())
	return []byte(w.b.String()), nil
}

const initAdminNote = `# [[admin.users]] below are yours (policy init --admin/--key), not defaults.

`

const initHeader = `# rampart policy, profile %q (written by 'rampart policy init').
#
# Every value below equals the built-in default of this profile, so you only
# need to keep what you change. How a file is read:
#   - it starts from the default of its profile and overrides what it sets;
#   - a list (ports, ignore, [[admin.users]], [[audit.watches]]) replaces the
#     default list wholesale;
#   - [sysctl] keys and [ban.jails.NAME] tables merge: an entry with a default
#     name overrides that entry, a new name is added (turn a default jail off
#     with enabled = false);
#   - durations are "90s", "10m", "1h", "2d", "1w", "1month", "1y", sums such
#     as "1h 30m", or whole seconds; sizes are "1000M", "1G" or whole bytes.
# Unknown keys and bad values are errors: run 'rampart policy check FILE'.
# 'rampart policy show FILE' prints the effective policy.

`

// keyDocs are the comments of `policy init`, by dotted path (no indexes;
// jails as ban.jails.*).
var keyDocs = map[string]string{
	"profile":                            `"baseline" (the hardened server) or "tailnet" (adds Tailscale, SSH only over the tailnet)`,
	"admin":                              "People who must always be able to log in; at least one authorized key is\n# required while password and keyboard-interactive logins are off.",
	"ssh":                                "OpenSSH server.",
	"ssh.ports":                          "ports sshd listens on",
	"ssh.password_authentication":        "both this and kbd_interactive_authentication must be false for passwords to be\n# off: PAM answers keyboard-interactive",
	"ssh.permit_root_login":              `"yes", "prohibit-password" (alias "without-password"), "forced-commands-only" or "no"`,
	"ssh.max_auth_tries":                 "1 to 100",
	"ssh.client_alive_interval":          "idle time before a keep-alive probe (whole seconds; 0 = off)",
	"ssh.client_alive_count_max":         "unanswered probes before the connection is dropped",
	"ssh.tailnet_only":                   "close the SSH ports on every interface except the tailnet's (needs [tailnet])",
	"ban":                                "Brute-force defence: rampart guard, or fail2ban with engine = \"fail2ban\".",
	"ban.engine":                         `what bans: "rampart" (rampart guard; services.rampart in 'rampart nix') or "fail2ban"`,
	"ban.bantime":                        "how long an offender stays banned",
	"ban.findtime":                       "window in which maxretry failures cause a ban",
	"ban.maxretry":                       "failures within findtime that cause a ban (at least 1)",
	"ban.ignore":                         "addresses and CIDRs never banned (loopback is always ignored)",
	"ban.ipv6_prefix":                    "prefix length banned for an IPv6 offender (128 = the address, 64 = its /64)",
	"ban.max_tracked":                    "addresses with pending failures remembered at most (oldest evicted)",
	"ban.state_dir":                      "ban store and log cursors",
	"ban.socket":                         "control socket of 'rampart guard run'",
	"ban.socket_group":                   `group whose members may use the control socket besides root ("" = root only)`,
	"ban.metrics":                        `Prometheus listen address such as "127.0.0.1:9180" ("" = off)`,
	"ban.table":                          "rampart's own nftables inet table",
	"ban.increment":                      "Longer bans for repeat offenders: each ban lasts factor times the last, up to max.",
	"ban.jails.*":                        "",
	"ban.actions":                        "Actions on ban and unban, off the ban path: type \"webhook\" (POST JSON to url) or\n# \"exec\" (argv, no shell; {action} {prefix} {ip} {jail} {until} {failures} {bantime}).",
	"ban.jails.*.ports":                  "service ports (bans cover every port of the offender)",
	"ban.jails.*.maxretry":               "maxretry, findtime and bantime default to the [ban] values",
	"audit":                              "Kernel audit: auditd running and keyed watches (-w PATH -p PERMS -k KEY).",
	"audit.backlog_limit":                "kernel audit backlog (0 = leave the kernel default)",
	"audit.watches.perms":                `subset of "rwxa": read, write, execute, attribute change`,
	"audit.watches.key":                  "1 to 31 characters, for 'ausearch -k'",
	"sysctl":                             "Kernel parameters, in the order they are applied. Names are checked against\n# rampart's table of known parameters and their ranges.",
	"time":                               "Clock synchronisation.",
	"time.servers":                       "NTP servers ([] = the distribution's pool)",
	"time.max_offset":                    "largest clock offset counted as synchronised",
	"journald":                           "Journal retention.",
	"journald.max_retention":             "entries older than this are removed (0 = no time limit)",
	"journald.storage":                   `"persistent", "volatile", "auto" or "none"`,
	"tailnet":                            "Tailscale.",
	"tailnet.open_firewall":              "open Tailscale's UDP port",
	"tailnet.port":                       "UDP port of tailscaled (0 = chosen by tailscaled)",
	"tailnet.use_routing_features":       `"none", "client", "server" or "both" (server/both need IP forwarding)`,
	"tailnet.addresses":                  "ranges tailnet peers connect from",
	"firewall":                           "Host firewall.",
	"firewall.trusted_interfaces":        "accept everything on these (the tailnet interface is added when [tailnet] is on)",
	"ban.jails.*.journal":                "journal matches (FIELD=value) for source \"journal\"",
	"ssh.kbd_interactive_authentication": "",
	"fleet":                              "Fleet: share bans with other hosts over NATS JetStream (see the README's Fleet section).",
	"fleet.servers":                      "nats:// or tls:// URLs of the NATS servers",
	"fleet.creds_file":                   "credentials: one of creds_file (NATS .creds), nkey_file (nkey seed) or user + password_file",
	"fleet.ca_file":                      "TLS: CA of the servers; cert_file and key_file for a client certificate",
	"fleet.node":                         `this host's name in the fleet ("" = the host name); bans are published under it`,
	"fleet.share":                        "publish local bans and unbans",
	"fleet.accept":                       "apply other nodes' bans (never ignore-listed, own or tailnet addresses)",
	"fleet.accept_from":                  "accept bans only from these nodes ([] = every node)",
	"fleet.rate":                         "bans accepted per second from one node on average (excess dropped and counted)",
	"fleet.burst":                        "bans accepted at once from one node",
	"fleet.outbox_max":                   "bans kept for publishing while NATS is unreachable (oldest dropped first)",
}

// registryDocs are the comments that list what the filter and source
// registries hold, computed when written: a package that registers a
// filter or source may be initialised after this one.
var registryDocs = map[string]func() string{
	"ban.jails.*.filter": filterChoices,
	"ban.jails.*.mode":   modeDoc,
	"ban.jails.*.source": sourceDoc,
}

// modeDoc lists the modes of each registered filter that has a choice
// (`sshd filter: "normal", "aggressive", "ddos" or "extra"`).
func modeDoc() string {
	var out []string
	for _, b := range filter.Builtins() {
		if len(b.Modes) > 1 {
			out = append(out, b.Name+" filter: "+orList(b.Modes))
		}
	}
	return strings.Join(out, "; ")
}

// sourceDoc lists the registered log sources with what each reads
// (`"journal" (matches below), "file" (paths below) or "stdin"`).
func sourceDoc() string {
	var names []string
	for _, k := range source.Kinds() {
		n := strconv.Quote(k.Name)
		if k.Help != "" {
			n += " (" + k.Help + ")"
		}
		names = append(names, n)
	}
	return joinOr(names)
}

// keyExamples are commented example lines shown after a key (or instead of
// it when its default is empty).
var keyExamples = map[string]string{
	"admin.users":           "[[admin.users]]\nname = \"alice\"\nauthorized_keys = [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINTHgWLSnHH0esUyX49C/6aDot69QW/Of8bllP6gQLks alice@laptop\"]\nsudo = true",
	"ban.ignore":            `ignore = ["127.0.0.1/8", "::1", "192.168.1.0/24"]   # add your LAN`,
	"tailnet.auth_key_file": `auth_key_file = "/run/secrets/tailscale-authkey"   # a tagged, non-expiring key`,
	"time.servers":          `servers = ["0.nixos.pool.ntp.org", "1.nixos.pool.ntp.org"]`,
	"ban.metrics":           `metrics = "127.0.0.1:9180"`,
	"ban.actions":           "[[ban.actions]]\nname = \"notify\"\ntype = \"webhook\"\nurl = \"https://hooks.example.org/rampart\"\non = [\"ban\"]\ntimeout = \"5s\"\nretries = 2",
	"fleet.servers":         `servers = ["nats://203.0.113.10:4222", "nats://203.0.113.11:4222", "nats://203.0.113.12:4222"]`,
	"fleet.creds_file":      `creds_file = "/run/secrets/rampart-fleet.creds"`,
}

type tomlWriter struct {
	b        strings.Builder
	comments bool
}

func docPath(path []string) string {
	var parts []string
	for i, s := range path {
		if strings.HasPrefix(s, "[") {
			continue
		}
		if i == 2 && path[0] == "ban" && path[1] == "jails" {
			s = "*"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ".")
}

func (w *tomlWriter) comment(path []string) {
	if !w.comments {
		return
	}
	d := keyDocs[docPath(path)]
	if f := registryDocs[docPath(path)]; f != nil {
		d = f()
	}
	if d != "" {
		w.b.WriteString("# " + d + "\n")
	}
}

func (w *tomlWriter) example(path []string) {
	if !w.comments {
		return
	}
	if ex := keyExamples[docPath(path)]; ex != "" {
		for _, l := range strings.Split(ex, "\n") {
			w.b.WriteString("# " + l + "\n")
		}
	}
}

func isZero(v reflect.Value) bool {
	if v.Kind() == reflect.Slice {
		return v.Len() == 0
	}
	return v.IsZero()
}

// table writes the keys of struct v, then its sub-tables.
func (w *tomlWriter) table(path []string, v reflect.Value) {
	names, idx := tomlFields(v.Type())
	var subs []string
	for _, k := range names {
		f := v.Field(idx[k])
		kp := with(path, k)
		if isTable(f) && !(f.Kind() == reflect.Slice && f.Len() == 0 && f.Type() != sysctlsType && f.Type() != jailsType) {
			subs = append(subs, k)
			continue
		}
		if v.Type() == jailType && (k == "maxretry" || k == "findtime" || k == "bantime") && f.IsZero() {
			continue // inherits [ban]
		}
		if w.comments && isZero(f) && keyExamples[docPath(kp)] != "" {
			w.comment(kp)
			w.example(kp)
			continue
		}
		w.comment(kp)
		w.b.WriteString(k + " = " + scalar(f) + "\n")
		w.example(kp)
	}
	for _, k := range subs {
		f := v.Field(idx[k])
		kp := with(path, k)
		switch {
		case f.Type() == sysctlsType:
			w.header(kp, false, true)
			for _, s := range f.Interface().(Sysctls) {
				if w.comments {
					if r, ok := KnownSysctls[s.Name]; ok {
						w.b.WriteString("# " + r.Doc + "\n")
					}
				}
				w.b.WriteString(quoteTOML(s.Name) + " = " + strconv.FormatInt(s.Value, 10) + "\n")
			}
		case f.Type() == jailsType:
			for i, j := range f.Interface().([]Jail) {
				jp := with(kp, j.Name)
				w.header(jp, false, true)
				w.quietAfterFirst(i, func() { w.table(jp, reflect.ValueOf(j)) })
			}
		case f.Kind() == reflect.Struct:
			w.header(kp, false, true)
			w.table(kp, f)
		case f.Kind() == reflect.Slice:
			for i := range f.Len() {
				w.header(kp, true, i == 0)
				w.quietAfterFirst(i, func() { w.table(with(kp, elem(i)), f.Index(i)) })
			}
		}
	}
}

// quietAfterFirst runs f with key comments only for the first element of a
// list of tables: the keys mean the same in every element.
func (w *tomlWriter) quietAfterFirst(i int, f func()) {
	saved := w.comments
	w.comments = saved && i == 0
	f()
	w.comments = saved
}

func (w *tomlWriter) header(path []string, array, first bool) {
	w.b.WriteString("\n")
	if first {
		w.comment(path)
	}
	if array {
		w.b.WriteString("[[" + FieldName(path) + "]]\n")
		return
	}
	w.b.WriteString("[" + FieldName(path) + "]\n")
}

// isTable reports whether a field is written as a [table] or [[array]].
func isTable(f reflect.Value) bool {
	switch {
	case f.Type() == durationType || f.Type() == sizeType:
		return false
	case f.Type() == sysctlsType || f.Type() == jailsType:
		return true
	case f.Kind() == reflect.Struct:
		return true
	case f.Kind() == reflect.Slice:
		return f.Type().Elem().Kind() == reflect.Struct
	}
	return false
}

func scalar(v reflect.Value) string {
	switch v.Type() {
	case durationType:
		return quoteTOML(v.Interface().(Duration).String())
	case sizeType:
		return quoteTOML(v.Interface().(Size).String())
	}
	switch v.Kind() {
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float64:
		return formatFloat(v.Float())
	case reflect.String:
		return quoteTOML(v.String())
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = scalar(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return `""`
}

func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// quoteTOML writes s as a TOML basic string.
func quoteTOML(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
