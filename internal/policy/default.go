package policy

import "fmt"

// Default returns the embedded default policy for a profile: "baseline" is
// the hardened internet-facing server rampart is built for (its published
// NixOS configuration, corrected where that is wrong), "tailnet" adds
// SSH only over Tailscale. Site-specific values (admin users, the example LAN, the auth-key
// path) are left empty or at an example; `rampart policy init`
// shows them as commented examples.
func Default(profile string) (*Policy, error) {
	p := &Policy{
		Profile: ProfileBaseline,
		SSH: SSH{
			Enabled:                      true,
			Ports:                        []int{22},
			PasswordAuthentication:       false,
			KbdInteractiveAuthentication: false,
			PermitRootLogin:              "prohibit-password",
			MaxAuthTries:                 3,
			ClientAliveInterval:          Dur("300s"),
			ClientAliveCountMax:          2,
			AllowTCPForwarding:           false,
			X11Forwarding:                false,
		},
		Ban: Ban{
			Enabled:     true,
			Engine:      EngineRampart,
			Bantime:     Dur("1h"),
			Findtime:    Dur("10m"),
			Maxretry:    3,
			Ignore:      []string{"127.0.0.1/8", "::1"},
			Increment:   Increment{Enabled: false, Factor: 2, Max: Dur("1w")},
			IPv6Prefix:  128,
			MaxTracked:  100000,
			StateDir:    "/var/lib/rampart",
			Socket:      "/run/rampart/guard.sock",
			SocketGroup: "rampart",
			Table:       "rampart",
			Jails: []Jail{
				{
					Name:     "sshd",
					Enabled:  true,
					Filter:   "sshd",
					Mode:     "normal",
					Source:   "journal",
					Journal:  []string{"_SYSTEMD_UNIT=sshd.service", "_SYSTEMD_UNIT=ssh.service", "_COMM=sshd", "_COMM=sshd-session", "SYSLOG_IDENTIFIER=sshd", "SYSLOG_IDENTIFIER=sshd-session"},
					Ports:    []int{22},
					Maxretry: 3,
				},
				{
					Name:     "nginx-noscript",
					Enabled:  true,
					Filter:   "nginx-noscript",
					Mode:     "normal",
					Source:   "file",
					Paths:    []string{"/var/log/nginx/access.log"},
					Ports:    []int{80, 443},
					Maxretry: 6,
				},
			},
		},
		Audit: Audit{
			Enabled: true,
			Watches: []Watch{
				{Path: "/etc/passwd", Perms: "wa", Key: "identity"},
				{Path: "/etc/group", Perms: "wa", Key: "identity"},
				{Path: "/etc/ssh/sshd_config", Perms: "wa", Key: "ssh"},
				{Path: "/etc/sudoers", Perms: "wa", Key: "sudo"},
				{Path: "/etc/crontab", Perms: "wa", Key: "cron"},
				{Path: "/etc/systemd", Perms: "wa", Key: "systemd"},
			},
		},
		Sysctl: Sysctls{
			{"net.ipv4.ip_forward", 0},
			{"net.ipv4.conf.all.accept_redirects", 0},
			{"net.ipv4.conf.all.send_redirects", 0},
			{"net.ipv4.conf.all.rp_filter", 1},
			{"net.ipv4.tcp_syncookies", 1},
			{"net.ipv4.tcp_max_syn_backlog", 2048},
			{"net.ipv4.tcp_synack_retries", 2},
		},
		Time: Time{Chrony: true, MaxOffset: Dur("100ms")},
		Journald: Journald{
			MaxRetention:      Dur("1month"),
			SystemMaxFileSize: Size{Bytes: 1000 << 20, Text: "1000M"},
			SystemMaxFiles:    10,
			Storage:           "persistent",
		},
		Tailnet: Tailnet{
			Enabled:            false,
			Interface:          "tailscale0",
			OpenFirewall:       true,
			Port:               41641,
			UseRoutingFeatures: "none",
			Addresses:          []string{"100.64.0.0/10", "fd7a:115c:a1e0::/48"},
		},
		Firewall: Firewall{Enabled: true},
		Fleet:    Fleet{Stream: "RAMPART_BANS", Share: true, Accept: true, Rate: 100, Burst: 1000, OutboxMax: 100000},
		Source:   "(default)",
	}
	switch profile {
	case "", ProfileBaseline:
	case ProfileTailnet:
		p.Profile = ProfileTailnet
		p.Tailnet.Enabled = true
		// AuthKeyFile stays empty: it is site-specific (policy init shows
		// "/run/secrets/tailscale-authkey" as a commented example).
		p.SSH.TailnetOnly = true
	default:
		return nil, fmt.Errorf("unknown profile %q (expected %q or %q)", profile, ProfileBaseline, ProfileTailnet)
	}
	return p, nil
}

// MustDefault is Default for a known profile; it panics on an unknown one.
func MustDefault(profile string) *Policy {
	p, err := Default(profile)
	if err != nil {
		panic(err)
	}
	return p
}
