package nixfacts

import "strings"

// namespaces are the top-level NixOS option sets whose paths OptionPaths
// finds in text.
var namespaces = []string{"services", "boot", "networking", "security", "users", "systemd", "environment", "profiles", "system", "programs", "hardware", "virtualisation", "nix"}

// OptionPaths returns the NixOS option paths that text names: a word
// starting with a top-level option set ("services", "boot", …) followed by
// at least one ".segment", where a segment is a Nix identifier, a quoted
// name (boot.kernel.sysctl."net.ipv4.ip_forward") or a placeholder in angle
// brackets (users.users.<name>, returned as "*"). Paths inside another
// expression (config.services.x) or a file name (/etc/systemd/x) are not
// words of their own and are skipped. With Known it checks that every
// option remediation text prints exists in a release.
func OptionPaths(text string) [][]string {
	var out [][]string
	for i := 0; i < len(text); i++ {
		if i > 0 && !boundary(text[i-1]) {
			continue
		}
		for _, ns := range namespaces {
			if !strings.HasPrefix(text[i:], ns+".") {
				continue
			}
			path, n := segments(text[i+len(ns):])
			if len(path) > 0 {
				out = append(out, append([]string{ns}, path...))
				i += len(ns) + n - 1
			}
			break
		}
	}
	return out
}

// UnknownOptions checks every option path text names (OptionPaths) with
// Known for release r and returns the errors.
func UnknownOptions(r Release, text string) []error {
	var errs []error
	for _, path := range OptionPaths(text) {
		if err := Known(r, path); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func boundary(c byte) bool {
	return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.-/'\"$<", c) >= 0)
}

func identByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '\''
}

// segments reads ".seg.seg…" at the start of s and returns the segments
// and the bytes read.
func segments(s string) ([]string, int) {
	var out []string
	i := 0
	for i+1 < len(s) && s[i] == '.' {
		j := i + 1
		switch {
		case s[j] == '"':
			end := strings.IndexByte(s[j+1:], '"')
			if end < 0 {
				return out, i
			}
			out = append(out, s[j+1:j+1+end])
			j += end + 2
		case s[j] == '<':
			end := strings.IndexByte(s[j:], '>')
			if end < 0 {
				return out, i
			}
			out = append(out, "*")
			j += end + 1
		case identByte(s[j]) && s[j] != '-' && s[j] != '\'':
			for j < len(s) && identByte(s[j]) {
				j++
			}
			out = append(out, s[i+1:j])
		default:
			return out, i
		}
		i = j
	}
	return out, i
}
