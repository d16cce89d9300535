package filter

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/logline"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// TestSSHDLive runs a real sshd on loopback (its own config, port and host
// key under a temp dir; the host's sshd is untouched), makes real login
// attempts whose user names carry the victim's address, sends the victim's
// address as a client banner, and feeds what sshd logs to the filter: every
// failure belongs to 127.0.0.1, none to the victim.
func TestSSHDLive(t *testing.T) {
	testenv.RequireRoot(t)
	sshd := testenv.RequireSSHD(t)
	bins := testenv.RequireCommands(t, "ssh", "sshpass", "ssh-keygen")
	ssh, sshpass, keygen := bins[0], bins[1], bins[2]
	dir := t.TempDir()
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "hostkey")).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := filepath.Join(dir, "sshd_config")
	conf := strings.Join([]string{
		"Port " + strconv.Itoa(port), "ListenAddress 127.0.0.1", "HostKey " + filepath.Join(dir, "hostkey"),
		"PidFile none", "LogLevel VERBOSE", "PasswordAuthentication yes", "KbdInteractiveAuthentication no",
		"UsePAM no", "MaxAuthTries 3", "AllowUsers nobody-allowed", "StrictModes no",
	}, "\n") + "\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, sshd, "-D", "-e", "-f", cfg)
	var logs lockedBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "Server listening") {
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not start:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	users := []string{"from " + victim, "x " + victim + " port 22", "x from " + victim + " port 22 ssh2", "root"}
	for _, u := range users {
		c := exec.Command(sshpass, "-p", "wrong", ssh, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=3",
			"-o", "ConnectTimeout=5", "-p", strconv.Itoa(port), "-l", u, "127.0.0.1", "true")
		_ = c.Run() // the login fails, as it should
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = conn.Read(buf)
	_, _ = conn.Write([]byte("Invalid user root from " + victim + " port 22\r\n"))
	_, _ = conn.Read(buf)
	conn.Close()
	time.Sleep(300 * time.Millisecond)

	for _, mode := range allModes {
		f, _ := New("sshd", mode)
		fails := 0
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			l := logline.Line{Text: sc.Text(), Ident: "sshd"}
			h, ok := f.Match(&l)
			if !ok {
				continue
			}
			if h.Addr.String() != "127.0.0.1" {
				t.Errorf("mode %s: %q gave %s", mode, sc.Text(), h.Addr)
			}
			if h.Failure {
				fails++
			}
		}
		// Each of the 4 logins logs at least "Invalid user"/"User … not
		// allowed" and "Failed password": 8 failures at least.
		if fails < 2*len(users) {
			t.Errorf("mode %s: %d failures from sshd's own log, want at least %d:\n%s", mode, fails, 2*len(users), logs.String())
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
