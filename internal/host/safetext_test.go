package host

import "testing"

func TestSafeText(t *testing.T) {
	for in, want := range map[string]string{
		"ok\x1b[31mred\x07\r\nnext\xff": "ok\\x1b[31mred\\x07\\x0d\nnext\uFFFD",
		"plain\ttext\n":                 "plain\ttext\n",
		"é ✓ \u009b2J \x7f":             "é ✓ \\x9b2J \\x7f",
	} {
		if got := SafeText(in); got != want {
			t.Errorf("SafeText(%q) = %q, want %q", in, got, want)
		}
	}
}
