package fleetverify

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rampart-sec/rampart/internal/host/sshhost"
	"github.com/rampart-sec/rampart/internal/host/sshhost/sshtest"
)

// slowBastion is an SSH server on loopback that starts its handshake
// only after delay (a loaded bastion, or sshd's UseDNS lookup) and then
// accepts any key and refuses every forward.
func slowBastion(t *testing.T, delay time.Duration) (addr, knownHosts string) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(ssh.ConnMetadata, ssh.PublicKey) (*ssh.Permissions, error) { return nil, nil }}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				time.Sleep(delay)
				_, chans, reqs, err := ssh.NewServerConn(c, cfg)
				if err != nil {
					return
				}
				go ssh.DiscardRequests(reqs)
				for ch := range chans {
					ch.Reject(ssh.Prohibited, "no forwarding here")
				}
			}()
		}
	}()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	port := ln.Addr().(*net.TCPAddr).Port
	line := fmt.Sprintf("[127.0.0.1]:%d %s", port, ssh.MarshalAuthorizedKey(signer.PublicKey()))
	if err := os.WriteFile(kh, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return ln.Addr().String(), kh
}

// TestJumpTimeoutNotOneHosts: the connection to a jump host is
// shared by every host behind it, so how long its handshake may take must
// not be the deadline of whichever host asked first. Here the bastion
// answers after 1.5s; "quick" has timeout = "1s", "patient" 20s. patient
// must get through the bastion (and be refused by it, the bastion forwards
// nothing), not inherit quick's 1s.
func TestJumpTimeoutNotOneHosts(t *testing.T) {
	addr, kh := slowBastion(t, 1500*time.Millisecond)
	key := filepath.Join(t.TempDir(), "id")
	sshtest.NewKey(t, key)
	pt, err := sshhost.ParseTarget("root@" + addr)
	if err != nil {
		t.Fatal(err)
	}
	bastion := TargetOf("bastion", pt)
	quick := &Target{Name: "quick", User: "root", Address: "192.0.2.1", Port: 22, ProxyJump: bastion, Timeout: time.Second}
	patient := &Target{Name: "patient", User: "root", Address: "192.0.2.2", Port: 22, ProxyJump: bastion, Timeout: 20 * time.Second}
	// As Run does for each host, quick first (Run's goroutines take the
	// semaphore in any order: whichever host comes first decides).
	o := Options{SSH: sshhost.Options{Getenv: func(string) string { return "" }, Identities: []string{key}, KnownHosts: []string{kh}}}
	jumps := newJumpPool(context.Background(), o.SSH.Timeout)
	defer jumps.close()
	pols := &policyCache{m: map[[2]string]*policyEntry{}}
	if r := runHost(context.Background(), quick, o, pols, jumps); r.Error == "" {
		t.Fatal("quick was verified through a bastion that forwards nothing")
	}
	r := runHost(context.Background(), patient, o, pols, jumps)
	if strings.Contains(r.Error, "jump host") || !strings.Contains(r.Error, "no forwarding here") {
		t.Errorf("patient (20s deadline) failed at the jump host after %s: %s", r.Duration.Round(100*time.Millisecond), r.Error)
	}
}
