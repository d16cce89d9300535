package nixgen

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/rampart-sec/rampart/internal/nixfacts"
	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// TestNixParse runs the real parser on every rendered file: the module for
// every release and profile, and flake.nix, configuration.nix and
// disko.nix for every release.
func TestNixParse(t *testing.T) {
	bin := testenv.RequireCommands(t, "nix-instantiate")[0]
	dir := t.TempDir()
	var paths []string
	for _, r := range nixfacts.Releases() {
		for _, name := range profileNames {
			files := render(t, r, profiles(t)[name], true)
			for _, f := range files {
				if (!slices.Contains(flakeProfiles, name) && f.Name != ModuleName) || !strings.HasSuffix(f.Name, ".nix") {
					continue
				}
				path := filepath.Join(dir, r.String()+"-"+name+"-"+f.Name)
				if err := os.WriteFile(path, f.Data, 0o644); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, path)
			}
		}
	}
	// One run for all files; on failure, one per file to name the culprit.
	if out, err := exec.Command(bin, append([]string{"--parse"}, paths...)...).CombinedOutput(); err != nil {
		for _, path := range paths {
			if out, err := exec.Command(bin, "--parse", path).CombinedOutput(); err != nil {
				t.Errorf("nix-instantiate --parse %s: %v\n%s", filepath.Base(path), err, out)
			}
		}
		t.Fatalf("nix-instantiate --parse: %v\n%s", err, out)
	}
	n := len(paths)
	if n != len(nixfacts.Releases())*(len(profileNames)+3*len(flakeProfiles)) {
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
// config is the module's own definitions plus nginx (a fixed point, so
// references such as config.environment.etc.X.text resolve).
const stubArgs = `{
  config = m // {
    services = (m.services or { }) // { nginx = { enable = true; user = "nginx"; group = "nginx"; }; };
    security = (m.security or { }) // { audit = (m.security.audit or { }) // { package = "audit"; }; };
  };
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
	// Evaluate every module in one run.
	type mod struct {
		key   string
		r     nixfacts.Release
		name  string
		files []File
	}
	var mods []mod
	var expr strings.Builder
	expr.WriteString("{\n")
	for _, r := range nixfacts.Releases() {
		for _, name := range profileNames {
			m := mod{key: r.String() + "-" + name, r: r, name: name, files: render(t, r, profiles(t)[name], true)}
			path := filepath.Join(dir, m.key+".nix")
			os.WriteFile(path, m.files[0].Data, 0o644)
			expr.WriteString("  \"" + m.key + "\" = let m = import " + path + " " + stubArgs + "; in m;\n")
			mods = append(mods, m)
		}
	}
	expr.WriteString("}\n")
	all := evalJSON(t, bin, expr.String())
	for _, m := range mods {
		r, name := m.r, m.name
		got, _ := all[m.key].(map[string]any)
		expr, err := ModuleExpr(r, profiles(t)[name])
		if err != nil {
			t.Fatal(err)
		}
		leaves := nixexpr.Flatten(expr)
		for _, l := range leaves {
			want := jsonOf(l.Value)
			if want == nil {
				if _, ok := lookupJSON(got, l.Path); !ok {
					t.Errorf("%v %s: %s missing from the evaluated module", r, name, nixexpr.KeyPath(l.Path))
				}
				continue
			}
			if v, ok := lookupJSON(got, l.Path); !ok || !reflect.DeepEqual(v, want) {
				t.Errorf("%v %s: %s evaluates to %#v, want %#v", r, name, nixexpr.KeyPath(l.Path), v, want)
			}
		}
		if c := countLeaves(got); c != len(leaves) {
			t.Errorf("%v %s: the evaluated module has %d definitions, rampart wrote %d", r, name, c, len(leaves))
		}
		if name == "guard" {
			// The guard's policy evaluates to the policy itself.
			checkPolicyEval(t, r, got, profiles(t)[name])
			checkFlakeEval(t, bin, dir, r, name, m.files)
		}
		if name == "site" {
			// Point 19: with nginx on, fail2ban's nginx log exists at boot,
			// with nginx's owner, and fail2ban starts after nginx.
			rules, _ := lookupJSON(got, []string{"systemd", "tmpfiles", "rules"})
			if want := []any{"d /var/log/nginx 0750 nginx nginx - -", "f /var/log/nginx/access.log 0640 nginx nginx - -"}; !reflect.DeepEqual(rules, want) {
				t.Errorf("%v tmpfiles rules = %#v, want %#v", r, rules, want)
			}
			if after, _ := lookupJSON(got, []string{"systemd", "services", "fail2ban", "after"}); !reflect.DeepEqual(after, []any{"nginx.service"}) {
				t.Errorf("%v fail2ban after = %#v", r, after)
			}
			// Point 20: 25.11+ loads the watches in a unit of its own.
			_, unit := lookupJSON(got, []string{"systemd", "services", nixfacts.AuditWatchService, "script"})
			if unit != (r >= nixfacts.R2511) {
				t.Errorf("%v: %s defined: %v", r, nixfacts.AuditWatchService, unit)
			}
			disko := filepath.Join(dir, r.String()+"-disko.nix")
			os.WriteFile(disko, m.files[3].Data, 0o644)
			d := evalJSON(t, bin, "import "+disko+" { lib = { mkDefault = v: v; }; }")
			if v, _ := lookupJSON(d, strings.Split("disko.devices.disk.main.device", ".")); v != "/dev/sda" {
				t.Errorf("disko device = %v", v)
			}
			checkFlakeEval(t, bin, dir, r, name, m.files)
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
			v := jsonOf(e)
			if v == nil { // a raw expression: its value is not rampart's to know
				return nil
			}
			out = append(out, v)
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

// checkFlakeEval evaluates flake.nix's outputs and configuration.nix with
// stand-ins for nixpkgs and disko: the host's system gets disko's module
// and ./configuration.nix, which imports the hardware profiles, the disk
// layout and the policy module.
func checkFlakeEval(t *testing.T, bin, dir string, r nixfacts.Release, name string, files []File) {
	t.Helper()
	fdir := filepath.Join(dir, "flake-"+r.String()+"-"+name)
	os.MkdirAll(fdir, 0o755)
	for _, f := range files {
		os.WriteFile(filepath.Join(fdir, f.Name), f.Data, 0o644)
	}
	fl := evalJSON(t, bin, `let f = import `+fdir+`/flake.nix;
  out = f.outputs { self = { }; nixpkgs = { lib.nixosSystem = a: a; }; disko = { nixosModules.disko = "disko-module"; };
    rampart = { nixosModules.default = "rampart-module"; }; };
  sys = out.nixosConfigurations.web1;
in { inherit (f) description inputs; system = sys.system; modules = map toString sys.modules; }`)
	want := map[string]any{
		"description": "web1: hardened NixOS " + r.String() + " host rendered by rampart",
		"inputs": map[string]any{
			"nixpkgs": map[string]any{"url": r.FlakeURL()},
			"disko":   map[string]any{"url": "github:nix-community/disko", "inputs": map[string]any{"nixpkgs": map[string]any{"follows": "nixpkgs"}}},
		},
		"system":  "x86_64-linux",
		"modules": []any{"disko-module", fdir + "/configuration.nix"},
	}
	if name == "guard" {
		// rampart guard bans: services.rampart comes from rampart's flake.
		want["inputs"].(map[string]any)["rampart"] = map[string]any{"url": nixfacts.FlakeURL}
		want["modules"] = []any{"disko-module", "rampart-module", fdir + "/configuration.nix"}
	}
	if !reflect.DeepEqual(fl, want) {
		t.Errorf("%v flake.nix evaluates to\n%#v\nwant\n%#v", r, fl, want)
	}
	conf := evalJSON(t, bin, `let c = import `+fdir+`/configuration.nix { modulesPath = "/m"; lib = { }; pkgs = { }; };
in c // { imports = map toString c.imports; }`)
	if got := conf["imports"]; !reflect.DeepEqual(got, []any{"/m/installer/scan/not-detected.nix", "/m/profiles/qemu-guest.nix", fdir + "/disko.nix", fdir + "/rampart.nix"}) {
		t.Errorf("%v configuration.nix imports %v", r, got)
	}
	if v, _ := lookupJSON(conf, []string{"system", "stateVersion"}); v != r.StateVersion() {
		t.Errorf("%v stateVersion = %v", r, v)
	}
	if v, _ := lookupJSON(conf, []string{"users", "users", "root", "openssh", "authorizedKeys", "keys"}); len(v.([]any)) != 2 {
		t.Errorf("%v root keys = %v", r, v)
	}
}

// TestNginxLogTmpfiles (issue 9 point 19) has the real systemd-tmpfiles
// apply the evaluated tmpfiles rules of the module to an empty root with
// an nginx user: the access log the nginx-noscript jail reads exists
// before nginx ever ran, owned by nginx, mode 0640 in a 0750 directory,
// so fail2ban finds it at boot.
func TestNginxLogTmpfiles(t *testing.T) {
	cmds := testenv.RequireCommands(t, "nix-instantiate", "systemd-tmpfiles")
	bin, tmpfiles := cmds[0], cmds[1]
	testenv.RequireRoot(t)
	dir := t.TempDir()
	mod := filepath.Join(dir, "rampart.nix")
	os.WriteFile(mod, render(t, nixfacts.R2605, profiles(t)["site"], false)[0].Data, 0o644)
	got := evalJSON(t, bin, "let m = import "+mod+" "+strings.ReplaceAll(stubArgs, "\n", " ")+"; in { rules = m.systemd.tmpfiles.rules; }")
	var lines []string
	for _, r := range got["rules"].([]any) {
		lines = append(lines, r.(string))
	}
	root := filepath.Join(dir, "root")
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("root:x:0:0::/root:/bin/sh\nnginx:x:60:60::/var/empty:/bin/false\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc", "group"), []byte("root:x:0:\nnginx:x:60:\n"), 0o644)
	conf := filepath.Join(dir, "rampart.conf")
	os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	if out, err := exec.Command(tmpfiles, "--root="+root, "--create", conf).CombinedOutput(); err != nil {
		t.Fatalf("systemd-tmpfiles: %v\n%s\nrules:\n%s", err, out, strings.Join(lines, "\n"))
	}
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{{"var/log/nginx", os.ModeDir | 0o750}, {"var/log/nginx/access.log", 0o640}} {
		fi, err := os.Stat(filepath.Join(root, c.path))
		if err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != c.mode || st.Uid != 60 || st.Gid != 60 {
			t.Errorf("%s: mode %v uid %d gid %d, want %v nginx (60)", c.path, fi.Mode(), st.Uid, st.Gid, c.mode)
		}
	}
}

// checkPolicyEval: services.rampart.policy evaluates to the policy the
// module was rendered from: the evaluated value, written back as TOML (as
// pkgs.formats.toml does), parses to the same policy, guard-only keys and
// lists of tables included.
func checkPolicyEval(t *testing.T, r nixfacts.Release, mod map[string]any, want *policy.Policy) {
	t.Helper()
	got, ok := lookupJSON(mod, []string{"services", "rampart", "policy"})
	if !ok {
		t.Fatalf("%v: services.rampart.policy missing", r)
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(fromJSON(got)); err != nil {
		t.Fatalf("%v: policy as TOML: %v", r, err)
	}
	p, err := policy.Parse("evaluated.toml", buf.Bytes())
	if err != nil {
		t.Fatalf("%v: the evaluated policy does not load: %v\n%s", r, err, buf.Bytes())
	}
	// MarshalTOML writes every key: equal files, equal policies (nil and
	// empty lists aside).
	if !bytes.Equal(policy.MarshalTOML(p), policy.MarshalTOML(want)) {
		t.Errorf("%v: services.rampart.policy evaluates to\n%s\nwant\n%s", r, policy.MarshalTOML(p), policy.MarshalTOML(want))
	}
	if v, _ := lookupJSON(mod, []string{"services", "rampart", "guard", "enable"}); v != true {
		t.Errorf("%v: services.rampart.guard.enable = %v", r, v)
	}
}

// fromJSON turns nix --json numbers back into TOML's: whole numbers are
// integers (Nix's JSON does not tell 2 from 2.0; the policy reads an
// integer where it wants a float).
func fromJSON(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) {
			return int64(x)
		}
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = fromJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fromJSON(e)
		}
		return out
	}
	return v
}
