package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/rampart-sec/rampart/internal/host/hosttest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// The logs under testdata:
//
//	enriched.log  real: auditd 3.0.9 (log_format = ENRICHED) on a temporary
//	              log, watches on a scratch directory, then writes with
//	              hostile names (space, quote, newline, ESC, UTF-8), a
//	              rename, an unlink, a denied open as nobody and a write
//	              with loginuid 1000; excerpt of the events touching it
//	raw.log       real: the same daemon with log_format = RAW
//	hostile.log   hand-built: forged-looking hex names, bidi and escape
//	              codes in proctitle, aarch64 arch, unterminated quotes, bad
//	              stamps, a syslog line, node= and msg='…' user records,
//	              multi-key CONFIG_CHANGE, a torn last line
var passwd = []byte("root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nalice:x:1000:1000::/home/alice:/bin/sh\nbroken line\n")

func build(t *testing.T, file string, opt ReportOptions) *Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	f := hosttest.New(t)
	f.SetFile("/var/log/audit/"+file, string(b))
	opt.Files = []string{"/var/log/audit/" + file}
	rep, err := Build(context.Background(), f, opt, ParsePasswd(passwd))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./internal/audit -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestReportGolden(t *testing.T) {
	for _, file := range []string{"enriched.log", "raw.log", "hostile.log"} {
		t.Run(file, func(t *testing.T) {
			rep := build(t, file, ReportOptions{})
			var text, js bytes.Buffer
			if err := rep.WriteText(&text, time.UTC); err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(file, ".log")+".report.golden", text.Bytes())
			if err := rep.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			var back Report
			if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Keys) != len(rep.Keys) {
				t.Errorf("JSON does not round-trip: %v", err)
			}
			// No raw control byte ever reaches the text output.
			for _, c := range text.Bytes() {
				if c < 0x20 && c != '\n' {
					t.Fatalf("text output contains control byte %#x:\n%s", c, text.Bytes())
				}
			}
		})
	}
}

func keyEvents(rep *Report, key string) []*Event {
	for _, k := range rep.Keys {
		if k.Key == key {
			return k.Events
		}
	}
	return nil
}

func TestEnrichedEvents(t *testing.T) {
	rep := build(t, "enriched.log", ReportOptions{})
	if rep.Records != 152 || len(rep.Notes) != 0 {
		t.Fatalf("records %d notes %v", rep.Records, rep.Notes)
	}
	var sys []string
	for _, e := range keyEvents(rep, "systemd") {
		if e.Kind == "syscall" {
			sys = append(sys, e.Syscall+" "+strings.Join(e.Targets(), " | "))
		}
	}
	want := []string{
		"openat /tmp/h7cap/w/sub/evil\"quote (create)",
		"openat /tmp/h7cap/w/sub/new\nline (create)",
		"openat /tmp/h7cap/w/sub/esc\x1b[31mred (create)",
		"openat /tmp/h7cap/w/sub/ütf8 (create)",
		"renameat2 /tmp/h7cap/w/sub/ütf8 (delete) | /tmp/h7cap/w/sub/renamed (create)",
		"unlinkat /tmp/h7cap/w/sub/renamed (delete)",
	}
	if strings.Join(sys, "\n") != strings.Join(want, "\n") {
		t.Errorf("systemd events:\n%q\nwant\n%q", sys, want)
	}
	var who []string
	for _, e := range keyEvents(rep, "identity") {
		if e.Kind == "syscall" {
			who = append(who, e.AUIDName+"/"+e.UIDName+" "+e.Syscall+" "+e.Success+" "+strings.Join(e.Targets(), ","))
		}
	}
	wantWho := []string{
		"unset/root openat yes /tmp/h7cap/w/passwd",
		"unset/root openat yes /tmp/h7cap/w/group", // relative name="group" joined with cwd
		"unset/root fchmodat yes /tmp/h7cap/w/passwd",
		"unset/nobody openat no /tmp/h7cap/w/passwd",
		// The enriched AUID="cloudsdk" (resolved on the capture host)
		// wins over this test's passwd, where uid 1000 is alice.
		"cloudsdk/root openat yes /tmp/h7cap/w/group",
	}
	if strings.Join(who, "\n") != strings.Join(wantWho, "\n") {
		t.Errorf("identity events:\n%s\nwant\n%s", strings.Join(who, "\n"), strings.Join(wantWho, "\n"))
	}
	// Two keys on one rule (-k k1 -k k2, logged hex with \x01): the
	// event is listed under both.
	if len(keyEvents(rep, "k1")) != 4 || len(keyEvents(rep, "k2")) != 4 {
		t.Errorf("k1 %d k2 %d events, want 4 and 4", len(keyEvents(rep, "k1")), len(keyEvents(rep, "k2")))
	}
	// Config changes are events of their key too.
	if e := keyEvents(rep, "dirk"); len(e) != 2 || e[0].Kind != "config" || e[0].Res != "0" || e[1].Res != "1" {
		t.Errorf("dirk config events: %+v", e)
	}
}

func TestRawEventsResolveFromPasswd(t *testing.T) {
	rep := build(t, "raw.log", ReportOptions{Keys: []string{"identity"}})
	ev := keyEvents(rep, "identity")
	if len(ev) != 2 {
		t.Fatalf("%d identity events", len(ev))
	}
	// RAW format: no enriched names, so the syscall comes from the
	// x86_64 table and auid 1000 from /etc/passwd.
	if ev[0].Syscall != "openat" || ev[0].Arch != "x86_64" || ev[0].AUIDName != "unset" || ev[1].AUIDName != "alice" || ev[1].UIDName != "root" {
		t.Errorf("events: %+v %+v", ev[0], ev[1])
	}
	if !strings.Contains(ev[1].Proctitle, "echo 1000 > /proc/self/loginuid") {
		t.Errorf("proctitle %q", ev[1].Proctitle)
	}
	if rep.Keys[0].Key != "identity" || len(rep.Keys) != 1 {
		t.Errorf("--key identity kept %d keys", len(rep.Keys))
	}
}

func TestHostile(t *testing.T) {
	rep := build(t, "hostile.log", ReportOptions{})
	ev := keyEvents(rep, "identity")
	if len(ev) != 2 {
		t.Fatalf("%d identity events", len(ev))
	}
	e := ev[0]
	if e.Arch != "aarch64" || e.Syscall != "openat" { // 56 is openat on aarch64, not on x86_64
		t.Errorf("arch-aware syscall: %s %s", e.Arch, e.Syscall)
	}
	if e.Comm != "evil\n" || e.Paths[1].Name != "/etc/passwd \ntype=SYSCALL msg=audit(1234): key=\"fake\"" {
		t.Errorf("hex fields: comm %q name %q", e.Comm, e.Paths[1].Name)
	}
	var lines []string
	for _, n := range rep.Notes {
		lines = append(lines, n.String())
	}
	wantNotes := []string{
		"/var/log/audit/hostile.log:6:55: unterminated \" quote in field \"name\"",
		"/var/log/audit/hostile.log:7:24: invalid event stamp \"17955939xx.004:9003\": expected SECONDS.MILLIS:SERIAL",
		"/var/log/audit/hostile.log:8:1: expected \"type=\" (an audit.log record starts with type=TYPE msg=audit(…))",
		"/var/log/audit/hostile.log:9:6: invalid record type \"syscall\": expected upper-case letters, digits and _",
		"/var/log/audit/hostile.log:12: last line has no newline (162 bytes): a torn or still-written record, ignored",
	}
	if strings.Join(lines, "\n") != strings.Join(wantNotes, "\n") {
		t.Errorf("notes:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(wantNotes, "\n"))
	}
	if rep.Unkeyed != 1 || len(keyEvents(rep, "ssh")) != 1 || len(keyEvents(rep, "sudo")) != 1 {
		t.Errorf("unkeyed %d (the USER_CMD), ssh %d, sudo %d", rep.Unkeyed, len(keyEvents(rep, "ssh")), len(keyEvents(rep, "sudo")))
	}
}

func TestParseRecordUserMsg(t *testing.T) {
	line := "node=web1 type=USER_CMD msg=audit(1795593900.008:9005): pid=77 uid=1000 auid=1000 ses=3 msg='cwd=\"/home/alice\" cmd=636174202F6574632F736861646F77 exe=\"/usr/bin/sudo\" res=success'\x1dUID=\"alice\" AUID=\"alice\""
	r, err := ParseRecord([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	cmd, _ := r.Get("cmd")
	exe, _ := r.Get("exe")
	if r.Node != "web1" || r.Type != "USER_CMD" || r.Serial != 9005 || cmd != "cat /etc/shadow" || exe != "/usr/bin/sudo" || r.Resolved("AUID") != "alice" {
		t.Errorf("record %+v cmd %q", r, cmd)
	}
	if got := r.Time.Format(time.RFC3339Nano); got != "2026-11-25T08:05:00.008Z" {
		t.Errorf("time %s", got)
	}
}

func TestBoundsAndTorn(t *testing.T) {
	long := "type=PATH msg=audit(1795593900.000:1): name=\"" + strings.Repeat("a", MaxLine) + "\"\n"
	var n int
	notes, _ := ScanLog("x", strings.NewReader(long+"type=EOE msg=audit(1795593900.000:1): \n"), func(Record, int) { n++ })
	if n != 1 || len(notes) != 1 || !strings.Contains(notes[0].String(), "x:1:") {
		t.Errorf("long line: %d records, notes %v", n, notes)
	}
	// Many fields: kept to maxFields, no error.
	r, err := ParseRecord([]byte("type=X msg=audit(1.000:1):" + strings.Repeat(" a=1", 5000)))
	if err != nil || len(r.Fields) != maxFields {
		t.Errorf("fields %d err %v", len(r.Fields), err)
	}
	// A file that is only a torn line.
	if notes, _ := ScanLog("y", strings.NewReader("type=SYSCALL msg=audit(1.0"), func(Record, int) { t.Error("torn line parsed") }); len(notes) != 1 {
		t.Errorf("notes %v", notes)
	}
}

func TestSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/etc/passwd", "/etc/passwd"},
		{"/tmp/ütf8", "/tmp/ütf8"},
		{"a b", `"a b"`},
		{"new\nline", `"new\nline"`},
		{"esc\x1b[31mred", `"esc\x1b[31mred"`},
		{"bidi\u202etxt", `"bidi\u202etxt"`},
		{"bad\xffutf8", `"bad\xffutf8"`},
		{`quo"te`, `"quo\"te"`},
		{"", `""`},
	}
	for _, tt := range tests {
		if got := Safe(tt.in); got != tt.want {
			t.Errorf("Safe(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got := SafeLine("f:1: bad \x1b[2J and \xff"); got != `f:1: bad \x1b[2J and \xff` {
		t.Errorf("SafeLine = %s", got)
	}
}

func TestLogFilesOrder(t *testing.T) {
	f := hosttest.New(t)
	for _, n := range []string{"audit.log", "audit.log.1", "audit.log.2", "audit.log.10", "audit.log.9", "audit.log.bak", "audit.log.0"} {
		f.SetFile("/var/log/audit/"+n, "")
	}
	got, err := LogFiles(context.Background(), f, DefaultLog)
	if err != nil {
		t.Fatal(err)
	}
	want := "/var/log/audit/audit.log.10 /var/log/audit/audit.log.9 /var/log/audit/audit.log.2 /var/log/audit/audit.log.1 /var/log/audit/audit.log"
	if strings.Join(got, " ") != want {
		t.Errorf("order %v", got)
	}
}

func TestRotatedAcrossFiles(t *testing.T) {
	// An event split across a rotation: its SYSCALL at the end of
	// audit.log.1 and its PATH at the start of audit.log.
	b, _ := os.ReadFile("testdata/raw.log")
	lines := strings.SplitAfter(string(b), "\n")
	f := hosttest.New(t)
	f.SetFile("/var/log/audit/audit.log.1", strings.Join(lines[:9], ""))
	f.SetFile("/var/log/audit/audit.log", strings.Join(lines[9:], ""))
	rep, err := Build(context.Background(), f, ReportOptions{}, Users{})
	if err != nil {
		t.Fatal(err)
	}
	if ev := keyEvents(rep, "identity"); len(ev) != 2 || strings.Join(ev[0].Targets(), "") != "/tmp/h7cap/w/passwd" || ev[0].Source != "/var/log/audit/audit.log.1:9" {
		t.Errorf("events across rotation: %+v", ev)
	}
}

func TestParseSince(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	now := time.Date(2026, 11, 25, 8, 30, 0, 0, loc)
	tests := []struct{ in, want string }{
		{"today", "2026-11-25T00:00:00+01:00"},
		{"yesterday", "2026-11-24T00:00:00+01:00"},
		{"2h", "2026-11-25T06:30:00+01:00"},
		{"7d", "2026-11-18T08:30:00+01:00"},
		{"2026-11-20", "2026-11-20T00:00:00+01:00"},
		{"2026-11-20 10:11", "2026-11-20T10:11:00+01:00"},
		{"2026-11-20 10:11:12", "2026-11-20T10:11:12+01:00"},
		{"2026-11-20T10:11:12Z", "2026-11-20T10:11:12Z"},
		{"@1795593791", "2026-11-25T08:03:11Z"},
		{"recent", "2026-11-25T08:20:00+01:00"},
		{"this-hour", "2026-11-25T08:00:00+01:00"},
		{"week-ago", "2026-11-18T00:00:00+01:00"},
		{"this-month", "2026-11-01T00:00:00+01:00"},
		{"this-year", "2026-01-01T00:00:00+01:00"},
	}
	for _, tt := range tests {
		got, err := ParseSince(tt.in, now)
		if err != nil || !got.Equal(mustTime(t, tt.want)) {
			t.Errorf("ParseSince(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"tomorrow", "2x", "11/25/2026", "-1h"} {
		if _, err := ParseSince(bad, now); err == nil || !strings.Contains(err.Error(), "expected today, yesterday") {
			t.Errorf("ParseSince(%q): %v", bad, err)
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSinceFilter(t *testing.T) {
	rep := build(t, "enriched.log", ReportOptions{Since: time.Unix(1795593805, 0)})
	if ev := keyEvents(rep, "identity"); len(ev) != 1 || ev[0].AUIDName != "cloudsdk" {
		t.Errorf("since filter kept %d identity events", len(ev))
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, file := range []string{"enriched.log", "raw.log", "hostile.log"} {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseRecord([]byte(line))
		if err != nil {
			if _, ok := err.(*PosError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if r.Type == "" || r.ID == "" || len(r.Fields) > maxFields {
			t.Fatalf("accepted record without type or id: %+v", r)
		}
		// Whole-pipeline: never panics, never prints a control byte.
		fx := hosttest.New(t).SetFile("/l", line+"\n"+line+"\n")
		rep, err := Build(context.Background(), fx, ReportOptions{Files: []string{"/l"}}, Users{})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := rep.WriteText(&out, time.UTC); err != nil {
			t.Fatal(err)
		}
		for _, c := range out.Bytes() {
			if c < 0x20 && c != '\n' || c == 0x7f {
				t.Fatalf("control byte %#x in output for %q:\n%s", c, line, out.Bytes())
			}
		}
	})
}

func FuzzParseRule(f *testing.F) {
	b, _ := os.ReadFile("testdata/auditctl-l.txt")
	for _, l := range strings.Split(string(b), "\n") {
		f.Add(l)
	}
	f.Add("-a always,exit -F arch=b64 -S open,openat -C uid!=euid -F key=x")
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseRule(line)
		if err != nil {
			return
		}
		// Whatever parses must print as a rule that parses back to the
		// same identity.
		back, err := ParseRule(r.String())
		if err != nil {
			t.Fatalf("%q parsed, but its canonical form %q does not: %v", line, r.String(), err)
		}
		if back.Canon() != r.Canon() {
			t.Fatalf("%q: canonical form %q changes the rule", line, r.String())
		}
	})
}

// BenchmarkBuild parses and summarises the real enriched excerpt
// repeated to about 15,000 lines (152 lines, 31 events per copy).
func BenchmarkBuild(b *testing.B) {
	one, err := os.ReadFile("testdata/enriched.log")
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat(one, 100)
	f := hosttest.New(b).SetFile("/l", string(data))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(context.Background(), f, ReportOptions{Files: []string{"/l"}}, Users{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestScanLogChunks reads every fixture (and a torn, an over-long and
// a CRLF line) through a reader that yields one byte at a time, and
// through a reader that hands over the whole buffer at once: the records and notes must be the
// same, with the same line numbers.
func TestScanLogChunks(t *testing.T) {
	var data []byte
	for _, file := range []string{"enriched.log", "raw.log", "hostile.log"} {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, b...)
	}
	data = append(data, "type=EOE msg=audit(1795593900.000:9): \r\n"...)
	data = append(data, "type=PATH msg=audit(1795593900.000:10): name=\""+strings.Repeat("b", 2*MaxLine)+"\"\n"...)
	data = append(data, "not a record\n\ntype=EOE msg=audit(1795593900.000:11): \ntype=SYSCALL msg=audit(1.0"...)
	collect := func(notes []Note, err error, recs []string) string {
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(recs, "\n") + "\n--\n" + fmt.Sprint(notes)
	}
	var whole, bytewise []string
	wnotes, werr := ScanLog("f", bytes.NewReader(data), func(r Record, line int) {
		whole = append(whole, fmt.Sprint(line, " ", r.Type, " ", r.ID, " ", len(r.Fields)))
	})
	w := collect(wnotes, werr, nil)
	notes, err := ScanLog("f", iotest.OneByteReader(bytes.NewReader(data)), func(r Record, line int) {
		bytewise = append(bytewise, fmt.Sprint(line, " ", r.Type, " ", r.ID, " ", len(r.Fields)))
	})
	got := collect(notes, err, bytewise)
	w = strings.Join(whole, "\n") + w
	if got != w {
		t.Errorf("one byte at a time:\n%s\nwhole:\n%s", got, w)
	}
	if len(whole) < 100 || !strings.Contains(w, "line longer than") || !strings.Contains(w, "last line has no newline") || !strings.Contains(w, "EOE 1795593900.000:9") {
		t.Errorf("fixture not exercised: %d records, notes %s", len(whole), w[strings.LastIndex(w, "--"):])
	}
	// A read error is returned, with what came before it scanned.
	n := 0
	_, err = ScanLog("f", iotest.TimeoutReader(bytes.NewReader(data)), func(Record, int) { n++ })
	if err == nil || n == 0 {
		t.Errorf("read error: err %v after %d records", err, n)
	}
}
