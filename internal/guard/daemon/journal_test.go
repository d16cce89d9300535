package daemon

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/control"
	"github.com/rampart-sec/rampart/internal/guard/nft"
	"github.com/rampart-sec/rampart/internal/guard/source"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// TestJournalJail runs the default-style sshd jail (source journal,
// OpenSSH >= 9.8's sshd-session tag) on a real journal file built by
// systemd-journal-remote, then restarts: the saved __CURSOR means nothing
// is read twice.
func TestJournalJail(t *testing.T) {
	remote := testenv.RequireCommands(t, "systemd-journal-remote", "journalctl")[0]
	dir := t.TempDir()
	now := time.Now()
	var export bytes.Buffer
	for i, m := range []string{
		"Invalid user admin from 192.0.2.7 port 40001",
		"Failed password for invalid user admin from 192.0.2.7 port 40001 ssh2",
		"Failed password for root from 192.0.2.7 port 40002 ssh2",
		"Failed password for root from 192.0.2.7 port 40003 ssh2",
		"Accepted publickey for admin from 198.51.100.5 port 40004 ssh2: ED25519 SHA256:x",
	} {
		pid := 2000 + i
		if i == 1 {
			pid = 2000 // same connection as the Invalid user line
		}
		fmt.Fprintf(&export, "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=0123456789abcdef0123456789abcdef\nSYSLOG_IDENTIFIER=sshd-session\n_COMM=sshd-session\n_PID=%d\n_SYSTEMD_UNIT=ssh.service\nMESSAGE=%s\n\n",
			now.Add(time.Duration(i-10)*time.Second).UnixMicro(), 1000+i, pid, m)
	}
	jf := filepath.Join(dir, "sshd.journal")
	cmd := exec.Command(remote, "-o", jf, "-")
	cmd.Stdin = &export
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-remote: %v\n%s", err, out)
	}
	p := policy.MustDefault("")
	pj := p.Ban.Jails[0] // the default sshd jail: journal, sshd + sshd-session matches
	if pj.Name != "sshd" || pj.Source != "journal" {
		t.Fatalf("default jail %+v", pj)
	}
	p.Ban.Jails = p.Ban.Jails[:1]
	fake := nft.NewFake(nil)
	run := func(expectLines bool) (*control.Status, func()) {
		sock := filepath.Join(dir, "run", "g.sock")
		ready := make(chan struct{})
		d, err := New(Options{Policy: p, Backend: fake, StateDir: filepath.Join(dir, "state"), Socket: sock, Ready: ready,
			Sources: []source.Source{&source.Journal{Host: &host.Local{}, Files: []string{jf}, Matches: pj.Journal}}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		<-ready
		var st *control.Status
		deadline := time.Now().Add(5 * time.Second)
		if !expectLines {
			deadline = time.Now().Add(300 * time.Millisecond)
		}
		for {
			r, err := control.Call(sock, control.Request{Op: control.OpStatus})
			if err != nil {
				t.Fatal(err)
			}
			st = r.Status
			if st.Sources[0].Lines > 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		r, _ := control.Call(sock, control.Request{Op: control.OpStatus})
		return r.Status, func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	st, stop := run(true)
	if !fake.Has(pfx("192.0.2.7/32")) {
		t.Fatalf("no ban from the journal; status %+v", st)
	}
	if st.Lines != 5 || st.Jails[0].TotalFailed < 3 || st.Jails[0].CurrentlyBanned != 1 {
		t.Errorf("status %+v", st)
	}
	if fake.Has(pfx("198.51.100.5/32")) {
		t.Error("a successful login was banned")
	}
	stop()
	st2, stop2 := run(false)
	defer stop2()
	if st2.Lines != 0 {
		t.Errorf("after restart %d journal entries were read again", st2.Lines)
	}
}
