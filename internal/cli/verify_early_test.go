package cli

import (
	"bytes"
	"fmt"
	"github.com/rampart-sec/rampart/internal/host/sshhost/sshtest"
	"github.com/rampart-sec/rampart/internal/testenv"
	"golang.org/x/crypto/ssh"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener accepts TCP connections on loopback, counts and closes
// them: a "host" that shows whether the run dialled it at all.
func countingListener(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().String(), &n
}

// sshArgs are -i KEY --known-hosts FILE, so that the run really dials.
func sshArgs(t *testing.T) []string {
	dir := t.TempDir()
	key, kh := filepath.Join(dir, "id"), filepath.Join(dir, "known_hosts")
	sshtest.NewKey(t, key)
	if err := os.WriteFile(kh, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"-i", key, "--known-hosts", kh}
}

// TestBadBaselineBeforeRun: a --baseline that cannot be used is a
// usage error found before any host is dialled (and before anything is
// published), not after the whole fleet was verified.
func TestBadBaselineBeforeRun(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(dir, "missing.json")
	truncated := write("trunc.json", `{"schema":"rampart.fleet/v1","hosts":[{"name":"a","rep`)
	foreign := write("foreign.json", `{"schema":"lynis/v3","hosts":[]}`)
	pub := write("pub.toml", "[fleet]\nservers = [\"nats://127.0.0.1:1\"]\nnode = \"n1\"\n")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"missing, fleet", []string{"--baseline", missing}},
		{"truncated, fleet", []string{"--baseline", truncated}},
		{"foreign, fleet", []string{"--baseline", foreign, "--fail-on", "regressions"}},
		{"missing, local+publish", []string{"-p", pub, "--publish", "--baseline", missing}},
		{"bad --fail-on, local+publish", []string{"-p", pub, "--publish", "--baseline", truncated, "--fail-on", "regression"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, dialled := countingListener(t)
			args := append([]string{"verify", "--only", "sysctl.ip-forward"}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "--publish") {
				args = append(append(args, sshArgs(t)...), "--host", "root@"+addr, "--host-timeout", "3s")
			}
			var out, errb bytes.Buffer
			code := Run(&Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}, args)
			if code != ExitUsage || dialled.Load() != 0 || strings.Contains(errb.String(), "--publish failed") {
				t.Errorf("verify %v: exit %d, host dialled %d time(s), stderr:\n%s\nwant exit %d before any host is dialled or anything published",
					tc.args, code, dialled.Load(), errb.String(), ExitUsage)
			}
		})
	}
}

// TestPublishOneHostFleetPath: --publish (and --node) with one
// --host are honoured, or refused, whatever --format and --baseline say;
// never silently dropped.
func TestPublishOneHostFleetPath(t *testing.T) {
	dir := t.TempDir()
	nofleet := filepath.Join(dir, "nofleet.toml")
	if err := os.WriteFile(nofleet, []byte("[ssh]\nenabled = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "base.json")
	if err := os.WriteFile(base, []byte(`{"schema":"rampart.fleet/v1","hosts":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		// The same flags without --format html are refused before any connection.
		{[]string{"--publish", "--format", "html"}, "--publish"},
		{[]string{"--publish", "--baseline", base}, "--publish"},
		{[]string{"--node", "n1", "--format", "html"}, "--node"},
	} {
		addr, dialled := countingListener(t)
		args := append([]string{"verify", "-p", nofleet, "--only", "sysctl.ip-forward", "--host", "root@" + addr, "--host-timeout", "3s"}, append(sshArgs(t), tc.args...)...)
		var out, errb bytes.Buffer
		code := Run(&Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}, args)
		first, _, _ := strings.Cut(errb.String(), "\n")
		if code != ExitUsage || !strings.Contains(first, tc.stderr) || dialled.Load() != 0 {
			t.Errorf("verify %v: exit %d, dialled %d, stderr %q; want exit 2 with %q", tc.args, code, dialled.Load(), errb.String(), tc.stderr)
		}
	}
}

// loopbackSSHD runs sshd on 127.0.0.1 (this namespace) on a free port and
// returns the port, a client key and a known_hosts file for it.
func loopbackSSHD(t *testing.T) (int, string, string) {
	sshd := testenv.RequireSSHD(t)
	dir := t.TempDir()
	hostPub := sshtest.NewKey(t, filepath.Join(dir, "host"))
	clientPub := sshtest.NewKey(t, filepath.Join(dir, "client"))
	keysDir, err := os.MkdirTemp("", "rv-keys")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(keysDir) })
	os.Chmod(keysDir, 0o755)
	ak := filepath.Join(keysDir, "authorized_keys")
	if err := os.WriteFile(ak, ssh.MarshalAuthorizedKey(clientPub), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := filepath.Join(dir, "sshd_config")
	conf := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1:%d\nHostKey %s\nPidFile none\nAuthorizedKeysFile %s\nStrictModes no\nUsePAM no\nPasswordAuthentication no\nPermitRootLogin prohibit-password\n",
		port, port, filepath.Join(dir, "host"), ak)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sshd, "-D", "-e", "-f", cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(30 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sshd did not start")
		}
	}
	kh := filepath.Join(dir, "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%d %s", port, ssh.MarshalAuthorizedKey(hostPub))
	if err := os.WriteFile(kh, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return port, filepath.Join(dir, "client"), kh
}

// TestBaselineOfOneHost: the help's own workflow, a one-host JSON
// report kept as the baseline of the next run of the same --host, finds
// no new failure when nothing changed.
func TestBaselineOfOneHost(t *testing.T) {
	testenv.RequireCommands(t, "chronyc")
	port, key, kh := loopbackSSHD(t)
	dir := t.TempDir()
	last := filepath.Join(dir, "last.json")
	getenv := func(k string) string {
		return map[string]string{"USER": "root", "HOME": dir}[k]
	}
	for _, hostArg := range []string{fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("root@127.0.0.1:%d", port)} {
		run := func(args ...string) (int, string) {
			var out, errb bytes.Buffer
			code := Run(&Env{Stdout: &out, Stderr: &errb, Getenv: getenv}, append([]string{"verify", "--host", hostArg,
				"-i", key, "--known-hosts", kh, "--only", "time.chrony-running", "--chrony-socket", filepath.Join(dir, "none.sock")}, args...))
			return code, errb.String()
		}
		// A check that fails for sure, saved as the baseline.
		if code, stderr := run("--format", "json", "-o", last); code != ExitProblem {
			t.Fatalf("baseline run: exit %d, want 1: %s", code, stderr)
		}
		// Nothing changed since: no new failure.
		if code, stderr := run("--baseline", last, "--fail-on", "regressions"); code != ExitOK {
			b, _ := os.ReadFile(last)
			t.Errorf("--host %s: same host, same failure: exit %d, want 0; stderr %q\nbaseline names host %s", hostArg, code, stderr,
				strings.SplitN(strings.SplitN(string(b), `"host": `, 2)[1], ",", 2)[0])
		}
	}
}
