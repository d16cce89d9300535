package lazyre

import (
	"regexp"
	"sync"
	"testing"
)

// A Regexp answers as the compiled expression does, compiles once however
// many goroutines ask first, and a bad pattern panics at its first use,
// not before.
func TestRegexp(t *testing.T) {
	const expr = `^[a-z0-9][a-z0-9._-]{0,7}$`
	r, want := New(expr), regexp.MustCompile(expr)
	var wg sync.WaitGroup
	for _, s := range []string{"a", "node-1", "a.b_c-d9", "toolong-1", "-lead", "", "UP", "a\nb"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := r.MatchString(s); got != want.MatchString(s) {
				t.Errorf("MatchString(%q) = %v, want %v", s, got, !got)
			}
		}()
	}
	wg.Wait()
	p := New(`\{[^{}]*\}`)
	if got := p.FindAllString("{ip} and {jail} {", -1); len(got) != 2 || got[0] != "{ip}" || got[1] != "{jail}" {
		t.Errorf("FindAllString = %q", got)
	}
	if r.String() != expr {
		t.Errorf("String() = %q", r.String())
	}
	bad := New(`(`) // must not panic here
	defer func() {
		if recover() == nil {
			t.Error("a pattern that does not compile did not panic at its first use")
		}
	}()
	bad.MatchString("x")
}
