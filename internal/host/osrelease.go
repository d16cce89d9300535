package host

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// NixOSMarker exists on every NixOS system (an empty file).
const NixOSMarker = "/etc/NIXOS"

// OSReleasePaths are where os-release(5) lives, in the order it is looked
// up.
var OSReleasePaths = []string{"/etc/os-release", "/usr/lib/os-release"}

// OSNameFrom reads the host's operating system name from os-release(5),
// given OSReleasePaths already read in that order (a run reads them in its
// batch with other files): PRETTY_NAME ("Debian GNU/Linux 12 (bookworm)"),
// or NAME and VERSION_ID when PRETTY_NAME is unset, from the first file
// that could be read. The file is the host's, so the name is stripped of
// control characters and bounded.
func OSNameFrom(rs []FileResult) (string, error) {
	var lastErr error
	for i, r := range rs {
		if i >= len(OSReleasePaths) {
			break
		}
		if r.Err != nil {
			lastErr = r.Err
			continue
		}
		name := ParseOSRelease(r.Data)
		if name == "" {
			return "", fmt.Errorf("%s: no PRETTY_NAME or NAME", OSReleasePaths[i])
		}
		return name, nil
	}
	if lastErr == nil {
		lastErr = errors.New("no os-release file read")
	}
	return "", lastErr
}

// maxOSName bounds the OS name shown in reports.
const maxOSName = 80

// ParseOSRelease returns the display name an os-release file gives, or "".
func ParseOSRelease(b []byte) string {
	vals := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil && strings.HasPrefix(v, `"`) {
			v = uq
		} else if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = v[1 : len(v)-1]
		}
		vals[k] = v
	}
	name := vals["PRETTY_NAME"]
	if name == "" {
		name = strings.TrimSpace(vals["NAME"] + " " + vals["VERSION_ID"])
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, name)
	if r := []rune(name); len(r) > maxOSName {
		name = string(r[:maxOSName-1]) + "…"
	}
	return name
}
