package policy

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ignoreSource: Source says where a policy came from, not what it says.
var ignoreSource = cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Source" }, cmp.Ignore())

func TestInitParsesToDefault(t *testing.T) {
	for _, profile := range []string{ProfileBaseline, ProfileTailnet} {
		t.Run(profile, func(t *testing.T) {
			src, err := InitTOML(profile)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse("init.toml", src)
			if err != nil {
				t.Fatalf("parse init output: %v\n%s", err, src)
			}
			if d := cmp.Diff(MustDefault(profile), got, ignoreSource); d != "" {
				t.Errorf("init output does not parse to Default(%q) (-want +got):\n%s", profile, d)
			}
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, profile := range []string{ProfileBaseline, ProfileTailnet} {
		t.Run(profile, func(t *testing.T) {
			want := MustDefault(profile)
			src := MarshalTOML(want)
			got, err := Parse("show.toml", src)
			if err != nil {
				t.Fatalf("parse show output: %v\n%s", err, src)
			}
			if d := cmp.Diff(want, got, ignoreSource); d != "" {
				t.Errorf("round trip differs (-want +got):\n%s", d)
			}
		})
	}
}

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", path, d)
	}
}

func TestInitGolden(t *testing.T) {
	for _, profile := range []string{ProfileBaseline, ProfileTailnet} {
		src, err := InitTOML(profile)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "init-"+profile+".toml", src)
	}
}

// BenchmarkParse measures loading the full commented init output.
func BenchmarkParse(b *testing.B) {
	src, err := InitTOML(ProfileTailnet)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := Parse("bench.toml", src); err != nil {
			b.Fatal(err)
		}
	}
}

func TestInitWithAdminParses(t *testing.T) {
	admin := AdminUser{Name: "alice", Sudo: true, AuthorizedKeys: []string{
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIISk67cw4UWCfYeCwf3D5oiaiZD2XpotVxpvqdH9jTvB alice@laptop",
		`from="192.0.2.0/24" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINTHgWLSnHH0esUyX49C/6aDot69QW/Of8bllP6gQLks carol@ci`}}
	src, err := InitTOML(ProfileBaseline, admin)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseOptions("init.toml", src, Options{Strict: true})
	if err != nil {
		t.Fatalf("init --admin output is not a valid strict policy: %v\n%s", err, src)
	}
	want := MustDefault(ProfileBaseline)
	want.Admin.Users = []AdminUser{admin}
	if d := cmp.Diff(want, got, ignoreSource); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
