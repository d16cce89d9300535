package sshhost

import (
	"fmt"
	"strings"

	"github.com/rampart-sec/rampart/internal/host"
)

// remotePath is the PATH commands run with: system directories of Debian
// and NixOS, sbin included (sshd, nft, auditctl live there).
const remotePath = "/run/wrappers/bin:/run/current-system/sw/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Quote single-quotes s for a POSIX shell (and fish, for text without
// backslashes): the remote login shell sees exactly s.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// CommandLine is the string sent to the remote shell for c: env with a
// fixed PATH and LC_ALL=C, behind "sudo -n" when sudo is true.
func CommandLine(c host.Cmd, sudo bool) (string, error) {
	if c.Name == "" || strings.HasPrefix(c.Name, "-") || strings.ContainsAny(c.Name, "\x00\n=") {
		return "", fmt.Errorf("invalid program name %q", host.SafeText(c.Name))
	}
	parts := []string{}
	if sudo {
		parts = append(parts, "sudo", "-n", "--")
	}
	parts = append(parts, "env", "LC_ALL=C", "PATH="+remotePath, Quote(c.Name))
	for _, a := range c.Args {
		if strings.ContainsRune(a, 0) {
			return "", fmt.Errorf("%s: argument contains a NUL byte", c.Name)
		}
		parts = append(parts, Quote(a))
	}
	return strings.Join(parts, " "), nil
}

// globScript lists the paths matching pattern, NUL-terminated. The pattern
// is restricted to characters that mean nothing to the shell besides
// globbing, so it can sit unquoted in the for list.
func globScript(pattern string) (string, error) {
	if !strings.HasPrefix(pattern, "/") {
		return "", fmt.Errorf("glob %q: pattern must be an absolute path", host.SafeText(pattern))
	}
	for _, r := range pattern {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-*?[]+@,:=!", r)
		if !ok {
			return "", fmt.Errorf("glob %q: character %q is not allowed in a remote glob pattern", host.SafeText(pattern), r)
		}
	}
	return `for f in ` + pattern + `; do if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi; done`, nil
}
