// Package hostconformance is one suite of behaviours every host.Host must
// share: the real machine (host.Local), a remote one over SSH (sshhost) and
// the captured-output fixture (hosttest.Fixture) that every check is tested
// against. A check tested on a fixture is only as good as the fixture's
// likeness to the real hosts, so the same cases run against all three.
//
// The suite describes a small world (files under a base directory and
// programs with the outputs the real ones give); a real host is prepared by
// writing the files, a fixture by loading both files and outputs.
package hostconformance

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/host"
)

// Nasty are arguments a careless quoting layer would change.
var Nasty = []string{"", "plain", "two words", "it's", `"dq"`, "$(id)", "`id`", "a;b|c&d", "*", "~",
	"new\nline", "tab\tx", "-n", `back\slash`, "'", "''"}

// World is what the suite expects to find on a host.
type World struct {
	// Files maps names relative to the base directory to contents.
	Files map[string]string
	// Cmds are the programs the suite runs, with what a real system prints.
	Cmds []Cmd
	// Missing is a program that is installed nowhere.
	Missing string
}

// Cmd is one program run and its real outcome.
type Cmd struct {
	Cmd    host.Cmd
	Stdout string
	Stderr string
	Exit   int
}

// Default is the world every host is checked against.
func Default() World {
	return World{
		Files: map[string]string{
			"etc/ssh/sshd_config":             "PasswordAuthentication no\n",
			"etc/ssh/sshd_config.d/10-a.conf": "X11Forwarding no\n",
			"etc/ssh/sshd_config.d/20-b.conf": "MaxAuthTries 3\n",
			"etc/ssh/sshd_config.d/skip.txt":  "not a conf\n",
			"empty":                           "",
			"binary":                          "\x00\xff\x1b[31m\r\n",
			// What a batched read must not mistake for the end of one file
			// and the start of another (see sshhost's ReadFiles).
			"lookalike": "etc/ssh/sshd_config\n@1\n|x\n!2 ENOENT\nends in $\n$\n\\ back\\slash \\000\nno final newline",
			"dollar$":   "a name that ends in $\n",
			"new\nline": "a name with a newline\n",
		},
		Cmds: []Cmd{
			{Cmd: host.Cmd{Name: "printf", Args: append([]string{"%s|"}, Nasty...)}, Stdout: strings.Join(Nasty, "|") + "|"},
			{Cmd: host.Cmd{Name: "sh", Args: []string{"-c", "echo out; echo 'first err' >&2; echo second >&2; exit 3"}},
				Stdout: "out\n", Stderr: "first err\nsecond\n", Exit: 3},
			{Cmd: host.Cmd{Name: "cat", Stdin: []byte("via stdin\n")}, Stdout: "via stdin\n"},
			{Cmd: host.C("true")},
		},
		Missing: "rampart-no-such-program",
	}
}

// Subject is a host under test, with the base directory where the world's
// files are.
type Subject struct {
	Host host.Host
	Base string
}

// Run checks h against w. prepare makes a host that holds w's files under
// a base directory (and, for a fixture, w's program outputs).
func Run(t *testing.T, w World, prepare func(t *testing.T, w World) Subject) {
	t.Helper()
	s := prepare(t, w)
	ctx := context.Background()
	h, base := s.Host, s.Base

	t.Run("run", func(t *testing.T) {
		for _, c := range w.Cmds {
			out, err := h.Run(ctx, c.Cmd)
			if err != nil {
				t.Errorf("%s: error %v; a program that ran is never an error", c.Cmd, err)
				continue
			}
			if string(out.Stdout) != c.Stdout || string(out.Stderr) != c.Stderr || out.ExitCode != c.Exit {
				t.Errorf("%s:\n got stdout %q stderr %q exit %d\nwant stdout %q stderr %q exit %d",
					c.Cmd, out.Stdout, out.Stderr, out.ExitCode, c.Stdout, c.Stderr, c.Exit)
			}
		}
	})
	t.Run("run-ok", func(t *testing.T) {
		for _, c := range w.Cmds {
			stdout, err := host.RunOK(ctx, h, c.Cmd)
			if c.Exit == 0 {
				if err != nil || string(stdout) != c.Stdout {
					t.Errorf("RunOK(%s) = %q, %v", c.Cmd, stdout, err)
				}
				continue
			}
			first, _, _ := strings.Cut(c.Stderr, "\n")
			if err == nil || !strings.HasSuffix(err.Error(), fmt.Sprintf("exit status %d: %s", c.Exit, first)) {
				t.Errorf("RunOK(%s) error = %v; want the exit status and only stderr's first line %q", c.Cmd, err, first)
			}
			if string(stdout) != c.Stdout {
				t.Errorf("RunOK(%s) stdout = %q; a failed program's output is still returned", c.Cmd, stdout)
			}
		}
	})
	t.Run("missing-program", func(t *testing.T) {
		_, err := h.Run(ctx, host.C(w.Missing, "--version"))
		var nf *host.NotFoundError
		if !errors.Is(err, host.ErrNotFound) || !errors.As(err, &nf) || nf.Name != w.Missing {
			t.Errorf("Run(%s) error = %v; want a NotFoundError naming it", w.Missing, err)
		}
	})
	t.Run("read-file", func(t *testing.T) {
		for name, want := range w.Files {
			got, err := h.ReadFile(ctx, path.Join(base, name))
			if err != nil || string(got) != want {
				t.Errorf("ReadFile(%s) = %q, %v; want %q", name, got, err, want)
			}
		}
		if _, err := h.ReadFile(ctx, path.Join(base, "no-such-file")); !host.IsNotExist(err) {
			t.Errorf("ReadFile(missing) error = %v; want not-exist", err)
		}
	})
	t.Run("read-files", func(t *testing.T) {
		var names, paths []string
		for name := range w.Files {
			names = append(names, name)
		}
		sort.Strings(names)
		names = append(names, "no-such-file", "etc", names[0])
		for _, n := range names {
			paths = append(paths, path.Join(base, n))
		}
		got, err := host.ReadFiles(ctx, h, paths)
		if err != nil || len(got) != len(paths) {
			t.Fatalf("ReadFiles = %d results, %v; want %d", len(got), err, len(paths))
		}
		for i, n := range names {
			want, ok := w.Files[n]
			switch {
			case ok:
				if got[i].Err != nil || string(got[i].Data) != string(host.TextLines([]byte(want))) {
					t.Errorf("ReadFiles: %q = %q, %v; want %q (with a final newline)", n, got[i].Data, got[i].Err, host.TextLines([]byte(want)))
				}
			case n == "no-such-file":
				if !host.IsNotExist(got[i].Err) {
					t.Errorf("ReadFiles: missing file: error %v; want not-exist", got[i].Err)
				}
			default:
				if got[i].Err == nil {
					t.Errorf("ReadFiles: directory %q read as %q; want an error", n, got[i].Data)
				}
			}
		}
	})
	t.Run("open-file", func(t *testing.T) {
		r, err := host.OpenFile(ctx, h, path.Join(base, "etc/ssh/sshd_config"))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		buf := make([]byte, 64)
		n, _ := r.Read(buf)
		if string(buf[:n]) != w.Files["etc/ssh/sshd_config"] {
			t.Errorf("OpenFile read %q", buf[:n])
		}
		if _, err := host.OpenFile(ctx, h, path.Join(base, "no-such-file")); !host.IsNotExist(err) {
			t.Errorf("OpenFile(missing) error = %v; want not-exist", err)
		}
	})
	t.Run("glob", func(t *testing.T) {
		got, err := h.Glob(ctx, path.Join(base, "etc/ssh/sshd_config.d/*.conf"))
		want := []string{path.Join(base, "etc/ssh/sshd_config.d/10-a.conf"), path.Join(base, "etc/ssh/sshd_config.d/20-b.conf")}
		if err != nil || strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("Glob = %q, %v; want %q (sorted, only matches)", got, err, want)
		}
		got, err = h.Glob(ctx, path.Join(base, "etc/none*"))
		if err != nil || len(got) != 0 {
			t.Errorf("Glob(no match) = %q, %v; want nothing and no error", got, err)
		}
		if got, err := h.Glob(ctx, path.Join(base, "etc/ssh/sshd_config.d/1*")); err != nil || len(got) != 1 || got[0] != want[0] {
			t.Errorf("Glob(one match) = %q, %v; want %q", got, err, want[:1])
		}
		if got, err := h.Glob(ctx, path.Join(base, "etc/ssh/no-such-file")); err != nil || len(got) != 0 {
			t.Errorf("Glob(a missing plain path) = %q, %v; want nothing and no error", got, err)
		}
		// Several patterns at once (one round trip where the host
		// batches): each answered as Glob answers it, in order.
		pats := []string{path.Join(base, "etc/none*"), path.Join(base, "etc/ssh/sshd_config.d/*.conf"), path.Join(base, "etc/ssh/sshd_config")}
		all, err := host.GlobAll(ctx, h, pats)
		if err != nil || len(all) != 3 || len(all[0]) != 0 || strings.Join(all[1], ",") != strings.Join(want, ",") ||
			len(all[2]) != 1 || all[2][0] != pats[2] {
			t.Errorf("GlobAll = %q, %v; want [] %q [%s]", all, err, want, pats[2])
		}
		// Listed and read together: each match with what ReadFiles
		// reads there.
		read, err := host.ReadGlobs(ctx, h, pats)
		var got2 []string
		for _, fs := range read {
			var b strings.Builder
			for _, f := range fs {
				fmt.Fprintf(&b, "%s=%q %v;", f.Path, f.Data, f.Err)
			}
			got2 = append(got2, b.String())
		}
		want2 := []string{"", fmt.Sprintf("%s=%q <nil>;%s=%q <nil>;", want[0], "X11Forwarding no\n", want[1], "MaxAuthTries 3\n"),
			fmt.Sprintf("%s=%q <nil>;", pats[2], "PasswordAuthentication no\n")}
		if err != nil || strings.Join(got2, "|") != strings.Join(want2, "|") {
			t.Errorf("ReadGlobs = %q, %v; want %q", got2, err, want2)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if out, err := h.Run(cctx, host.C("true")); err == nil {
			t.Errorf("Run with a cancelled context = %+v, nil; want an error", out)
		}
	})
}
