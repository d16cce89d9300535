// Package policy defines rampart's one policy: the model of a hardened
// internet-facing server that every command reads (nix renders it, verify
// checks it, guard enforces its jails, audit loads its watches, lockdown
// applies its tailnet-only SSH).
//
// With no policy file, Default returns the baseline system: fail2ban-style jails
// (bantime 1h, findtime 10m, maxretry 3; an sshd and an nginx-noscript jail),
// six audit watches, a locked-down OpenSSH, seven network sysctls, chrony and
// journald retention. The "tailnet" profile adds Tailscale with SSH reachable
// only over tailscale0.
//
// # The file
//
// A policy file is TOML (InitTOML writes a commented one). It starts from
// Default(profile) — the "profile" key, else the caller's Options.Profile —
// and overrides what it sets:
//
//   - plain keys and lists replace the default value; a list replaces the
//     whole default list ([[admin.users]], [[audit.watches]], ban.ignore …);
//   - jails are tables keyed by name, [ban.jails.sshd], as fail2ban users
//     know them; a table with a default jail's name merges onto that jail, a
//     new name adds a jail after the defaults (enabled, mode "normal", source
//     "file" if it has paths else "journal"); a default jail is turned off
//     with enabled = false, not removed;
//   - [sysctl] takes quoted dotted names ("net.ipv4.ip_forward" = 0) and
//     merges the same way, keeping file order for new names;
//   - durations are strings ("10m", "1h", "1month") or whole seconds, sizes
//     strings ("1000M") or whole bytes; an empty list is nil.
//
// # Validation
//
// Loading is strict and reports every problem, not only the first, each as
// an Issue rendered "FILE:LINE:COL: field: message" (the column of the
// offending value, or of the key for unknown keys). Unknown keys get a
// did-you-mean. Types, durations, addresses and CIDRs, ports, enums,
// sysctl names and ranges (KnownSysctls), audit permissions and keys, jail
// filters, authorized keys, user names, paths and cross-field rules are
// checked. BurntSushi/toml decodes and reports syntax errors with their
// position; since it keeps key positions private, a small scanner (index.go)
// records where each key and value sits in the source.
//
// Lock-out risks — password and keyboard-interactive logins off with no
// admin authorized key, or SSH only over the tailnet without an auth-key
// file — are kept apart from validation errors, because the embedded default
// has both (admin keys and the auth-key path are site-specific): Parse and
// Load accept them and Policy.LockoutRisks lists them, so `rampart nix` can
// refuse unless --allow-lockout-risk; Options.Strict (used by `rampart
// policy check FILE`) reports them as positioned errors instead.
package policy
