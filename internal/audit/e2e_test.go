package audit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// kernelAudit gives a test the real kernel audit subsystem: it saves
// the loaded rules and the enabled flag, and restores both at cleanup,
// even when the test fails. It refuses when the rules are locked or an
// audit daemon is already registered (that daemon would lose records).
func kernelAudit(t *testing.T) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommands(t, "auditctl", "auditd")
	testenv.LockKernelAudit(t) // its cleanup runs last: released after the restore
	ctx := context.Background()
	h := &host.Local{}
	st, err := ReadStatus(ctx, h)
	if err != nil {
		testenv.Missing(t, "kernel audit is not available: %v", err)
	}
	if st.Enabled == 2 {
		testenv.Missing(t, "the kernel's audit rules are locked (enabled 2)")
	}
	if st.PID != 0 {
		testenv.Missing(t, "an audit daemon (pid %d) is already registered; refusing to take over its records", st.PID)
	}
	saved, savedText, err := ReadRules(ctx, h)
	if err != nil {
		t.Fatalf("save rules: %v", err)
	}
	t.Cleanup(func() {
		now, _, err := ReadRules(ctx, h)
		if err != nil {
			t.Errorf("restore: list rules: %v", err)
			return
		}
		d := Compare(saved, now)
		for _, r := range d.Extra { // ours: remove exactly these
			if err := deleteRule(ctx, h, r); err != nil {
				t.Errorf("restore: %v", err)
			}
		}
		for _, r := range d.Missing { // a saved rule the test removed
			if out, err := exec.Command("auditctl", r.Args...).CombinedOutput(); err != nil {
				t.Errorf("restore: auditctl %s: %v: %s", strings.Join(r.Args, " "), err, out)
			}
		}
		if out, err := exec.Command("auditctl", "-e", fmt.Sprint(st.Enabled)).CombinedOutput(); err != nil {
			t.Errorf("restore: auditctl -e %d: %v: %s", st.Enabled, err, out)
		}
		after, _ := exec.Command("auditctl", "-l").Output()
		if !bytes.Equal(after, savedText) {
			t.Errorf("rules not restored:\nbefore:\n%s\nafter:\n%s", savedText, after)
		}
	})
}

// startAuditd runs Debian's auditd in the foreground with a temporary
// configuration writing to dir/audit.log, waits until the kernel has it
// registered, and stops it at cleanup.
func startAuditd(t *testing.T, dir, format string) (string, *os.Process) {
	t.Helper()
	logFile := filepath.Join(dir, "audit.log")
	plugins := filepath.Join(dir, "plugins.d")
	if err := os.Mkdir(plugins, 0o750); err != nil {
		t.Fatal(err)
	}
	conf := strings.Join([]string{
		"local_events = yes", "write_logs = yes", "log_file = " + logFile, "log_format = " + format,
		"flush = INCREMENTAL_ASYNC", "freq = 1", "max_log_file = 8", "num_logs = 2", "name_format = NONE",
		"max_log_file_action = ROTATE", "space_left = 1", "space_left_action = IGNORE", "admin_space_left = 0",
		"admin_space_left_action = IGNORE", "disk_full_action = IGNORE", "disk_error_action = IGNORE",
		"q_depth = 2000", "overflow_action = IGNORE", "plugin_dir = " + plugins, "end_of_event_timeout = 2", "",
	}, "\n")
	if err := os.WriteFile(filepath.Join(dir, "auditd.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command("auditd", "-n", "-s", "enable", "-c", dir)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start auditd: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		// The kernel unregisters the daemon when its socket closes.
		for i := 0; i < 50; i++ {
			if st, err := ReadStatus(context.Background(), &host.Local{}); err == nil && st.PID == 0 {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("auditd pid still registered with the kernel after it stopped")
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := ReadStatus(context.Background(), &host.Local{})
		if err == nil && st.PID == int64(cmd.Process.Pid) && st.Enabled == 1 {
			if b, _ := os.ReadFile(logFile); bytes.Contains(b, []byte("DAEMON_START")) {
				return logFile, cmd.Process
			}
		}
		select {
		case err := <-done:
			t.Fatalf("auditd exited: %v\n%s", err, out.Bytes())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("auditd did not register within 10s (status %+v, %v)\n%s", st, err, out.Bytes())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestE2EApplyIdempotent loads rules into the real kernel: applying
// twice adds nothing the second time, a rule already loaded in the other
// spelling is kept, and a foreign rule survives without --exact and is
// removed with it.
func TestE2EApplyIdempotent(t *testing.T) {
	kernelAudit(t)
	ctx := context.Background()
	h := &host.Local{}
	dir := t.TempDir()
	sub := filepath.Join(dir, "systemd")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	want, err := FromPolicy(policy.Audit{Enabled: true, Watches: []policy.Watch{
		{Path: filepath.Join(dir, "passwd"), Perms: "wa", Key: "rampart-e2e-identity"},
		{Path: filepath.Join(dir, "group"), Perms: "wa", Key: "rampart-e2e-identity"},
		{Path: sub, Perms: "wa", Key: "rampart-e2e-systemd"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// One policy rule already loaded in the other spelling, and one
	// foreign rule.
	other := []string{"-a", "always,exit", "-F", "path=" + filepath.Join(dir, "group"), "-F", "perm=aw", "-F", "key=rampart-e2e-identity"}
	foreign := []string{"-w", filepath.Join(dir, "foreign"), "-p", "w", "-k", "rampart-e2e-foreign"}
	for _, args := range [][]string{other, foreign} {
		if out, err := exec.Command("auditctl", args...).CombinedOutput(); err != nil {
			t.Fatalf("auditctl %v: %v: %s", args, err, out)
		}
	}
	plan, err := Apply(ctx, h, want, ApplyOptions{})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if len(plan.Add) != 2 || len(plan.Keep) != 1 || len(plan.Foreign) < 1 || len(plan.Remove) != 0 {
		t.Fatalf("first apply: add %d keep %d foreign %d remove %d", len(plan.Add), len(plan.Keep), len(plan.Foreign), len(plan.Remove))
	}
	listing := func() string {
		out, err := exec.Command("auditctl", "-l").Output()
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	first := listing()
	plan, err = Apply(ctx, h, want, ApplyOptions{})
	if err != nil || len(plan.Add) != 0 || len(plan.Keep) != 3 {
		t.Fatalf("second apply: %v, add %d keep %d", err, len(plan.Add), len(plan.Keep))
	}
	if second := listing(); second != first {
		t.Errorf("second apply changed the kernel's rules:\n%s\nthen\n%s", first, second)
	}
	if n := strings.Count(first, dir+"/group "); n != 1 {
		t.Errorf("group watch loaded %d times:\n%s", n, first)
	}
	if !strings.Contains(first, "-k rampart-e2e-foreign") {
		t.Errorf("foreign rule removed without --exact:\n%s", first)
	}
	// Dry run with --exact plans the removal but changes nothing.
	plan, err = Apply(ctx, h, want, ApplyOptions{Exact: true, DryRun: true})
	if err != nil || len(plan.Remove) < 1 || listing() != first {
		t.Fatalf("dry run: %v, remove %d", err, len(plan.Remove))
	}
	// --exact removes everything not in want (the saved host rules come
	// back at cleanup).
	if _, err := Apply(ctx, h, want, ApplyOptions{Exact: true}); err != nil {
		t.Fatalf("apply --exact: %v", err)
	}
	loaded, _, err := ReadRules(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if d := Compare(want, loaded); !d.Empty() {
		t.Errorf("after --exact: missing %v extra %v", d.Missing, d.Extra)
	}
}

// TestE2EReport runs a real auditd on a temporary log, applies watches on
// a temporary directory with test keys, touches the watched files (one
// with a hostile name) and an unwatched one, and finds exactly those
// events under the right keys. It also runs the verify checks against
// the live kernel.
func TestE2EReport(t *testing.T) {
	kernelAudit(t)
	ctx := context.Background()
	h := &host.Local{}
	dir := t.TempDir()
	logDir := filepath.Join(dir, "log")
	work := filepath.Join(dir, "etc")
	sub := filepath.Join(work, "systemd")
	for _, d := range []string{logDir, work, sub} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"passwd", "group", "sshd_config", "unwatched"} {
		if err := os.WriteFile(filepath.Join(work, f), []byte("seed\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logFile, auditd := startAuditd(t, logDir, "ENRICHED")

	keyID, keySSH, keyDir := "rampart-e2e-id", "rampart-e2e-ssh", "rampart-e2e-dir"
	pol := policy.MustDefault("")
	pol.Audit.Watches = []policy.Watch{
		{Path: filepath.Join(work, "passwd"), Perms: "wa", Key: keyID},
		{Path: filepath.Join(work, "group"), Perms: "wa", Key: keyID},
		{Path: filepath.Join(work, "sshd_config"), Perms: "wa", Key: keySSH},
		{Path: sub, Perms: "wa", Key: keyDir},
	}
	want, err := FromPolicy(pol.Audit)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Second)
	if _, err := Apply(ctx, h, want, ApplyOptions{}); err != nil {
		t.Fatalf("apply: %v", err)
	}

	hostile := "evil name\n\x1b[31mred\"q"
	auditedChild(t,
		childOp{"append", filepath.Join(work, "passwd")},
		childOp{"append", filepath.Join(work, "group")},
		childOp{"append", filepath.Join(work, "sshd_config")},
		childOp{"append", filepath.Join(work, "unwatched")},
		childOp{"create", filepath.Join(sub, hostile)},
		childOp{"chmod", filepath.Join(work, "passwd")}, // attribute change: "a"
	)

	type seen struct{ key, syscall, target string }
	want4 := []seen{
		{keyDir, "openat", filepath.Join(sub, hostile) + " (create)"},
		{keyID, "fchmodat", filepath.Join(work, "passwd")},
		{keyID, "openat", filepath.Join(work, "group")},
		{keyID, "openat", filepath.Join(work, "passwd")},
		{keySSH, "openat", filepath.Join(work, "sshd_config")},
	}
	sortSeen := func(s []seen) {
		sort.Slice(s, func(i, j int) bool { return fmt.Sprint(s[i]) < fmt.Sprint(s[j]) })
	}
	sortSeen(want4)
	comm := filepath.Base(os.Args[0])
	if len(comm) > 15 {
		comm = comm[:15]
	}
	var (
		rep *Report
		got []seen
	)
	deadline := time.Now().Add(15 * time.Second)
	for {
		rep, err = Build(ctx, h, ReportOptions{Files: []string{logFile}, Since: start, Keys: []string{keyID, keySSH, keyDir}}, ReadUsers(ctx, h))
		if err != nil {
			t.Fatal(err)
		}
		got = nil
		for _, kr := range rep.Keys {
			for _, e := range kr.Events {
				if e.Kind != "syscall" {
					continue
				}
				if e.Comm != comm || e.Success != "yes" || e.UIDName != "root" {
					t.Errorf("event %s: comm %q (want %q) success %q uid %q", e.ID, e.Comm, comm, e.Success, e.UIDName)
				}
				got = append(got, seen{kr.Key, e.Syscall, strings.Join(e.Targets(), ", ")})
			}
		}
		sortSeen(got)
		if fmt.Sprint(got) == fmt.Sprint(want4) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if fmt.Sprint(got) != fmt.Sprint(want4) {
		b, _ := os.ReadFile(logFile)
		t.Fatalf("events:\n%q\nwant exactly\n%q\nlog:\n%s", got, want4, b)
	}
	// The rule loads themselves were recorded as config changes.
	for _, kr := range rep.Keys {
		n := 0
		for _, e := range kr.Events {
			if e.Kind == "config" && e.Op == "add_rule" && e.Res == "1" {
				n++
			}
		}
		if wantN := map[string]int{keyID: 2, keySSH: 1, keyDir: 1}[kr.Key]; n != wantN {
			t.Errorf("key %s: %d add_rule config events, want %d", kr.Key, n, wantN)
		}
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text, time.UTC); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), `/evil name\n\x1b[31mred\"q" (create)`) || bytes.ContainsAny(text.Bytes(), "\x1b\r") {
		t.Errorf("hostile name not shown safely:\n%s", text.String())
	}

	// auditd rotates on SIGUSR1: audit.log becomes audit.log.1. A new
	// event lands in the new audit.log, and reading the rotations in
	// order finds the old events first, then the new one.
	if err := auditd.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if _, err := os.Stat(logFile + ".1"); err == nil {
			if b, _ := os.ReadFile(logFile); len(b) > 0 {
				break
			}
		}
		if i == 100 {
			t.Fatal("auditd did not rotate its log on SIGUSR1")
		}
		time.Sleep(100 * time.Millisecond)
	}
	auditedChild(t, childOp{"append", filepath.Join(work, "group")})
	var srcs []string
	for i := 0; ; i++ {
		files, err := LogFiles(ctx, h, logFile)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Build(ctx, h, ReportOptions{Files: files, Since: start, Keys: []string{keyID}}, Users{})
		if err != nil {
			t.Fatal(err)
		}
		srcs = nil
		for _, e := range keyEvents(rep, keyID) {
			if e.Kind == "syscall" {
				srcs = append(srcs, filepath.Base(strings.Split(e.Source, ":")[0])+" "+e.Syscall+" "+filepath.Base(strings.Join(e.Targets(), ",")))
			}
		}
		if len(srcs) == 4 || i == 100 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Same-stamp events may sort either way; the last one is the newest.
	if len(srcs) != 4 || srcs[3] != "audit.log openat group" || strings.Count(strings.Join(srcs[:3], "\n"), "audit.log.1 ") != 3 {
		t.Errorf("events across the rotation: %q", srcs)
	}

	// verify's checks on the same live state: enabled with our daemon,
	// each key's watches loaded.
	env := check.NewEnv(h, pol, "25.11")
	var checks []*check.Check
	for _, id := range []string{"audit.enabled", "audit.watch-other"} {
		c, ok := check.Lookup(id)
		if !ok {
			t.Fatalf("check %s not registered", id)
		}
		checks = append(checks, c)
	}
	for _, r := range check.Run(ctx, env, checks) {
		// This VM boots without audit=1, which audit.enabled warns about.
		bootWarn := r.Status == check.Warn && strings.Contains(r.Message, "without audit=1")
		if r.Status != check.Pass && !bootWarn {
			t.Errorf("%s: %s: %s (evidence %v)", r.ID, r.Status, r.Message, r.Evidence)
		}
	}
}

// TestE2EKernelSpellings loads rules in many spellings into the real
// kernel, reads each back from auditctl -l (which may print it another
// way), checks that the listed rule has the same Canon as the loaded
// one, and deletes it again with DeleteArgs.
func TestE2EKernelSpellings(t *testing.T) {
	kernelAudit(t)
	ctx := context.Background()
	h := &host.Local{}
	d := t.TempDir()
	if err := os.Mkdir(filepath.Join(d, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	spellings := []string{
		"-w D/a -p wa -k k",
		"-w D/a -p aw -k k",
		"-a always,exit -F path=D/a -F perm=aw -F key=k",
		"-a exit,always -F key=k -F perm=wa -F path=D/a",
		"-w D/dir/ -p wa -k k",
		"-a always,exit -F dir=D/dir -F perm=wa -F key=k",
		"-w D/a -p rwxa -k k1 -k k2",
		"-w D/a",
		"-w D/with space -p wa -k spaced key",
		"-a always,exit -F arch=b64 -F path=D/a -F perm=wa -F key=k",
		"-a always,exit -F arch=b64 -S openat,open -F dir=D/dir -F key=k",
		"-a always,exit -F arch=b64 -S openat -F auid>=1000 -F auid!=4294967295 -k k",
		"-a always,exit -F arch=b32 -S all -F exit=-EACCES -F key=k",
		"-a never,exit -F path=D/a -F perm=r",
		"-a always,exit -F path=D/a -F key=k",
		// perm before path: auditctl -l prints " -p wa-w PATH -k k".
		"-a always,exit -F perm=wa -F path=D/a -F key=k",
		"-a always,exit -F perm=w -F dir=D/dir -F key=k",
		"-a always,exit -F key=k -F perm=r -F path=D/a",
		"-a always,exit -F dir=D/dir -F key=k -F perm=wa",
	}
	for _, sp := range spellings {
		line := strings.ReplaceAll(sp, "D/", d+"/")
		want := mustRule(t, line)
		before, _, err := ReadRules(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("auditctl", want.Args...).CombinedOutput(); err != nil {
			t.Errorf("load %q: %v: %s", line, err, out)
			continue
		}
		after, text, err := ReadRules(ctx, h)
		if err != nil {
			t.Fatalf("after loading %q: %v\n%s", line, err, text)
		}
		diff := Compare(before, after)
		if len(diff.Extra) != 1 || len(diff.Missing) != 0 {
			t.Errorf("load %q: %d new rules", line, len(diff.Extra))
			continue
		}
		got := diff.Extra[0]
		if got.Canon() != want.Canon() {
			t.Errorf("loaded  %q\nlisted  %q\nnot the same rule", line, strings.Join(got.Args, " "))
		}
		if out, err := exec.Command("auditctl", got.DeleteArgs()...).CombinedOutput(); err != nil {
			// The listing may not tell path= from dir=: the other
			// candidates must then work.
			if err2 := deleteRule(ctx, h, got); err2 != nil {
				t.Errorf("delete %q: %v: %s; candidates: %v", strings.Join(got.DeleteArgs(), " "), err, out, err2)
			}
		}
	}
}
