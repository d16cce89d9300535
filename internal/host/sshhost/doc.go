// Package sshhost is host.Host on a remote machine over SSH
// (golang.org/x/crypto/ssh), so rampart verify --host runs every check
// remotely through the same seam as locally.
//
// Safety rules it enforces:
//   - the server's host key must be in known_hosts (the user's, the
//     system's, or --known-hosts FILE); an unknown or changed key is
//     refused with a message that says what to do, never accepted;
//   - authentication is by key only (ssh-agent, then key files), never
//     a password;
//   - every argument is single-quoted for the remote shell, and programs
//     run under env with a fixed PATH and LC_ALL=C;
//   - one connection carries every command, run in a few long-lived
//     shells (shell.go: a session per command cost the server more CPU
//     than the commands themselves), with random end-of-output markers no
//     output can forge, and a bound on sessions below sshd's MaxSessions;
//   - remote output is hostile: each stream is capped in size, and text
//     put into error messages is stripped of control characters.
package sshhost
