package nixgen

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/nixfacts"
	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// TestNixParse runs the real parser on every rendered file: the module for
// every release and profile, and flake.nix, configuration.nix and
// disko.nix for every release.
func TestNixParse(t *testing.T) {
	bin := testenv.RequireCommands(t, "nix-instantiate")[0]
	dir := t.TempDir()
	n := 0
	for _, r := range nixfacts.Releases() {
		for _, name := range profileNames {
			files := render(t, r, profiles(t)[name], true)
			for _, f := range files {
				if name != "site" && f.Name != ModuleName {
					continue
				}
				path := filepath.Join(dir, r.String()+"-"+name+"-"+f.Name)
				if err := os.WriteFile(path, f.Data, 0o644); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(bin, "--parse", path).CombinedOutput()
				if err != nil {
					t.Errorf("nix-instantiate --parse %s: %v\n%s", filepath.Base(path), err, out)
				}
				n++
			}
		}
	}
	if n != len(nixfacts.Releases())*(len(profileNames)+3) {
		t.Errorf("parsed %d files", n)
	}
	// And a broken file fails, so the check above can fail.
	bad := filepath.Join(dir, "bad.nix")
	os.WriteFile(bad, []byte("{ a = 1; a = 2; }\n"), 0o644)
	if out, err := exec.Command(bin, "--parse", bad).CombinedOutput(); err == nil {
		t.Errorf("nix-instantiate --parse accepted a duplicate attribute: %s", out)
	}
}

// stubArgs are the module arguments for evaluating the module without
// nixpkgs: lib.mkIf keeps its body when the condition holds.
const stubArgs = `{
  config = { services.nginx.enable = true; };
  lib = { mkIf = c: v: if c then v else { }; mkDefault = v: v; };
  pkgs = { };
}`

// TestNixEval evaluates every module with the real evaluator and checks
// that each definition rampart meant to write has exactly the value it
// meant (strings round-trip through escaping, dotted keys merge into the
// right attribute sets, lib.mkIf bodies are kept).
func TestNixEval(t *testing.T) {
	bin := testenv.RequireCommands(t, "nix-instantiate")[0]
	dir := t.TempDir()
	for _, r := range nixfacts.Releases() {
		for _, name := range profileNames {
			p := profiles(t)[name]
			files := render(t, r, p, true)
			mod := filepath.Join(dir, r.String()+"-"+name+".nix")
			os.WriteFile(mod, files[0].Data, 0o644)
			got := evalJSON(t, bin, "import "+mod+" "+stubArgs)
			expr, err := ModuleExpr(r, p)
			if err != nil {
				t.Fatal(err)
			}
			leaves := nixexpr.Flatten(expr)
			for _, l := range leaves {
				want := jsonOf(l.Value)
				if want == nil {
					continue
				}
				if v, ok := lookupJSON(got, l.Path); !ok || !reflect.DeepEqual(v, want) {
					t.Errorf("%v %s: %s evaluates to %#v, want %#v", r, name, nixexpr.KeyPath(l.Path), v, want)
				}
			}
			if c := countLeaves(got); c != len(leaves) {
				t.Errorf("%v %s: the evaluated module has %d definitions, rampart wrote %d", r, name, c, len(leaves))
			}
			if name == "site" {
				disko := filepath.Join(dir, r.String()+"-disko.nix")
				os.WriteFile(disko, files[3].Data, 0o644)
				d := evalJSON(t, bin, "import "+disko+" { lib = { mkDefault = v: v; }; }")
				if v, _ := lookupJSON(d, strings.Split("disko.devices.disk.main.device", ".")); v != "/dev/sda" {
					t.Errorf("disko device = %v", v)
				}
			}
		}
	}
}

func evalJSON(t *testing.T, bin, expr string) map[string]any {
	t.Helper()
	cmd := exec.Command(bin, "--eval", "--strict", "--json", "-E", expr)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("nix-instantiate --eval: %v\n%s", err, stderr)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("eval output: %v\n%s", err, out)
	}
	return m
}

// jsonOf is what nix --json prints for a value rampart emitted.
func jsonOf(v nixexpr.Value) any {
	switch x := v.(type) {
	case nixexpr.Str:
		return string(x)
	case nixexpr.Lines:
		return strings.Join(x, "\n") + "\n"
	case nixexpr.Int:
		return float64(x)
	case nixexpr.Bool:
		return bool(x)
	case nixexpr.List:
		out := []any{}
		for _, e := range x {
			out = append(out, jsonOf(e))
		}
		return out
	case *nixexpr.Attrs:
		if x.Len() == 0 {
			return map[string]any{}
		}
	}
	return nil
}

func lookupJSON(m map[string]any, path []string) (any, bool) {
	var cur any = m
	for _, k := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func countLeaves(v any) int {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return 1
	}
	n := 0
	for _, x := range m {
		n += countLeaves(x)
	}
	return n
}
