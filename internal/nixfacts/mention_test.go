package nixfacts

import (
	"strings"
	"testing"
)

func TestOptionPaths(t *testing.T) {
	text := `services.openssh.settings.PasswordAuthentication = false;
boot.kernel.sysctl."net.ipv4.conf.all.rp_filter" = 1; # see services.tailscale.useRoutingFeatures.
remove the Match block from services.openssh.extraConfig, or users.users.<admin>.openssh.authorizedKeys.keys
services.fail2ban.bantime-increment.enable = true;
not paths: /etc/systemd/journald.conf.d, systemd-journald, config.services.nginx.enable, ${config.services.nginx.user},
net.ipv4.ip_forward = 0, nixosModules.default, services alone, services. and "services.quoted".`
	var got []string
	for _, p := range OptionPaths(text) {
		got = append(got, strings.Join(p, "|"))
	}
	want := []string{
		"services|openssh|settings|PasswordAuthentication",
		"boot|kernel|sysctl|net.ipv4.conf.all.rp_filter",
		"services|tailscale|useRoutingFeatures",
		"services|openssh|extraConfig",
		"users|users|*|openssh|authorizedKeys|keys",
		"services|fail2ban|bantime-increment|enable",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("OptionPaths:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestKnown: the placeholder and quoted forms OptionPaths returns are
// judged like the paths the renderer defines.
func TestKnown(t *testing.T) {
	for _, tc := range []struct {
		rel  Release
		path string
		ok   bool
	}{
		{R2605, "users.users.*.openssh.authorizedKeys.keys", true},
		{R2605, "boot.kernel.sysctl.net.ipv4.ip_forward", false}, // one quoted segment, not four
		{R2605, "services.journald.extraConfig", true},
		{R2611, "services.journald.extraConfig", false},
		{R2611, "services.journald.settings.Journal.MaxRetentionSec", true},
		{R2605, "services.openssh.settings.PermitEmptyPasswords", true},
		{R2605, "services.openssh.permitEmptyPasswords", false},
		{R2605, "services.timesyncd.enable", true},
		{R2605, "services.fail2ban.findtime", false},
	} {
		path := strings.Split(tc.path, ".")
		if strings.HasPrefix(tc.path, "boot.kernel.sysctl.") && tc.ok {
			path = append([]string{"boot", "kernel", "sysctl"}, strings.TrimPrefix(tc.path, "boot.kernel.sysctl."))
		}
		if err := Known(tc.rel, path); (err == nil) != tc.ok {
			t.Errorf("Known(%s, %s) = %v, want ok %v", tc.rel, tc.path, err, tc.ok)
		}
	}
	if err := Known(R2605, []string{"boot", "kernel", "sysctl", "net.ipv4.ip_forward"}); err != nil {
		t.Errorf("quoted sysctl key: %v", err)
	}
}
