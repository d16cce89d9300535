package lockdown

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/host/hosttest"
	"github.com/rampart-sec/rampart/internal/nixfacts"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/proctab"
	"github.com/rampart-sec/rampart/internal/tailscale"
)

// Fixtures shared with internal/tailscale (captured there, see its
// testdata/README.md) and ss outputs captured here from real sshds in a
// namespace (testdata/ss-*.txt).
func fixture(t *testing.T, name string) string {
	t.Helper()
	for _, dir := range []string{"testdata", "../tailscale/testdata"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			return string(b)
		}
	}
	t.Fatalf("no fixture %s", name)
	return ""
}

const adminKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq5nD3g1vR0tq1cG1z0m4wqK2a3Uo5pQy0bXJ2x6f7A admin@laptop"

// readyHost is a host on which every pre-flight check passes: tailscale
// Running on a tagged node, tailscale0 with 100.64.0.1, sshd on all
// addresses, root's key on disk, the session from 100.64.0.2.
func readyHost(t *testing.T) *hosttest.Fixture {
	f := hosttest.New(t)
	f.SetCmd(tailscale.StatusCmd, fixture(t, "status-running-tagged.json"), 0)
	f.SetCmd(host.C("ip", "-j", "addr", "show", "dev", "tailscale0"), fixture(t, "ip-addr-netns.json"), 0)
	setListen(t, f, "ss-wildcard.txt")
	f.SetCmd(host.C("ip", "-j", "route", "get", "100.64.0.2"), fixture(t, "route-get-tailnet.json"), 0)
	f.SetCmd(host.C("ip", "-j", "route", "get", "203.0.113.2"), fixture(t, "route-get-public.json"), 0)
	f.SetCmd(host.C("ip", "-j", "route", "get", "127.0.0.1"), fixture(t, "route-get-local.json"), 0)
	f.SetCmd(host.C("nft", "--version"), "nftables v1.0.6 (Lester Gooch #5)\n", 0)
	f.SetCmd(host.C("sshd", "-T", "-C", "user=root,host=localhost,addr=127.0.0.1"), fixture(t, "sshd-T-default.txt"), 0)
	f.SetFile("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000::/home/admin:/bin/bash\n")
	f.SetFile("/root/.ssh/authorized_keys", "# keys\nrestrict,pty "+adminKey+"\n")
	return f
}

// setListen gives ss -Htlnp as captured in testdata/name, its sshd
// processes root's (the captures are of a root sshd).
func setListen(t *testing.T, f *hosttest.Fixture, name string) {
	out := fixture(t, name)
	f.SetCmd(ListenCmd, out, 0)
	ls, err := ParseListeners([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		for _, pid := range l.PIDs {
			f.SetFile(proctab.StatusPath(pid), "Name:\t"+l.Process+"\nUid:\t0\t0\t0\t0\n")
		}
	}
}

func adminPolicy(t *testing.T) *policy.Policy {
	p := tailnetPolicy(t)
	p.Admin.Users = []policy.AdminUser{{Name: "root", AuthorizedKeys: []string{adminKey}}}
	return p
}

func statuses(rs []check.Result) map[string]check.Result {
	m := map[string]check.Result{}
	for _, r := range rs {
		m[r.ID] = r
	}
	return m
}

func TestPreflight(t *testing.T) {
	const tsConn = "100.64.0.2 50022 100.64.0.1 22"
	tests := []struct {
		name   string
		mutate func(f *hosttest.Fixture, p *policy.Policy, o *PreflightOptions)
		want   map[string]check.Status
		msg    string // expected in the message of one non-pass check in want
		ready  bool
	}{
		{name: "ready", ready: true, want: map[string]check.Status{IDTailscaleRunning: check.Pass, IDKeyExpiry: check.Pass,
			IDInterface: check.Pass, IDSSHDListen: check.Pass, IDAdminKey: check.Pass, IDSession: check.Pass, IDNftables: check.Pass}},
		{name: "needs login", mutate: func(f *hosttest.Fixture, _ *policy.Policy, _ *PreflightOptions) {
			f.SetCmd(tailscale.StatusCmd, fixture(t, "status-needslogin-loginerror.json"), 0)
		}, want: map[string]check.Status{IDTailscaleRunning: check.Fail, IDKeyExpiry: check.Fail}, msg: "NeedsLogin, not Running"},
		{name: "daemon down", mutate: func(f *hosttest.Fixture, _ *policy.Policy, _ *PreflightOptions) {
			f.SetCmd(tailscale.StatusCmd, "", 1)
			f.Cmds[tailscale.StatusCmd.String()].Stderr = []byte(fixture(t, "daemon-down.stderr"))
		}, want: map[string]check.Status{IDTailscaleRunning: check.Fail, IDKeyExpiry: check.Unknown}, msg: "failed to connect to local tailscaled"},
		{name: "not installed", mutate: func(f *hosttest.Fixture, _ *policy.Policy, _ *PreflightOptions) {
			f.Missing["tailscale"] = true
		}, want: map[string]check.Status{IDTailscaleRunning: check.Fail}, msg: "not installed"},
		{name: "key expires", mutate: func(f *hosttest.Fixture, _ *policy.Policy, _ *PreflightOptions) {
			f.SetCmd(tailscale.StatusCmd, fixture(t, "status-running-user-expiry.json"), 0)
		}, want: map[string]check.Status{IDTailscaleRunning: check.Pass, IDKeyExpiry: check.Fail}, msg: "expires on 2026-12-07T09:12:44Z"},
		{name: "key expired", mutate: func(f *hosttest.Fixture, _ *policy.Policy, _ *PreflightOptions) {
			f.SetCmd(tailscale.StatusCmd, fixture(t, "status-expired.json"), 0)
		}, want: map[string]check.Status{IDKeyExpiry: check.Fail}, msg: "has expired"},
		// verify and the pre-flight run the same check: no Self node is a
		// failure in both (the status was read and shows no node key).
		{name: "no Self node", mutate: func(f *hosttest.Fixture, _ *policy.Policy, _ *PreflightOptions) {
			f.SetCmd(tailscale.StatusCmd, statusWith(t, "status-needslogin.json", func(st map[string]any) { delete(st, "Self") }), 0)
		}, want: map[string]check.Status{IDTailscaleRunning: check.Fail, IDKeyExpiry: check.Fail}, msg: "no Self node"},
		// A tailnet check that does not pass blocks, even with a warning.
		{name: "node offline", mutate: func(f *hosttest.Fixture, _ *policy.Policy, _ *PreflightOptions) {
			f.SetCmd(tailscale.StatusCmd, statusWith(t, "status-running-tagged.json", func(st map[string]any) { st["Self"].(map[string]any)["Online"] = false }), 0)
		}, want: map[string]check.Status{IDTailscaleRunning: check.Warn, IDKeyExpiry: check.Pass}, msg: "offline"},
		{name: "policy without tailnet", mutate: func(_ *hosttest.Fixture, p *policy.Policy, _ *PreflightOptions) {
			p.Tailnet.Enabled = false
		}, want: map[string]check.Status{IDTailscaleRunning: check.Skip, IDInterface: check.Skip, IDSSHDListen: check.Pass}},
		{name: "no interface", mutate: func(f *hosttest.Fixture, _ *policy.Policy, _ *PreflightOptions) {
			c := host.C("ip", "-j", "addr", "show", "dev", "tailscale0")
			f.SetCmd(c, "", 1)
			f.Cmds[c.String()].Stderr = []byte("Device \"tailscale0\" does not exist.\n")
		}, want: map[string]check.Status{IDInterface: check.Fail, IDSSHDListen: check.Pass}, msg: "does not exist"},
		{name: "interface without tailnet address", mutate: func(_ *hosttest.Fixture, p *policy.Policy, _ *PreflightOptions) {
			p.Tailnet.Addresses = []string{"198.51.100.0/24"}
		}, want: map[string]check.Status{IDInterface: check.Fail}, msg: "has no address in 198.51.100.0/24"},
		{name: "sshd on loopback only", mutate: func(f *hosttest.Fixture, _ *policy.Policy, _ *PreflightOptions) {
			setListen(t, f, "ss-loopback-only.txt")
		}, want: map[string]check.Status{IDSSHDListen: check.Fail}, msg: "not on a wildcard"},
		{name: "sshd on the tailnet address, other port", mutate: func(f *hosttest.Fixture, p *policy.Policy, _ *PreflightOptions) {
			setListen(t, f, "ss-tailnet-2222.txt")
			p.SSH.Ports = []int{2222}
		}, ready: true, want: map[string]check.Status{IDSSHDListen: check.Pass}},
		{name: "sshd on the wrong port", mutate: func(f *hosttest.Fixture, _ *policy.Policy, _ *PreflightOptions) {
			setListen(t, f, "ss-tailnet-2222.txt")
		}, want: map[string]check.Status{IDSSHDListen: check.Fail}, msg: "no sshd listens on port(s) [22]"},
		{name: "a user's program named sshd", mutate: func(f *hosttest.Fixture, p *policy.Policy, _ *PreflightOptions) {
			setListen(t, f, "ss-tailnet-2222.txt")
			f.SetFile("/proc/10480/status", "Name:\tsshd\nUid:\t1000\t1000\t1000\t1000\n")
			p.SSH.Ports = []int{2222}
		}, want: map[string]check.Status{IDSSHDListen: check.Fail}, msg: "no sshd listens on port(s) [2222]"},
		{name: "ss without privilege", mutate: func(f *hosttest.Fixture, _ *policy.Policy, _ *PreflightOptions) {
			setListen(t, f, "ss-wildcard-nonroot.txt")
		}, ready: true, want: map[string]check.Status{IDSSHDListen: check.Pass}},
		{name: "no key on disk", mutate: func(f *hosttest.Fixture, _ *policy.Policy, _ *PreflightOptions) {
			delete(f.Files, "/root/.ssh/authorized_keys")
		}, want: map[string]check.Status{IDAdminKey: check.Fail}, msg: "no admin account has an authorized SSH key"},
		{name: "disk key differs from policy", mutate: func(f *hosttest.Fixture, _ *policy.Policy, _ *PreflightOptions) {
			f.SetFile("/root/.ssh/authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherKeyOtherKeyOtherKeyOtherKeyOtherKey0 x\n")
		}, want: map[string]check.Status{IDAdminKey: check.Fail}, msg: "not the policy's authorized_keys"},
		{name: "nixos keys dir", mutate: func(f *hosttest.Fixture, p *policy.Policy, _ *PreflightOptions) {
			// sshd -T cannot be asked: the defaults include NixOS's
			// /etc/ssh/authorized_keys.d/%u.
			f.Missing["sshd"] = true
			delete(f.Files, "/root/.ssh/authorized_keys")
			f.SetFile("/etc/ssh/authorized_keys.d/admin", adminKey+"\n")
			p.Admin.Users = []policy.AdminUser{{Name: "admin", AuthorizedKeys: []string{adminKey}}}
		}, ready: true, want: map[string]check.Status{IDAdminKey: check.Pass}},
		{name: "sshd -T cannot be asked, default files", ready: true, mutate: func(f *hosttest.Fixture, _ *policy.Policy, _ *PreflightOptions) {
			f.Missing["sshd"] = true
		}, want: map[string]check.Status{IDAdminKey: check.Pass}},
		{name: "sshd -T custom files", ready: true, mutate: func(f *hosttest.Fixture, p *policy.Policy, o *PreflightOptions) {
			o.SSHDConfig = "/etc/ssh/sshd_config.lab"
			f.SetCmd(host.C("sshd", "-T", "-f", "/etc/ssh/sshd_config.lab", "-C", "user=admin,host=localhost,addr=127.0.0.1"), fixture(t, "sshd-T-custom.txt"), 0)
			f.SetFile("/etc/ssh/keys/admin", adminKey+"\n")
			p.Admin.Users = []policy.AdminUser{{Name: "admin", AuthorizedKeys: []string{adminKey}}}
		}, want: map[string]check.Status{IDAdminKey: check.Pass}},
		{name: "sshd -T custom files, key elsewhere", mutate: func(f *hosttest.Fixture, p *policy.Policy, _ *PreflightOptions) {
			f.SetCmd(host.C("sshd", "-T", "-C", "user=admin,host=localhost,addr=127.0.0.1"), fixture(t, "sshd-T-custom.txt"), 0)
			f.SetFile("/etc/ssh/authorized_keys.d/admin", adminKey+"\n") // NixOS's place, but this sshd does not read it
			p.Admin.Users = []policy.AdminUser{{Name: "admin", AuthorizedKeys: []string{adminKey}}}
		}, want: map[string]check.Status{IDAdminKey: check.Fail}, msg: "no admin account has an authorized SSH key"},
		{name: "no admin in policy, key for root on disk", mutate: func(_ *hosttest.Fixture, p *policy.Policy, o *PreflightOptions) {
			p.Admin.Users = nil
			o.FallbackUsers = []string{"root"}
		}, ready: true, want: map[string]check.Status{IDAdminKey: check.Warn}},
		{name: "session from the public side", mutate: func(_ *hosttest.Fixture, _ *policy.Policy, o *PreflightOptions) {
			o.SSHConnection = "203.0.113.2 40000 203.0.113.1 22"
		}, want: map[string]check.Status{IDSession: check.Fail}, msg: "through eth0, not tailscale0"},
		{name: "session from the host itself", mutate: func(_ *hosttest.Fixture, _ *policy.Policy, o *PreflightOptions) {
			o.SSHConnection = "127.0.0.1 40000 127.0.0.1 22"
		}, want: map[string]check.Status{IDSession: check.Fail}, msg: "this host itself"},
		{name: "garbage SSH_CONNECTION", mutate: func(_ *hosttest.Fixture, _ *policy.Policy, o *PreflightOptions) {
			o.SSHConnection = "$(reboot) 1 2 3"
		}, want: map[string]check.Status{IDSession: check.Fail}, msg: "expected an IP address"},
		{name: "console", mutate: func(_ *hosttest.Fixture, _ *policy.Policy, o *PreflightOptions) {
			o.SSHConnection = ""
		}, ready: true, want: map[string]check.Status{IDSession: check.Skip}},
		{name: "no nft", mutate: func(f *hosttest.Fixture, _ *policy.Policy, _ *PreflightOptions) {
			f.Missing["nft"] = true
		}, want: map[string]check.Status{IDNftables: check.Fail}, msg: "cannot run nft"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, p := readyHost(t), adminPolicy(t)
			o := PreflightOptions{SSHConnection: tsConn}
			if tt.mutate != nil {
				tt.mutate(f, p, &o)
			}
			cfg, err := ConfigFromPolicy(p)
			if err != nil {
				t.Fatal(err)
			}
			rs := Preflight(context.Background(), f, p, cfg, o)
			got := statuses(rs)
			var msgs []string
			for id, want := range tt.want {
				if got[id].Status != want {
					t.Errorf("%s = %s (%s), want %s", id, got[id].Status, got[id].Message, want)
				}
				if want != check.Pass && want != check.Skip {
					msgs = append(msgs, got[id].Message)
				}
			}
			if tt.msg != "" && !strings.Contains(strings.Join(msgs, "\n"), tt.msg) {
				t.Errorf("messages %q, want one to contain %q", msgs, tt.msg)
			}
			if ok, why := Ready(rs); ok != tt.ready {
				t.Errorf("Ready = %v (%v), want %v", ok, why, tt.ready)
			}
			for _, r := range rs {
				if r.Status == check.Pass && len(r.Evidence) == 0 {
					t.Errorf("%s passes without evidence", r.ID)
				}
			}
		})
	}
}

// statusWith is a tailscale status capture changed by edit.
func statusWith(t *testing.T, name string, edit func(map[string]any)) string {
	t.Helper()
	var st map[string]any
	if err := json.Unmarshal([]byte(fixture(t, name)), &st); err != nil {
		t.Fatal(err)
	}
	edit(st)
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseListeners(t *testing.T) {
	tests := []struct {
		file string
		want []string // addr/wildcard:port:process
	}{
		{"ss-wildcard.txt", []string{"*:22:sshd", "*:22:sshd"}},
		{"ss-wildcard-nonroot.txt", []string{"*:22:", "*:22:"}},
		{"ss-loopback-only.txt", []string{"127.0.0.1:22:sshd"}},
		{"ss-tailnet-2222.txt", []string{"100.64.0.1:2222:sshd", "fd7a:115c:a1e0::1:2222:sshd"}},
	}
	for _, tt := range tests {
		ls, err := ParseListeners([]byte(fixture(t, tt.file)))
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		var got []string
		for _, l := range ls {
			a := l.Addr.String()
			if l.Wildcard {
				a = "*"
			}
			got = append(got, a+":"+itoa(l.Port)+":"+l.Process)
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%s: %v, want %v", tt.file, got, tt.want)
		}
	}
	l, err := ParseListeners([]byte(`LISTEN 0 128 [fe80::1%tailscale0]:22 [::]:* users:(("sshd",pid=1,fd=3))` + "\n" + `LISTEN 0 128 *:22 *:*`))
	if err != nil || l[0].Device != "tailscale0" || l[0].Addr.String() != "fe80::1" || !l[1].Wildcard {
		t.Errorf("device/star forms: %+v %v", l, err)
	}
	for _, bad := range []string{"LISTEN 0 128", "LISTEN 0 128 1.2.3.4 x", "LISTEN 0 128 nothost:22 *:*", "LISTEN 0 128 1.2.3.4:0 *:*"} {
		if _, err := ParseListeners([]byte(bad)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("ParseListeners(%q) err = %v", bad, err)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestPreflightFixes: every pre-flight check declares its fix, and the
// NixOS options it names exist in every release nixfacts supports (the
// tailnet checks' fixes are also covered by the catalogue's test).
func TestPreflightFixes(t *testing.T) {
	p := adminPolicy(t)
	cfg, err := ConfigFromPolicy(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range preflightChecks(cfg, PreflightOptions{}) {
		if c.Fix == nil {
			t.Errorf("%s declares no Fix", c.ID)
			continue
		}
		for _, rel := range nixfacts.Releases() {
			fix := c.Fix(check.NewEnv(nil, p, rel.String()))
			if fix.Generic == "" {
				t.Errorf("%s (NixOS %s): no generic fix", c.ID, rel)
			}
			for _, err := range nixfacts.UnknownOptions(rel, fix.NixOS+"\n"+fix.Generic) {
				t.Errorf("%s (NixOS %s) prints an option nixfacts does not know: %v", c.ID, rel, err)
			}
		}
	}
}
