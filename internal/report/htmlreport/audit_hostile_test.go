package htmlreport

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/audit"
	"github.com/rampart-sec/rampart/internal/host"
)

// TestAuditPathControls: a path an unprivileged user chose (an exec
// of /tmp/<RLO>hs.enilesab-kcehc, which displays as check-baseline.sh)
// must reach the audit page escaped, as in the text report.
func TestAuditPathControls(t *testing.T) {
	name := "/tmp/\u202Ehs.enilesab-kcehc"
	log := "type=SYSCALL msg=audit(1795593900.000:100): arch=c000003e syscall=59 success=yes exit=0 items=1 ppid=1 pid=42 auid=1000 uid=1000 gid=1000 euid=1000 comm=\"x\" exe=\"/usr/bin/bash\" key=\"exec\"\n" +
		"type=PATH msg=audit(1795593900.000:100): item=0 name=" + strings.ToUpper(hex.EncodeToString([]byte(name))) + " inode=2 dev=fe:00 mode=0100755 ouid=1000 ogid=1000 rdev=00:00 nametype=NORMAL\n" +
		"type=EOE msg=audit(1795593900.000:100): \n"
	file := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(file, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Build(context.Background(), &host.Local{}, audit.ReportOptions{Files: []string{file}}, audit.Users{})
	if err != nil || len(rep.Keys) != 1 {
		t.Fatalf("build: %v, %d keys", err, len(rep.Keys))
	}
	var text, page bytes.Buffer
	if err := rep.WriteText(&text, time.UTC); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsRune(text.String(), '\u202E') {
		t.Fatal("the text report shows the raw bidi control (expected it to be quoted)")
	}
	if err := Audit(&page, rep, time.UTC); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsRune(page.String(), '\u202E') {
		t.Errorf("the HTML audit page shows the path %q with its raw U+202E: it reads as /tmp/check-baseline.sh; the text report shows %s",
			name, audit.Safe(name))
	}
}

// TestAuditFailedCard: one failed call (an event of two keys) is
// one failed call on the page's "failed calls" card.
func TestAuditFailedCard(t *testing.T) {
	log := "type=SYSCALL msg=audit(1795593900.000:200): arch=c000003e syscall=257 success=no exit=-13 items=1 ppid=1 pid=42 auid=1000 uid=1000 gid=1000 euid=1000 comm=\"cat\" exe=\"/usr/bin/cat\" key=" +
		strings.ToUpper(hex.EncodeToString([]byte("identity\x01access"))) + "\n" +
		"type=PATH msg=audit(1795593900.000:200): item=0 name=\"/etc/shadow\" inode=2 dev=fe:00 mode=0100640 ouid=0 ogid=42 rdev=00:00 nametype=NORMAL\n" +
		"type=EOE msg=audit(1795593900.000:200): \n"
	file := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(file, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Build(context.Background(), &host.Local{}, audit.ReportOptions{Files: []string{file}}, audit.Users{})
	if err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	if err := Audit(&page, rep, time.UTC); err != nil {
		t.Fatal(err)
	}
	if rep.Events != 1 || len(rep.Keys) != 2 {
		t.Fatalf("%d events, %d keys; want 1 event of 2 keys", rep.Events, len(rep.Keys))
	}
	if !strings.Contains(page.String(), `<b id="n-failed">1</b>`) {
		i := strings.Index(page.String(), `id="n-failed"`)
		t.Errorf("1 event, 1 failed call; the card says %s", page.String()[i:i+20])
	}
}

// TestAuditNotes: the text report lists 20 skipped lines and counts
// the rest; the page's header lists every one.
func TestAuditNotes(t *testing.T) {
	log := "type=SYSCALL msg=audit(1795593900.000:200): arch=c000003e syscall=257 success=yes exit=3 items=0 ppid=1 pid=42 auid=1000 uid=1000 comm=\"cat\" exe=\"/usr/bin/cat\" key=\"identity\"\n" +
		"type=EOE msg=audit(1795593900.000:200): \n" + strings.Repeat("garbage\n", 5000)
	file := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(file, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Build(context.Background(), &host.Local{}, audit.ReportOptions{Files: []string{file}}, audit.Users{})
	if err != nil {
		t.Fatal(err)
	}
	var text, page bytes.Buffer
	rep.WriteText(&text, time.UTC)
	if err := Audit(&page, rep, time.UTC); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d notes; text report: %d note lines; page: %d bytes", len(rep.Notes), strings.Count(text.String(), "garbage")+strings.Count(text.String(), ".log:"), page.Len())
	if n := strings.Count(page.String(), `<p class="meta">note:`); n > 21 {
		t.Errorf("the page header lists %d skipped-line notes before any chart (the text report lists 20)", n)
	}
}
