package catalog

import (
	"context"
	"fmt"
	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/nixfacts"
	"github.com/rampart-sec/rampart/internal/policy"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/rampart-sec/rampart/"

// TestEveryRegisteringPackageIsLinked: every package that calls
// check.Register outside its tests is imported by this package.
func TestEveryRegisteringPackageIsLinked(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "catalog.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	linked := map[string]bool{}
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		linked[strings.TrimPrefix(p, module)] = true
	}
	root := filepath.Join("..", "..", "..")
	registering := map[string]bool{}
	err = filepath.WalkDir(filepath.Join(root, "internal"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "check.Register(") {
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			registering[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(registering) < 3 {
		t.Fatalf("found only %v registering checks; is the walk rooted at the repository?", registering)
	}
	for p := range registering {
		if !linked[p] {
			t.Errorf("%s registers checks but catalog.go does not import it: its checks would reach verify only by chance", p)
		}
	}
}

// TestAllAreas: the catalogue holds every area verify documents.
func TestAllAreas(t *testing.T) {
	areas := map[string]int{}
	for _, c := range All() {
		area, _, _ := strings.Cut(c.ID, ".")
		areas[area]++
	}
	for _, a := range []string{"ssh", "sysctl", "time", "journald", "ban", "audit", "firewall", "tailnet"} {
		if areas[a] == 0 {
			t.Errorf("no %s.* check in the catalogue (areas: %v)", a, areas)
		}
	}
}

// TestSelectCatalogue: verify's selection reaches every check of the
// catalogue by ID and by area, whichever package registers it.
func TestSelectCatalogue(t *testing.T) {
	all := All()
	for _, c := range all {
		for _, sel := range []string{c.ID, c.Area(), c.Area() + ".*"} {
			cs, err := check.Select(all, []string{sel}, nil)
			if err != nil || !slices.Contains(cs, c) {
				t.Errorf("Select(%q) does not select %s (%v)", sel, c.ID, err)
			}
		}
		if cs, err := check.Select(all, nil, []string{c.ID}); err != nil || slices.Contains(cs, c) {
			t.Errorf("skipping %s: %v", c.ID, err)
		}
	}
}

// TestRemediationsKnownToNixfacts: every check of the catalogue declares
// its fix, and in every release nixfacts supports, under each built-in
// profile (banning with rampart guard, its default, and with fail2ban), the
// remediation a failure carries names only NixOS options that nixfacts
// knows for that release. The failure goes through the runner, so the text
// is what a user sees.
func TestRemediationsKnownToNixfacts(t *testing.T) {
	var policies []*policy.Policy
	for _, profile := range []string{policy.ProfileBaseline, policy.ProfileTailnet} {
		for _, engine := range []string{policy.EngineRampart, policy.EngineFail2ban} {
			p := policy.MustDefault(profile)
			p.Ban.Engine = engine
			policies = append(policies, p)
		}
	}
	checked := map[string]int{}
	for _, c := range All() {
		if c.Fix == nil {
			t.Errorf("%s declares no Fix", c.ID)
			continue
		}
		failing := *c
		failing.Eval = func(context.Context, *check.Env) check.Result {
			return check.Result{Status: check.Fail, Message: "failing for the test"}
		}
		for _, rel := range nixfacts.Releases() {
			for _, p := range policies {
				r := check.Run(context.Background(), check.NewEnv(nil, p, rel.String()), []*check.Check{&failing})[0]
				if r.Status == check.Skip {
					continue
				}
				where := fmt.Sprintf("%s (NixOS %s, profile %s, ban.engine %s)", c.ID, rel, p.Profile, p.Ban.Engine)
				fix := r.Remediation
				if fix.Generic == "" || fix.NixOS == "" {
					t.Errorf("%s: remediation %+v lacks a NixOS or generic text", where, fix)
				}
				text := fix.NixOS + "\n" + fix.Generic
				for _, err := range nixfacts.UnknownOptions(rel, text) {
					t.Errorf("%s prints an option nixfacts does not know: %v\n%s", where, err, fix.NixOS)
				}
				checked[c.ID] += len(nixfacts.OptionPaths(text))
			}
		}
	}
	// The parse found options in the fixes of (nearly) every check, so
	// the test is not passing on empty texts.
	for id, n := range checked {
		if n == 0 {
			delete(checked, id)
		}
	}
	if len(checked) < len(All())*3/4 {
		t.Errorf("option paths found in the fixes of only %d of %d checks: %v", len(checked), len(All()), checked)
	}
}
