package policy

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestParseMerges checks how a file overrides the default: scalars and
// lists replace, [sysctl] and [ban.jails.NAME] merge by name.
func TestParseMerges(t *testing.T) {
	src := `
profile = "tailnet"   # the base

[[admin.users]]
name = "alice"
authorized_keys = ["` + key + `"]
sudo = true

[ssh]
permit_root_login = "without-password"
client_alive_interval = 120          # plain seconds
ports = [2222]

[ban]
findtime = "1h 30m"
ignore = ["192.168.1.0/24", "2001:db8::/32"]

[ban.jails.nginx-noscript]
enabled = false

[ban.jails.web]
filter = "fail2ban:/etc/fail2ban/filter.d/apache-auth.conf"
paths = ["/var/log/apache2/error.log"]
bantime = 86400

[sysctl]
"net.ipv4.ip_forward" = 1
"kernel.kptr_restrict" = 2

[journald]
system_max_file_size = 1048576

[[audit.watches]]
path = "/etc/shadow"
perms = "rwa"
key = "shadow"
`
	p, err := Parse("m.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := MustDefault(ProfileTailnet)
	want.Source = "m.toml"
	want.Admin.Users = []AdminUser{{Name: "alice", AuthorizedKeys: []string{key}, Sudo: true}}
	want.SSH.PermitRootLogin = "prohibit-password" // alias normalised
	want.SSH.ClientAliveInterval = Duration{D: 120 * time.Second, Text: "120"}
	want.SSH.Ports = []int{2222}
	want.Ban.Findtime = Duration{D: 90 * time.Minute, Text: "1h 30m"}
	want.Ban.Ignore = []string{"192.168.1.0/24", "2001:db8::/32"}
	want.Ban.Jails[1].Enabled = false
	want.Ban.Jails = append(want.Ban.Jails, Jail{
		Name: "web", Enabled: true, Mode: "normal", Source: "file",
		Filter:  "fail2ban:/etc/fail2ban/filter.d/apache-auth.conf",
		Paths:   []string{"/var/log/apache2/error.log"},
		Bantime: Duration{D: 24 * time.Hour, Text: "86400"},
	})
	want.Sysctl[0].Value = 1
	want.Sysctl = append(want.Sysctl, Sysctl{"kernel.kptr_restrict", 2})
	want.Journald.SystemMaxFileSize = Size{Bytes: 1 << 20, Text: "1048576"}
	want.Audit.Watches = []Watch{{Path: "/etc/shadow", Perms: "rwa", Key: "shadow"}}
	if d := cmp.Diff(want, p); d != "" {
		t.Errorf("merged policy differs (-want +got):\n%s", d)
	}
	if got := p.LockoutRisks(); len(got) != 1 {
		t.Errorf("LockoutRisks = %q, want the missing auth-key file only", got)
	}
	// The merged policy survives show → parse.
	again, err := Parse("m2.toml", MarshalTOML(p))
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, MarshalTOML(p))
	}
	if d := cmp.Diff(p, again, ignoreSource); d != "" {
		t.Errorf("round trip differs (-want +got):\n%s", d)
	}
}

func TestDefaultsValid(t *testing.T) {
	for _, profile := range []string{ProfileBaseline, ProfileTailnet} {
		p := MustDefault(profile)
		if err := p.Validate(); err != nil {
			t.Errorf("Default(%q) is invalid:\n%v", profile, err)
		}
	}
	if got := MustDefault(ProfileBaseline).LockoutRisks(); len(got) != 1 {
		t.Errorf("baseline lock-out risks = %q, want the missing admin key", got)
	}
	if got := MustDefault(ProfileTailnet).LockoutRisks(); len(got) != 2 {
		t.Errorf("tailnet lock-out risks = %q, want admin key and auth-key file", got)
	}
}

func TestConflicts(t *testing.T) {
	p := MustDefault(ProfileTailnet)
	if c := p.Conflicts(); len(c) != 0 {
		t.Errorf("default tailnet conflicts = %q", c)
	}
	p.Tailnet.UseRoutingFeatures = "both"
	want := []string{
		`sysctl."net.ipv4.ip_forward": 0 disables the forwarding that tailnet.use_routing_features = "both" needs (subnet router / exit node)`,
		`sysctl."net.ipv4.conf.all.rp_filter": strict (1) reverse-path filtering drops replies through a tailnet exit node; use 2 (loose)`,
	}
	p.SSH.Ports = []int{22, 2222}
	want = append(want, "ban.jails.sshd.ports: [22] differ from ssh.ports [22 2222] (the NixOS fail2ban jail would watch the wrong ports)")
	p.SSH.PermitRootLogin = "yes"
	p.SSH.KbdInteractiveAuthentication = true
	want = slices.Insert(want, 2, `ssh.permit_root_login: "yes" with password logins on lets bots guess root's password; use "prohibit-password"`)
	p.Firewall.AllowedTCPPorts = []int{80, 22}
	want = append(want, "firewall.allowed_tcp_ports: 22 opens SSH on every interface, which defeats ssh.tailnet_only")
	if d := cmp.Diff(want, p.Conflicts()); d != "" {
		t.Errorf("conflicts (-want +got):\n%s", d)
	}
}

// TestIndexPositions covers the TOML shapes the position scanner must
// follow: dotted keys, inline tables, arrays of inline tables, multi-line
// arrays and strings, comments with brackets, table after array table.
func TestIndexPositions(t *testing.T) {
	src := "a.b = 1 # [x]\n" +
		"s = \"\"\"\n[not.a.table]\n\"\"\"\n" +
		"l = '''\nx = 1'''\n" +
		"arr = [ # c ]\n  1,\n  { k = \"v\", m.n = 2 },\n]\n" +
		"[[t]]\nx = 1\n[[t]]\n  y = 2\n[t.sub]\nz = 3\n" +
		"[\"q.k\" . 'r']\nv = \"\\\"é\"\n"
	ix := buildIndex(src)
	tests := []struct {
		path []string
		key  bool
		want Pos
	}{
		{[]string{"a", "b"}, true, Pos{1, 3}},
		{[]string{"a", "b"}, false, Pos{1, 7}},
		{[]string{"s"}, false, Pos{2, 5}},
		{[]string{"l"}, false, Pos{5, 5}},
		{[]string{"arr", "[0]"}, false, Pos{8, 3}},
		{[]string{"arr", "[1]", "k"}, true, Pos{9, 5}},
		{[]string{"arr", "[1]", "m", "n"}, false, Pos{9, 20}},
		{[]string{"t", "[0]", "x"}, false, Pos{12, 5}},
		{[]string{"t", "[1]", "y"}, true, Pos{14, 3}},
		{[]string{"t", "[1]", "sub", "z"}, false, Pos{16, 5}},
		{[]string{"q.k", "r", "v"}, false, Pos{18, 5}},
	}
	for _, tt := range tests {
		var got Pos
		var ok bool
		if tt.key {
			got, ok = ix.keyPos(tt.path)
		} else {
			got, ok = ix.valPos(tt.path)
		}
		if !ok || got != tt.want {
			t.Errorf("%s (key %v): got %v %v, want %v", FieldName(tt.path), tt.key, got, ok, tt.want)
		}
	}
	if got := ix.keys(nil); !cmp.Equal(got, []string{"a", "s", "l", "arr", "t", "q.k"}) {
		t.Errorf("top-level order = %q", got)
	}
}

// TestBanIgnore: with SSH only over the tailnet, both ban engines' ignore
// list adds the tailnet's ranges to ban.ignore; a policy that narrows
// tailnet.addresses below them is warned about.
func TestBanIgnore(t *testing.T) {
	base := MustDefault(ProfileBaseline)
	if got := base.BanIgnore(); !slices.Equal(got, []string{"127.0.0.1/8", "::1"}) {
		t.Errorf("baseline: %q", got)
	}
	p := MustDefault(ProfileTailnet)
	p.Ban.Ignore = []string{"192.0.2.0/24", "100.64.0.0/10"}
	if got := p.BanIgnore(); !slices.Equal(got, []string{"192.0.2.0/24", "100.64.0.0/10", "fd7a:115c:a1e0::/48"}) {
		t.Errorf("tailnet: %q", got)
	}
	if p.BanIgnore(); !slices.Equal(p.Ban.Ignore, []string{"192.0.2.0/24", "100.64.0.0/10"}) {
		t.Errorf("BanIgnore changed ban.ignore: %q", p.Ban.Ignore)
	}
	p.SSH.TailnetOnly = false
	if got := p.BanIgnore(); !slices.Equal(got, []string{"192.0.2.0/24", "100.64.0.0/10"}) {
		t.Errorf("tailnet without tailnet-only SSH: %q", got)
	}

	warn := func(r string) string {
		return "tailnet.addresses: does not cover " + r + " while ssh.tailnet_only is on; the ban engines never ban tailnet.addresses, so a tailnet peer outside them that fails SSH logins (an agent offering more keys than ssh.max_auth_tries) can be banned from the only way in"
	}
	for _, c := range []struct {
		addrs []string
		want  []string
	}{
		{[]string{"100.64.0.0/10", "fd7a:115c:a1e0::/48"}, nil},
		{[]string{"100.0.0.0/8", "fd7a:115c:a1e0::/40"}, nil},
		{[]string{"100.64.0.0/10"}, []string{warn("fd7a:115c:a1e0::/48")}},
		{[]string{"100.100.0.0/16", "fd7a:115c:a1e0::/48"}, []string{warn("100.64.0.0/10")}},
		{nil, []string{warn("100.64.0.0/10"), warn("fd7a:115c:a1e0::/48")}},
	} {
		p := MustDefault(ProfileTailnet)
		p.Tailnet.Addresses = c.addrs
		if d := cmp.Diff(c.want, p.Conflicts()); d != "" {
			t.Errorf("tailnet.addresses %q (-want +got):\n%s", c.addrs, d)
		}
		p.SSH.TailnetOnly = false
		if got := p.Conflicts(); len(got) != 0 {
			t.Errorf("tailnet.addresses %q without tailnet-only SSH: %q", c.addrs, got)
		}
	}
}
