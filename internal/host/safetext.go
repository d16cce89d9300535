package host

import (
	"fmt"
	"strings"
)

// SafeText makes text read from a host safe to print on a terminal:
// control characters (escape sequences included) other than newline and
// tab are shown as \xNN, invalid UTF-8 as \uFFFD. It is rampart's one
// sanitiser: the check runner applies it to every result's message and
// evidence (remote output is attacker-controlled), the renderers to what
// they print, and the SSH host to the remote text in its errors.
func SafeText(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\n' && c != '\t') || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Truncate keeps the first n bytes of s, marking a cut with "…": for
// quoting what a host wrote into an error message without quoting all of
// it.
func Truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
