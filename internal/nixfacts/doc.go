// Package nixfacts holds what rampart knows about NixOS options, per
// release, as data: which option paths exist in each release of
// Releases (release.go holds the one list, with end-of-life dates), which
// were renamed, removed or never existed (mistakes that published
// hardening guides commonly make), their types, and the nixpkgs file each fact comes
// from (Fact.Source, a path under nixos/modules/ on the release's
// nixos-RR.MM branch of nixpkgs, where the option is declared or renamed).
//
// On top of the facts it maps policy topics to option definitions. The
// NixOS renderer (internal/nixgen) and the remediation text of `rampart
// verify` both use this one mapping, so a fix printed by verify is exactly
// what `rampart nix` would emit. Every definition the renderer emits is
// passed through Check, which refuses paths absent in the release and
// values of the wrong type.
//
// Topics are policy field paths. Remediation(rel, topic, policy) returns
// the Nix line(s) for one of these (unknown topic: ""):
//
//	ssh.enabled, ssh.ports, ssh.tailnet_only, ssh.password_authentication,
//	ssh.kbd_interactive_authentication, ssh.permit_root_login,
//	ssh.max_auth_tries, ssh.client_alive_interval,
//	ssh.client_alive_count_max, ssh.allow_tcp_forwarding, ssh.x11_forwarding
//	admin.users.<name>, admin.sudo
//	ban.enabled, ban.bantime, ban.maxretry, ban.findtime, ban.ignore,
//	ban.increment, ban.jails.<name>, ban.log_files (nginx logs created at boot)
//	audit.enabled, audit.backlog_limit, audit.watches
//	sysctl.<name>                  (e.g. sysctl.net.ipv4.tcp_syncookies)
//	time.chrony, time.servers
//	journald.storage, journald.max_retention,
//	journald.system_max_file_size, journald.system_max_files
//	tailnet.enabled, tailnet.open_firewall, tailnet.port, tailnet.interface,
//	tailnet.auth_key_file, tailnet.use_routing_features
//	firewall.enabled, firewall.trusted_interfaces,
//	firewall.allowed_tcp_ports, firewall.allowed_udp_ports
//
// A prefix selects every topic under it: "ssh", "ban", "ban.jails",
// "sysctl", "journald", "admin.users", "tailnet", "firewall", "audit".
package nixfacts
