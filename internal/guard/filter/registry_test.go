package filter_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/guard/filter"
	"github.com/rampart-sec/rampart/internal/guard/logline"
	"github.com/rampart-sec/rampart/internal/policy"
)

// example is a filter registered only in this test binary: the policy
// accepts it, and its modes, without knowing its name.
type example struct{ mode string }

func (example) Name() string                           { return "example" }
func (example) Match(*logline.Line) (filter.Hit, bool) { return filter.Hit{}, false }

func init() {
	filter.Register(&filter.Builtin{
		Name: "example", Modes: []string{"normal", "strict"}, Help: "test filter",
		New: func(mode string) (filter.Filter, error) { return example{mode}, nil },
	})
}

func jailPolicy(filterName, mode string) string {
	s := "[ban.jails.x]\nfilter = \"" + filterName + "\"\njournal = [\"_COMM=x\"]\n"
	if mode != "" {
		s += "mode = \"" + mode + "\"\n"
	}
	return s
}

func TestPolicyAcceptsRegisteredFilter(t *testing.T) {
	for _, b := range filter.Builtins() {
		for _, m := range b.Modes {
			if _, err := policy.Parse("p.toml", []byte(jailPolicy(b.Name, m))); err != nil {
				t.Errorf("filter %s mode %s: %v", b.Name, m, err)
			}
			if f, err := filter.New(b.Name, m); err != nil || f.Name() != b.Name {
				t.Errorf("filter.New(%s, %s) = %v, %v", b.Name, m, f, err)
			}
		}
	}
	if !slices.Contains(filter.Names(), "example") {
		t.Fatalf("Names() = %v, want the registered example", filter.Names())
	}
	_, err := policy.Parse("p.toml", []byte(jailPolicy("example", "loud")))
	want := `p.toml:4:8: ban.jails.x.mode: invalid value "loud" (expected "normal" or "strict")`
	if err == nil || err.Error() != want {
		t.Errorf("mode loud: got %v, want %s", err, want)
	}
	_, err = policy.Parse("p.toml", []byte(jailPolicy("exampel", "")))
	if err == nil || !strings.Contains(err.Error(), `p.toml:2:10: ban.jails.x.filter: unknown filter "exampel" (expected "example", "nginx-noscript", "sshd" or "fail2ban:/path/to/filter.conf")`) {
		t.Errorf("unknown filter: got %v", err)
	}
	init, err := policy.InitTOML("")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`# "example", "nginx-noscript", "sshd" or "fail2ban:/path/to/filter.conf"`, `# example filter: "normal" or "strict"; sshd filter: "normal", "aggressive", "ddos" or "extra"`} {
		if !strings.Contains(string(init), want) {
			t.Errorf("policy init does not say %s", want)
		}
	}
}

func TestRegisterRefuses(t *testing.T) {
	for name, b := range map[string]*filter.Builtin{
		"duplicate":         {Name: "sshd", Modes: []string{"normal"}, Help: "x", New: func(string) (filter.Filter, error) { return example{}, nil }},
		"default not first": {Name: "y", Modes: []string{"strict", "normal"}, Help: "x", New: func(string) (filter.Filter, error) { return example{}, nil }},
		"no constructor":    {Name: "z", Modes: []string{"normal"}, Help: "x"},
		"fail2ban prefix":   {Name: filter.Fail2banPrefix + "x", Modes: []string{"normal"}, Help: "x", New: func(string) (filter.Filter, error) { return example{}, nil }},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Register accepted it")
				}
			}()
			filter.Register(b)
		})
	}
	if _, ok := filter.Lookup("y"); ok {
		t.Error("a refused filter was registered")
	}
}
