package lockdown_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/lockdown"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// A real tailnet (issue 6, "preferably"): headscale as the control server
// and two tailscaled with real TUN devices named tailscale0, one in the
// server namespace and one in the peer namespace, talking WireGuard over
// an underlay veth (198.51.100.0/24). Every pre-flight check then reads
// the real thing, and apply runs without --force.
//
// The programs are not Debian packages: scripts/setup.sh builds them from
// the module proxy (testdata/build-tailnet-tools.sh) into
// DefaultTailnetBin; RAMPART_TAILNET_BIN names another directory. Without
// them the test skips, and under RAMPART_E2E=1 (or RAMPART_TAILNET_E2E=1)
// a missing program fails it (the testenv contract).

const (
	underSrv  = "198.51.100.1"
	underPeer = "198.51.100.2"
	hsPort    = "443"
)

// DefaultTailnetBin is where scripts/setup.sh installs the tailnet tools.
const DefaultTailnetBin = "/usr/local/lib/rampart/tailnet"

func tailnetTools(t *testing.T) (tailscale, tailscaled, headscale string) {
	t.Helper()
	dir := os.Getenv("RAMPART_TAILNET_BIN")
	if dir == "" {
		dir = DefaultTailnetBin
	}
	var paths []string
	for _, name := range []string{"tailscale", "tailscaled", "headscale"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err != nil || st.Mode()&0o111 == 0 {
			var lerr error
			if p, lerr = testenv.LookPath(name); lerr != nil {
				if testenv.E2E() || os.Getenv("RAMPART_TAILNET_E2E") == "1" {
					testenv.Missing(t, "%s not found in %s or PATH (scripts/setup.sh builds it with internal/lockdown/testdata/build-tailnet-tools.sh; RAMPART_TAILNET_BIN names another directory)", name, dir)
				}
				t.Skipf("skipping: %s not found in %s or PATH; build the tailnet tools with internal/lockdown/testdata/build-tailnet-tools.sh (scripts/setup.sh does)", name, dir)
			}
		}
		paths = append(paths, p)
	}
	return paths[0], paths[1], paths[2]
}

// Control is served over TLS on 443 with a throwaway CA: tailscale forces
// port 443 (TLS) when it redials control within two minutes, which a
// plain-HTTP headscale cannot answer.
const headscaleConfig = `server_url: https://%[1]s:%[2]s
listen_addr: %[1]s:%[2]s
tls_cert_path: %[3]s/cert.pem
tls_key_path: %[3]s/key.pem
metrics_listen_addr: 127.0.0.1:19090
grpc_listen_addr: 127.0.0.1:50443
grpc_allow_insecure: false
noise:
  private_key_path: %[3]s/noise_private.key
prefixes:
  v4: 100.64.0.0/10
  v6: fd7a:115c:a1e0::/48
  allocation: sequential
derp:
  server:
    enabled: true
    region_id: 999
    region_code: lab
    region_name: Lab embedded DERP
    verify_clients: true
    stun_listen_addr: %[1]s:3478
    private_key_path: %[3]s/derp_server_private.key
    automatically_add_embedded_derp_region: true
    ipv4: %[1]s
  urls: []
  paths: []
  auto_update_enabled: false
  update_frequency: 24h
disable_check_updates: true
ephemeral_node_inactivity_timeout: 30m
database:
  type: sqlite
  sqlite:
    path: %[3]s/db.sqlite
    write_ahead_log: true
unix_socket: %[3]s/headscale.sock
unix_socket_permission: "0770"
dns:
  magic_dns: false
  base_domain: tailnet.example
  override_local_dns: false
  nameservers:
    global: []
policy:
  mode: file
  path: %[3]s/acl.hujson
log:
  level: warn
`

const aclPolicy = `{
  "tagOwners": { "tag:server": ["admin@"] },
  "acls": [ { "action": "accept", "src": ["*"], "dst": ["*:*"] } ]
}
`

// writeTLS makes a CA and a certificate for ip in dir (cert.pem, key.pem)
// and returns the CA file.
func writeTLS(t *testing.T, dir, ip string) string {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rampart lab CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	must(t, err)
	ca, err := x509.ParseCertificate(caDER)
	must(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: ip}, IPAddresses: []net.IP{net.ParseIP(ip)},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	must(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	caFile := filepath.Join(dir, "ca.pem")
	must(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return caFile
}

func (l *lab) bg(ns *testenv.Netns, logName string, env []string, name string, args ...string) {
	t := l.t
	c := ns.Cmd(name, args...)
	c.Env = append(os.Environ(), env...)
	f, err := os.Create(filepath.Join(l.dir, logName))
	must(t, err)
	c.Stdout, c.Stderr = f, f
	must(t, c.Start())
	t.Cleanup(func() {
		_ = c.Process.Kill()
		_ = c.Wait()
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(f.Name())
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("%s (tail):\n%s", logName, b)
		}
	})
}

func (l *lab) out(ns *testenv.Netns, name string, args ...string) string {
	l.t.Helper()
	b, err := ns.Cmd(name, args...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
	}
	return strings.TrimSpace(string(b))
}

func TestE2ERealTailnet(t *testing.T) {
	tsBin, tsdBin, hsBin := tailnetTools(t)
	testenv.RequireNetns(t)
	sshd := testenv.RequireSSHD(t)
	testenv.RequireCommands(t, "ssh", "ssh-keygen", "nft", "ip", "sudo")
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		testenv.Missing(t, "no /dev/net/tun: %v", err)
	}
	l := &lab{t: t, dir: t.TempDir()}
	l.bin = rampartBin(t)
	l.state = filepath.Join(l.dir, "state")
	l.srv = testenv.NewNetns(t, "lks")
	l.tnet = testenv.NewNetns(t, "lkt")
	l.pub = testenv.NewNetns(t, "lkp")
	testenv.Link(t, l.srv, "up0", underSrv+"/24", l.tnet, "up0", underPeer+"/24")
	testenv.Link(t, l.srv, "eth0", srvPub+"/24", l.pub, "eth0", peerPb+"/24")
	t.Cleanup(func() { _ = l.srv.Cmd("nft", "delete", "table", "inet", lockdown.DefaultTable).Run() })

	// Control server in the server namespace (reachable over the underlay).
	hs := filepath.Join(l.dir, "hs")
	must(t, os.MkdirAll(hs, 0o700))
	must(t, os.WriteFile(filepath.Join(hs, "config.yaml"), []byte(fmt.Sprintf(headscaleConfig, underSrv, hsPort, hs)), 0o600))
	must(t, os.WriteFile(filepath.Join(hs, "acl.hujson"), []byte(aclPolicy), 0o600))
	caFile := writeTLS(t, hs, underSrv)
	l.bg(l.srv, "headscale.log", nil, hsBin, "-c", filepath.Join(hs, "config.yaml"), "serve")
	testenv.WaitTCP(t, l.tnet, underSrv+":"+hsPort, 20*time.Second)
	hsc := func(args ...string) string {
		return l.out(l.srv, hsBin, append([]string{"-c", filepath.Join(hs, "config.yaml"), "--force"}, args...)...)
	}
	hsc("users", "create", "admin")
	lastLine := func(s string) string { f := strings.Split(s, "\n"); return strings.TrimSpace(f[len(f)-1]) }
	tagKey := lastLine(hsc("preauthkeys", "create", "--user", "1", "--tags", "tag:server", "-e", "1h"))
	userKey := lastLine(hsc("preauthkeys", "create", "--user", "1", "-e", "1h"))

	// One tailscaled per namespace, with a real TUN named tailscale0. Logs
	// stay in the temporary directory and are never uploaded.
	sock := map[string]string{}
	for _, n := range []struct {
		name, key string
		ns        *testenv.Netns
	}{{"server", tagKey, l.srv}, {"laptop", userKey, l.tnet}} {
		d := filepath.Join(l.dir, n.name)
		must(t, os.MkdirAll(d, 0o700))
		sock[n.name] = filepath.Join(d, "ts.sock")
		l.bg(n.ns, n.name+"-tailscaled.log", []string{"TS_LOGS_DIR=" + d, "SSL_CERT_FILE=" + caFile}, tsdBin, "--tun=tailscale0", "--statedir="+d,
			"--socket="+sock[n.name], "--port=41641", "--no-logs-no-support")
		deadline := time.Now().Add(10 * time.Second)
		for _, err := os.Stat(sock[n.name]); err != nil && time.Now().Before(deadline); _, err = os.Stat(sock[n.name]) {
			time.Sleep(50 * time.Millisecond)
		}
		l.out(n.ns, tsBin, "--socket="+sock[n.name], "up", "--login-server=https://"+underSrv+":"+hsPort, "--auth-key="+n.key,
			"--hostname="+n.name, "--netfilter-mode=off", "--accept-dns=false", "--timeout=30s")
	}
	// Establish the direct path both ways (DERP and STUN are headscale's
	// embedded ones; the nodes still prefer the direct underlay).
	for _, p := range []struct {
		ns   *testenv.Netns
		sock string
		to   string
	}{{l.tnet, sock["laptop"], "100.64.0.1"}, {l.srv, sock["server"], "100.64.0.2"}} {
		l.out(p.ns, tsBin, "--socket="+p.sock, "ping", "-c", "20", "--until-direct", "--timeout", "3s", p.to)
	}

	// rampart runs `tailscale status --json`; a wrapper on PATH points the
	// real CLI at the lab daemon's socket.
	wbin := filepath.Join(l.dir, "wbin")
	must(t, os.MkdirAll(wbin, 0o755))
	must(t, os.WriteFile(filepath.Join(wbin, "tailscale"), []byte("#!/bin/sh\nexec "+tsBin+" --socket="+sock["server"]+" \"$@\"\n"), 0o755))
	l.env = []string{"PATH=" + wbin + ":" + os.Getenv("PATH")}
	l.startSSHD(sshd)
	testenv.WaitTCP(t, l.pub, srvPub+":22", 10*time.Second)
	if !l.canSSH(l.tnet, "100.64.0.1") {
		t.Fatal("no SSH over the real tailnet before the lockdown")
	}
	sshdConf := filepath.Join(l.dir, "sshd_config")

	// plan in a real SSH session over the tailnet: every check reads the
	// real thing and the path is proven (admin-key warns: the policy names
	// no admin, root's key is where this sshd reads it).
	b, code := l.ssh(l.tnet, "100.64.0.1", "PATH="+wbin+":$PATH", l.bin, "lockdown", "plan", "--format", "json", "--sshd-config", sshdConf)
	if code != 0 {
		t.Fatalf("plan over the real tailnet: exit %d\n%s", code, b)
	}
	var doc struct {
		Checks []check.Result `json:"checks"`
	}
	must(t, json.Unmarshal([]byte(b), &doc))
	want := map[string]check.Status{lockdown.IDTailscaleRunning: check.Pass, lockdown.IDKeyExpiry: check.Pass, lockdown.IDInterface: check.Pass,
		lockdown.IDSSHDListen: check.Pass, lockdown.IDAdminKey: check.Warn, lockdown.IDSession: check.Pass, lockdown.IDNftables: check.Pass}
	for _, r := range doc.Checks {
		if r.Status != want[r.ID] {
			t.Errorf("%s = %s (%s), want %s", r.ID, r.Status, r.Message, want[r.ID])
		}
	}

	// apply without --force; confirm through sudo in a new tailnet session.
	l.applyArgs = []string{"--sshd-config", sshdConf}
	apply, out := l.startApply("60s")
	if l.canSSH(l.pub, srvPub) {
		t.Error("after apply, SSH from the public namespace still connects")
	}
	if !l.canSSH(l.tnet, "100.64.0.1") {
		t.Error("after apply, SSH over the real tailnet does not connect")
	}
	b, code = l.ssh(l.tnet, "100.64.0.1", "sudo", "-n", l.bin, "lockdown", "confirm", "--state-dir", l.state)
	if code != 0 {
		t.Fatalf("confirm over the real tailnet: exit %d\n%s\napply:\n%s", code, b, out.String())
	}
	if err := apply.Wait(); err != nil || !strings.Contains(out.String(), "Confirmed from 100.64.0.2 ") {
		t.Fatalf("apply: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "eth0") {
		t.Errorf("apply did not show the exposure per interface:\n%s", out.String())
	}
	if l.canSSH(l.pub, srvPub) || !l.canSSH(l.tnet, "100.64.0.1") {
		t.Error("after the confirm: public must stay closed and the tailnet open")
	}

	// rampart verify's tailnet checks on the real node: all pass, until
	// the server offers itself as an exit node, which the policy's
	// use_routing_features "none" does not allow.
	verifyTailnet := func() map[string]check.Result {
		c := l.srv.Cmd(l.bin, "verify", "--profile", "tailnet", "--only", "tailnet", "--format", "json")
		c.Env = append(os.Environ(), l.env...)
		b, _ := c.Output()
		var doc struct {
			Checks []check.Result `json:"checks"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("verify --format json: %v\n%s", err, b)
		}
		m := map[string]check.Result{}
		for _, r := range doc.Checks {
			m[r.ID] = r
		}
		return m
	}
	all := verifyTailnet()
	if len(all) != 4 {
		t.Errorf("verify --only tailnet ran %d checks, want 4: %v", len(all), all)
	}
	for id, r := range all {
		if r.Status != check.Pass {
			t.Errorf("verify on the real tailnet node: %s = %s (%s)", id, r.Status, r.Message)
		}
	}
	l.out(l.srv, tsBin, "--socket="+sock["server"], "set", "--advertise-exit-node")
	if r := verifyTailnet()["tailnet.routing"]; r.Status != check.Fail || !strings.Contains(r.Message, "offers to be an exit node") {
		t.Errorf("after --advertise-exit-node: tailnet.routing = %s (%s)", r.Status, r.Message)
	}
	l.out(l.srv, tsBin, "--socket="+sock["server"], "set", "--advertise-exit-node=false")
	if r := verifyTailnet()["tailnet.routing"]; r.Status != check.Pass {
		t.Errorf("after --advertise-exit-node=false: tailnet.routing = %s (%s)", r.Status, r.Message)
	}
}
