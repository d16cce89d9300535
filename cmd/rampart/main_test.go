package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/rampart-sec/rampart/internal/cli"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// update rewrites the cmp'd golden sections of the scripts in place:
// go test ./cmd/rampart -run TestScripts -update
var update = flag.Bool("update", false, "rewrite golden sections of testdata/script/*.txtar")

// TestMain registers rampart as an in-process command of the test binary,
// so scripts run "rampart ..." (or "exec rampart ...") without a go build.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"rampart": func() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs every testdata/script/*.txtar; to add a CLI test, add a
// script there, no Go code. Besides testscript's built-in conditions
// ([exec:prog], [short], [linux] …) scripts can use:
//
//	[root]        the test runs as uid 0
//	[e2e]         RAMPART_E2E=1 is set
//	[can:root]    like [root], but under RAMPART_E2E=1 a missing capability
//	[can:PROG]    fails the script instead of being false; PROG is looked up
//	              on PATH and in the sbin directories (testenv.LookPath)
//
// So "[!can:root] skip 'needs root'" skips normally and fails in CI, the
// same contract as testenv.Missing. RAMPART_E2E is passed through; $HOME is
// the script's $WORK directory. The extra command "exits CODE PROG ARGS..."
// asserts an exact exit code; "sshd-ready" sets $SSHD to an sshd that can
// start (testenv.SSHD: its privilege-separation directory exists), the
// only way scripts start sshd; "netns NS..." creates network namespaces
// that are emptied (their processes killed) and deleted when the script
// ends, pass or fail; "netns-passwd NS..." gives root /bin/sh in them.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
		Setup: func(e *testscript.Env) error {
			e.Setenv("HOME", e.WorkDir)
			e.Setenv("RAMPART_E2E", os.Getenv("RAMPART_E2E"))
			return nil
		},
		Condition: condition,
		Cmds:      map[string]func(*testscript.TestScript, bool, []string){"exits": cmdExits, "sshd-ready": cmdSSHDReady, "netns-passwd": cmdNetnsPasswd, "netns": cmdNetns},
	})
}

// cmdExits runs a program and checks its exit code, which for rampart is
// part of the contract (0 ok, 1 problem found, 2 could not run):
//
//	exits 2 rampart policy check missing.toml
//
// stdout and stderr are kept for the following stdout/stderr/cmp lines.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROGRAM [ARGS...] (no negation)")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// cmdSSHDReady sets $SSHD for a script that starts sshd:
//
//	[!can:sshd] skip 'needs OpenSSH server'
//	sshd-ready
//	exec sh -c 'ip netns exec NS $SSHD -D -e -f /dev/null ... &'
func cmdSSHDReady(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 0 {
		ts.Fatalf("usage: sshd-ready (no arguments, no negation)")
	}
	p, err := testenv.SSHD()
	if err != nil {
		ts.Fatalf("sshd-ready: %v", err)
	}
	ts.Setenv("SSHD", p)
}

// cmdNetnsPasswd gives namespaces the script created the passwd every
// testenv namespace gets (root's shell /bin/sh, see testenv.NetnsPasswd),
// so commands over the script's sshd do not run the machine's dotfiles:
//
//	netns-passwd NS...
//
// cmdNetns creates network namespaces (removing stale ones of the same
// name first) and, when the script ends however it ends, kills every
// process left in them (a background sshd) and deletes them.
func cmdNetns(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: netns NS... (no negation)")
	}
	gone := func(ns string) {
		if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
	for _, ns := range args {
		gone(ns)
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			ts.Fatalf("ip netns add %s: %v: %s", ns, err, out)
		}
		ts.Defer(func() { gone(ns) })
	}
}

func cmdNetnsPasswd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: netns-passwd NS... (no negation)")
	}
	for _, ns := range args {
		dir, err := testenv.WriteNetnsPasswd(ns)
		if err != nil {
			ts.Fatalf("netns-passwd: %v", err)
		}
		ts.Defer(func() {
			_ = os.RemoveAll(dir)
			_ = os.Remove("/etc/netns")
		})
	}
}

func condition(cond string) (bool, error) {
	switch cond {
	case "root":
		return os.Geteuid() == 0, nil
	case "e2e":
		return testenv.E2E(), nil
	}
	what, ok := strings.CutPrefix(cond, "can:")
	if !ok || what == "" {
		return false, fmt.Errorf("unknown condition %q (known: root, e2e, can:root, can:PROG)", cond)
	}
	var have bool
	if what == "root" {
		have = os.Geteuid() == 0
	} else {
		_, err := testenv.LookPath(what)
		have = err == nil
	}
	if !have && testenv.E2E() {
		return false, fmt.Errorf("RAMPART_E2E=1 but %s is missing", what)
	}
	return have, nil
}

// A script may skip only through a condition that turns into a failure
// under RAMPART_E2E=1 ([!can:X]) or that is false there ([!e2e]); a plain
// [!exec:X] skip would quietly skip in CI too.
func TestScriptSkipsFailUnderE2E(t *testing.T) {
	files, err := filepath.Glob("testdata/script/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, f := range files {
		ar, err := txtar.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(ar.Comment), "\n") {
			fields := strings.Fields(line)
			var conds []string
			for len(fields) > 0 && strings.HasPrefix(fields[0], "[") {
				conds, fields = append(conds, fields[0]), fields[1:]
			}
			if len(fields) == 0 || fields[0] != "skip" {
				continue
			}
			ok := false
			for _, c := range conds {
				if strings.HasPrefix(c, "[!can:") || c == "[!e2e]" {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s:%d: %q skips under RAMPART_E2E=1 too; use [!can:PROG] or add [!e2e]", f, i+1, line)
			}
		}
	}
}
