package audit

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host/hosttest"
	"github.com/rampart-sec/rampart/internal/policy"
)

func runCheck(t *testing.T, id string, f *hosttest.Fixture, p *policy.Policy, release string) check.Result {
	t.Helper()
	c, ok := check.Lookup(id)
	if !ok {
		t.Fatalf("check %s not registered", id)
	}
	return check.Run(context.Background(), check.NewEnv(f, p, release), []*check.Check{c})[0]
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCheckEnabled(t *testing.T) {
	off := readFile(t, "testdata/auditctl-s-off.txt")
	running := readFile(t, "testdata/auditctl-s-running.txt")
	tests := []struct {
		name, status string
		missing      bool
		want         check.Status
		msg          string
	}{
		{"off", off, false, check.Fail, "enabled 0"},
		{"running", running, false, check.Pass, "auditd pid 13437"},
		{"no daemon", strings.Replace(off, "enabled 0", "enabled 1", 1), false, check.Fail, "no audit daemon"},
		{"lost", strings.Replace(running, "lost 0", "lost 17", 1), false, check.Warn, "lost 17 record(s)"},
		{"locked", strings.Replace(running, "enabled 1", "enabled 2", 1), false, check.Pass, "locked until reboot"},
		{"no auditctl", "", true, check.Unknown, "not installed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := hosttest.New(t).SetFile("/proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro audit=1 audit_backlog_limit=8192\n")
			if tt.missing {
				// A VM without auditd: systemd-detect-virt -c answers
				// "none" with exit status 1 outside a container.
				f.Missing["auditctl"] = true
				f.SetCmd(cmdDetectContainer, "none\n", 1)
			} else {
				f.SetCmd(CmdStatus, tt.status, 0)
			}
			r := runCheck(t, "audit.enabled", f, policy.MustDefault(""), "")
			if r.Status != tt.want || !strings.Contains(r.Message, tt.msg) {
				t.Errorf("%s: %q, want %s containing %q", r.Status, r.Message, tt.want, tt.msg)
			}
			if r.Status != check.Pass && !strings.Contains(r.Remediation.NixOS, "security.auditd.enable = true;") {
				t.Errorf("remediation %+v", r.Remediation)
			}
		})
	}
	// Booted without audit=1.
	f := hosttest.New(t).SetCmd(CmdStatus, running, 0).SetFile("/proc/cmdline", "console=ttyS0 reboot=k panic=1 pci=off\n")
	if r := runCheck(t, "audit.enabled", f, policy.MustDefault(""), ""); r.Status != check.Warn || !strings.Contains(r.Message, "without audit=1") || len(r.Evidence) != 2 {
		t.Errorf("no audit=1: %s %q", r.Status, r.Message)
	}
	p := policy.MustDefault("")
	p.Audit.BacklogLimit = 8192
	if r := runCheck(t, "audit.enabled", f, p, ""); r.Status != check.Warn || !strings.Contains(r.Message, "below the policy's 8192") {
		t.Errorf("backlog: %s %q", r.Status, r.Message)
	}
	p.Audit.Enabled = false
	if r := runCheck(t, "audit.enabled", f, p, ""); r.Status != check.Skip {
		t.Errorf("audit disabled in the policy: %s", r.Status)
	}
}

func TestCheckWatches(t *testing.T) {
	// Listings in the format auditctl -l printed on this VM (see
	// testdata/auditctl-l.txt), for the seed's paths.
	tests := []struct {
		name, id, listing string
		want              check.Status
		msg               string
	}{
		{"both loaded", "audit.watch-identity",
			"-w /etc/passwd -p wa -k identity\n-w /etc/group -p wa -k identity\n", check.Pass, "all 2 watch(es) loaded"},
		{"broader perms and keys", "audit.watch-identity",
			"-w /etc/passwd -p rwa -k identity -k pci\n-w /etc/group -p wa -k identity\n", check.Pass, "covered by broader rules"},
		{"one missing", "audit.watch-identity",
			"-w /etc/passwd -p wa -k identity\n-w /etc/group -p w -k identity\n", check.Fail, "1 of 2 watch(es) not loaded: -w /etc/group -p wa -k identity"},
		{"wrong key", "audit.watch-sudo",
			"-w /etc/sudoers -p wa -k sudoers\n", check.Fail, "not loaded"},
		{"arch-restricted is not a watch", "audit.watch-ssh",
			"-a always,exit -F arch=b64 -S all -F path=/etc/ssh/sshd_config -F perm=wa -F key=ssh\n", check.Fail, "not loaded"},
		{"directory listed as dir=", "audit.watch-systemd",
			"-a always,exit -F dir=/etc/systemd -F perm=wa -F key=systemd\n", check.Pass, "all 1 watch(es) loaded"},
		{"no rules", "audit.watch-cron", "No rules\n", check.Fail, "-w /etc/crontab -p wa -k cron"},
		{"never rule first", "audit.watch-cron",
			"-a never,exit -F arch=b64 -S all -F path=/etc/crontab -F perm=wa\n-w /etc/crontab -p wa -k cron\n", check.Warn, "never rule listed before suppresses"},
		{"never rule after", "audit.watch-cron",
			"-w /etc/crontab -p wa -k cron\n-a never,exit -F arch=b64 -S all -F path=/etc/crontab -F perm=wa\n", check.Pass, "all 1 watch(es) loaded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := hosttest.New(t).SetCmd(CmdList, tt.listing, 0)
			r := runCheck(t, tt.id, f, policy.MustDefault(""), "25.11")
			if r.Status != tt.want || !strings.Contains(r.Message, tt.msg) {
				t.Errorf("%s: %q, want %s containing %q", r.Status, r.Message, tt.want, tt.msg)
			}
			if len(r.Evidence) != 1 || r.Evidence[0].Source != "auditctl -l" || r.Evidence[0].Text == "" {
				t.Errorf("evidence %+v", r.Evidence)
			}
			if r.Status == check.Fail {
				if !strings.Contains(r.Remediation.NixOS, `"-w /etc/passwd -p wa -k identity"`) || !strings.Contains(r.Remediation.Generic, "auditctl -w ") {
					t.Errorf("remediation %+v", r.Remediation)
				}
			}
		})
	}
}

func TestCheckWatchOtherAndApplies(t *testing.T) {
	p := policy.MustDefault("")
	p.Audit.Watches = []policy.Watch{
		{Path: "/etc/passwd", Perms: "wa", Key: "identity"},
		{Path: "/etc/hosts", Perms: "wa", Key: "network"},
		{Path: "/etc/shadow", Perms: "r"},
	}
	f := hosttest.New(t).SetCmd(CmdList, "-w /etc/hosts -p wa -k network\n-w /etc/shadow -p r\n", 0)
	if r := runCheck(t, "audit.watch-other", f, p, ""); r.Status != check.Pass || r.Message != "all 2 watch(es) loaded" {
		t.Errorf("other: %s %q", r.Status, r.Message)
	}
	if r := runCheck(t, "audit.watch-cron", f, p, ""); r.Status != check.Skip || !strings.Contains(r.Message, `no audit watch with key "cron"`) {
		t.Errorf("cron: %s %q", r.Status, r.Message)
	}
	if r := runCheck(t, "audit.watch-other", f, policy.MustDefault(""), ""); r.Status != check.Skip {
		t.Errorf("seed policy: watch-other %s", r.Status)
	}
	// Not root: unknown with the reason, never pass.
	f = hosttest.New(t)
	f.User = "alice"
	f.SetCmd(CmdList, "", 1).SetCmd(cmdDetectContainer, "none\n", 1)
	if r := runCheck(t, "audit.watch-identity", f, p, ""); r.Status != check.Unknown || !strings.Contains(r.Message, "needs root") {
		t.Errorf("not root: %s %q", r.Status, r.Message)
	}
}

func TestCheckNixOSSymlinkNote(t *testing.T) {
	listing := "-w /etc/ssh/sshd_config -p wa -k ssh\n"
	f := hosttest.New(t).SetCmd(CmdList, listing, 0)
	if r := runCheck(t, "audit.watch-ssh", f, policy.MustDefault(""), ""); r.Status != check.Pass || strings.Contains(r.Message, "NixOS") {
		t.Errorf("not NixOS: %s %q", r.Status, r.Message)
	}
	f.SetFile("/etc/NIXOS", "")
	if r := runCheck(t, "audit.watch-ssh", f, policy.MustDefault(""), ""); r.Status != check.Pass || !strings.Contains(r.Message, "symlink into /etc/static") {
		t.Errorf("NixOS: %s %q", r.Status, r.Message)
	}
}

func TestCheckContainer(t *testing.T) {
	// auditctl fails (nspawn drops CAP_AUDIT_CONTROL) inside a container.
	f := hosttest.New(t).SetCmd(cmdDetectContainer, "systemd-nspawn\n", 0).SetCmd(CmdList, "", 1).SetCmd(CmdStatus, "", 1)
	for _, id := range []string{"audit.enabled", "audit.watch-identity"} {
		if r := runCheck(t, id, f, policy.MustDefault(""), ""); r.Status != check.Skip || !strings.Contains(r.Message, "container (systemd-nspawn)") {
			t.Errorf("%s in a container: %s %q", id, r.Status, r.Message)
		}
	}
	// A container that reads the audit state is checked as usual.
	f.SetCmd(CmdList, "No rules\n", 0)
	if r := runCheck(t, "audit.watch-identity", f, policy.MustDefault(""), ""); r.Status != check.Fail {
		t.Errorf("readable in a container: %s", r.Status)
	}
	// "none" (exit 1, as systemd-detect-virt prints on a VM) is not a
	// container: unreadable stays unknown.
	f = hosttest.New(t).SetCmd(cmdDetectContainer, "none\n", 1).SetCmd(CmdList, "", 1)
	if r := runCheck(t, "audit.watch-identity", f, policy.MustDefault(""), ""); r.Status != check.Unknown {
		t.Errorf("not a container: %s", r.Status)
	}
}

func TestRemediationPerRelease(t *testing.T) {
	f := hosttest.New(t).SetCmd(CmdStatus, readFile(t, "testdata/auditctl-s-off.txt"), 0)
	old := runCheck(t, "audit.enabled", f, policy.MustDefault(""), "24.11")
	cur := runCheck(t, "audit.enabled", f, policy.MustDefault(""), "25.11")
	if strings.Contains(old.Remediation.NixOS, "audit-rules-nixos") || !strings.Contains(cur.Remediation.NixOS, "audit-rules-nixos") {
		t.Errorf("24.11:\n%s\n25.11:\n%s", old.Remediation.NixOS, cur.Remediation.NixOS)
	}
}
