package nixexpr

import (
	"encoding/json"
	"math/rand/v2"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/testenv"
)

func TestRender(t *testing.T) {
	a := &Attrs{}
	a.Add("why", Bool(true), "services", "x", "enable")
	a.Add("", Int(-1), "n")
	a.Add("", Ints(1, -2), "l")
	a.Add("", Strs(), "empty")
	a.Add("", &Attrs{}, "e")
	a.Add("", Null{}, "z")
	a.Add("note only", nil)
	a.Add("", MkIf("config.x", &Attrs{Entries: []Entry{{Path: []string{"a"}, Value: Str("b")}}}), "if")
	a.Add("", Lines{"x", "", "y $z 'q'"}, "text")
	for _, tc := range []struct {
		v    Value
		want string
	}{
		{Str(`a"b\c${d}$e` + "\n\t\r"), `"a\"b\\c\${d}$e\n\t\r"`},
		{Bool(false), "false"},
		{Int(42), "42"},
		{Float(2), "2.0"},
		{Float(1.5), "1.5"},
		{Float(-0.25), "(-0.25)"},
		{List{Str("a"), Int(1), Bool(true)}, `[ "a" 1 true ]`},
		{List{MkIf("c", Str("x"))}, "[\n  (lib.mkIf c \"x\")\n]"},
		{Lines{"  a", "  b"}, `"  a\n  b\n"`},
		{Lines{"a\rb"}, `"a\rb\n"`},
		{Lines{"'${x}"}, `"'\${x}\n"`},
		{Lines{"a''b"}, `"a''b\n"`},
		{Func{Params: []string{"lib"}, Body: &Attrs{}}, "{ lib, ... }:\n{ }"},
		{a, `{
  # why
  services.x.enable = true;
  n = (-1);
  l = [ 1 (-2) ];
  empty = [ ];
  e = { };
  z = null;
  # note only
  "if" = lib.mkIf config.x {
    a = "b";
  };
  text = ''
    x

    y $z 'q'
  '';
}`},
	} {
		got, err := Render(tc.v)
		if err != nil || got != tc.want {
			t.Errorf("Render(%#v) = %q, %v\nwant %q", tc.v, got, err, tc.want)
		}
	}
}

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"enable": "enable", "nginx-noscript": "nginx-noscript", "DEFAULT": "DEFAULT", "a'b": "a'b",
		"net.ipv4.ip_forward": `"net.ipv4.ip_forward"`, "or": `"or"`, "in": `"in"`, "1x": `"1x"`,
		"fail2ban/filter.d/x.local": `"fail2ban/filter.d/x.local"`, `a"${b}`: `"a\"\${b}"`, "": `""`,
	} {
		if got := Key(in); got != want {
			t.Errorf("Key(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestErrors(t *testing.T) {
	if _, err := Render(Str("a\x00b")); err == nil {
		t.Error("NUL in a string rendered")
	}
	a := &Attrs{}
	a.Add("", Int(1), "x").Add("", Int(2), "x")
	if _, err := Render(a); err == nil || !strings.Contains(err.Error(), "defined twice") {
		t.Errorf("duplicate key: %v", err)
	}
}

func TestFlatten(t *testing.T) {
	inner := &Attrs{}
	inner.Add("", Str("v"), "settings", "k")
	a := &Attrs{}
	a.Add("", Func{Params: []string{"x"}, Body: inner}, "f")
	a.Add("", MkIf("c", inner), "j")
	a.Add("", &Attrs{}, "empty")
	a.Add("comment", nil)
	var got []string
	for _, l := range Flatten(a) {
		got = append(got, KeyPath(l.Path))
	}
	want := []string{"f.settings.k", "j.settings.k", "empty"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Flatten = %q, want %q", got, want)
	}
}

// nasty strings that must survive the round trip through the real Nix
// evaluator unchanged.
var nasty = []string{
	"", "plain", `"`, `\`, `\\`, `${x}`, `$${x}`, `\${x}`, `$`, `${`, `$'`, `'`, `''`, `'''`, `''${x}`, `''\n`,
	"a\nb", "tab\there", "ends with '", "$\n", "ünïcödé ✓", `"; evil = true; "`, "'' + builtins.abort \"x\" + ''",
	"trailing space ", "  leading", "#comment", "/* c */",
}

// randomStrings are seeded random strings over the characters that matter
// to Nix string syntax.
func randomStrings(n int) []string {
	rng := rand.New(rand.NewPCG(2, 11))
	alphabet := []string{"$", "{", "}", "'", "''", "\"", "\\", "\n", "\t", " ", "a", "é", "${", "''$", "\r", "#", "/*"}
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for j := rng.IntN(12); j > 0; j-- {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		out[i] = b.String()
	}
	return out
}

func TestEvalRoundTrip(t *testing.T) {
	bin := testenv.RequireCommands(t, "nix-instantiate")[0]
	nasty := append(append([]string{}, nasty...), randomStrings(400)...)
	a := &Attrs{}
	var want []any
	for _, s := range nasty {
		want = append(want, s)
	}
	strs := List{}
	for _, s := range nasty {
		strs = append(strs, Str(s))
	}
	a.Add("", strs, "strs")
	lines := List{}
	var wantLines []any
	for _, s := range nasty {
		ls := Lines{"first", s, s + "x", "last"}
		lines = append(lines, ls)
		wantLines = append(wantLines, "first\n"+s+"\n"+s+"x\nlast\n")
	}
	a.Add("", lines, "lines")
	keys := &Attrs{}
	seen := map[string]bool{}
	for i, s := range nasty {
		if s != "" && !seen[s] {
			seen[s] = true
			keys.Add("", Int(i), s)
		}
	}
	a.Add("", keys, "keys")
	a.Add("", Lines{"  indented", "   more"}, "indented")
	src, err := Render(a)
	if err != nil {
		t.Fatal(err)
	}
	// stdout only: nix warns on stderr (e.g. no nixbld group on a
	// machine without nix-setup-systemd).
	var stderr strings.Builder
	cmd := exec.Command(bin, "--eval", "--strict", "--json", "-E", src)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nix-instantiate --eval: %v\n%s\nsource:\n%s", err, stderr.String(), src)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got["strs"], want) {
		t.Errorf("strings:\ngot  %q\nwant %q", got["strs"], want)
	}
	if !reflect.DeepEqual(got["lines"], wantLines) {
		t.Errorf("indented strings:\ngot  %q\nwant %q", got["lines"], wantLines)
	}
	if got["indented"] != "  indented\n   more\n" {
		t.Errorf("indentation lost: %q", got["indented"])
	}
	km, _ := got["keys"].(map[string]any)
	if len(km) != len(seen) {
		t.Errorf("%d keys evaluated, %d written", len(km), len(seen))
	}
	for _, e := range keys.Entries {
		if km[e.Path[0]] != float64(e.Value.(Int)) {
			t.Errorf("key %q: got %v", e.Path[0], km[e.Path[0]])
		}
	}
}
