package verify

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host/hosttest"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/proctab"
)

// fixture merges testdata txtar files (captured real outputs) and extra
// files into one host.
func fixture(t testing.TB, names []string, files map[string]string) *hosttest.Fixture {
	t.Helper()
	f := hosttest.New(t)
	for _, n := range names {
		part := hosttest.Load(t, filepath.Join("testdata", n+".txtar"))
		for k, v := range part.Files {
			f.Files[k] = v
		}
		for k, v := range part.Cmds {
			f.Cmds[k] = v
		}
		for k := range part.Missing {
			f.Missing[k] = true
		}
		if part.User != "root" {
			f.User = part.User
		}
	}
	for k, v := range files {
		f.SetFile(k, v)
	}
	// The captured processes are root's, unless a status file says not.
	for k := range f.Files {
		if d, ok := strings.CutSuffix(k, "/cmdline"); ok && strings.HasPrefix(d, "/proc/") {
			if _, ok := f.Files[d+"/status"]; !ok {
				f.SetFile(d+"/status", "Name:\tx\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n")
			}
		}
	}
	return f
}

// areaChecks returns the registered checks of the given areas.
func areaChecks(t *testing.T, areas ...string) []*check.Check {
	t.Helper()
	cs, err := check.Select(check.All(), areas, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func statuses(rs []check.Result) map[string]check.Status {
	m := map[string]check.Status{}
	for _, r := range rs {
		m[r.ID] = r.Status
	}
	return m
}

func byID(rs []check.Result, id string) check.Result {
	for _, r := range rs {
		if r.ID == id {
			return r
		}
	}
	return check.Result{}
}

// all returns every check ID of area with status s, then overrides.
func all(t *testing.T, area string, s check.Status, over map[string]check.Status) map[string]check.Status {
	m := map[string]check.Status{}
	for _, c := range areaChecks(t, area) {
		m[c.ID] = s
	}
	for k, v := range over {
		m[k] = v
	}
	return m
}

type tcase struct {
	name     string
	fixtures []string
	files    map[string]string
	policy   func(p *policy.Policy)
	opts     Options
	want     map[string]check.Status
	// contains are substrings expected in a check's message.
	contains map[string]string
}

func runCases(t *testing.T, area string, cases []tcase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := fail2banDefault("")
			if tc.policy != nil {
				tc.policy(p)
			}
			h := fixture(t, tc.fixtures, tc.files)
			env := check.NewEnv(h, p, "")
			rs := Run(context.Background(), env, tc.opts, areaChecks(t, area))
			if d := cmp.Diff(tc.want, statuses(rs)); d != "" {
				for _, r := range rs {
					t.Logf("%s %s: %s", r.Status, r.ID, r.Message)
				}
				t.Errorf("statuses (-want +got):\n%s", d)
			}
			for id, sub := range tc.contains {
				if r := byID(rs, id); !strings.Contains(r.Message, sub) {
					t.Errorf("%s message %q does not contain %q", id, r.Message, sub)
				}
			}
			for _, r := range rs {
				if r.Status == check.Pass && len(r.Evidence) == 0 {
					t.Errorf("%s passed without evidence", r.ID)
				}
				if r.Status == check.Fail && r.Remediation.NixOS == "" && r.Remediation.Generic == "" {
					t.Errorf("%s failed without a remediation", r.ID)
				}
			}
		})
	}
}

const (
	P = check.Pass
	F = check.Fail
	W = check.Warn
	U = check.Unknown
	S = check.Skip
)

func TestSSH(t *testing.T) {
	runCases(t, "ssh", []tcase{
		{name: "hardened", fixtures: []string{"ssh_hardened"}, want: all(t, "ssh", P, nil),
			contains: map[string]string{"ssh.sshd-discovered": "/etc/ssh/sshd_config (pid 812)",
				"ssh.password-authentication": "passwordauthentication no for all 4 connection specs",
				"ssh.permit-root-login":       "without-password"}},
		{name: "match block re-enables passwords for the tailnet", fixtures: []string{"ssh_match"},
			want: all(t, "ssh", P, map[string]check.Status{"ssh.password-authentication": F, "ssh.match-consistency": F}),
			contains: map[string]string{"ssh.password-authentication": "passwordauthentication yes for 2 of 4 connection specs (/etc/ssh/sshd_config (pid 812): user=root,host=100.101.102.103,addr=100.101.102.103",
				"ssh.match-consistency": "ssh.password-authentication in /etc/ssh/sshd_config (pid 812)"}},
		{name: "weak", fixtures: []string{"ssh_weak"},
			want: all(t, "ssh", F, map[string]check.Status{"ssh.sshd-discovered": P, "ssh.pubkey-authentication": P,
				"ssh.permit-empty-passwords": P, "ssh.match-consistency": P}),
			contains: map[string]string{"ssh.permit-root-login": "permitrootlogin yes", "ssh.kbd-interactive-authentication": "kbdinteractiveauthentication yes"}},
		{name: "policy allows passwords and forwarding", fixtures: []string{"ssh_weak"},
			policy: func(p *policy.Policy) {
				p.SSH.PasswordAuthentication, p.SSH.KbdInteractiveAuthentication = true, true
				p.SSH.AllowTCPForwarding, p.SSH.X11Forwarding = true, true
				p.SSH.PermitRootLogin = "yes"
			},
			want: all(t, "ssh", F, map[string]check.Status{"ssh.sshd-discovered": P, "ssh.pubkey-authentication": P,
				"ssh.permit-empty-passwords": P, "ssh.match-consistency": P, "ssh.permit-root-login": P,
				"ssh.password-authentication": S, "ssh.kbd-interactive-authentication": S, "ssh.tcp-forwarding": S, "ssh.x11-forwarding": S})},
		{name: "not root: sshd -T cannot load host keys", fixtures: []string{"ssh_notroot"},
			want:     all(t, "ssh", U, nil),
			contains: map[string]string{"ssh.password-authentication": "Unable to load host key"}},
		{name: "ssh service never started: no /run/sshd for sshd -T", fixtures: []string{"ssh_noprivsep"},
			want: all(t, "ssh", U, map[string]check.Status{"ssh.sshd-discovered": F}),
			contains: map[string]string{
				"ssh.password-authentication": "Missing privilege separation directory: /run/sshd. sshd -T needs /run/sshd, which the ssh service creates when it starts",
				"ssh.match-consistency":       "start the service (systemctl start ssh) or create it (mkdir -p -m0755 /run/sshd)",
				"ssh.x11-forwarding":          "(verify changes nothing on the host)"}},
		{name: "no sshd and no config", fixtures: []string{"time_synced"}, files: map[string]string{"/proc/1/cmdline": "/sbin/init"},
			want: all(t, "ssh", U, map[string]check.Status{"ssh.sshd-discovered": F})},
		{name: "not root and nothing visible", fixtures: []string{"notroot_nosshd"},
			want:     all(t, "ssh", U, nil),
			contains: map[string]string{"ssh.sshd-discovered": "not running as root"}},
		{name: "discovery restricted to another config", fixtures: []string{"ssh_weak"}, opts: Options{SSHDConfigs: []string{"/tmp/other.conf"}},
			want:     all(t, "ssh", U, map[string]check.Status{"ssh.sshd-discovered": F}),
			contains: map[string]string{"ssh.sshd-discovered": "restricted to configs [/tmp/other.conf]"}},
		{name: "ssh disabled in the policy", fixtures: []string{"ssh_weak"}, policy: func(p *policy.Policy) { p.SSH.Enabled = false },
			want: all(t, "ssh", S, nil)},
	})
}

// TestSSHSocketActivated: no sshd process, but an enabled ssh.socket
// whose port the kernel shows listening; the -T answers are the hardened
// ones (same binary and config as Debian's ssh.service).
func TestSSHSocketActivated(t *testing.T) {
	h := fixture(t, []string{"ssh_hardened", "ssh_socket"}, nil)
	delete(h.Files, "/proc/812/cmdline")
	rs := Run(context.Background(), check.NewEnv(h, fail2banDefault(""), ""), Options{}, areaChecks(t, "ssh"))
	if d := cmp.Diff(all(t, "ssh", P, nil), statuses(rs)); d != "" {
		t.Errorf("statuses (-want +got):\n%s", d)
	}
	if m := byID(rs, "ssh.sshd-discovered").Message; !strings.Contains(m, "/etc/ssh/sshd_config (socket-activated)") {
		t.Errorf("discovery: %s", m)
	}
	// The same host with nothing listening on 22: not running.
	h.SetFile("/proc/net/tcp", "  sl  local_address rem_address   st\n")
	rs = Run(context.Background(), check.NewEnv(h, fail2banDefault(""), ""), Options{}, areaChecks(t, "ssh"))
	if r := byID(rs, "ssh.sshd-discovered"); r.Status != check.Fail {
		t.Errorf("socket unit without a listening port: %s %s", r.Status, r.Message)
	}
}

func TestTime(t *testing.T) {
	init := map[string]string{"/proc/1/cmdline": "/sbin/init", "/proc/77/cmdline": "/usr/sbin/chronyd -F 1"}
	withTimesyncd := map[string]string{"/proc/1/cmdline": "/sbin/init", "/proc/90/cmdline": "/lib/systemd/systemd-timesyncd"}
	runCases(t, "time", []tcase{
		{name: "synced", fixtures: []string{"time_synced"}, files: init, want: all(t, "time", P, nil),
			contains: map[string]string{"time.synchronised": "synchronised to 7F000001 (127.0.0.1), stratum 9"}},
		{name: "offset above max_offset", fixtures: []string{"time_synced"}, files: init,
			policy:   func(p *policy.Policy) { p.Time.MaxOffset = policy.Dur("1us") },
			want:     all(t, "time", P, map[string]check.Status{"time.synchronised": F}),
			contains: map[string]string{"time.synchronised": "exceeds the policy's max_offset 1us"}},
		{name: "local clock only", fixtures: []string{"time_local"}, files: init,
			want:     all(t, "time", P, map[string]check.Status{"time.synchronised": F}),
			contains: map[string]string{"time.synchronised": "refid 7F7F0101, LOCAL"}},
		{name: "server unreachable", fixtures: []string{"time_unsynced"}, files: init,
			want:     all(t, "time", P, map[string]check.Status{"time.synchronised": F}),
			contains: map[string]string{"time.synchronised": "leap status is Not synchronised"}},
		{name: "no daemon, timesyncd instead", fixtures: []string{"time_nodaemon"}, files: withTimesyncd,
			want: all(t, "time", F, nil),
			contains: map[string]string{"time.chrony-running": "chronyd is not running: no chronyd process (chronyc: Could not open connection to daemon",
				"time.synchronised": "no synchronisation: chronyd is not running"}},
		{name: "daemon running, socket silent", fixtures: []string{"time_nodaemon"}, files: init,
			want: all(t, "time", F, map[string]check.Status{"time.single-daemon": P}),
			contains: map[string]string{"time.chrony-running": "chronyd does not answer: Could not open connection to daemon (a chronyd process exists but its command socket does not answer)",
				"time.synchronised": "no synchronisation: chronyd does not answer"}},
		{name: "chronyc not installed", files: init, fixtures: []string{"time_nochronyc"},
			want: all(t, "time", U, map[string]check.Status{"time.single-daemon": P})},
		{name: "chrony not in policy", fixtures: []string{"time_nodaemon"}, policy: func(p *policy.Policy) { p.Time.Chrony = false },
			want: all(t, "time", S, nil)},
	})
}

func TestSysctl(t *testing.T) {
	nixos := map[string]string{"/etc/sysctl.d/60-nixos.conf": `net.ipv4.conf.all.accept_redirects=0
net.ipv4.conf.all.rp_filter=1
net.ipv4.conf.all.send_redirects=0
net.ipv4.ip_forward=0
net.ipv4.tcp_max_syn_backlog=2048
net.ipv4.tcp_synack_retries=2
net.ipv4.tcp_syncookies=1
`}
	later := map[string]string{"/etc/sysctl.d/60-nixos.conf": nixos["/etc/sysctl.d/60-nixos.conf"],
		"/usr/lib/sysctl.d/99-vendor.conf": "# vendor\n-net.ipv4.conf.*.rp_filter = 2\n"}
	masked := map[string]string{"/etc/sysctl.d/60-nixos.conf": nixos["/etc/sysctl.d/60-nixos.conf"],
		"/usr/lib/sysctl.d/99-vendor.conf": "net.ipv4.tcp_synack_retries = 5\n", "/etc/sysctl.d/99-vendor.conf": "# masked\n"}
	runCases(t, "sysctl", []tcase{
		{name: "fresh namespace", fixtures: []string{"sysctl_fresh"},
			want: map[string]check.Status{"sysctl.ip-forward": P, "sysctl.accept-redirects": F, "sysctl.send-redirects": F,
				"sysctl.rp-filter": F, "sysctl.tcp-syncookies": P, "sysctl.tcp-max-syn-backlog": P, "sysctl.tcp-synack-retries": F,
				"sysctl.other": S, "sysctl.persisted": F}},
		{name: "conf.all only: OR keys still on per interface, rp_filter max() holds", fixtures: []string{"sysctl_allonly"}, files: nixos,
			want: map[string]check.Status{"sysctl.ip-forward": P, "sysctl.accept-redirects": F, "sysctl.send-redirects": F,
				"sysctl.rp-filter": P, "sysctl.tcp-syncookies": P, "sysctl.tcp-max-syn-backlog": P, "sysctl.tcp-synack-retries": P,
				"sysctl.other": S, "sysctl.persisted": P},
			contains: map[string]string{"sysctl.accept-redirects": "new interfaces (default) get accept_redirects = 1 (want 0); eth0 effectively 1",
				"sysctl.persisted": "all 7 policy keys persist"}},
		{name: "hardened everywhere", fixtures: []string{"sysctl_hardened"}, files: nixos,
			want: map[string]check.Status{"sysctl.ip-forward": P, "sysctl.accept-redirects": P, "sysctl.send-redirects": P,
				"sysctl.rp-filter": P, "sysctl.tcp-syncookies": P, "sysctl.tcp-max-syn-backlog": P, "sysctl.tcp-synack-retries": P,
				"sysctl.other": S, "sysctl.persisted": P}},
		{name: "a later vendor glob overrides the persisted rp_filter", fixtures: []string{"sysctl_hardened"}, files: later,
			want: map[string]check.Status{"sysctl.ip-forward": P, "sysctl.accept-redirects": P, "sysctl.send-redirects": P,
				"sysctl.rp-filter": P, "sysctl.tcp-syncookies": P, "sysctl.tcp-max-syn-backlog": P, "sysctl.tcp-synack-retries": P,
				"sysctl.other": S, "sysctl.persisted": F},
			contains: map[string]string{"sysctl.persisted": "net.ipv4.conf.all.rp_filter = 2 at /usr/lib/sysctl.d/99-vendor.conf:2 (want 1)"}},
		{name: "an /etc file masks the vendor file of the same name", fixtures: []string{"sysctl_hardened"}, files: masked,
			want: map[string]check.Status{"sysctl.ip-forward": P, "sysctl.accept-redirects": P, "sysctl.send-redirects": P,
				"sysctl.rp-filter": P, "sysctl.tcp-syncookies": P, "sysctl.tcp-max-syn-backlog": P, "sysctl.tcp-synack-retries": P,
				"sysctl.other": S, "sysctl.persisted": P}},
		{name: "extra policy key and ipv6", fixtures: []string{"sysctl_hardened"}, files: nixos,
			policy: func(p *policy.Policy) {
				p.Sysctl = append(p.Sysctl, policy.Sysctl{Name: "net.ipv4.conf.all.log_martians", Value: 1})
			},
			want: map[string]check.Status{"sysctl.ip-forward": P, "sysctl.accept-redirects": P, "sysctl.send-redirects": P,
				"sysctl.rp-filter": P, "sysctl.tcp-syncookies": P, "sysctl.tcp-max-syn-backlog": P, "sysctl.tcp-synack-retries": P,
				"sysctl.other": U, "sysctl.persisted": F}},
		{name: "no sysctls in the policy", fixtures: []string{"sysctl_fresh"}, policy: func(p *policy.Policy) { p.Sysctl = nil },
			want: all(t, "sysctl", S, nil)},
	})
}

func TestJournald(t *testing.T) {
	runCases(t, "journald", []tcase{
		{name: "drop-in wins over vendor", fixtures: []string{"journald_dropins"}, want: all(t, "journald", P, nil),
			contains: map[string]string{"journald.max-retention": "MaxRetentionSec=1month (set at /etc/systemd/journald.conf.d/90-rampart.conf:3)"}},
		{name: "runtime drop-in overrides the main file", fixtures: []string{"journald_override"},
			want: map[string]check.Status{"journald.running": P, "journald.max-retention": F, "journald.storage": F,
				"journald.system-max-file-size": P, "journald.system-max-files": P},
			contains: map[string]string{"journald.max-retention": "MaxRetentionSec=2d (2d) is not 1month (set at /run/systemd/journald.conf.d/10-override.conf:2)"}},
		{name: "bad values and journald stopped", fixtures: []string{"journald_bad"},
			want: map[string]check.Status{"journald.running": F, "journald.max-retention": P, "journald.storage": F,
				"journald.system-max-file-size": F, "journald.system-max-files": P},
			contains: map[string]string{"journald.system-max-file-size": "/etc/systemd/journald.conf:2: SystemMaxFileSize=\"lots\"",
				"journald.storage": "expected persistent, volatile, auto or none"}},
		{name: "built-in defaults", files: map[string]string{"/proc/5/cmdline": "/lib/systemd/systemd-journald"},
			want: map[string]check.Status{"journald.running": P, "journald.max-retention": F, "journald.storage": F,
				"journald.system-max-file-size": F, "journald.system-max-files": F},
			contains: map[string]string{"journald.storage": "Storage=auto without /var/log/journal"}},
	})
}

func TestBan(t *testing.T) {
	sshdOnly := func(p *policy.Policy) { p.Ban.Jails = p.Ban.Jails[:1] }
	runCases(t, "ban", []tcase{
		{name: "running, sshd jail only", fixtures: []string{"ban_running"}, policy: sshdOnly, want: all(t, "ban", P, nil)},
		{name: "running, nginx-noscript jail missing", fixtures: []string{"ban_running"},
			want:     all(t, "ban", P, map[string]check.Status{"ban.jails": F}),
			contains: map[string]string{"ban.jails": "policy jails not active: nginx-noscript", "ban.bantime": "not active, see ban.jails: nginx-noscript"}},
		{name: "policy values differ", fixtures: []string{"ban_running"},
			policy: func(p *policy.Policy) {
				sshdOnly(p)
				p.Ban.Jails[0].Maxretry = 5
				p.Ban.Bantime = policy.Dur("2h")
				p.Ban.Ignore = append(p.Ban.Ignore, "100.64.0.0/10")
			},
			want: all(t, "ban", P, map[string]check.Status{"ban.maxretry": F, "ban.bantime": F, "ban.ignoreip": F}),
			contains: map[string]string{"ban.bantime": "sshd bantime is 3600 s, the policy wants 7200 s",
				"ban.ignoreip": "does not exempt 100.64.0.0/10"}},
		{name: "tailnet-only SSH: fail2ban must not ban the tailnet", fixtures: []string{"ban_running"},
			policy: func(p *policy.Policy) {
				sshdOnly(p)
				p.Tailnet.Enabled, p.SSH.TailnetOnly = true, true
			},
			want:     all(t, "ban", P, map[string]check.Status{"ban.ignoreip": F}),
			contains: map[string]string{"ban.ignoreip": "does not exempt 100.64.0.0/10, does not exempt fd7a:115c:a1e0::/48"}},
		{name: "dummy action and 0.0.0.0/0 ignored", fixtures: []string{"ban_dummy"}, policy: sshdOnly,
			want:     all(t, "ban", P, map[string]check.Status{"ban.actions": F, "ban.ignoreip": F}),
			contains: map[string]string{"ban.actions": "only has dummy", "ban.ignoreip": "ignores 0.0.0.0/0"}},
		{name: "enabled but stopped fails", fixtures: []string{"ban_stopped"},
			want:     all(t, "ban", F, nil),
			contains: map[string]string{"ban.daemon-running": "fail2ban is enabled but not running"}},
		{name: "enabled, stopped, no socket", fixtures: []string{"ban_nosocket"},
			want:     all(t, "ban", F, nil),
			contains: map[string]string{"ban.daemon-running": "fail2ban is enabled but not running", "ban.maxretry": "not in effect"}},
		{name: "rampart guard", fixtures: []string{"ban_guard"},
			want: map[string]check.Status{"ban.daemon-running": P, "ban.jails": F, "ban.actions": F,
				"ban.bantime": P, "ban.findtime": P, "ban.maxretry": P, "ban.ignoreip": P},
			contains: map[string]string{"ban.daemon-running": "rampart guard answers", "ban.jails": "nginx-noscript",
				"ban.actions": `the "dry-run" backend`}},
		{name: "rampart guard with another policy file", fixtures: []string{"ban_guard"},
			policy: func(p *policy.Policy) { p.Source = "/etc/rampart/policy.toml" },
			want: map[string]check.Status{"ban.daemon-running": P, "ban.jails": F, "ban.actions": F,
				"ban.bantime": W, "ban.findtime": W, "ban.maxretry": W, "ban.ignoreip": W},
			contains: map[string]string{"ban.bantime": "rampart guard runs with policy (default), this check used /etc/rampart/policy.toml"}},
		{name: "not installed", files: map[string]string{"/proc/1/cmdline": "/sbin/init"},
			want: all(t, "ban", F, nil), contains: map[string]string{"ban.daemon-running": "no ban daemon is installed"}},
		{name: "banning off", fixtures: []string{"ban_stopped"}, policy: func(p *policy.Policy) { p.Ban.Enabled = false },
			want: all(t, "ban", S, nil)},
	})
}

func TestSSHDFromProcess(t *testing.T) {
	for _, tc := range []struct {
		cmdline string
		ok      bool
		want    sshdInstance
	}{
		{"sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups\x00", true, sshdInstance{Binary: "/usr/sbin/sshd", Config: DefaultSSHDConfig}},
		{"sshd: /nix/store/abc-openssh-9.8p1/bin/sshd -D -f /etc/ssh/sshd_config [listener] 1 of 10-100 startups", true,
			sshdInstance{Binary: "/nix/store/abc-openssh-9.8p1/bin/sshd", Config: "/etc/ssh/sshd_config"}},
		{"/usr/sbin/sshd\x00-D\x00-e\x00-f/tmp/x.conf\x00-o\x00PasswordAuthentication=yes\x00-p\x002222\x00", true,
			sshdInstance{Binary: "/usr/sbin/sshd", Config: "/tmp/x.conf", Extra: []string{"-o", "PasswordAuthentication=yes", "-p", "2222"}}},
		{"sshd: /usr/sbin/sshd -D -e -f /srv/my dir/sshd config [listener] 0 of 10-100 startups", true,
			sshdInstance{Binary: "/usr/sbin/sshd", Config: "/srv/my dir/sshd config"}},
		{"/usr/sbin/sshd\x00-f\x00/srv/a\x00b\x00", true, sshdInstance{Binary: "/usr/sbin/sshd", Config: "/srv/a"}},
		{"sshd: root@pts/0", false, sshdInstance{}},
		{"sshd: admin [priv]", false, sshdInstance{}},
		{"/usr/sbin/sshd\x00-R\x00", false, sshdInstance{}},
		{"/usr/sbin/sshd\x00-i\x00-f\x00/etc/ssh/sshd_config\x00", false, sshdInstance{}},
		{"/usr/sbin/sshd-session\x00-R\x00", false, sshdInstance{}},
		{"/usr/bin/notsshd\x00", false, sshdInstance{}},
	} {
		p := proctab.Process{PID: 7, Argv: proctab.ParseCmdline([]byte(tc.cmdline)), Title: strings.ReplaceAll(tc.cmdline, "\x00", " "),
			Spaced: !strings.Contains(strings.TrimRight(tc.cmdline, "\x00"), "\x00")}
		got, ok := sshdFromProcess(p)
		if ok != tc.ok {
			t.Errorf("%q: ok = %v", tc.cmdline, ok)
			continue
		}
		if !ok {
			continue
		}
		got.PID, got.Origin = 0, ""
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%q (-want +got):\n%s", tc.cmdline, d)
		}
	}
}

func TestParsers(t *testing.T) {
	if _, err := parseSSHDT([]byte("port 22\nPasswordAuthentication yes\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("parseSSHDT accepted a non-lower-case keyword: %v", err)
	}
	if _, err := parseSSHDT(nil); err == nil {
		t.Error("parseSSHDT accepted empty output")
	}
	for _, bad := range []string{"", "7F000001,127.0.0.1", "7F000001,x,nine,1,0,0,0,0,0,0,0,0,0,Normal", "7F000001,x,9,1,NaN,0,0,0,0,0,0,0,0,Normal"} {
		if _, err := parseTracking([]byte(bad)); err == nil {
			t.Errorf("parseTracking(%q) accepted", bad)
		}
	}
	if got := parseIgnoreList([]byte("These IP addresses/networks are ignored:\n|- 127.0.0.0/8\n`- ::1\n")); !cmp.Equal(got, []string{"127.0.0.0/8", "::1"}) {
		t.Errorf("parseIgnoreList = %v", got)
	}
	if p, ok := toPrefix("0.0.0.0"); !ok || p.Bits() != 0 {
		t.Errorf("fail2ban's 0.0.0.0 must mean every address, got %v", p)
	}
	if got := procSysPath("net.ipv4.conf.eth0/100.rp_filter"); got != "/proc/sys/net/ipv4/conf/eth0.100/rp_filter" {
		t.Errorf("procSysPath = %s", got)
	}
}

func FuzzParseSSHDT(f *testing.F) {
	f.Add([]byte("port 22\nlistenaddress [::]:22\npasswordauthentication no\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseSSHDT(b)
		if err == nil && len(c) == 0 {
			t.Error("no error and no settings")
		}
		_ = listens(c)
	})
}

func FuzzParseTracking(f *testing.F) {
	f.Add([]byte("7F000001,127.0.0.1,9,1795594324.157157872,-0.000001337,0.000001049,0.000000544,-2.924,0.511,24.718,0.000004784,0.000002634,0.0,Normal"))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = parseTracking(b) })
}

func TestMatrixUsers(t *testing.T) {
	p := fail2banDefault("")
	p.Admin.Users = []policy.AdminUser{{Name: "alice"}, {Name: "root"}, {Name: "bob"}}
	if d := cmp.Diff([]string{"root", "alice", "bob", "nobody"}, matrixUsers(check.NewEnv(nil, p, ""))); d != "" {
		t.Errorf("matrix users (-want +got):\n%s", d)
	}
}

func TestMatrixAddrs(t *testing.T) {
	p := fail2banDefault("tailnet")
	p.Ban.Ignore = []string{"127.0.0.1/8", "::1", "192.168.1.0/24", "0.0.0.0/0", "198.51.100.9", "10.0.0.0/8", "172.16.0.0/12"}
	got := matrixAddrs(check.NewEnv(nil, p, ""))
	want := []string{"100.101.102.103", "203.0.113.7", "192.168.1.1", "198.51.100.9"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("matrix addresses (-want +got):\n%s", d)
	}
	p.Tailnet.Addresses = []string{"fd7a:115c:a1e0::/48", "100.96.0.0/12"}
	if got := matrixAddrs(check.NewEnv(nil, p, "")); got[0] != "100.101.102.103" {
		t.Errorf("tailnet peer %s", got[0])
	}
	p.Tailnet.Addresses = []string{"100.64.0.0/16"}
	if got := matrixAddrs(check.NewEnv(nil, p, "")); got[0] != "100.64.0.1" {
		t.Errorf("tailnet peer %s, want one inside 100.64.0.0/16", got[0])
	}
}

func FuzzSSHDFromProcess(f *testing.F) {
	f.Add([]byte("sshd: /usr/sbin/sshd -D -f /etc/ssh/sshd_config [listener] 0 of 10-100 startups\x00"))
	f.Add([]byte("/usr/sbin/sshd\x00-D\x00-f\x00/tmp/x\x00-o\x00A=b\x00-p"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := proctab.Process{PID: 1, Argv: proctab.ParseCmdline(b), Title: strings.ReplaceAll(string(b), "\x00", " ")}
		if inst, ok := sshdFromProcess(p); ok && inst.Config == "" && inst.Binary == "" {
			t.Errorf("listener without binary or config: %+v", inst)
		}
	})
}

// TestBanBatch checks that jail values come from one interactive client,
// and from one client per query when the interactive answer is unusable.
func TestBanBatch(t *testing.T) {
	p := fail2banDefault("")
	p.Ban.Jails = p.Ban.Jails[:1]
	for _, tc := range []struct {
		name   string
		drop   bool
		source string
	}{{"batch", false, "fail2ban-client -i: get sshd bantime"}, {"fallback", true, "fail2ban-client get sshd bantime"}} {
		t.Run(tc.name, func(t *testing.T) {
			h := fixture(t, []string{"ban_running"}, nil)
			if tc.drop {
				// The captured interactive answer cut after its first
				// reply, as a client that stops reading early leaves it.
				o := h.Cmds["fail2ban-client -i"]
				parts := strings.SplitAfterN(string(o.Stdout), "fail2ban> ", 3)
				o.Stdout = []byte(strings.Join(parts[:2], ""))
			}
			rs := Run(context.Background(), check.NewEnv(h, p, ""), Options{}, areaChecks(t, "ban"))
			r := byID(rs, "ban.bantime")
			if r.Status != check.Pass || len(r.Evidence) == 0 || r.Evidence[0].Source != tc.source {
				t.Errorf("ban.bantime = %s %+v, want pass read from %q", r.Status, r.Evidence, tc.source)
			}
			n := 0
			for _, c := range h.Ran() {
				if strings.HasPrefix(c, "fail2ban-client") {
					n++
				}
			}
			if want := map[bool]int{false: 2, true: 7}[tc.drop]; n != want {
				t.Errorf("%d fail2ban-client runs, want %d: %v", n, want, h.Ran())
			}
		})
	}
}

// TestFix: each check's declared remediation (check.Check.Fix) under the
// env's release; TestRemediationsKnownToNixfacts (check/catalog) checks
// every option path of every check against nixfacts.
func TestFix(t *testing.T) {
	p := fail2banDefault("tailnet")
	for _, tc := range []struct {
		release, id, nixos, generic string
	}{
		{"", "ssh.password-authentication", "services.openssh.settings.PasswordAuthentication = false;", "PasswordAuthentication no"},
		{"24.11", "ssh.permit-root-login", `services.openssh.settings.PermitRootLogin = "prohibit-password";`, "PermitRootLogin prohibit-password"},
		{"", "ssh.permit-empty-passwords", "services.openssh.settings.PermitEmptyPasswords = false;", "PermitEmptyPasswords no"},
		{"", "sysctl.rp-filter", `boot.kernel.sysctl."net.ipv4.conf.default.rp_filter" = 1;`, "each existing interface"},
		{"", "sysctl.ip-forward", `useRoutingFeatures = "none"`, "net.ipv4.ip_forward = 0"},
		{"", "journald.max-retention", "services.journald.extraConfig", "journald.conf.d"},
		{"26.11", "journald.max-retention", "services.journald.settings.Journal.MaxRetentionSec", "journald.conf.d"},
		{"", "ban.daemon-running", "services.fail2ban.enable = true;", "enabled unit that is not running"},
		{"unstable", "time.chrony-running", "services.chrony.enable = true;", "chrony"},
		{"", "time.synchronised", `services.chrony.servers = [`, "chronyc sources"},
	} {
		c, ok := check.Lookup(tc.id)
		if !ok {
			t.Fatalf("%s not registered", tc.id)
		}
		fix := c.Fix(check.NewEnv(nil, p, tc.release))
		if !strings.Contains(fix.NixOS, tc.nixos) || !strings.Contains(fix.Generic, tc.generic) {
			t.Errorf("%s (%q): %+v, want NixOS containing %q and generic containing %q", tc.id, tc.release, fix, tc.nixos, tc.generic)
		}
	}
	// An unknown release gets no NixOS text (check.Env.NixRelease).
	c, _ := check.Lookup("ssh.permit-empty-passwords")
	if fix := c.Fix(check.NewEnv(nil, p, "19.03")); fix.NixOS != "" || fix.Generic == "" {
		t.Errorf("release 19.03: %+v, want only the generic fix", fix)
	}
}

// TestPrivsepHint: the directory named in the hint is sshd's when it is a
// plain absolute path, /run/sshd otherwise (the text is the host's).
func TestPrivsepHint(t *testing.T) {
	for in, want := range map[string]string{
		"Missing privilege separation directory: /var/empty":        "mkdir -p -m0755 /var/empty)",
		"Missing privilege separation directory: /run/sshd\n":       "mkdir -p -m0755 /run/sshd)",
		"Missing privilege separation directory: /x\x1b[2J":         "mkdir -p -m0755 /run/sshd)",
		"Missing privilege separation directory: relative/dir":      "mkdir -p -m0755 /run/sshd)",
		"Missing privilege separation directory: /a/../etc/cron.d/": "mkdir -p -m0755 /run/sshd)",
	} {
		if got := privsepHint(in); !strings.Contains(got, want) {
			t.Errorf("privsepHint(%q) = %q, want it to contain %q", in, got, want)
		}
	}
}

// fail2banDefault is the profile's default policy banning with fail2ban
// (ban.engine = "fail2ban"), the engine of the fail2ban fixtures and E2E
// tests; TestGuardEngine covers the default engine, rampart guard.
func fail2banDefault(profile string) *policy.Policy {
	p := policy.MustDefault(profile)
	p.Ban.Engine = policy.EngineFail2ban
	return p
}

// TestGuardEngine: with ban.engine = "rampart" (the default) the ban checks
// look for rampart guard only. A host where fail2ban runs but the guard's
// control socket is missing fails ban.daemon-running naming the guard,
// without starting fail2ban-client, and the fixes point at the guard.
func TestGuardEngine(t *testing.T) {
	p := policy.MustDefault("")
	h := fixture(t, []string{"ban_running"}, nil)
	rs := Run(context.Background(), check.NewEnv(h, p, ""), Options{}, areaChecks(t, "ban"))
	r := byID(rs, "ban.daemon-running")
	if r.Status != check.Fail || !strings.Contains(r.Message, "rampart guard is not running (no control socket /run/rampart/guard.sock") {
		t.Errorf("ban.daemon-running = %s %q", r.Status, r.Message)
	}
	if !strings.Contains(r.Remediation.NixOS, "services.rampart.guard.enable = true;") || !strings.Contains(r.Remediation.Generic, "systemctl enable --now rampart-guard") {
		t.Errorf("remediation = %+v", r.Remediation)
	}
	for _, c := range h.Ran() {
		if strings.HasPrefix(c, "fail2ban-client") {
			t.Errorf("engine rampart ran %s", c)
		}
	}
	for _, r := range rs {
		if r.Status == check.Pass {
			t.Errorf("%s passed without a guard: %s", r.ID, r.Message)
		}
	}
	bantime, _ := check.Lookup("ban.bantime")
	fix := bantime.Fix(check.NewEnv(nil, p, ""))
	if fix.NixOS != `services.rampart.policy.ban.bantime = "1h"; # rampart's flake, nixosModules.default` || !strings.Contains(fix.Generic, "/etc/rampart/policy.toml") {
		t.Errorf("ban.bantime fix = %+v", fix)
	}
	// The same host with the fail2ban engine passes the daemon check.
	rs = Run(context.Background(), check.NewEnv(fixture(t, []string{"ban_running"}, nil), fail2banDefault(""), ""), Options{}, areaChecks(t, "ban"))
	if r := byID(rs, "ban.daemon-running"); r.Status != check.Pass {
		t.Errorf("engine fail2ban: ban.daemon-running = %s %q", r.Status, r.Message)
	}
}

// --sshd-config FILE with no sshd running from it evaluates the file, as
// the next start of sshd would read it (it once said the default config
// "does not exist" although FILE did).
func TestSSHConfigGivenNotRunning(t *testing.T) {
	h := fixture(t, []string{"ssh_weak"}, nil)
	delete(h.Files, "/proc/812/cmdline")
	const site = "/etc/ssh/site.conf"
	h.SetFile(site, "PasswordAuthentication yes\n")
	for argv, out := range h.Cmds {
		if rest, ok := strings.CutPrefix(argv, "/usr/sbin/sshd -T -f /etc/ssh/sshd_config"); ok {
			h.Cmds["sshd -T -f "+site+rest] = out
		}
	}
	rs := Run(context.Background(), check.NewEnv(h, fail2banDefault(""), ""), Options{SSHDConfigs: []string{site}}, areaChecks(t, "ssh"))
	r := byID(rs, "ssh.password-authentication")
	if r.Status != check.Fail || !strings.Contains(fmt.Sprint(r.Evidence), site) {
		t.Errorf("password authentication from %s: %s %s %v", site, r.Status, r.Message, r.Evidence)
	}
	// Neither running nor readable: the message names the file given.
	delete(h.Files, site)
	rs = Run(context.Background(), check.NewEnv(h, fail2banDefault(""), ""), Options{SSHDConfigs: []string{site}}, areaChecks(t, "ssh"))
	if r := byID(rs, "ssh.password-authentication"); r.Status != check.Unknown || !strings.Contains(r.Message, "no sshd runs from "+site) {
		t.Errorf("unreadable %s: %s %s", site, r.Status, r.Message)
	}
}

// With no Match block in sshd_config or the files it includes, the -C
// matrix is not run (each sshd -T is a process start, the bound of a fleet
// run) and every check judges as the matrix would; a Match line anywhere,
// or a file that cannot be read, runs the matrix.
func TestSSHMatrixSkippedWithoutMatch(t *testing.T) {
	run := func(files map[string]string) (map[string]check.Status, []string) {
		h := fixture(t, []string{"ssh_weak"}, files)
		rs := Run(context.Background(), check.NewEnv(h, fail2banDefault(""), ""), Options{}, areaChecks(t, "ssh"))
		var dashC []string
		for _, c := range h.Ran() {
			if strings.Contains(c, " -C ") {
				dashC = append(dashC, c)
			}
		}
		return statuses(rs), dashC
	}
	matrix, ran := run(nil)
	if len(ran) != 4 {
		t.Fatalf("without the config files the matrix runs: %d -C runs", len(ran))
	}
	plain := map[string]string{
		"/etc/ssh/sshd_config":             "# comment Match\nInclude /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication yes\n",
		"/etc/ssh/sshd_config.d/10-a.conf": "X11Forwarding=yes\n",
	}
	got, ran := run(plain)
	if len(ran) != 0 {
		t.Errorf("no Match block, yet %d -C runs: %q", len(ran), ran)
	}
	if d := cmp.Diff(matrix, got); d != "" {
		t.Errorf("statuses without the matrix differ (-matrix +skipped):\n%s", d)
	}
	// A criterion no Match line names (User/Group, Address/Host) needs one
	// value of its dimension only; anything not understood runs it all.
	for name, tc := range map[string]struct {
		files map[string]string
		want  []string // what the -C specs start with
	}{
		"Match in an included file": {map[string]string{"/etc/ssh/sshd_config": plain["/etc/ssh/sshd_config"], "/etc/ssh/sshd_config.d/10-a.conf": "  match Address 203.0.113.0/24\n"},
			[]string{"user=root,host=100.101.102.103", "user=root,host=203.0.113.7"}},
		"Match=":            {map[string]string{"/etc/ssh/sshd_config": "Match=User root\n"}, []string{"user=nobody,host=100.101.102.103", "user=root,host=100.101.102.103"}},
		"relative Include":  {map[string]string{"/etc/ssh/sshd_config": "Include extra.conf\n", "/etc/ssh/extra.conf": "Match User x\n"}, []string{"user=nobody,host=100.101.102.103", "user=root,host=100.101.102.103"}},
		"local port only":   {map[string]string{"/etc/ssh/sshd_config": "Match LocalPort 2222\n  PasswordAuthentication yes\n"}, []string{"user=root,host=100.101.102.103"}},
		"both":              {map[string]string{"/etc/ssh/sshd_config": "Match Group wheel Host *.example.org\n"}, nil},
		"Match All":         {map[string]string{"/etc/ssh/sshd_config": "Match all\nMatch User x\n"}, []string{"user=nobody,host=100.101.102.103", "user=root,host=100.101.102.103"}},
		"unknown criterion": {map[string]string{"/etc/ssh/sshd_config": "Match Invalid x\n"}, nil},
		"quoted Include":    {map[string]string{"/etc/ssh/sshd_config": "Include \"/etc/ssh/x y.conf\"\n"}, nil},
	} {
		_, ran := run(tc.files)
		if tc.want == nil {
			if len(ran) != 4 {
				t.Errorf("%s: %d -C runs, want the matrix (4)", name, len(ran))
			}
			continue
		}
		var specs []string
		for _, r := range ran {
			_, spec, _ := strings.Cut(r, " -C ")
			specs = append(specs, spec)
		}
		sort.Strings(specs)
		ok := len(specs) == len(tc.want)
		for i := 0; ok && i < len(specs); i++ {
			ok = strings.HasPrefix(specs[i], tc.want[i])
		}
		if !ok {
			t.Errorf("%s: -C runs %q, want %q", name, specs, tc.want)
		}
	}
}

// When Match lines name neither the local address nor the local port, the
// plain sshd -T is not run: the -C runs list the listen addresses, and
// their answers stand for every one of them.
func TestSSHMatrixWithoutPlainRun(t *testing.T) {
	for _, tc := range []struct {
		name      string
		config    string
		plain     int
		specs     []string
		noteLocal bool
	}{
		{"Match Address", "Match Address 100.64.0.0/10\n  PasswordAuthentication yes\n", 0,
			[]string{"user=root,host=100.101.102.103,addr=100.101.102.103", "user=root,host=203.0.113.7,addr=203.0.113.7"}, true},
		{"Match LocalPort", "Match LocalPort 2222\n  PasswordAuthentication yes\n", 1,
			[]string{"user=root,host=100.101.102.103,addr=100.101.102.103,lport=22"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fixture(t, []string{"ssh_match"}, map[string]string{"/etc/ssh/sshd_config": tc.config})
			env := check.NewEnv(h, fail2banDefault(""), "")
			WithOptions(env, Options{})
			m, err := sshdEffective(context.Background(), env)
			if err != nil || m.Err != nil {
				t.Fatal(err, m.Err)
			}
			plain, specs := 0, []string{}
			for _, c := range h.Ran() {
				if _, spec, ok := strings.Cut(c, " -C "); ok {
					specs = append(specs, spec)
				} else if strings.Contains(c, "sshd -T") {
					plain++
				}
			}
			sort.Strings(specs)
			if plain != tc.plain || !slices.Equal(specs, tc.specs) {
				t.Fatalf("ran %d plain sshd -T and -C %q; want %d and %q", plain, specs, tc.plain, tc.specs)
			}
			// Every connection spec is answered, each for the listen port
			// sshd reported, by the run that stands for it.
			if len(m.Evals) != 4 {
				t.Fatalf("%d evals, want users × addresses = 4", len(m.Evals))
			}
			for _, e := range m.Evals {
				if e.Spec.LPort != 22 || e.Cfg == nil {
					t.Errorf("eval %s: lport %d, cfg %v", e.Spec, e.Spec.LPort, e.Cfg != nil)
				}
				if got := strings.Contains(e.Cmd, "LocalAddress or LocalPort"); got != tc.noteLocal {
					t.Errorf("eval %s: %q, want the local note %v", e.Spec, e.Cmd, tc.noteLocal)
				}
				// The captured sshd (ssh_match) turns passwords on for the
				// tailnet address only. With Match Address both addresses
				// run; with Match LocalPort the one run (a tailnet spec)
				// stands for all.
				want := "yes"
				if tc.name == "Match Address" && e.Spec.Addr != "100.101.102.103" {
					want = "no"
				}
				if got, _ := e.Cfg.get("passwordauthentication"); got != want {
					t.Errorf("eval %s: passwordauthentication %s, want %s", e.Spec, got, want)
				}
			}
		})
	}
}

// sshd's Match Address and Match Host lists, evaluated as sshd does.
func TestAddrMatchList(t *testing.T) {
	for _, tc := range []struct {
		addr, list string
		want       bool
	}{
		{"198.51.100.7", "198.51.100.0/24", true},
		{"198.51.100.7", "198.51.100.7", true},
		{"198.51.100.7", "198.51.100.8", false},
		{"198.51.100.200", "198.51.100.0/24,!198.51.100.128/25", false},
		{"198.51.100.7", "198.51.100.0/24,!198.51.100.128/25", true},
		{"198.51.100.7", "!198.51.100.128/25", false}, // a negation alone matches nothing
		{"192.0.2.9", "192.0.2.*", true},
		{"192.0.2.9", "192.0.?.9", true},
		{"192.0.22.9", "192.0.?.9", false},
		{"2001:db8::1", "2001:db8::/32", true},
		{"203.0.113.7", "2001:db8::/32,203.0.113.0/24", true},
		{"203.0.113.7", "::/0", false},
	} {
		if got := addrMatchList(tc.addr, tc.list); got != tc.want {
			t.Errorf("addrMatchList(%s, %s) = %v, want %v", tc.addr, tc.list, got, tc.want)
		}
	}
	if !patternMatchList("203.0.113.7", "203.0.113.*,!203.0.113.8") || patternMatchList("203.0.113.8", "203.0.113.*,!203.0.113.8") ||
		!patternMatchList("Web1.Example.COM", "*.example.com") {
		t.Error("patternMatchList")
	}
}

// Match Address lists add an address to the sshd matrix only where no
// address of it already stands for theirs.
func TestMatchAddrs(t *testing.T) {
	base := []string{"100.101.102.103", "203.0.113.7"}
	for _, tc := range []struct {
		name    string
		address []string
		host    []string
		want    []string
	}{
		{"the public address stands for its network", []string{"203.0.113.0/24"}, nil, nil},
		{"the tailnet peer stands for the tailnet", []string{"100.64.0.0/10"}, nil, nil},
		{"another network", []string{"198.51.100.0/24"}, nil, []string{"198.51.100.1"}},
		{"one address", []string{"192.0.2.44"}, nil, []string{"192.0.2.44"}},
		{"a pattern", []string{"192.0.2.*"}, nil, []string{"192.0.2.1"}},
		{"negated part: one class", []string{"10.0.0.0/8,!10.1.0.0/16"}, nil, []string{"10.0.0.1"}},
		{"two lines, same class", []string{"198.51.100.0/24", "198.51.100.0/25"}, nil, []string{"198.51.100.1"}},
		{"two lines, two classes", []string{"198.51.100.0/24", "198.51.100.128/25"}, nil, []string{"198.51.100.1", "198.51.100.129"}},
		{"a host list tells the public address from its network", []string{"203.0.113.0/24"}, []string{"203.0.113.7"}, []string{"203.0.113.1"}},
		{"names are not addresses", []string{"*.example.com"}, nil, nil},
		{"IPv6", []string{"2001:db8:1::/48"}, nil, []string{"2001:db8:1::1"}},
		{"loopback is left out", []string{"127.0.0.1,::1"}, nil, nil},
		{"everyone: the public address stands for it", []string{"0.0.0.0/0"}, nil, nil},
	} {
		got := matchAddrs(base, matchLines{address: tc.address, host: tc.host})
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
