package sshhost

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/internal/host"
)

// An admin's hosts usually have names only their ssh client configuration
// knows (Host web1 / HostName 192.0.2.10 / User admin / ProxyJump bastion).
// OpenSSH itself is the authority on what that configuration says for a
// host: `ssh -G HOST` evaluates it (Host and Match blocks, Include, tokens,
// defaults) and prints the result without connecting. rampart reads that
// output rather than parsing ssh_config a second time.

// ClientConfig is what OpenSSH's client configuration gives for one host:
// the settings rampart's SSH client uses.
type ClientConfig struct {
	HostName   string
	User       string
	Port       int
	Identities []string // IdentityFile, ~ expanded, in order
	KnownHosts []string // UserKnownHostsFile, then GlobalKnownHostsFile
	ProxyJump  string   // "" for none: hops, comma-separated, outermost first
}

// LoadClientConfig runs `ssh -G [-F FILE] -- ALIAS` on local (this
// machine) and parses its output; home expands ~.
func LoadClientConfig(ctx context.Context, local host.Host, alias, file, home string) (*ClientConfig, error) {
	if alias == "" || strings.HasPrefix(alias, "-") || strings.ContainsAny(alias, " \t\r\n") {
		return nil, fmt.Errorf("ssh -G: host %q: expected a host name or alias", host.SafeText(alias))
	}
	args := []string{"-G"}
	if file != "" {
		args = append(args, "-F", file)
	}
	args = append(args, "--", alias)
	c := host.C("ssh", args...)
	out, err := host.RunOK(ctx, local, c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c, err)
	}
	cfg, err := ParseClientConfig(c.String(), out, home)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// ParseClientConfig reads `ssh -G` output (name is the command, for
// errors): one "keyword value…" line per setting, keywords in lower case.
// A setting rampart's client cannot honour is an error rather than
// something quietly done otherwise than ssh would: a ProxyCommand (only
// ProxyJump is supported) and a HostKeyAlias (known_hosts is checked
// under the name rampart connects to).
func ParseClientConfig(name string, out []byte, home string) (*ClientConfig, error) {
	cfg := &ClientConfig{}
	expand := func(p string) string {
		if rest, ok := strings.CutPrefix(p, "~/"); ok && home != "" {
			return filepath.Join(home, rest)
		}
		return p
	}
	var user, global []string
	for i, line := range strings.Split(string(bytes.TrimRight(out, "\n")), "\n") {
		key, val, _ := strings.Cut(strings.TrimSpace(line), " ")
		val = strings.TrimSpace(val)
		at := func(format string, a ...any) error {
			return fmt.Errorf("%s: line %d: %s: %s", name, i+1, key, fmt.Sprintf(format, a...))
		}
		switch key {
		case "hostname":
			if !nameOf(val, ".-_:%") {
				return nil, at("%q is not a host name or address", host.SafeText(val))
			}
			cfg.HostName = val
		case "user":
			if !nameOf(val, ".-_") {
				return nil, at("%q is not a user name", host.SafeText(val))
			}
			cfg.User = val
		case "port":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 65535 {
				return nil, at("%q is not a port from 1 to 65535", host.SafeText(val))
			}
			cfg.Port = n
		case "identityfile":
			cfg.Identities = append(cfg.Identities, expand(val))
		case "userknownhostsfile":
			for _, f := range strings.Fields(val) {
				user = append(user, expand(f))
			}
		case "globalknownhostsfile":
			for _, f := range strings.Fields(val) {
				global = append(global, expand(f))
			}
		case "proxyjump":
			if val != "none" {
				cfg.ProxyJump = val
			}
		case "proxycommand":
			if val != "none" {
				return nil, at("%q: a ProxyCommand is not supported (ProxyJump is)", host.SafeText(val))
			}
		case "hostkeyalias":
			if val != "none" {
				return nil, at("%q: HostKeyAlias is not supported (known_hosts is checked for the HostName)", host.SafeText(val))
			}
		}
	}
	if cfg.HostName == "" {
		return nil, fmt.Errorf("%s: no hostname line: is this ssh -G output?", name)
	}
	if cfg.Port == 0 {
		cfg.Port = 22
	}
	cfg.KnownHosts = append(user, global...)
	return cfg, nil
}

// nameOf reports whether s is a name made of ASCII letters, digits and
// the bytes of extra, not starting with "-" (which ssh, sudo and every
// other program would take for an option).
func nameOf(s, extra string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}
