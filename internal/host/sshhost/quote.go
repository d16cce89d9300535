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
	args, err := quotedArgs(c)
	if err != nil {
		return "", err
	}
	prefix := "env LC_ALL=C PATH=" + remotePath + " " + Quote(c.Name)
	if sudo {
		prefix = "sudo -n -- " + prefix
	}
	return prefix + args, nil
}

// quotedArgs checks c's name and arguments and quotes the arguments, each
// after a space.
func quotedArgs(c host.Cmd) (string, error) {
	if c.Name == "" || strings.HasPrefix(c.Name, "-") || strings.ContainsAny(c.Name, "\x00\n=") {
		return "", fmt.Errorf("invalid program name %q", host.SafeText(c.Name))
	}
	var b strings.Builder
	for _, a := range c.Args {
		if strings.ContainsRune(a, 0) {
			return "", fmt.Errorf("%s: argument contains a NUL byte", c.Name)
		}
		b.WriteByte(' ')
		b.WriteString(Quote(a))
	}
	return b.String(), nil
}

// shellLine is the line one of the long-lived shells runs for c: the
// program and its quoted arguments (the shell already runs under env with
// the fixed PATH and LC_ALL=C), or CommandLine's sudo form, since sudo
// resets the environment. A name the shell would take as one of its
// builtins (printf, kill, test) goes through env too, so the program that
// runs is the one the name means on every shell.
func shellLine(c host.Cmd, sudo bool) (string, error) {
	if sudo || shellBuiltins[c.Name] {
		return CommandLine(c, sudo)
	}
	args, err := quotedArgs(c)
	if err != nil {
		return "", err
	}
	// Quoted always: a quoted word is never a keyword ('if', '!').
	return "'" + strings.ReplaceAll(c.Name, "'", `'\''`) + "'" + args, nil
}

// shellBuiltins are the regular and special builtins of dash and bash.
var shellBuiltins = map[string]bool{}

func init() {
	for _, b := range strings.Fields(`. : [ alias bg break builtin cd command continue echo eval exec exit export false fc fg
		getopts hash jobs kill let local printf pwd read readonly return set shift test times trap true type typeset
		ulimit umask unalias unset wait`) {
		shellBuiltins[b] = true
	}
}

// globScript lists the paths matching pattern, NUL-terminated. All names
// go out in one printf, one write: a write per name was a packet per
// name, and /proc/[0-9]*/cmdline names every process.
func globScript(pattern string) (string, error) {
	if err := checkPattern(pattern); err != nil {
		return "", err
	}
	return globMatches(pattern, `printf '%s\0' "$@"`), nil
}

// checkPattern accepts an absolute pattern of characters that mean
// nothing to the shell besides globbing, so it can sit unquoted in the
// word list of set.
func checkPattern(pattern string) error {
	if !strings.HasPrefix(pattern, "/") {
		return fmt.Errorf("glob %q: pattern must be an absolute path", host.SafeText(pattern))
	}
	for _, r := range pattern {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-*?[]+@,:=!", r)
		if !ok {
			return fmt.Errorf("glob %q: character %q is not allowed in a remote glob pattern", host.SafeText(pattern), r)
		}
	}
	return nil
}

// globMatches is the shell text that expands pattern (checkPattern's)
// into "$@" and runs then when it matched. A pattern that matches nothing
// stays as it is, one word: that word counts only if it names an entry (a
// plain path, or a name holding the pattern's characters).
func globMatches(pattern, then string) string {
	return `set -- ` + pattern + `; if [ $# -gt 1 ] || [ -e "$1" ] || [ -L "$1" ]; then ` + then + `; fi`
}

// missingLine is the shell line that reads path as root: cat, unless the
// path does not exist, which the shell answers itself (root is never
// denied the lookup, so not existing is the whole answer, and a fleet run
// is bound by process starts). The error is worded as cat's, which
// ReadFile tells apart.
func missingLine(path string) string {
	q := Quote(path)
	return "if [ -e " + q + " ] || [ -L " + q + " ]; then cat -- " + q + "; else printf 'cat: %s: No such file or directory\\n' " + q + " >&2; false; fi"
}
