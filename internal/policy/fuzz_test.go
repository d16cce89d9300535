package policy

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/rampart-sec/rampart/internal/testenv"
)

// FuzzParse feeds arbitrary bytes to the loader. It must never panic; an
// error must be Errors whose every issue names a position inside the file
// or a field; and a policy it accepts must survive MarshalTOML → Parse.
func FuzzParse(f *testing.F) {
	testenv.SeedFiles(f, "testdata/*.toml")
	// The CLI scripts' policy files, good and bad.
	scripts, _ := filepath.Glob("../../cmd/rampart/testdata/script/policy_*.txtar")
	for _, s := range scripts {
		a, err := txtar.ParseFile(s)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range a.Files {
			if strings.HasSuffix(file.Name, ".toml") {
				f.Add(file.Data)
			}
		}
	}
	f.Add([]byte(admin + "[sysctl]\n\"kernel.sysrq\" = 0\n[ban.jails.x]\nfilter = \"sshd\"\njournal = [\"_COMM=x\"]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseOptions("f.toml", data, Options{Strict: true})
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is not a non-empty Errors: %T %v", err, err)
			}
			lines := strings.Count(string(data), "\n") + 1
			for _, e := range errs {
				if !e.Pos.IsValid() && e.Field == "" {
					t.Fatalf("issue with neither position nor field: %q", e.Error())
				}
				if e.Pos.IsValid() && (e.Pos.Line > lines || e.Pos.Col < 1) {
					t.Fatalf("issue outside the file (%d lines): %q", lines, e.Error())
				}
				if !strings.HasPrefix(e.Error(), "f.toml:") {
					t.Fatalf("issue does not start with the file name: %q", e.Error())
				}
			}
			return
		}
		out := MarshalTOML(p)
		again, err := Parse("again.toml", out)
		if err != nil {
			t.Fatalf("accepted policy does not re-parse: %v\n--- input\n%s\n--- output\n%s", err, data, out)
		}
		if d := cmp.Diff(p, again, ignoreSource); d != "" {
			t.Fatalf("round trip differs (-first +second):\n%s\n--- input\n%s", d, data)
		}
	})
}

// FuzzIndex checks the position scanner against BurntSushi/toml: every key
// the decoder saw must have a recorded position (array-of-table indexes
// aside, which MetaData.Keys leaves out).
func FuzzIndex(f *testing.F) {
	f.Add([]byte("a.b = 1\n[t]\nx = { y = [1, { z = 2 }] }\n[[u]]\nv = 1\n[[u]]\n[u.w]\n'q.r' = \"s\"\n"))
	testenv.SeedFiles(f, "testdata/*.toml")
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		md, err := toml.Decode(string(data), &v)
		if err != nil {
			return
		}
		ix := buildIndex(string(data))
		have := map[string]bool{}
		for k := range ix.key {
			var parts []string
			for _, s := range strings.Split(k, pathSep) {
				if !strings.HasPrefix(s, "[") {
					parts = append(parts, s)
				}
			}
			have[joinPath(parts)] = true
		}
		for _, k := range md.Keys() {
			if len(k) > maxDepth {
				continue
			}
			if !have[joinPath(k)] {
				t.Fatalf("no position for key %q in\n%s", k.String(), data)
			}
		}
	})
}
