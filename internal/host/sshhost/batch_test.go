package sshhost

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/host"
)

// sedL escapes one line as GNU sed's `l 0` does in the C locale.
func sedL(line []byte) string {
	var b bytes.Buffer
	for _, c := range line {
		switch c {
		case '\\':
			b.WriteString(`\\`)
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\v':
			b.WriteString(`\v`)
		default:
			if c < 0x20 || c > 0x7e {
				fmt.Fprintf(&b, `\%03o`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('$')
	return b.String()
}

// Whatever a line holds, its escaped form comes back byte for byte.
func FuzzUnescapeSedL(f *testing.F) {
	f.Add([]byte("a\\b\tc\x00\xff$"))
	f.Fuzz(func(t *testing.T, line []byte) {
		line = bytes.ReplaceAll(line, []byte("\n"), nil)
		esc := sedL(line)
		got, ok := unescapeSedL([]byte(esc[:len(esc)-1]))
		if !ok || !bytes.Equal(got, line) {
			t.Fatalf("%q -> %q -> %q, %v", line, esc, got, ok)
		}
	})
}

func TestParseSedBatch(t *testing.T) {
	paths := []string{"/a", "/b", "/c", "/a"}
	for _, tc := range []struct {
		name, stdout, stderr string
		want                 []string // data, or "!" for an error
		ok                   bool
	}{
		{name: "plain", stdout: "/a\nx$\n/b\ny$\nz$\n/c\n$\n/a\nx$\n", want: []string{"x\n", "y\nz\n", "\n", "x\n"}, ok: true},
		{name: "empty and missing", stdout: "/a\nx$\n/a\nx$\n", stderr: "sed: can't read /c: No such file or directory\n", want: []string{"x\n", "", "!", "x\n"}, ok: true},
		{name: "a content line naming the next file ends in $", stdout: "/a\n/b$\n", want: []string{"/b\n", "", "", ""}, ok: true},
		{name: "unknown name line", stdout: "/a\n/d\n", ok: false},
		{name: "names out of order", stdout: "/b\nx$\n/a\n", want: nil, ok: true},
		{name: "raw control byte", stdout: "/a\nx\ty$\n", ok: false},
		{name: "bad escape", stdout: "/a\nx\\q$\n", ok: false},
		{name: "no final newline", stdout: "/a\nx$", ok: false},
		{name: "duplicate path missing", stdout: "/b\ny$\n", stderr: "sed: can't read /a: No such file or directory\n", want: []string{"!", "y\n", "", "!"}, ok: true},
		{name: "read error", stdout: "/a\nx$\n/a\nx$\n", stderr: "sed: read error on /b: Is a directory\nsed: can't read /c: No such file or directory\n", want: []string{"x\n", "?", "!", "x\n"}, ok: true},
		{name: "stderr naming a path not asked for", stdout: "/a\nx$\n", stderr: "sed: can't read /d: No such file or directory\n", ok: false},
		{name: "stderr about something else", stdout: "/a\nx$\n", stderr: "sed: -e expression #1, char 1: unknown command: `F'\n", ok: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, ok := parseSedBatch(paths, []byte(tc.stdout), []byte(tc.stderr))
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok || tc.want == nil {
				return
			}
			for i, w := range tc.want {
				switch {
				case w == "!":
					if !host.IsNotExist(res[i].Err) {
						t.Errorf("%s: error %v, want not-exist", paths[i], res[i].Err)
					}
				case w == "?":
					if res[i].Err == nil || host.IsNotExist(res[i].Err) {
						t.Errorf("%s: error %v, want another error", paths[i], res[i].Err)
					}
				case res[i].Err != nil || string(res[i].Data) != w:
					t.Errorf("%s: %q, %v; want %q", paths[i], res[i].Data, res[i].Err, w)
				}
			}
		})
	}
}

// A path may hold ": ", the separator of sed's error lines: the line is
// split at every ": " and each split naming a path of the batch counts.
func TestParseSedBatchColonPaths(t *testing.T) {
	paths := []string{"/x: y", "/x", "/z"}
	res, ok := parseSedBatch(paths, []byte("/z\nq$\n"), []byte("sed: can't read /x: y: No such file or directory\n"))
	if !ok {
		t.Fatal("not parsed")
	}
	if !host.IsNotExist(res[0].Err) {
		t.Errorf("%q: %v, want not-exist", paths[0], res[0].Err)
	}
	// "/x" is also named by the line's first split, with the reason "y: No such file or directory".
	if res[1].Err == nil || !strings.Contains(res[1].Err.Error(), "y: No such file") {
		t.Errorf("%q: %v, want the first split's reason", paths[1], res[1].Err)
	}
	if string(res[2].Data) != "q\n" {
		t.Errorf("%q: %q", paths[2], res[2].Data)
	}
}

// Small kernel text goes to the shell's builtin read (no program); socket
// tables, /proc/sys numbers and everything else to sed.
func TestKernelText(t *testing.T) {
	for p, want := range map[string]bool{
		"/proc/net/dev":                 true,
		"/proc/net/sockstat":            true,
		"/proc/net/ip_tables_names":     true,
		"/proc/sys/kernel/hostname":     true,
		"/proc/1242/fdinfo/3":           true,
		"/proc/1242/status":             true,
		"/proc/self/status":             false,
		"/proc/1242/task/1/status":      false,
		"/etc/1242/status":              false,
		"/proc/net/tcp":                 false,
		"/proc/net/tcp6":                false,
		"/proc/net/unix":                false,
		"/proc/sys/net/ipv4/ip_forward": false,
		"/proc/self/fdinfo/3":           false,
		"/proc/12/fdinfo/x":             false,
		"/proc/12/fdinfo/":              false,
		"/proc/net/../self/environ":     false,
		"/proc/1/fdinfo/3\n":            false,
		"/etc/os-release":               false,
	} {
		if got := kernelText(p); got != want {
			t.Errorf("kernelText(%q) = %v, want %v", p, got, want)
		}
	}
}

// Whatever sed printed (or a host printed in its place), splitting it
// into files never panics, and when it parses there is one result per
// path, each either data or an error.
func FuzzParseSedBatch(f *testing.F) {
	f.Add([]byte("/a\nx$\n/b\ny$\nz$\n/c\n$\n/a\nx$\n"), []byte(""))
	f.Add([]byte("/a\nx\\001\\\\$\n"), []byte("sed: can't read /c: No such file or directory\nsed: read error on /b: Is a directory\n"))
	paths := []string{"/a", "/b", "/c", "/a"}
	f.Fuzz(func(t *testing.T, stdout, stderr []byte) {
		res, ok := parseSedBatch(paths, stdout, stderr)
		if !ok {
			return
		}
		if len(res) != len(paths) {
			t.Fatalf("%d results for %d paths", len(res), len(paths))
		}
		for i, r := range res {
			if (r.Err == nil) == (r.Data == nil) {
				t.Fatalf("result %d: data %q and error %v", i, r.Data, r.Err)
			}
		}
	})
}

// What a host prints in place of the glob read's script is taken only
// when every announcement is one the script makes: a pattern's marker in
// order, then names the pattern matches and the kernel writes, sorted.
func TestGlobResults(t *testing.T) {
	pats := []string{"/proc/7/fdinfo/[0-9]*", "/proc/8/fdinfo/[0-9]*"}
	for _, tc := range []struct {
		name, out string
		want      string // "" when it must not parse
	}{
		{"two patterns", "#0\n@/proc/7/fdinfo/0\n|pos:\t0\n|ino:\t12\n!/proc/7/fdinfo/3 No such file or directory\n#1\n",
			"/proc/7/fdinfo/0=pos:\t0\nino:\t12\n;/proc/7/fdinfo/3!gone;|"},
		{"empty file", "#0\n@/proc/7/fdinfo/1\n#1\n@/proc/8/fdinfo/2\n|x\n", "/proc/7/fdinfo/1=;|/proc/8/fdinfo/2=x\n;"},
		{"nothing matched", "#0\n#1\n", "|"},
		{"marker missing", "#0\n@/proc/7/fdinfo/1\n", ""},
		{"markers out of order", "#1\n#0\n", ""},
		{"one marker too many", "#0\n#1\n#2\n", ""},
		{"another process's file", "#0\n@/proc/8/fdinfo/1\n#1\n", ""},
		{"a name the kernel does not write", "#0\n@/proc/7/fdinfo/1x\n#1\n", ""},
		{"outside the pattern", "#0\n@/etc/shadow\n|root:x\n#1\n", ""},
		{"not sorted", "#0\n@/proc/7/fdinfo/2\n@/proc/7/fdinfo/10\n#1\n", ""},
		{"twice", "#0\n@/proc/7/fdinfo/2\n@/proc/7/fdinfo/2\n#1\n", ""},
		{"line before any file", "|x\n#0\n#1\n", ""},
		{"line after an error", "#0\n!/proc/7/fdinfo/2 Permission denied\n|x\n#1\n", ""},
		{"no final newline", "#0\n#1", ""},
		{"unknown announcement", "#0\n?x\n#1\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var res [][]host.NamedFile
			if entries := parseShellRead([]byte(tc.out)); entries != nil {
				res = globResults(pats, entries)
			}
			if res == nil {
				if tc.want != "" {
					t.Fatalf("did not parse; want %q", tc.want)
				}
				return
			}
			var parts []string
			for _, files := range res {
				var b strings.Builder
				for _, f := range files {
					if f.Err != nil {
						why := "other"
						if errors.Is(f.Err, fs.ErrNotExist) {
							why = "gone"
						}
						b.WriteString(f.Path + "!" + why + ";")
						continue
					}
					b.WriteString(f.Path + "=" + string(f.Data) + ";")
				}
				parts = append(parts, b.String())
			}
			if got := strings.Join(parts, "|"); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// Whatever a host printed, the glob read's parsing never panics, and what
// it takes is a result per pattern of names the patterns match.
func FuzzGlobResults(f *testing.F) {
	f.Add([]byte("#0\n@/proc/7/fdinfo/0\n|pos:\t0\n!/proc/7/fdinfo/3 No such file or directory\n#1\n@/proc/8/fdinfo/12\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		pats := []string{"/proc/7/fdinfo/[0-9]*", "/proc/8/fdinfo/[0-9]*"}
		entries := parseShellRead(out)
		if entries == nil {
			return
		}
		res := globResults(pats, entries)
		if res == nil {
			return
		}
		if len(res) != len(pats) {
			t.Fatalf("%d results for %d patterns", len(res), len(pats))
		}
		for k, files := range res {
			for _, f := range files {
				if ok, _ := path.Match(pats[k], f.Path); !ok || (f.Err == nil) == (f.Data == nil) {
					t.Fatalf("pattern %s: %+v", pats[k], f)
				}
			}
		}
	})
}

// The listing of sedReadGlobs is taken only as the line prints it: words
// that are absolute paths, then one count per pattern, each beyond the
// last, the last one the number of words.
func TestParseGlobWords(t *testing.T) {
	pats := []string{"/e/*.conf", "/e/x", "/p/[0-9]*"}
	for _, tc := range []struct {
		name, out string
		want      string // segments, or "" when it must not parse
	}{
		{"matches", "/e/a.conf\x00/e/b.conf\x00/e/x\x00/p/1\x00\x02 2+ 3+ 4+\x00sed output", "[0 1] [2] [3]|sed output"},
		{"nothing matched", "/e/*.conf\x00/e/x\x00/p/[0-9]*\x00\x02 1 2 3\x00", "[] [] []|"},
		{"a plain path that exists", "/e/*.conf\x00/e/x\x00/p/[0-9]*\x00\x02 1 2+ 3\x00", "[] [1] []|"},
		{"one match named like the pattern", "/e/*.conf\x00/e/x\x00/p/[0-9]*\x00\x02 1+ 2 3\x00", "[0] [] []|"},
		{"a relative word", "e/a.conf\x00/e/x\x00/p/1\x00\x02 1+ 2+ 3+\x00", ""},
		{"no counts", "/e/a.conf\x00/e/x\x00/p/1\x00", ""},
		{"a count too few", "/e/a.conf\x00/e/x\x00/p/1\x00\x02 1+ 3+\x00", ""},
		{"a count too many", "/e/a.conf\x00/e/x\x00/p/1\x00\x02 1+ 2+ 3+ 3+\x00", ""},
		{"a pattern without a word", "/e/a.conf\x00/e/x\x00/p/1\x00\x02 1+ 1+ 3+\x00", ""},
		{"counts short of the words", "/e/a.conf\x00/e/x\x00/p/1\x00/p/2\x00\x02 1+ 2+ 3+\x00", ""},
		{"counts beyond the words", "/e/a.conf\x00\x02 1+ 2+ 3+\x00", ""},
		{"not a number", "/e/a.conf\x00/e/x\x00/p/1\x00\x02 1+ x 3+\x00", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			words, segs, rest, ok := parseGlobWords(pats, []byte(tc.out))
			if !ok {
				if tc.want != "" {
					t.Fatalf("did not parse; want %q", tc.want)
				}
				return
			}
			s := fmt.Sprint(segs) // [[0 1] [2] [3]]
			got := s[1:len(s)-1] + "|" + string(rest)
			if tc.want == "" || got != tc.want {
				t.Errorf("got %q (words %q); want %q", got, words, tc.want)
			}
		})
	}
}

// Whatever a host printed in place of the line, its listing never
// panics, and what it takes holds each word in at most one pattern's
// matches, in order.
func FuzzParseGlobWords(f *testing.F) {
	f.Add([]byte("/e/a.conf\x00/e/b.conf\x00/e/x\x00\x02 2+ 3+\x00/e/a.conf\nx$\n"))
	f.Add([]byte("/e/*.conf\x00/e/x\x00\x02 1 2\x00"))
	f.Fuzz(func(t *testing.T, out []byte) {
		pats := []string{"/e/*.conf", "/e/x"}
		words, segs, _, ok := parseGlobWords(pats, out)
		if !ok {
			return
		}
		if len(segs) != len(pats) {
			t.Fatalf("%d segments for %d patterns", len(segs), len(pats))
		}
		next := 0
		for _, seg := range segs {
			for _, i := range seg {
				if i < next || i >= len(words) || !strings.HasPrefix(words[i], "/") {
					t.Fatalf("segments %v over %d words %q", segs, len(words), words)
				}
				next = i + 1
			}
		}
	})
}

// A batch of every process's files on a busy host: 600 paths, a third of
// them gone by the time sed reads them.
func BenchmarkParseSedBatch(b *testing.B) {
	var paths []string
	var stdout, stderr strings.Builder
	for i := range 600 {
		p := fmt.Sprintf("/proc/%d/cmdline", 1000+i)
		paths = append(paths, p)
		if i%3 == 0 {
			fmt.Fprintf(&stderr, "sed: can't read %s: No such file or directory\n", p)
		} else {
			fmt.Fprintf(&stdout, "%s\n/usr/sbin/sshd\\000-D\\000$\n", p)
		}
	}
	out, errs := []byte(stdout.String()), []byte(stderr.String())
	for b.Loop() {
		if _, ok := parseSedBatch(paths, out, errs); !ok {
			b.Fatal("not parsed")
		}
	}
}
