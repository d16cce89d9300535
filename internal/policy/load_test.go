package policy

import (
	"errors"
	"strings"
	"testing"
)

// key is a real ed25519 public key (generated for these tests).
const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINTHgWLSnHH0esUyX49C/6aDot69QW/Of8bllP6gQLks alice@laptop"

// admin makes a file valid under Options.Strict (it has an admin key).
const admin = "[[admin.users]]\nname = \"alice\"\nauthorized_keys = [\"" + key + "\"]\n"

// TestParseErrors has one row per validation class with the exact lines.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		strict bool
		want   []string
	}{
		// Syntax.
		{"syntax missing value", "a = \n", false, []string{"p.toml:1:5: syntax error: expected value but found '\\n' instead"}},
		{"syntax table name", "[ssh\n", false, []string{"p.toml:1:5: syntax error: expected '.' or ']' to end table name, but got '\\n' instead"}},
		{"syntax duplicate key", "[ssh]\nenabled = true\nenabled = false\n", false, []string{"p.toml:3:1: syntax error: Key 'ssh.enabled' has already been defined."}},
		// Unknown keys.
		{"unknown top key", "sssh = 1\n", false, []string{`p.toml:1:1: sssh: unknown key (did you mean "ssh"?)`}},
		{"unknown nested key", "[ssh]\npasword_authentication = false\n", false, []string{`p.toml:2:1: ssh.pasword_authentication: unknown key (did you mean "password_authentication"?)`}},
		{"unknown key no hint", "[time]\nzzz = 1\n", false, []string{`p.toml:2:1: time.zzz: unknown key (expected one of chrony, servers, max_offset)`}},
		{"unknown dotted key", "ssh.prots = [22]\n", false, []string{`p.toml:1:5: ssh.prots: unknown key (did you mean "ports"?)`}},
		{"unknown inline key", "ssh = { enabled = true, x11 = false }\n", false, []string{`p.toml:1:25: ssh.x11: unknown key (expected one of enabled, ports, password_authentication, kbd_interactive_authentication, permit_root_login, max_auth_tries, client_alive_interval, client_alive_count_max, allow_tcp_forwarding, x11_forwarding, tailnet_only)`}},
		{"byte-order mark", "\uFEFF[ssh]\nports = [0]\n", false, []string{`p.toml:2:10: ssh.ports[0]: port 0 is out of range (1 to 65535)`}},
		{"top-level key under a table", "[firewall]\nenabled = true\nprofile = \"tailnet\"\n", false, []string{`p.toml:3:1: firewall.profile: unknown key ("profile" is a top-level key: keys after a [table] header belong to that table, so move it above the first header)`}},
		{"jail name is the key", "[ban.jails.sshd]\nname = \"x\"\n", false, []string{`p.toml:2:1: ban.jails.sshd.name: unknown key (a jail is named by its table key, [ban.jails.NAME])`}},
		// Types.
		{"type bool", "[ssh]\nenabled = \"yes\"\n", false, []string{`p.toml:2:11: ssh.enabled: expected a boolean (true or false), found a string`}},
		{"type int", "[ban]\nmaxretry = \"3\"\n", false, []string{`p.toml:2:12: ban.maxretry: expected an integer, found a string`}},
		{"type string", "profile = 1\n", false, []string{`p.toml:1:11: profile: expected a string, found an integer`}},
		{"type table", "ssh = 1\n", false, []string{`p.toml:1:7: ssh: expected a table, found an integer`}},
		{"type array elem", "[ban]\nignore = [\"::1\",\n  3]\n", false, []string{`p.toml:3:3: ban.ignore[1]: expected a string, found an integer`}},
		{"jails as array", "[[ban.jails]]\nfilter = \"sshd\"\n", false, []string{`p.toml:1:7: ban.jails: expected tables keyed by jail name such as [ban.jails.sshd], found an array`}},
		// Durations and sizes.
		{"duration unit", "[ban]\nbantime = \"1 fortnight\"\n", false, []string{`p.toml:2:11: ban.bantime: invalid duration "1 fortnight": unknown unit "fortnight" (use s, m, h, d, w, month or y)`}},
		{"duration zero", "[ban]\nfindtime = 0\n", false, []string{`p.toml:2:12: ban.findtime: duration must be greater than 0`}},
		{"duration negative", "[ban]\nfindtime = -5\n", false, []string{`p.toml:2:12: ban.findtime: duration -5 out of range (whole seconds, at least 0)`}},
		{"duration type", "[ban]\nbantime = 1.5\n", false, []string{`p.toml:2:11: ban.bantime: expected a duration such as "10m", "1h", "1month" or whole seconds, found a float`}},
		{"duration whole seconds", "[ssh]\nclient_alive_interval = \"1500ms\"\n", false, []string{`p.toml:2:25: ssh.client_alive_interval: must be whole seconds, at least 0 (0 turns keep-alives off)`}},
		{"jail duration zero", "[ban.jails.sshd]\nbantime = \"0s\"\n", false, []string{`p.toml:2:11: ban.jails.sshd.bantime: duration must be greater than 0 (leave it out to inherit ban.bantime)`}},
		{"size", "[journald]\nsystem_max_file_size = \"10X\"\n", false, []string{`p.toml:2:24: journald.system_max_file_size: invalid size "10X": expected a whole number with an optional K, M, G or T suffix, e.g. "1000M"`}},
		// Addresses.
		{"cidr v4", "[ban]\nignore = [\"192.168.1.0/33\"]\n", false, []string{`p.toml:2:11: ban.ignore[0]: "192.168.1.0/33" is not an IP address or CIDR (e.g. "192.0.2.7", "192.168.1.0/24", "2001:db8::/32")`}},
		{"cidr v6", "[ban]\nignore = [\"2001:db8::/129\"]\n", false, []string{`p.toml:2:11: ban.ignore[0]: "2001:db8::/129" is not an IP address or CIDR (e.g. "192.0.2.7", "192.168.1.0/24", "2001:db8::/32")`}},
		{"tailnet cidr", "[tailnet]\naddresses = [\"100.64.0.1\"]\n", false, []string{`p.toml:2:14: tailnet.addresses[0]: "100.64.0.1" is not a CIDR (e.g. "100.64.0.0/10")`}},
		{"ban engine typo", "[ban]\nengine = \"fail2bn\"\n", false, []string{`p.toml:2:10: ban.engine: invalid value "fail2bn" (did you mean "fail2ban"?)`}},
		{"ban engine unknown", "[ban]\nengine = \"sshguard\"\n", false, []string{`p.toml:2:10: ban.engine: invalid value "sshguard" (expected one of rampart, fail2ban)`}},
		{"metrics", "[ban]\nmetrics = \"localhost\"\n", false, []string{`p.toml:2:11: ban.metrics: "localhost" is not a listen address (expected HOST:PORT such as "127.0.0.1:9180", or "" for off)`}},
		{"ntp server", "[time]\nservers = [\"ntp..example\"]\n", false, []string{`p.toml:2:12: time.servers[0]: "ntp..example" is not a host name or IP address`}},
		// Ports and ranges.
		{"port range", "[ssh]\nports = [22, 70000]\n", false, []string{`p.toml:2:14: ssh.ports[1]: port 70000 is out of range (1 to 65535)`}},
		{"port duplicate", "[firewall]\nallowed_tcp_ports = [80, 80]\n", false, []string{`p.toml:2:26: firewall.allowed_tcp_ports[1]: duplicate port 80`}},
		{"ssh ports empty", "[ssh]\nports = []\n", false, []string{`p.toml:2:9: ssh.ports: needs at least one port`}},
		{"maxretry", "[ban]\nmaxretry = 0\n", false, []string{`p.toml:2:12: ban.maxretry: 0 is out of range (at least 1)`}},
		{"jail maxretry", "[ban.jails.sshd]\nmaxretry = 0\n", false, []string{`p.toml:2:12: ban.jails.sshd.maxretry: 0 is out of range (at least 1)`}},
		{"max auth tries", "[ssh]\nmax_auth_tries = 0\n", false, []string{`p.toml:2:18: ssh.max_auth_tries: 0 is out of range (1 to 100)`}},
		{"ipv6 prefix", "[ban]\nipv6_prefix = 129\n", false, []string{`p.toml:2:15: ban.ipv6_prefix: 129 is out of range (1 to 128)`}},
		{"increment factor", "[ban.increment]\nfactor = 0.5\n", false, []string{`p.toml:2:10: ban.increment.factor: 0.5 is out of range (1 to 1000)`}},
		{"increment max", "[ban]\nbantime = \"2w\"\n[ban.increment]\nenabled = true\n", false, []string{`p.toml:3:6: ban.increment.max: 1w is shorter than ban.bantime 2w`}},
		// Enums.
		{"permit root login", "[ssh]\npermit_root_login = \"maybe\"\n", false, []string{`p.toml:2:21: ssh.permit_root_login: invalid value "maybe" (expected "yes", "prohibit-password", "without-password", "forced-commands-only" or "no")`}},
		{"profile", "profile = \"paranoid\"\n", false, []string{`p.toml:1:11: profile: invalid value "paranoid" (expected "baseline" or "tailnet")`}},
		{"jail mode", "[ban.jails.sshd]\nmode = \"fast\"\n", false, []string{`p.toml:2:8: ban.jails.sshd.mode: invalid value "fast" (expected "normal", "aggressive", "ddos" or "extra")`}},
		{"jail source", "[ban.jails.sshd]\nsource = \"syslog\"\n", false, []string{`p.toml:2:10: ban.jails.sshd.source: invalid value "syslog" (expected "journal", "file" or "stdin")`}},
		{"journald storage", "[journald]\nstorage = \"disk\"\n", false, []string{`p.toml:2:11: journald.storage: invalid value "disk" (expected "persistent", "volatile", "auto" or "none")`}},
		{"routing features", "[tailnet]\nuse_routing_features = \"yes\"\n", false, []string{`p.toml:2:24: tailnet.use_routing_features: invalid value "yes" (expected "none", "client", "server" or "both")`}},
		// Jails.
		{"jail filter", "[ban.jails.sshd]\nfilter = \"ssh\"\n", false, []string{`p.toml:2:10: ban.jails.sshd.filter: unknown filter "ssh" (expected "nginx-noscript", "sshd" or "fail2ban:/path/to/filter.conf")`}},
		{"jail filter fail2ban path", "[ban.jails.x]\nfilter = \"fail2ban:filter.d/x.conf\"\npaths = [\"/var/log/x.log\"]\n", false, []string{`p.toml:2:10: ban.jails.x.filter: "filter.d/x.conf" is not an absolute path`}},
		{"new jail needs filter", "[ban.jails.web]\npaths = [\"/var/log/web.log\"]\n", false, []string{`p.toml:1:12: ban.jails.web.filter: filter is required (expected "nginx-noscript", "sshd" or "fail2ban:/path/to/filter.conf")`}},
		{"jail name", "[ban.jails.\"bad name\"]\nfilter = \"sshd\"\njournal = [\"_COMM=sshd\"]\n", false, []string{`p.toml:1:12: ban.jails."bad name": invalid jail name (letters, digits, _, . or -, at most 64 characters)`}},
		{"jail file source needs paths", "[ban.jails.nginx-noscript]\npaths = []\n", false, []string{`p.toml:1:12: ban.jails.nginx-noscript.source: source "file" needs at least one entry in paths`}},
		{"journal match", "[ban.jails.sshd]\njournal = [\"unit=sshd\"]\n", false, []string{`p.toml:2:12: ban.jails.sshd.journal[0]: invalid journal match "unit=sshd" (expected FIELD=value with an upper-case field name, e.g. "_SYSTEMD_UNIT=sshd.service")`}},
		{"relative path", "[ban]\nstate_dir = \"var/lib/rampart\"\n", false, []string{`p.toml:2:13: ban.state_dir: "var/lib/rampart" is not an absolute path`}},
		{"unclean path", "[ban]\nsocket = \"/run/../x.sock\"\n", false, []string{`p.toml:2:10: ban.socket: "/run/../x.sock" is not a clean absolute path`}},
		{"table name", "[ban]\ntable = \"my table\"\n", false, []string{`p.toml:2:9: ban.table: invalid nftables table name "my table" (letters, digits, _ or -, starting with a letter)`}},
		// Audit.
		{"audit perms letter", "[[audit.watches]]\npath = \"/etc/passwd\"\nperms = \"wz\"\nkey = \"identity\"\n", false, []string{`p.toml:3:9: audit.watches[0].perms: invalid permission 'z' in "wz" (expected a subset of "rwxa")`}},
		{"audit perms repeat", "[[audit.watches]]\npath = \"/etc/passwd\"\nperms = \"waw\"\nkey = \"identity\"\n", false, []string{`p.toml:3:9: audit.watches[0].perms: permission 'w' repeated in "waw"`}},
		{"audit perms empty", "[[audit.watches]]\npath = \"/etc/passwd\"\nperms = \"\"\nkey = \"identity\"\n", false, []string{`p.toml:3:9: audit.watches[0].perms: perms must not be empty (a subset of "rwxa": r read, w write, x execute, a attribute change)`}},
		{"audit key long", "[[audit.watches]]\npath = \"/etc/passwd\"\nperms = \"wa\"\nkey = \"abcdefghijabcdefghijabcdefghij12\"\n", false, []string{`p.toml:4:7: audit.watches[0].key: invalid audit key "abcdefghijabcdefghijabcdefghij12" (1 to 31 characters: letters, digits, _ . : or -)`}},
		{"audit key charset", "[[audit.watches]]\npath = \"/etc/passwd\"\nperms = \"wa\"\nkey = \"a b\"\n", false, []string{`p.toml:4:7: audit.watches[0].key: invalid audit key "a b" (1 to 31 characters: letters, digits, _ . : or -)`}},
		{"audit key missing", "[[audit.watches]]\npath = \"/etc/passwd\"\nperms = \"wa\"\n", false, []string{`p.toml:1:1: audit.watches[0].key: invalid audit key "" (1 to 31 characters: letters, digits, _ . : or -)`}},
		{"audit duplicate path", "[[audit.watches]]\npath = \"/etc/passwd\"\nperms = \"wa\"\nkey = \"a\"\n[[audit.watches]]\npath = \"/etc/passwd\"\nperms = \"r\"\nkey = \"b\"\n", false, []string{`p.toml:6:8: audit.watches[1].path: duplicate watch on "/etc/passwd"`}},
		// Sysctl.
		{"sysctl unknown", "[sysctl]\n\"net.ipv4.ip_forwrd\" = 0\n", false, []string{`p.toml:2:1: sysctl."net.ipv4.ip_forwrd": unknown kernel parameter (did you mean "net.ipv4.ip_forward"?)`}},
		{"sysctl unknown far", "[sysctl]\n\"vm.dirty_ratio\" = 10\n", false, []string{`p.toml:2:1: sysctl."vm.dirty_ratio": unknown kernel parameter (rampart knows 55 hardening keys under net., kernel., fs. and vm., the baseline's seven among them; a near miss gets a suggestion)`}},
		{"sysctl range", "[sysctl]\n\"net.ipv4.tcp_syncookies\" = 5\n", false, []string{`p.toml:2:29: sysctl."net.ipv4.tcp_syncookies": 5 is out of range (0 to 2)`}},
		{"sysctl type", "[sysctl]\n\"kernel.sysrq\" = \"0\"\n", false, []string{`p.toml:2:18: sysctl."kernel.sysrq": expected an integer, found a string`}},
		// Admin users and keys.
		{"user name", "[[admin.users]]\nname = \"Alice\"\n", false, []string{`p.toml:2:8: admin.users[0].name: invalid user name "Alice" (expected lower-case letters, digits, _ or -, starting with a letter or _, at most 31 characters)`}},
		{"user missing name", "[[admin.users]]\nsudo = true\n", false, []string{`p.toml:1:1: admin.users[0]: name is required`}},
		{"user duplicate", "[[admin.users]]\nname = \"bob\"\n[[admin.users]]\nname = \"bob\"\n", false, []string{`p.toml:4:8: admin.users[1].name: duplicate admin user "bob"`}},
		{"key not base64", "[[admin.users]]\nname = \"bob\"\nauthorized_keys = [\"ssh-ed25519 AAAA!!!\"]\n", false, []string{`p.toml:3:20: admin.users[0].authorized_keys[0]: invalid public key: the data after "ssh-ed25519" is not base64`}},
		{"key one word", "[[admin.users]]\nname = \"bob\"\nauthorized_keys = [\"nonsense\"]\n", false, []string{`p.toml:3:20: admin.users[0].authorized_keys[0]: invalid public key: expected "TYPE BASE64 [COMMENT]", e.g. "ssh-ed25519 AAAAC3Nz... alice@laptop"`}},
		{"key unknown type", "[[admin.users]]\nname = \"bob\"\nauthorized_keys = [\"ssh-foo AAAA\"]\n", false, []string{`p.toml:3:20: admin.users[0].authorized_keys[0]: invalid public key: unknown key type "ssh-foo" (expected one of ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa, sk-ssh-ed25519@openssh.com …)`}},
		{"key type mismatch", "[[admin.users]]\nname = \"bob\"\nauthorized_keys = [\"ssh-rsa " + strings.Fields(key)[1] + "\"]\n", false, []string{`p.toml:3:20: admin.users[0].authorized_keys[0]: invalid public key: type "ssh-rsa" but the data holds a "ssh-ed25519" key`}},
		// Interfaces.
		{"interface", "[firewall]\ntrusted_interfaces = [\"a-very-long-interface-name\"]\n", false, []string{`p.toml:2:23: firewall.trusted_interfaces[0]: invalid interface name "a-very-long-interface-name" (1 to 15 characters: letters, digits, _ . : or -)`}},
		// Cross-field rules.
		{"tailnet only without tailnet", "[ssh]\ntailnet_only = true\n", false, []string{`p.toml:2:1: ssh.tailnet_only: SSH only over the tailnet needs [tailnet] enabled = true`}},
		{"tailnet turned off", "profile = \"tailnet\"\n[tailnet]\nenabled = false\n", false, []string{`p.toml:3:1: tailnet.enabled: SSH only over the tailnet needs [tailnet] enabled = true`}},
		{"lockout not strict", "[ssh]\npassword_authentication = false\n", false, nil},
		{"lockout no key", "[ssh]\npassword_authentication = false\n", true, []string{`p.toml:2:1: ssh.password_authentication: password and keyboard-interactive authentication are off but no admin user has an authorized key; add [[admin.users]] with authorized_keys (rampart policy init --admin NAME --key FILE writes them) or nobody can log in`}},
		{"lockout user without key", "[[admin.users]]\nname = \"bob\"\n", true, []string{`p.toml:1:9: admin.users: password and keyboard-interactive authentication are off but no admin user has an authorized key; add [[admin.users]] with authorized_keys (rampart policy init --admin NAME --key FILE writes them) or nobody can log in`}},
		{"lockout at [admin]", "[admin]\n\n[ssh]\npassword_authentication = false\n", true, []string{`p.toml:1:2: admin: password and keyboard-interactive authentication are off but no admin user has an authorized key; add [[admin.users]] with authorized_keys (rampart policy init --admin NAME --key FILE writes them) or nobody can log in`}},
		{"lockout empty file", "", true, []string{`p.toml: admin.users: password and keyboard-interactive authentication are off but no admin user has an authorized key; add [[admin.users]] with authorized_keys (rampart policy init --admin NAME --key FILE writes them) or nobody can log in`}},
		{"lockout tailnet key file", "profile = \"tailnet\"\n" + admin, true, []string{`p.toml:1:1: profile: SSH is reachable only over the tailnet but tailnet.auth_key_file is not set; the machine may never join the tailnet`}},
		{"tailnet ok", "profile = \"tailnet\"\n[tailnet]\nauth_key_file = \"/run/secrets/ts\"\n" + admin, true, nil},
		{"lockout passwords on", "[ssh]\npassword_authentication = true\n", true, nil},
		{"ok strict", admin, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseOptions("p.toml", []byte(tt.src), Options{Strict: tt.strict})
			var got []string
			if err != nil {
				var errs Errors
				if !errors.As(err, &errs) {
					t.Fatalf("error is %T, not Errors: %v", err, err)
				}
				for _, e := range errs {
					got = append(got, e.Error())
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("source:\n%s\ngot:\n%s\nwant:\n%s", tt.src, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
