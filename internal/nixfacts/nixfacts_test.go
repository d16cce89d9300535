package nixfacts

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
	"github.com/rampart-sec/rampart/internal/policy"
)

func TestParseRelease(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Release
		err  bool
	}{
		{"24.11", R2411, false},
		{"nixos-25.05", R2505, false},
		{" 25.11 ", R2511, false},
		{"26.05", R2605, false},
		{"unstable", Unstable, false},
		{"nixos-unstable", Unstable, false},
		{"24.05", 0, true},
		{"", 0, true},
		{"26.11", R2611, false},
		{"nixos-26.11", R2611, false},
		{"27.05", 0, true},
	} {
		got, err := ParseRelease(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseRelease(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	if Newest() != R2605 || !Newest().Stable() || Unstable.Stable() {
		t.Errorf("Newest() = %v", Newest())
	}
	if got := R2511.FlakeURL(); got != "github:NixOS/nixpkgs/nixos-25.11" {
		t.Errorf("FlakeURL = %q", got)
	}
	if got := Unstable.FlakeURL(); got != "github:NixOS/nixpkgs/nixos-unstable" {
		t.Errorf("FlakeURL = %q", got)
	}
}

// TestEndOfLife pins the support end of every stable release (NixOS
// supports YY.05 until 31 December and YY.11 until 30 June of the next
// year) and which of them are past it on 2026-12-07.
func TestEndOfLife(t *testing.T) {
	on := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		r   Release
		eol string
		out bool
	}{
		{R2411, "2025-06-30", true},
		{R2505, "2025-12-31", true},
		{R2511, "2026-06-30", true},
		{R2605, "2026-12-31", false},
		{R2611, "2027-06-30", false},
		{Unstable, "", false},
	} {
		got := ""
		if e := tc.r.EndOfLife(); !e.IsZero() {
			got = e.Format("2006-01-02")
		}
		if got != tc.eol || tc.r.EndOfLifeAt(on) != tc.out {
			t.Errorf("%v: end of life %q (past on 2026-12-07: %v), want %q (%v)", tc.r, got, tc.r.EndOfLifeAt(on), tc.eol, tc.out)
		}
		if w := tc.r.EndOfLifeWarning(on); (w != "") != tc.out || (tc.out && !strings.Contains(w, tc.eol)) {
			t.Errorf("%v: warning %q", tc.r, w)
		}
	}
	// Supported through the last day, not after it.
	last := time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC)
	if R2605.EndOfLifeAt(last) || !R2605.EndOfLifeAt(last.Add(2*time.Minute)) {
		t.Errorf("26.05 on its last day / the day after")
	}
	if got := strings.Join(Names(), " "); got != "24.11 25.05 25.11 26.05 26.11 unstable" {
		t.Errorf("Names() = %s", got)
	}
	if R2611.StateVersion() != "26.11" || Unstable.StateVersion() != "27.05" {
		t.Errorf("state versions %s %s", R2611.StateVersion(), Unstable.StateVersion())
	}
}

func TestRemediation(t *testing.T) {
	p := fail2banDefault("")
	tail := fail2banDefault("tailnet")
	tail.Tailnet.AuthKeyFile = "/run/secrets/ts"
	for _, tc := range []struct {
		rel   Release
		topic string
		p     *policy.Policy
		want  string
	}{
		{R2505, "ssh.max_auth_tries", p, "services.openssh.settings.MaxAuthTries = 3;\n"},
		{R2505, "ssh.password_authentication", p, "services.openssh.settings.PasswordAuthentication = false;\n"},
		{R2605, "ban.bantime", p, "services.fail2ban.bantime = \"1h\";\n"},
		{R2605, "ban.findtime", p, "services.fail2ban.jails.DEFAULT.settings.findtime = \"10m\";\n"},
		{R2605, "ban.ignore", p, "services.fail2ban.ignoreIP = [ ];\n"},
		// SSH only over the tailnet: fail2ban never bans the tailnet (issue 9 point 18).
		{R2605, "ban.ignore", tail, "services.fail2ban.ignoreIP = [ \"100.64.0.0/10\" \"fd7a:115c:a1e0::/48\" ];\n"},
		{R2605, "sysctl.net.ipv4.tcp_syncookies", p, "boot.kernel.sysctl.\"net.ipv4.tcp_syncookies\" = 1;\n"},
		{R2605, "journald.max_retention", p, "services.journald.extraConfig = ''\n  MaxRetentionSec=1month\n'';\n"},
		{Unstable, "journald.max_retention", p, "services.journald.settings.Journal.MaxRetentionSec = \"1month\";\n"},
		{R2605, "journald", p, "services.journald.storage = \"persistent\";\nservices.journald.extraConfig = ''\n  MaxRetentionSec=1month\n  SystemMaxFileSize=1000M\n  SystemMaxFiles=10\n'';\n"},
		{R2411, "audit.watches", p, "security.audit.rules = [\n  \"-w /etc/passwd -p wa -k identity\"\n  \"-w /etc/group -p wa -k identity\"\n  \"-w /etc/ssh/sshd_config -p wa -k ssh\"\n  \"-w /etc/sudoers -p wa -k sudo\"\n  \"-w /etc/crontab -p wa -k cron\"\n  \"-w /etc/systemd -p wa -k systemd\"\n];\n"},
		{R2605, "time.chrony", p, "services.chrony.enable = true;\n"},
		{R2605, "tailnet.auth_key_file", tail, "services.tailscale.authKeyFile = \"/run/secrets/ts\";\n"},
		{R2605, "ssh.tailnet_only", tail, "services.openssh.openFirewall = false;\nnetworking.firewall.trustedInterfaces = [ \"tailscale0\" ];\n"},
		{R2605, "firewall.trusted_interfaces", tail, "networking.firewall.trustedInterfaces = [ \"tailscale0\" ];\n"},
		{R2605, "no.such.topic", p, ""},
		{R2605, "sysctl.net.ipv4.not_in_policy", p, ""},
		{0, "ssh.max_auth_tries", p, ""},
	} {
		if got := Remediation(tc.rel, tc.topic, tc.p); got != tc.want {
			t.Errorf("Remediation(%v, %q) =\n%s\nwant\n%s", tc.rel, tc.topic, got, tc.want)
		}
	}
}

func TestRemediationJail(t *testing.T) {
	p := fail2banDefault("")
	got := Remediation(R2605, "ban.jails.nginx-noscript", p)
	for _, want := range []string{
		`services.fail2ban.jails.nginx-noscript = lib.mkIf config.services.nginx.enable {`,
		`backend = "auto";`,
		`environment.etc."fail2ban/filter.d/nginx-noscript.local".text = ''`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("26.05 nginx-noscript remediation lacks %q:\n%s", want, got)
		}
	}
	got = Remediation(Unstable, "ban.jails.nginx-noscript", p)
	if !strings.Contains(got, `services.fail2ban.filters.nginx-noscript.Definition = {`) || strings.Contains(got, "environment.etc") {
		t.Errorf("unstable nginx-noscript remediation should use services.fail2ban.filters:\n%s", got)
	}
	got = Remediation(R2411, "ban.jails.sshd", p)
	if !strings.Contains(got, `journalmatch = "_SYSTEMD_UNIT=sshd.service + _SYSTEMD_UNIT=ssh.service + _COMM=sshd + _COMM=sshd-session`) {
		t.Errorf("sshd jail journalmatch missing:\n%s", got)
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		rel  Release
		path string
		v    nixexpr.Value
		err  string
	}{
		{R2505, "services.openssh.settings.MaxAuthTries", nixexpr.Int(3), ""},
		{R2505, "services.openssh.maxAuthTries", nixexpr.Int(3), "not an option"},
		{R2505, "services.openssh.passwordAuthentication", nixexpr.Bool(false), "renamed"},
		{R2505, "services.fail2ban.bantime", nixexpr.Int(3600), "must be of type str"},
		{R2505, "services.fail2ban.ignoreip", nixexpr.Strs(), "use services.fail2ban.ignoreIP"},
		{R2505, "systemd.journald.maxRetentionSec", nixexpr.Int(1), "not an option"},
		{R2605, "services.journald.extraConfig", nixexpr.Lines{"A=1"}, ""},
		{Unstable, "services.journald.extraConfig", nixexpr.Lines{"A=1"}, "does not exist in NixOS unstable"},
		{R2605, "services.journald.settings.Journal.SystemMaxFiles", nixexpr.Int(10), "does not exist in NixOS 26.05"},
		{Unstable, "services.journald.settings.Journal.SystemMaxFiles", nixexpr.Int(10), ""},
		{R2511, "profiles.hardened", nixexpr.Bool(true), ""},
		{R2605, "profiles.hardened", nixexpr.Bool(true), "does not exist"},
		{R2411, "security.auditd.settings.space_left", nixexpr.Int(75), "does not exist"},
		{R2505, "services.fail2ban.jails.sshd.settings.maxretry", nixexpr.Int(3), ""},
		{R2505, "services.fail2ban.jails.sshd.maxretry", nixexpr.Int(3), "not an option"},
		{R2505, "services.made.up", nixexpr.Int(3), "not a known option"},
	} {
		err := Check(tc.rel, strings.Split(tc.path, "."), tc.v)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("Check(%v, %s) = %v", tc.rel, tc.path, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("Check(%v, %s) = %v, want error containing %q", tc.rel, tc.path, err, tc.err)
		}
	}
}

func TestF2BDuration(t *testing.T) {
	for in, want := range map[string]string{"1h": "1h", "10m": "10m", "600": "10m", "1w": "1w", "90s": "90s", "1month": "43830m", "2d": "2d"} {
		if got := F2BDuration(policy.Dur(in).D); got != want {
			t.Errorf("F2BDuration(%s) = %s, want %s", in, got, want)
		}
	}
}

// fail2banDefault is the profile's default policy banning with fail2ban
// (ban.engine = "fail2ban"), the engine these tests render.
func fail2banDefault(profile string) *policy.Policy {
	p := policy.MustDefault(profile)
	p.Ban.Engine = policy.EngineFail2ban
	return p
}

// TestRampartEngine: with ban.engine = "rampart" the ban topics render
// services.rampart (the whole policy, guard-only keys included) and no
// fail2ban option; every definition passes the facts gate.
func TestRampartEngine(t *testing.T) {
	p := policy.MustDefault("")
	p.Ban.IPv6Prefix = 64
	p.Ban.Increment.Factor = 1.5
	for _, r := range Releases() {
		var ss []Setting
		for _, topic := range PolicyTopics(p) {
			ss = append(ss, Settings(r, topic, p)...)
		}
		var rampart []string
		for _, s := range ss {
			k := nixexpr.KeyPath(s.Path)
			if strings.Contains(k, "fail2ban") {
				t.Errorf("%v: %s defined with engine rampart", r, k)
			}
			if strings.HasPrefix(k, "services.rampart.") {
				rampart = append(rampart, k)
			}
			for _, l := range nixexpr.Flatten(s.Value) {
				if err := Check(r, append(append([]string{}, s.Path...), l.Path...), l.Value); s.Value != nil && err != nil {
					t.Errorf("%v: %v", r, err)
				}
			}
		}
		if want := []string{"services.rampart.enable", "services.rampart.guard.enable", "services.rampart.policy"}; !slices.Equal(rampart, want) {
			t.Errorf("%v: services.rampart definitions %q, want %q", r, rampart, want)
		}
	}
	pol, err := PolicyAttrs(p)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := nixexpr.Render(pol)
	for _, want := range []string{"ipv6_prefix = 64;", "factor = 1.5;", `engine = "rampart";`, `"net.ipv4.ip_forward" = 0;`, "max_tracked = 100000;"} {
		if !strings.Contains(text, want) {
			t.Errorf("policy attrset lacks %q:\n%s", want, text)
		}
	}
	// A float Check refuses where it is not TOML.
	if err := Check(R2605, []string{"services", "rampart", "enable"}, nixexpr.Float(1)); err == nil {
		t.Error("Check accepted a float for services.rampart.enable")
	}
}
