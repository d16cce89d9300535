package fleetverify

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/check"
)

// TestInventoryOneErrorEach: each mistake is reported once, where
// it is, and a valid field is never blamed for another one's mistake.
func TestInventoryOneErrorEach(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"bad user blames the name", "[[host]]\nname = \"web1\"\nuser = \"a b\"\n",
			[]string{`f.toml:3:8: host[0].user: "a b" is not a user name`}},
		{"bad group user blames the address", "[group.g]\nuser = \"-x\"\n[[host]]\nname = \"web1\"\naddress = \"192.0.2.1\"\ngroup = \"g\"\n",
			[]string{`f.toml:2:8: group.g.user: "-x" is not a user name`}},
		{"name not a string", "[[host]]\nname = 5\n",
			[]string{`f.toml:2:8: host[0].name: must be a string`}},
		{"empty host array", "host = []\n",
			[]string{`f.toml:1:8: host: no hosts: add [[host]] tables with name = "…"`}},
	} {
		_, err := ParseInventory("f.toml", []byte(tc.src))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\n got: %s\nwant: %s", tc.name, strings.ReplaceAll(got, "\n", "\n      "), strings.Join(tc.want, "\n      "))
		}
	}
}

// TestBaselineSyntaxPosition: a baseline that is not valid JSON is
// refused with where it breaks (line:column), not only what broke.
func TestBaselineSyntaxPosition(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, doc, want string }{
		{"bad.json", "{\n  \"schema\": \"rampart.fleet/v1\",\n  \"hosts\": [\n    {\"name\": \"a\",}\n  ]\n}\n", "bad.json:4:"},
		{"comma.json", "{\"schema\": \"rampart.fleet/v1\"\n\"hosts\": []}", "comma.json:2:"},
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, []byte(tc.doc), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := ReadFile(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want the position %sCOL", tc.name, err, tc.want)
		}
	}
}

// TestTextChangeIDSafe: the baseline section escapes check IDs from
// a report as the failure list does (a --from file may come from
// anywhere).
func TestTextChangeIDSafe(t *testing.T) {
	evil := "ssh.x\x1b]0;owned\x07\x1b[2J"
	cur := &Fleet{Hosts: []*HostRun{{Target: &Target{Name: "h"}, Results: []check.Result{{ID: evil, Area: "ssh", Status: check.Fail}}}}}
	cur.Compare("base.json", &Fleet{})
	var b bytes.Buffer
	if err := cur.Text(&b); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(b.String(), "\x1b\x07") {
		t.Errorf("text output carries terminal control characters:\n%q", b.String())
	}
}
