package packaging

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/testenv"
)

// repoRoot is the repository root (tests run in packaging/).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "flake.nix")); err != nil {
		t.Fatalf("no flake.nix at the repository root: %v", err)
	}
	return root
}

// TestFlakeParse: flake.nix and the files it imports parse with the real
// Nix parser.
func TestFlakeParse(t *testing.T) {
	bin := testenv.RequireCommands(t, "nix-instantiate")[0]
	root := repoRoot(t)
	for _, f := range []string{"flake.nix", "nix/package.nix", "nix/module.nix"} {
		if out, err := exec.Command(bin, "--parse", filepath.Join(root, f)).CombinedOutput(); err != nil {
			t.Errorf("nix-instantiate --parse %s: %v\n%s", f, err, out)
		}
	}
}

var vendorHashRe = regexp.MustCompile(`vendorHash = "(sha256-[A-Za-z0-9+/=]+)";`)

// TestVendorHash recomputes nix/package.nix's vendorHash as buildGoModule
// does: the NAR sha256 of `go mod vendor`'s output. It fails when go.mod
// or go.sum changed without the hash (update it with the value printed).
func TestVendorHash(t *testing.T) {
	bins := testenv.RequireCommands(t, "go", "nix-hash")
	root := repoRoot(t)
	src, err := os.ReadFile(filepath.Join(root, "nix", "package.nix"))
	if err != nil {
		t.Fatal(err)
	}
	m := vendorHashRe.FindSubmatch(src)
	if m == nil {
		t.Fatal("nix/package.nix has no vendorHash = \"sha256-...\";")
	}
	vendor := filepath.Join(t.TempDir(), "vendor")
	cmd := exec.Command(bins[0], "mod", "vendor", "-o", vendor)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go mod vendor: %v\n%s", err, out)
	}
	out, err := exec.Command(bins[1], "--type", "sha256", vendor).Output()
	if err != nil {
		t.Fatalf("nix-hash: %v", err)
	}
	sum, err := hex.DecodeString(strings.TrimSpace(string(out)))
	if err != nil || len(sum) != 32 {
		t.Fatalf("nix-hash printed %q", out)
	}
	got := "sha256-" + base64.StdEncoding.EncodeToString(sum)
	if got != string(m[1]) {
		t.Errorf("nix/package.nix vendorHash is %s but go mod vendor hashes to %s: update vendorHash", m[1], got)
	}
}

// stubEval evaluates the NixOS module with every option set, without
// nixpkgs: lib and pkgs are stubs with just what the module calls.
const stubEval = `
let
  lib = {
    mkIf = c: v: if c then v else { };
    mkOption = o: o;
    mkEnableOption = d: { description = d; };
    getExe = p: "${p}/bin/rampart";
    optionalString = c: s: if c then s else "";
    literalExpression = s: s;
    types = { package = "package"; path = "path"; str = "str"; nullOr = t: t; };
  };
  pkgs = {
    formats.toml = _: { type = "toml"; generate = name: v: "/nix/store/hash-${name}"; };
    runCommand = name: attrs: script: { inherit name script; };
    writeShellScript = name: text: text;
    stdenv.hostPlatform.system = "x86_64-linux";
  };
  self = { packages.x86_64-linux.default = "/nix/store/hash-rampart"; };
  m = import ROOT/nix/module.nix { inherit self; } {
    inherit lib pkgs;
    config.services.rampart = {
      enable = true;
      package = "/nix/store/hash-rampart";
      policy = { };
      policyFile = null;
      guard.enable = true;
      verify.timer = "daily";
      verify.publish = true;
      audit.apply = true;
    };
  };
  c = m.config;
in {
  guard = c.systemd.services.rampart-guard;
  user = c.users.users.rampart;
  policyCheck = c.environment.etc."rampart/policy.toml".source.script;
  verify = c.systemd.services.rampart-verify.serviceConfig.ExecStart;
  verifyAfter = c.systemd.services.rampart-verify.after;
  timer = c.systemd.timers.rampart-verify.timerConfig.OnCalendar;
  audit = c.systemd.services.rampart-audit.serviceConfig.ExecStart;
  options = builtins.attrNames m.options.services.rampart;
}`

// TestModuleMatchesUnit evaluates the NixOS module with the real evaluator
// and checks that the guard service it defines has exactly the [Service]
// directives of the shipped unit (the binary's path aside), the same
// ordering dependencies, and that the policy goes through `rampart policy
// check` at build time.
func TestModuleMatchesUnit(t *testing.T) {
	bin := testenv.RequireCommands(t, "nix-instantiate")[0]
	root := repoRoot(t)
	out, err := exec.Command(bin, "--eval", "--strict", "--json", "-E", strings.ReplaceAll(stubEval, "ROOT", root)).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("nix-instantiate --eval: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var got struct {
		Guard struct {
			After, Wants, WantedBy []string
			ServiceConfig          map[string]any
		}
		User        map[string]any
		PolicyCheck string
		Verify      string
		VerifyAfter []string
		Timer       string
		Audit       string
		Options     []string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}

	ds, err := Section(Unit, "Service")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, d := range ds {
		want[d.Key] = append(want[d.Key], strings.ReplaceAll(d.Value, "/usr/bin/rampart ", "/nix/store/hash-rampart/bin/rampart "))
	}
	have := map[string][]string{}
	for k, v := range got.Guard.ServiceConfig {
		switch x := v.(type) {
		case string:
			have[k] = []string{x}
		case []any:
			for _, e := range x {
				s, _ := e.(string)
				have[k] = append(have[k], s)
			}
		default:
			t.Errorf("serviceConfig.%s = %v: want a string or a list of strings, as in the unit", k, v)
		}
	}
	for k, w := range want {
		if !reflect.DeepEqual(have[k], w) {
			t.Errorf("%s: module %q, unit %q", k, have[k], w)
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: set by the module, not in the unit", k)
		}
	}
	unitDs, _ := Section(Unit, "Unit")
	for _, d := range unitDs {
		switch d.Key {
		case "After":
			if strings.Join(got.Guard.After, " ") != d.Value {
				t.Errorf("After: module %q, unit %q", got.Guard.After, d.Value)
			}
		case "Wants":
			if strings.Join(got.Guard.Wants, " ") != d.Value {
				t.Errorf("Wants: module %q, unit %q", got.Guard.Wants, d.Value)
			}
		}
	}
	if inst, _ := Section(Unit, "Install"); len(inst) != 1 || inst[0].Value != strings.Join(got.Guard.WantedBy, " ") {
		t.Errorf("WantedBy: module %q, unit %v", got.Guard.WantedBy, inst)
	}
	if got.User["group"] != "rampart" || got.User["isSystemUser"] != true {
		t.Errorf("users.users.rampart = %v", got.User)
	}
	if !strings.Contains(got.PolicyCheck, "rampart policy check /nix/store/hash-rampart-policy.toml\n") {
		t.Errorf("the policy is not checked at build time:\n%s", got.PolicyCheck)
	}
	if !strings.Contains(got.Verify, "verify -p /etc/rampart/policy.toml --format json --publish > /var/lib/rampart/verify.json.new") || got.Timer != "daily" {
		t.Errorf("verify timer %q:\n%s", got.Timer, got.Verify)
	}
	if !reflect.DeepEqual(got.VerifyAfter, []string{"network-online.target"}) {
		t.Errorf("a publishing verify runs after %q, want the network online", got.VerifyAfter)
	}
	if got.Audit != "/nix/store/hash-rampart/bin/rampart audit apply -p /etc/rampart/policy.toml" {
		t.Errorf("audit apply: %q", got.Audit)
	}
	if want := []string{"audit", "enable", "guard", "package", "policy", "policyFile", "verify"}; !reflect.DeepEqual(got.Options, want) {
		t.Errorf("options %q, want %q", got.Options, want)
	}
}
