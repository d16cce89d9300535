// Package sshtest runs a real OpenSSH server for tests, on loopback or
// inside a network namespace, with throwaway host and client keys, and
// dials into namespaces from the test process.
package sshtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/rampart-sec/rampart/internal/testenv"
)

// Config describes one sshd.
type Config struct {
	// Addr is the listen address ("192.0.2.1:22"); default 127.0.0.1:22.
	Addr string
	// Password turns PasswordAuthentication and
	// KbdInteractiveAuthentication on (with PAM).
	Password bool
	// Extra lines for sshd_config.
	Extra []string
	// Users are extra accounts that exist only inside the namespace
	// (through ip netns exec's /etc/netns/NAME bind mounts), so tests can
	// log in as someone other than root without touching this machine's
	// /etc.
	Users []User
}

// User is a throwaway account for Config.Users.
type User struct {
	Name string
	UID  int
	// Sudo grants "ALL=(ALL) NOPASSWD: ALL" in the namespace's sudoers;
	// without it the user is not in sudoers at all.
	Sudo bool
}

// Server is a running sshd.
type Server struct {
	Addr      string // host:port
	Dir       string
	HostKey   ssh.PublicKey
	ClientKey string // private key file authorized for every user
	cfg       string

	mu  sync.Mutex
	log bytes.Buffer
}

// Log returns what sshd logged so far (-e, LogLevel VERBOSE).
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

func (s *Server) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Write(p)
}

// KnownHostsLine is a known_hosts line for the server as reached at addr.
func (s *Server) KnownHostsLine() string {
	host, port, _ := net.SplitHostPort(s.Addr)
	name := host
	if port != "22" {
		name = "[" + host + "]:" + port
	}
	return name + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey)))
}

// NewKey writes a fresh ed25519 private key (OpenSSH format) to path and
// returns its public half.
func NewKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// Start runs sshd inside ns until the test ends.
func Start(t testing.TB, ns *testenv.Netns, c Config) *Server {
	t.Helper()
	sshd := testenv.RequireSSHD(t)
	dir := t.TempDir()
	s := &Server{Dir: dir, ClientKey: filepath.Join(dir, "client_ed25519")}
	s.HostKey = NewKey(t, filepath.Join(dir, "host_ed25519"))
	clientPub := NewKey(t, s.ClientKey)
	// sshd reads authorized_keys as the user, so it lives in a directory
	// everyone can read.
	keysDir, err := os.MkdirTemp("", "sshtest-keys")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(keysDir) })
	if err := os.Chmod(keysDir, 0o755); err != nil {
		t.Fatal(err)
	}
	keysFile := filepath.Join(keysDir, "authorized_keys")
	if err := os.WriteFile(keysFile, ssh.MarshalAuthorizedKey(clientPub), 0o644); err != nil {
		t.Fatal(err)
	}
	if len(c.Users) > 0 {
		nsEtc(t, ns, c.Users)
	}
	addr := c.Addr
	if addr == "" {
		addr = "127.0.0.1:22"
	}
	s.Addr = addr
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	yn := "no"
	if c.Password {
		yn = "yes"
	}
	lines := []string{
		"Port " + port,
		"ListenAddress " + net.JoinHostPort(host, port),
		"HostKey " + filepath.Join(dir, "host_ed25519"),
		"PidFile none",
		"AuthorizedKeysFile " + keysFile,
		"StrictModes no",
		"UsePAM " + yn,
		"PasswordAuthentication " + yn,
		"KbdInteractiveAuthentication " + yn,
		"PermitRootLogin prohibit-password",
		"LogLevel VERBOSE",
		"MaxStartups 100",
	}
	lines = append(lines, c.Extra...)
	s.cfg = filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(s.cfg, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := ns.Cmd(sshd, "-D", "-e", "-f", s.cfg)
	cmd.Stderr = s
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := DialIn(ns)(context.Background(), "tcp", addr)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd on %s did not start: %v\n%s", addr, err, s.Log())
		}
		time.Sleep(30 * time.Millisecond)
	}
	return s
}

// DialIn returns a dial function whose sockets are created inside ns (the
// test's own namespace when ns is nil). The socket stays in that
// namespace for its whole life.
func DialIn(ns *testenv.Netns) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if ns == nil {
		return (&net.Dialer{}).DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread()
			orig, err := os.Open("/proc/thread-self/ns/net")
			if err != nil {
				runtime.UnlockOSThread()
				ch <- result{err: err}
				return
			}
			defer orig.Close()
			f, err := os.Open("/var/run/netns/" + ns.Name)
			if err != nil {
				runtime.UnlockOSThread()
				ch <- result{err: err}
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				runtime.UnlockOSThread()
				ch <- result{err: fmt.Errorf("setns %s: %w", ns.Name, err)}
				return
			}
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			// Back to the original namespace; a thread that cannot go
			// back stays locked and dies with this goroutine.
			if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
				runtime.UnlockOSThread()
			}
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

// Port returns the server's port as a number.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

// nsEtc writes /etc/netns/NAME/{passwd,group,shadow,sudoers}: this
// machine's files plus the users, seen only by processes that ip netns
// exec starts in the namespace.
func nsEtc(t testing.TB, ns *testenv.Netns, users []User) {
	t.Helper()
	if _, err := os.Stat("/etc/netns"); os.IsNotExist(err) {
		// Ours: remove it again once empty (runs after the cleanup below).
		t.Cleanup(func() { _ = os.Remove("/etc/netns") })
	}
	dir := filepath.Join("/etc/netns", ns.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		testenv.Missing(t, "cannot create %s: %v", dir, err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sudoers := "Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n"
	add := map[string]string{}
	for _, u := range users {
		add["passwd"] += fmt.Sprintf("%s:x:%d:%d::/nonexistent:/bin/sh\n", u.Name, u.UID, u.UID)
		add["group"] += fmt.Sprintf("%s:x:%d:\n", u.Name, u.UID)
		add["shadow"] += fmt.Sprintf("%s:*:19000:0:99999:7:::\n", u.Name)
		if u.Sudo {
			sudoers += u.Name + " ALL=(ALL) NOPASSWD: ALL\n"
		}
	}
	for _, f := range []string{"passwd", "group", "shadow"} {
		base, err := os.ReadFile(filepath.Join("/etc", f))
		if f == "passwd" {
			base, err = testenv.NetnsPasswd()
		}
		if err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if f == "shadow" {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(dir, f), append(base, add[f]...), mode); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat("/etc/sudoers"); err == nil {
		if err := os.WriteFile(filepath.Join(dir, "sudoers"), []byte(sudoers), 0o440); err != nil {
			t.Fatal(err)
		}
	}
}
