package sshhost

import (
	"bytes"
	"fmt"
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
				case res[i].Err != nil || string(res[i].Data) != w:
					t.Errorf("%s: %q, %v; want %q", paths[i], res[i].Data, res[i].Err, w)
				}
			}
		})
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
