package source_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/guard/source"
	"github.com/rampart-sec/rampart/internal/policy"
)

// exampleSource is of a kind registered only in this test binary: the policy
// accepts it, and reports its Check problems, without knowing its name.
type exampleSource struct{ paths []string }

func (e *exampleSource) Key() string { return "example:" + strings.Join(e.paths, ",") }
func (e *exampleSource) Run(context.Context, source.Cursor, chan<- source.Record) error {
	return nil
}

func init() {
	source.Register(&source.Kind{
		Name: "example",
		Help: "paths below, read by the example",
		Check: func(c source.Config) []source.Problem {
			if len(c.Paths) != 1 {
				return []source.Problem{{Field: "source", Msg: `source "example" needs exactly one path`}}
			}
			return nil
		},
		Keys: func(c source.Config) []string { return []string{"example:" + c.Paths[0]} },
		New: func(cs []source.Config, _ source.Env) ([]source.Source, error) {
			var ps []string
			for _, c := range cs {
				ps = append(ps, c.Paths...)
			}
			return []source.Source{&exampleSource{ps}}, nil
		},
	})
}

func TestPolicyAcceptsRegisteredKind(t *testing.T) {
	ok := "[ban.jails.x]\nfilter = \"sshd\"\nsource = \"example\"\npaths = [\"/var/log/x.log\"]\n"
	p, err := policy.Parse("p.toml", []byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	j, _ := p.Ban.Jail("x")
	srcs, err := source.Build([]source.Config{j.SourceConfig()}, source.Env{})
	if err != nil || len(srcs) != 1 || srcs[0].Key() != "example:/var/log/x.log" {
		t.Fatalf("Build = %v, %v", srcs, err)
	}
	bad := "[ban.jails.x]\nfilter = \"sshd\"\nsource = \"example\"\npaths = [\"/a\", \"/b\"]\n"
	_, err = policy.Parse("p.toml", []byte(bad))
	if want := `p.toml:3:10: ban.jails.x.source: source "example" needs exactly one path`; err == nil || err.Error() != want {
		t.Errorf("two paths: got %v, want %s", err, want)
	}
	_, err = policy.Parse("p.toml", []byte("[ban.jails.sshd]\nsource = \"exampel\"\n"))
	if want := `p.toml:2:10: ban.jails.sshd.source: invalid value "exampel" (expected "journal", "example", "file" or "stdin")`; err == nil || err.Error() != want {
		t.Errorf("unknown kind: got %v, want %s", err, want)
	}
	init, err := policy.InitTOML("")
	if err != nil {
		t.Fatal(err)
	}
	if want := `# "journal" (matches below), "example" (paths below, read by the example), "file" (paths below) or "stdin"`; !strings.Contains(string(init), want) {
		t.Errorf("policy init does not say %s", want)
	}
}

func keys(ss []source.Source) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Key())
	}
	return out
}

func TestBuild(t *testing.T) {
	cs := []source.Config{
		{Jail: "a", Kind: "file", Paths: []string{"/var/log/a.log", "/var/log/b.log"}},
		{Jail: "b", Kind: "journal", Journal: []string{"_COMM=sshd", "SYSLOG_IDENTIFIER=sshd-session"}},
		{Jail: "c", Kind: "stdin"},
		{Jail: "d", Kind: "file", Paths: []string{"/var/log/b.log"}},
		{Jail: "e", Journal: []string{"_COMM=sshd", "_SYSTEMD_UNIT=ssh.service"}}, // "" is the journal
	}
	srcs, err := source.Build(cs, source.Env{Stdin: strings.NewReader("")})
	if err != nil {
		t.Fatal(err)
	}
	// One journal reader for the union of the matches, one tailer per
	// distinct path, kinds in the order of Kinds.
	if got, want := keys(srcs), []string{"journal", "file:/var/log/a.log", "file:/var/log/b.log", "stdin"}; !slices.Equal(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
	j, ok := srcs[0].(*source.Journal)
	if !ok || !slices.Equal(j.Matches, []string{"_COMM=sshd", "SYSLOG_IDENTIFIER=sshd-session", "_SYSTEMD_UNIT=ssh.service"}) {
		t.Errorf("journal source = %#v", srcs[0])
	}
	// Each kind's keys name the records its sources send.
	for _, c := range cs {
		k, err := source.KindOf(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range k.Keys(c) {
			if !slices.Contains(keys(srcs), key) {
				t.Errorf("jail %s: key %q is no source's", c.Jail, key)
			}
		}
	}
	for _, tc := range []struct {
		c    source.Config
		env  source.Env
		want string
	}{
		{source.Config{Jail: "x", Kind: "syslog"}, source.Env{}, `jail "x": unknown source "syslog" (expected journal, example, file, stdin)`},
		{source.Config{Jail: "x", Kind: "journal"}, source.Env{}, `jail "x": source: source "journal" needs at least one journal match`},
		{source.Config{Jail: "x", Kind: "journal", Journal: []string{"unit=sshd"}}, source.Env{}, `jail "x": journal match "unit=sshd"`},
		{source.Config{Jail: "x", Kind: "file"}, source.Env{}, `jail "x": source: source "file" needs at least one entry in paths`},
		{source.Config{Jail: "x", Kind: "stdin"}, source.Env{}, `a jail reads stdin but no stdin was given`},
	} {
		_, err := source.Build([]source.Config{tc.c}, tc.env)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %s…", tc.c, err, tc.want)
		}
	}
}

func TestRegisterRefuses(t *testing.T) {
	keys := func(source.Config) []string { return nil }
	build := func([]source.Config, source.Env) ([]source.Source, error) { return nil, nil }
	for name, k := range map[string]*source.Kind{
		"duplicate": {Name: "file", Keys: keys, New: build},
		"no name":   {Keys: keys, New: build},
		"no New":    {Name: "y", Keys: keys},
		"no Keys":   {Name: "z", New: build},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Register accepted it")
				}
			}()
			source.Register(k)
		})
	}
	if _, ok := source.Lookup("y"); ok {
		t.Error("a refused kind was registered")
	}
}
