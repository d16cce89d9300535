package sshhost

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/host"
)

// readUntil splits a shell's stream at the marker line only: output that
// ends without a newline, is empty, or carries look-alike lines comes
// back byte for byte, and the cap is exact.
func TestReadUntil(t *testing.T) {
	const m = "rampart-end-0123"
	for _, tc := range []struct {
		name, stream string
		max          int64
		data, rest   string
		over         bool
	}{
		{name: "plain", stream: "a\nb\n\n" + m + " 0\n", max: 100, data: "a\nb\n", rest: " 0\n"},
		{name: "empty", stream: "\n" + m + " 3\n", max: 100, data: "", rest: " 3\n"},
		{name: "no final newline", stream: "abc\n" + m + " 0\n", max: 100, data: "abc", rest: " 0\n"},
		{name: "marker not at a line start", stream: "x" + m + " 9\n\n" + m + " 0\n", max: 100, data: "x" + m + " 9\n", rest: " 0\n"},
		{name: "another marker", stream: "rampart-end-9999 0\n\n" + m + " 1\n", max: 100, data: "rampart-end-9999 0\n", rest: " 1\n"},
		{name: "first line is the marker's text", stream: m + " 5\n\n" + m + " 0\n", max: 100, data: m + " 5\n", rest: " 0\n"},
		{name: "at the cap", stream: "12345\n" + m + " 0\n", max: 5, data: "12345", rest: " 0\n"},
		{name: "over the cap", stream: "123456\n" + m + " 0\n", max: 5, data: "12345", rest: " 0\n", over: true},
		{name: "long line over the cap", stream: strings.Repeat("z", 200000) + "\n" + m + " 0\n", max: 10, data: "zzzzzzzzzz", rest: " 0\n", over: true},
		{name: "long line", stream: strings.Repeat("z", 200000) + "\n" + m + " 0\n", max: 1 << 20, data: strings.Repeat("z", 200000), rest: " 0\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bufio.NewReaderSize(strings.NewReader(tc.stream+"next command's output"), 4096)
			data, rest, over, err := readUntil(r, []byte(m), tc.max)
			if err != nil || string(data) != tc.data || string(rest) != tc.rest || over != tc.over {
				t.Errorf("got %q rest %q over %v err %v;\nwant %q rest %q over %v", trunc(string(data)), rest, over, err, trunc(tc.data), tc.rest, tc.over)
			}
			if left, _ := r.ReadString(0); left != "next command's output" {
				t.Errorf("read past the marker: left %q", left)
			}
		})
	}
	if _, _, _, err := readUntil(bufio.NewReader(strings.NewReader("abc\n")), []byte(m), 10); err == nil {
		t.Error("a stream that ends before its marker is not an error")
	}
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Commands run in long-lived shells: what one command does to its
// standard input, its output or its shell never reaches the next one.
func TestShells(t *testing.T) {
	h := newLab(t).dialShells(t, 1)
	ctx := context.Background()
	run := func(c host.Cmd) *host.Output {
		t.Helper()
		out, err := h.Run(ctx, c)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		return out
	}
	// A program reading standard input sees /dev/null, not the commands
	// queued behind it.
	if out := run(host.C("cat")); len(out.Stdout) != 0 || out.ExitCode != 0 {
		t.Errorf("cat without stdin: %+v", out)
	}
	if out := run(host.C("sh", "-c", "read x; echo \"[$x]\"")); string(out.Stdout) != "[]\n" {
		t.Errorf("read without stdin: %q", out.Stdout)
	}
	// Output that imitates the end of a command, on either stream.
	fake := "\nrampart-end-00000000000000000000000000000000 0\n"
	if out := run(host.C("sh", "-c", `printf "$1"; printf "$1" >&2; exit 4`, "sh", fake)); string(out.Stdout) != fake || string(out.Stderr) != fake || out.ExitCode != 4 {
		t.Errorf("look-alike marker: %+v", out)
	}
	// A command cannot change the shell the next one runs in.
	run(host.C("sh", "-c", "exit 7"))
	if out := run(host.C("sh", "-c", "echo $PATH; echo $LC_ALL")); !strings.HasPrefix(string(out.Stdout), remotePath+"\nC\n") {
		t.Errorf("environment: %q", out.Stdout)
	}
	// Killed mid-command on a deadline: the shell is replaced and the
	// next command runs.
	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := h.Run(dctx, host.C("sleep", "31.25")); err == nil {
		t.Error("sleep under a 300ms deadline returned no error")
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the deadline returned after %v: it waited for the program", d)
	}
	if out := run(host.C("echo", "after")); string(out.Stdout) != "after\n" {
		t.Errorf("after a killed command: %q", out.Stdout)
	}
	// ... and the abandoned program does not run on.
	for i := 0; ; i++ {
		out := run(host.C("pgrep", "-f", "^sleep 31.25$"))
		if out.ExitCode == 1 {
			break
		}
		if i == 100 {
			t.Fatalf("sleep still runs after its deadline: pid %s", out.Stdout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A builtin name runs the program (env), and a keyword is a name.
	if out := run(host.C("printf", "%s", "-n")); string(out.Stdout) != "-n" {
		t.Errorf("printf: %q", out.Stdout)
	}
	if _, err := h.Run(ctx, host.C("if")); err == nil || !strings.Contains(err.Error(), "not found") && !strings.Contains(err.Error(), "if") {
		t.Errorf("a keyword as a program name: %v", err)
	}
	// One shell serves every concurrent caller, one at a time.
	var wg sync.WaitGroup
	pids := make([]string, 8)
	for i := range pids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := h.Run(ctx, host.C("sh", "-c", "echo $PPID"))
			if err == nil {
				pids[i] = strings.TrimSpace(string(out.Stdout))
			}
		}()
	}
	wg.Wait()
	for _, p := range pids {
		if p == "" || p != pids[0] {
			t.Fatalf("parent shells %q: want one shell for all", pids)
		}
	}
}

// A server that runs commands but not a long-lived shell (here a
// ForceCommand wrapper that refuses anything that is not one plain
// command, as restricted-access setups do, or gives it no input) still
// gets every command, each on a session of its own.
func TestShellRefused(t *testing.T) {
	for name, refuse := range map[string]string{
		"refused": "echo 'shells are not allowed here' >&2; exit 1",
		// Startup that waits for input never becomes ready.
		"hangs": "read x; sleep 60",
		// Ready, but the shell gets no commands: it ends at once, and
		// the command pipelined behind its first one never ran.
		"no stdin": "exec /bin/sh -c \"$SSH_ORIGINAL_COMMAND\" </dev/null",
	} {
		t.Run(name, func(t *testing.T) { testShellRefused(t, refuse) })
	}
}

func testShellRefused(t *testing.T, refuse string) {
	defer func(w time.Duration) { readyWait = w }(readyWait)
	readyWait = 500 * time.Millisecond
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "only-commands")
	script := "#!/bin/sh\ncase \"$SSH_ORIGINAL_COMMAND\" in *rampart-end*) " + refuse + ";; esac\nexec /bin/sh -c \"$SSH_ORIGINAL_COMMAND\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l := newLab(t, "ForceCommand "+wrapper)
	ctx := context.Background()
	h := l.dial(t)
	out, err := h.Run(ctx, host.C("echo", "still", "runs"))
	if err != nil || string(out.Stdout) != "still runs\n" {
		t.Fatalf("after the shell was refused: %v %+v", err, out)
	}
	if !h.noShells.Load() {
		t.Error("the refused shell was not noticed")
	}
	got, err := h.Glob(ctx, dir+"/only-*")
	if err != nil || len(got) != 1 || got[0] != wrapper {
		t.Errorf("Glob without shells = %q, %v", got, err)
	}
	if b, err := h.ReadFile(ctx, wrapper); err != nil || string(b) != script {
		t.Errorf("ReadFile without shells: %v", err)
	}
}

// ReadFiles reads a batch of files with one sed (kernel text in it too),
// and kernel text asked for alone with the shell's read, each file
// exactly as cat reads it there (plus a final newline): the numbers of
// /proc/sys too, which the kernel gives only to a read from their first
// byte.
func TestReadFilesBatched(t *testing.T) {
	l := newLab(t)
	ctx := context.Background()
	h := l.dial(t)
	dir := t.TempDir()
	var paths []string
	for i := range 40 {
		p := filepath.Join(dir, fmt.Sprintf("f%02d.conf", i))
		// Each file holds the next one's name and a line in sed's
		// escaped form.
		body := fmt.Sprintf("key%d = %d\n%s\nx\\000y$\n", i, i, filepath.Join(dir, fmt.Sprintf("f%02d.conf", i+1)))
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	kernel := []string{"/proc/sys/kernel/pid_max", "/proc/sys/net/ipv4/tcp_max_syn_backlog", "/proc/sys/kernel/hostname", "/proc/net/if_inet6", "/proc/net/ip_tables_names", "/proc/net/ptype"}
	// The shell's read prints its gathered lines every few lines (here
	// within /proc/net/ptype's five or so) and at the end.
	defer func(n int) { shellReadLines = n }(shellReadLines)
	shellReadLines = 2
	paths = append(paths, kernel...)
	before := batches.Load()
	got, err := h.ReadFiles(ctx, paths)
	if err != nil {
		t.Fatal(err)
	}
	if n := batches.Load() - before; n != 1 {
		t.Errorf("%d batches for %d files and %d kernel files; want one sed", n, len(paths)-len(kernel), len(kernel))
	}
	// Kernel text alone: the shell's read, no program.
	before = batches.Load()
	alone, err := h.ReadFiles(ctx, kernel[2:])
	if err != nil {
		t.Fatal(err)
	}
	if n := batches.Load() - before; n != 1 {
		t.Errorf("%d batches for %d kernel files alone; want one shell read", n, len(kernel)-2)
	}
	got = append(got, alone...)
	paths = append(paths, kernel[2:]...)
	for i, p := range paths {
		out, err := h.Run(ctx, host.C("cat", "--", p))
		if err != nil {
			t.Fatal(err)
		}
		want := host.TextLines(out.Stdout)
		if out.ExitCode != 0 {
			if !host.IsNotExist(got[i].Err) {
				t.Errorf("%s: cat failed (%s) but ReadFiles gave %q, %v", p, out.Stderr, got[i].Data, got[i].Err)
			}
			continue
		}
		if got[i].Err != nil || string(got[i].Data) != string(want) {
			t.Errorf("%s: ReadFiles = %q, %v; cat reads %q", p, got[i].Data, got[i].Err, want)
		}
	}
	// One ReadFile of a multi-digit /proc/sys number, and of kernel text.
	for _, p := range kernel[:4] {
		b, err := h.ReadFile(ctx, p)
		out, _ := h.Run(ctx, host.C("cat", "--", p))
		if err != nil || string(b) != string(out.Stdout) {
			t.Errorf("ReadFile(%s) = %q, %v; cat reads %q", p, b, err, out.Stdout)
		}
	}
}

// A command that arrives while the shell is busy is written behind the
// running one at once (pipelined), not held back until it ends; each gets
// its own output. So it is on a far host allowed three shells: it gets no
// second one. A command abandoned on its deadline takes the shell down
// with the ones written behind it, which fail naming why, and the next
// command gets a new shell.
func TestShellPipeline(t *testing.T) {
	l := newLab(t)
	t.Run("one shell", func(t *testing.T) { testShellPipeline(t, l.dialShells(t, 1)) })
	t.Run("far host", func(t *testing.T) {
		h := l.dialShells(t, 3)
		h.far = true
		testShellPipeline(t, h)
	})
}

func testShellPipeline(t *testing.T, h *Host) {
	ctx := context.Background()
	// The first command waits on a FIFO this test opens last (sshd runs
	// as root on this machine, in a network namespace only).
	gate := filepath.Join(t.TempDir(), "gate")
	if err := syscall.Mkfifo(gate, 0o600); err != nil {
		t.Fatal(err)
	}
	type result struct {
		out *host.Output
		err error
	}
	run := func(ctx context.Context, c host.Cmd) chan result {
		ch := make(chan result, 1)
		go func() {
			out, err := h.Run(ctx, c)
			ch <- result{out, err}
		}()
		return ch
	}
	sent := func() int64 {
		h.mu.Lock()
		defer h.mu.Unlock()
		var n int64
		for _, sh := range h.pool {
			n += sh.sent.Load()
		}
		return n
	}
	waitSent := func(n int64) {
		t.Helper()
		for end := time.Now().Add(30 * time.Second); sent() < n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("%d commands written to the shell, want %d: the pipeline holds commands back", sent(), n)
			}
		}
	}
	first := run(ctx, host.C("cat", gate))
	waitSent(2) // shellInit, then cat
	second := run(ctx, host.C("echo", "second"))
	waitSent(3) // written while cat still waits
	select {
	case r := <-second:
		t.Fatalf("second command answered before the first ended: %+v, %v", r.out, r.err)
	default:
	}
	if h.mu.Lock(); len(h.pool) != 1 {
		t.Errorf("%d shells for two commands, want the second pipelined in the first", len(h.pool))
	}
	h.mu.Unlock()
	if err := os.WriteFile(gate, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]struct {
		ch  chan result
		out string
	}{"first": {first, "first\n"}, "second": {second, "second\n"}} {
		r := <-want.ch
		if r.err != nil || string(r.out.Stdout) != want.out || r.out.ExitCode != 0 {
			t.Errorf("%s: %+v, %v; want %q", name, r.out, r.err, want.out)
		}
	}

	// Abandoned on its deadline, with a command written behind it.
	dctx, cancel := context.WithCancel(ctx)
	before := sent()
	stuck := run(dctx, host.C("cat", gate))
	waitSent(before + 1)
	behind := run(ctx, host.C("echo", "behind"))
	waitSent(before + 2)
	cancel()
	if r := <-stuck; r.err == nil {
		t.Errorf("abandoned command returned %+v", r.out)
	}
	if r := <-behind; r.err == nil || !strings.Contains(r.err.Error(), "abandoned") {
		t.Errorf("command behind the abandoned one: %+v, %v; want an error naming it", r.out, r.err)
	}
	if out, err := h.Run(ctx, host.C("echo", "after")); err != nil || string(out.Stdout) != "after\n" {
		t.Errorf("after the abandoned shell: %+v, %v", out, err)
	}
}

// ReadGlobs lists and reads a process's descriptor files with one script
// of the shell's builtins (one round trip), each match as ReadFiles reads
// it; a pattern that matches nothing is an empty result, and patterns of
// any other files take GlobAll and ReadFiles.
func TestReadGlobs(t *testing.T) {
	l := newLab(t)
	ctx := context.Background()
	h := l.dial(t)
	// Files this process holds open: their descriptors' fdinfo names
	// their inodes (sshd runs on this machine, in a network namespace).
	dir := t.TempDir()
	want := map[string]uint64{}
	for i := range 3 {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("held%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var st syscall.Stat_t
		if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		want[fmt.Sprintf("/proc/%d/fdinfo/%d", os.Getpid(), f.Fd())] = st.Ino
	}
	// With a /proc/net table named in full (the lab's namespace has
	// few sockets), and one that does not exist.
	pats := []string{fmt.Sprintf("/proc/%d/fdinfo/[0-9]*", os.Getpid()), "/proc/999999999/fdinfo/[0-9]*", "/proc/net/tcp", "/proc/net/nope"}
	got, err := h.shellReadGlobs(ctx, pats)
	if err != nil || got == nil {
		t.Fatalf("the script did not read them: %v", err)
	}
	apart, err := host.ReadGlobsApart(ctx, h, pats)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || len(got[1]) != 0 || len(got[3]) != 0 {
		t.Fatalf("got %d results: %v; want 4, the second and the last empty", len(got), got)
	}
	// The listening sockets' lines do not change between the reads
	// (the connection's own line does: its timers and queues).
	listening := func(fs []host.NamedFile) string {
		if len(fs) != 1 || fs[0].Path != "/proc/net/tcp" || fs[0].Err != nil {
			return fmt.Sprintf("%+v", fs)
		}
		var ls []string
		for _, l := range strings.SplitAfter(string(fs[0].Data), "\n") {
			if strings.HasPrefix(l, "  sl ") || strings.Contains(l, " 0A ") {
				ls = append(ls, l)
			}
		}
		return strings.Join(ls, "")
	}
	if a, b := listening(got[2]), listening(apart[2]); a != b || !strings.Contains(a, " 0A ") {
		t.Errorf("/proc/net/tcp's listeners: %q; GlobAll and ReadFiles read %q", a, b)
	}
	for i, f := range got[0] {
		if i > 0 && got[0][i-1].Path >= f.Path {
			t.Errorf("%s after %s: not sorted", f.Path, got[0][i-1].Path)
		}
		ino, ok := want[f.Path]
		if !ok {
			continue
		}
		delete(want, f.Path)
		if f.Err != nil || !strings.Contains(string(f.Data), fmt.Sprintf("\nino:\t%d\n", ino)) {
			t.Errorf("%s = %q, %v; want its ino: line %d", f.Path, f.Data, f.Err, ino)
		}
		// As the listing and ReadFiles read it.
		var other []byte
		for _, a := range apart[0] {
			if a.Path == f.Path {
				other = a.Data
			}
		}
		if string(other) != string(f.Data) {
			t.Errorf("%s: GlobAll and ReadFiles read %q; the script %q", f.Path, other, f.Data)
		}
	}
	if len(want) > 0 {
		t.Errorf("descriptors not listed: %v", want)
	}
	// Other files: listed, then read.
	for _, name := range []string{"a.conf", "b.conf", "c.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err = h.ReadGlobs(ctx, []string{filepath.Join(dir, "*.conf"), filepath.Join(dir, "*.none")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[0]) != 2 || len(got[1]) != 0 || got[0][1].Path != filepath.Join(dir, "b.conf") || string(got[0][1].Data) != "b.conf\n" {
		t.Errorf("ReadGlobs of *.conf, *.none = %+v", got)
	}
}

// Patterns of any other files are listed and read by one line of the
// shell with one sed, each match as GlobAll and ReadFiles find it: empty
// files, links to /dev/null and dangling ones, a directory, a pattern that
// matches nothing and a plain path that does not exist. Names sed's output
// could confuse keep the listing and are read apart.
func TestReadGlobsSed(t *testing.T) {
	l := newLab(t)
	ctx := context.Background()
	h := l.dial(t)
	dir := t.TempDir()
	for name, body := range map[string]string{"a.conf": "x = 1\n", "b.conf": "", "c.conf": "no final newline", "d.txt": "d\n",
		"e.conf": "/tmp/x/a.conf\n" + dir + "/b.conf\n\\000 $\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{"null.conf": "/dev/null", "gone.conf": filepath.Join(dir, "nowhere")} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	render := func(res [][]host.NamedFile) string {
		var b strings.Builder
		for k, files := range res {
			fmt.Fprintf(&b, "#%d", k)
			for _, f := range files {
				fmt.Fprintf(&b, " %s=%q/%v", f.Path, f.Data, f.Err)
			}
		}
		return b.String()
	}
	pats := []string{filepath.Join(dir, "*.conf"), filepath.Join(dir, "*.none"), filepath.Join(dir, "d.txt"), filepath.Join(dir, "missing"),
		filepath.Join(dir, "gone.conf"), "/proc/sys/kernel/hostname", filepath.Join(dir, "[ab].conf")}
	before := batches.Load()
	got, err := h.sedReadGlobs(ctx, pats)
	if err != nil || got == nil {
		t.Fatalf("the line did not read them: %v", err)
	}
	if n := batches.Load() - before; n != 1 {
		t.Errorf("%d batches; want the line's sed alone", n)
	}
	want, err := host.ReadGlobsApart(ctx, h, pats)
	if err != nil {
		t.Fatal(err)
	}
	if render(got) != render(want) {
		t.Errorf("one line:\n%s\nGlobAll then ReadFiles:\n%s", render(got), render(want))
	}
	if len(got[0]) != 7 || len(got[1]) != 0 || len(got[3]) != 0 || len(got[4]) != 1 || !host.IsNotExist(got[4][0].Err) || len(got[6]) != 2 {
		t.Errorf("matches: %s", render(got))
	}
	// A name that ends in '$': listed, then read apart, as ReadFiles does.
	if err := os.WriteFile(filepath.Join(dir, "z.conf$"), []byte("z\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pats = []string{filepath.Join(dir, "*.conf*")}
	got, err = h.sedReadGlobs(ctx, pats)
	if err != nil || got == nil {
		t.Fatalf("the line did not list them: %v", err)
	}
	if want, _ := host.ReadGlobsApart(ctx, h, pats); render(got) != render(want) {
		t.Errorf("with a name ending in $:\n%s\nGlobAll then ReadFiles:\n%s", render(got), render(want))
	}
	if last := got[0][len(got[0])-1]; last.Path != filepath.Join(dir, "z.conf$") || string(last.Data) != "z\n" {
		t.Errorf("z.conf$ = %+v", last)
	}
}
