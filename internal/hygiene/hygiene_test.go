package hygiene

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/nixfacts"
)

// repoRoot walks up from this package to the directory holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// goFiles maps each package directory to its non-test Go files.
func goFiles(t *testing.T, root string) map[string][]string {
	t.Helper()
	pkgs := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			pkgs[filepath.Dir(p)] = append(pkgs[filepath.Dir(p)], p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// TestPackageDocs requires exactly one package comment per package.
func TestPackageDocs(t *testing.T) {
	root := repoRoot(t)
	fset := token.NewFileSet()
	for dir, files := range goFiles(t, root) {
		var withDoc []string
		for _, f := range files {
			af, err := parser.ParseFile(fset, f, nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if af.Doc != nil && strings.TrimSpace(af.Doc.Text()) != "" {
				withDoc = append(withDoc, filepath.Base(f))
			}
		}
		rel, _ := filepath.Rel(root, dir)
		switch {
		case len(withDoc) == 0:
			t.Errorf("%s: no package comment (add a doc.go saying what the package is for and why)", rel)
		case len(withDoc) > 1:
			t.Errorf("%s: package comment in %d files %v; keep exactly one", rel, len(withDoc), withDoc)
		}
	}
}

// execAllowed lists the packages that may import os/exec in non-test code:
// the host seam itself and the test helpers.
var execAllowed = map[string]bool{
	"internal/host":    true,
	"internal/testenv": true,
}

// TestExecOnlyInHostSeam keeps process execution behind internal/host.
func TestExecOnlyInHostSeam(t *testing.T) {
	root := repoRoot(t)
	fset := token.NewFileSet()
	for dir, files := range goFiles(t, root) {
		rel, _ := filepath.Rel(root, dir)
		if execAllowed[filepath.ToSlash(rel)] {
			continue
		}
		for _, f := range files {
			af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				if p, _ := strconv.Unquote(imp.Path.Value); p == "os/exec" {
					r, _ := filepath.Rel(root, f)
					t.Errorf("%s imports os/exec: run programs through internal/host (host.Host.Run / host.Streamer)", r)
				}
			}
		}
	}
}

// The README states the supported NixOS releases as a range; the one list
// is nixfacts' (issue 10): every range the README gives must be its first
// and last stable release, so a release added there cannot leave the prose
// behind.
func TestReadmeReleaseRange(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var stable []string
	for _, r := range nixfacts.Releases() {
		if r.Stable() {
			stable = append(stable, r.String())
		}
	}
	want := stable[0] + " to " + stable[len(stable)-1]
	ranges := regexp.MustCompile(`\b(\d\d\.\d\d) to (\d\d\.\d\d)\b`).FindAllString(string(b), -1)
	if len(ranges) == 0 {
		t.Fatal("README.md states no release range (\"24.11 to 26.11\"); this test would test nothing")
	}
	for _, r := range ranges {
		if r != want {
			t.Errorf("README.md says %q; nixfacts' release list is %s (and unstable)", r, want)
		}
	}
}
