package store

import (
	"encoding/json"
	"iter"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/source"
)

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir() + "/state"
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v", fi.Mode())
	}
	now := time.Unix(1_700_000_000, 0).UTC()
	st, err := s.Load(now)
	if err != nil || len(st.Bans) != 0 {
		t.Fatalf("empty load: %v %v", st, err)
	}
	p := netip.MustParsePrefix
	st.Bans = []Ban{
		{Prefix: p("192.0.2.7/32"), Jail: "sshd", At: now, Until: now.Add(time.Hour), Failures: 3, Count: 1},
		{Prefix: p("192.0.2.7/32"), Jail: "sshd", At: now, Until: now.Add(2 * time.Hour)}, // duplicate: latest wins
		{Prefix: p("2001:db8::/64"), Jail: "sshd", Until: now.Add(time.Minute)},
		{Prefix: p("198.51.100.1/32"), Jail: "sshd", Until: now.Add(-time.Second)}, // expired
	}
	st.Cursors["file:/var/log/auth.log"] = source.Cursor{Dev: 1, Ino: 2, Off: 3, Hash: 4}
	st.Cursors["journal"] = source.Cursor{Journal: "s=abc;i=1"}
	if err := s.Save(st); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(s.Path()); fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v", fi.Mode())
	}
	got, err := s.Load(now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Bans) != 2 || got.Bans[0].Prefix != p("192.0.2.7/32") || !got.Bans[0].Until.Equal(now.Add(2*time.Hour)) || got.Bans[1].Prefix != p("2001:db8::/64") {
		t.Errorf("bans %+v", got.Bans)
	}
	if got.Cursors["journal"].Journal != "s=abc;i=1" || got.Cursors["file:/var/log/auth.log"].Off != 3 {
		t.Errorf("cursors %+v", got.Cursors)
	}
	// Later, the minute ban has expired.
	got, _ = s.Load(now.Add(10 * time.Minute))
	if len(got.Bans) != 1 {
		t.Errorf("after 10m: %+v", got.Bans)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left-over files: %v", entries)
	}
}

func TestDecodeErrors(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct{ in, want string }{
		{"{\n  \"version\": 1,\n  \"bans\": [oops]\n}", "state.json:3:12: invalid character"},
		{`{"version": 2}`, "version 2: expected 1"},
		{`{"version": 1, "bans": [{"prefix": "192.0.2.7/24", "until": "2030-01-01T00:00:00Z"}]}`, "bans[0]: prefix 192.0.2.7/24"},
		{`{"version": 1, "bans": [{"prefix": "nonsense"}]}`, "state.json:1:"},
		{`{"version": 1, "extra": true}`, "unknown field"},
		{`{"version": 1, "bans": 5}`, "state.json:1:"},
	} {
		_, err := Decode("state.json", []byte(tc.in), now)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestQuarantine(t *testing.T) {
	s, _ := Open(t.TempDir())
	os.WriteFile(s.Path(), []byte("{"), 0o600)
	if _, err := s.Load(time.Now()); err == nil {
		t.Fatal("damaged file loaded")
	}
	to, err := s.Quarantine(time.Unix(5, 0))
	if err != nil || !strings.HasSuffix(to, ".damaged-5") {
		t.Fatal(to, err)
	}
	if st, err := s.Load(time.Now()); err != nil || len(st.Bans) != 0 {
		t.Fatal(st, err)
	}
}

// FuzzDecode: a damaged snapshot is an error, never a panic, and what
// decodes holds only valid, unexpired, unique prefixes.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version":1,"bans":[{"prefix":"192.0.2.7/32","jail":"sshd","until":"2099-01-01T00:00:00Z"}],"cursors":{"journal":{"journal":"s=1"}}}`))
	f.Add([]byte(`{"version":1,"bans":[{"prefix":"2001:db8::/64","until":"2099-01-01T00:00:00Z"},{"prefix":"2001:db8::/64","until":"2098-01-01T00:00:00Z"}]}`))
	f.Add([]byte("{\n"))
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := Decode("f", b, now)
		if err != nil {
			return
		}
		seen := map[netip.Prefix]bool{}
		for _, x := range st.Bans {
			if !x.Prefix.IsValid() || x.Prefix.Masked() != x.Prefix || !x.Until.After(now) || seen[x.Prefix] {
				t.Fatalf("bad ban %+v", x)
			}
			seen[x.Prefix] = true
		}
	})
}

// TestSaveAsMarshal: the snapshot written one ban at a time is exactly
// json.Marshal's, plus a newline.
func TestSaveAsMarshal(t *testing.T) {
	at := time.Unix(1_700_000_000, 0).UTC()
	for _, st := range []State{
		{},
		{Bans: []Ban{}},
		{Bans: []Ban{{Prefix: netip.MustParsePrefix("192.0.2.7/32"), Jail: "sshd", At: at, Until: at.Add(time.Hour), Failures: 3, Count: 2},
			{Prefix: netip.MustParsePrefix("2001:db8::/64"), Jail: "sshd", At: at, Until: at.Add(time.Hour), Origin: "web2"}},
			Cursors: map[string]source.Cursor{"fleet": {Seq: 7}, "file:/var/log/auth.log": {Dev: 1, Ino: 2, Off: 3, Hash: 4}}},
	} {
		dir := t.TempDir()
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Save(st); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(s.Path())
		st.Version = Version
		want, _ := json.Marshal(st)
		if string(got) != string(want)+"\n" {
			t.Errorf("saved\n%s\nwant\n%s", got, want)
		}
		// The same bans one at a time: the same file.
		var bans iter.Seq[Ban]
		if st.Bans != nil {
			bans = func(yield func(Ban) bool) {
				for _, b := range st.Bans {
					if !yield(b) {
						return
					}
				}
			}
		}
		if err := s.SaveSeq(bans, st.Cursors); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(s.Path()); string(got) != string(want)+"\n" {
			t.Errorf("SaveSeq saved\n%s\nwant\n%s", got, want)
		}
	}
}
