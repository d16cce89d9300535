// Package policy defines rampart's one policy: the model of a hardened
// internet-facing server that every command reads (nix renders it, verify
// checks it, guard enforces its jails, audit loads its watches, lockdown
// applies its tailnet-only SSH).
//
// With no policy file, Default returns the seed system: fail2ban-style jails
// (bantime 1h, findtime 10m, maxretry 3; an sshd and an nginx-noscript jail),
// six audit watches, a locked-down OpenSSH, seven network sysctls, chrony and
// journald retention. The "tailnet" profile adds Tailscale with SSH reachable
// only over tailscale0.
//
// Loading is strict: unknown keys, bad types and bad values are errors that
// name FILE:LINE:COL, and every error in a file is reported, not only the
// first.
package policy
