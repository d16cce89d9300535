package fleet_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-sec/rampart/internal/cli"
	"github.com/rampart-sec/rampart/internal/fleet"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// TestMain lets the E2E test run this binary as the rampart CLI
// (RAMPART_AS_CLI=1), as a NATS server (RAMPART_AS_NATS=CONFIG) and as a
// rogue fleet node (RAMPART_AS_ROGUE=URL), each a real process inside
// a network namespace that can be killed.
func TestMain(m *testing.M) {
	switch {
	case os.Getenv("RAMPART_AS_CLI") == "1":
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	case os.Getenv("RAMPART_AS_NATS") != "":
		os.Exit(runNATS(os.Getenv("RAMPART_AS_NATS")))
	case os.Getenv("RAMPART_AS_ROGUE") != "":
		os.Exit(runRogue(os.Getenv("RAMPART_AS_ROGUE")))
	case os.Getenv("RAMPART_AS_FLOOD") != "":
		os.Exit(runFlood(os.Getenv("RAMPART_AS_FLOOD")))
	}
	os.Exit(m.Run())
}

// runNATS runs one embedded nats-server from a config file until SIGTERM.
func runNATS(config string) int {
	opts, err := server.ProcessConfigFile(config)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	opts.NoSigs = true
	s, err := server.NewServer(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s.ConfigureLogger()
	s.Start()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	s.Shutdown()
	s.WaitForShutdown()
	return 0
}

// Rogue payloads.
const (
	adminAddr = "192.0.2.50"     // in every node's ban.ignore
	wideBan   = "203.0.0.0/8"    // wider than /32
	longBan   = "198.51.100.77"  // a one-year ban
	rogueNet  = "2001:db8:bad::" // 10,000 bans in one second
	rogueN    = 10000
)

type rogueReport struct {
	Start, End time.Time
	Refused    string
}

// runRogue is a node with valid credentials (user "rogue") doing what a
// compromised node could: protected, wide and long bans, a flood, and
// publishing under another node's name.
func runRogue(url string) int {
	var refused = make(chan string, 1)
	nc, err := nats.Connect(url, nats.UserInfo("rogue", "pw-rogue"), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case refused <- err.Error():
		default:
		}
	}))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer nc.Close()
	now := time.Now()
	// Room for the whole flood in flight (the default 4,000 stalls the
	// publisher, and a stall longer than 200 ms is an error).
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(rogueN+16))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	payload := func(prefix string, until time.Time) []byte {
		data, _ := json.Marshal(fleet.Payload{Schema: fleet.Schema, Prefix: prefix, Jail: "sshd", DecidedAt: now, ExpiresAt: until})
		return data
	}
	// Published to the stream with acknowledgements, so that End is when
	// the stream has stored the whole flood: the guards' rate buckets run
	// on the stream's timestamps, and under load storing 10,000 messages
	// on three replicas takes longer than sending them.
	pub := func(subj, prefix string, until time.Time) error {
		_, err := js.PublishAsync(subj, payload(prefix, until))
		if err != nil {
			fmt.Fprintln(os.Stderr, "rogue publish:", err)
		}
		return err
	}
	subj := fleet.BanSubject("rogue", "sshd")
	rep := rogueReport{Start: time.Now()}
	pub(subj, adminAddr+"/32", now.Add(time.Hour))
	pub(subj, wideBan, now.Add(time.Hour))
	pub(subj, longBan+"/32", now.Add(365*24*time.Hour))
	for i := range rogueN {
		if err := pub(subj, fmt.Sprintf("%s%x/128", rogueNet, i+1), now.Add(time.Hour)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(60 * time.Second):
		fmt.Fprintln(os.Stderr, "the stream did not acknowledge the flood within 60s")
		return 2
	}
	rep.End = time.Now()
	// Speaking for node a (plain publish: the server refuses it).
	nc.Publish(fleet.BanSubject("a", "sshd"), payload("198.51.100.200/32", now.Add(time.Hour)))
	nc.Flush()
	select {
	case rep.Refused = <-refused:
	case <-time.After(5 * time.Second):
	}
	json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

// The E2E topology:
//
//	inet (bridge; attacker 198.51.100.100, .101)
//	  |-- a (198.51.100.1)   |-- b (.2)   |-- c (.3)      sshd + rampart guard run each
//	  a 203.0.113.2/30, b .6/30, c .10/30
//	  |                      |            |
//	fab (203.0.113.1, .5, .9): three clustered JetStream servers on ports 4222-4224
type cluster struct {
	t       *testing.T
	dir     string
	self    string
	sshd    string
	sshpass string
	fab     *testenv.Netns
	inet    *testenv.Netns
	nats    [3]*exec.Cmd
	nodes   map[string]*node
}

type node struct {
	name, addr, fabAddr string
	ns                  *testenv.Netns
	dir, log, sock      string
	policy              string
	guard               *exec.Cmd
	servers             []string
}

const (
	attacker  = "198.51.100.100"
	attacker2 = "198.51.100.101"
)

func newCluster(t *testing.T) *cluster {
	t.Helper()
	testenv.RequireNetns(t)
	sshd := testenv.RequireSSHD(t)
	paths := testenv.RequireCommands(t, "ssh", "ssh-keygen", "sshpass", "nft", "ip")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, dir: t.TempDir(), self: self, sshd: sshd, sshpass: paths[2], nodes: map[string]*node{}}
	c.fab = testenv.NewNetns(t, "flf")
	c.inet = testenv.NewNetns(t, "fli")
	c.inet.Exec(t, "ip", "link", "add", "br0", "type", "bridge")
	c.inet.Exec(t, "ip", "addr", "add", attacker+"/24", "dev", "br0")
	c.inet.Exec(t, "ip", "addr", "add", attacker2+"/24", "dev", "br0")
	c.inet.Exec(t, "ip", "link", "set", "br0", "up")
	for i, name := range []string{"a", "b", "c"} {
		n := &node{name: name, addr: fmt.Sprintf("198.51.100.%d", i+1), ns: testenv.NewNetns(t, "fl"+name),
			dir: filepath.Join(c.dir, name)}
		os.MkdirAll(n.dir, 0o700)
		// The internet side: a veth whose far end joins the bridge.
		testenv.Link(t, n.ns, "eth0", n.addr+"/24", c.inet, "up"+name, fmt.Sprintf("192.0.2.%d/32", 200+i))
		c.inet.Exec(t, "ip", "addr", "flush", "dev", "up"+name)
		c.inet.Exec(t, "ip", "link", "set", "up"+name, "master", "br0")
		// The fabric side.
		n.fabAddr = fmt.Sprintf("203.0.113.%d", 4*i+1)
		testenv.Link(t, n.ns, "eth1", fmt.Sprintf("203.0.113.%d/30", 4*i+2), c.fab, "n"+name, n.fabAddr+"/30")
		for k := range 3 {
			n.servers = append(n.servers, fmt.Sprintf("nats://%s:%d", n.fabAddr, 4222+(i+k)%3))
		}
		c.nodes[name] = n
	}
	c.writeNATSConfigs()
	for i := range 3 {
		c.startNATS(i)
	}
	for _, name := range []string{"a", "b", "c"} {
		c.startSSHD(c.nodes[name])
	}
	return c
}

func (c *cluster) writeNATSConfigs() {
	perms := func(n string) string {
		return fmt.Sprintf(`{user: %q, password: "pw-%s", permissions: {
      publish: {allow: ["rampart.ban.%s.>", "rampart.unban.%s", "$JS.API.INFO", "$JS.API.STREAM.INFO.RAMPART_BANS", "$JS.API.STREAM.CREATE.RAMPART_BANS",
                        "$JS.API.CONSUMER.CREATE.RAMPART_BANS", "$JS.API.CONSUMER.CREATE.RAMPART_BANS.>", "$JS.API.CONSUMER.MSG.NEXT.RAMPART_BANS.>",
                        "$JS.API.CONSUMER.DELETE.RAMPART_BANS.>", "$JS.API.CONSUMER.INFO.RAMPART_BANS.>"]},
      subscribe: {allow: ["_INBOX.>"]}}}`, n, n, n, n)
	}
	var users []string
	for _, n := range []string{"a", "b", "c", "rogue"} {
		users = append(users, perms(n))
	}
	users = append(users, `{user: "admin", password: "pw-admin"}`)
	for i := range 3 {
		cfg := fmt.Sprintf(`server_name: n%d
listen: "0.0.0.0:%d"
jetstream { store_dir: %q, max_memory_store: 64MB, max_file_store: 1GB }
cluster { name: rampart, listen: "127.0.0.1:%d", routes: ["nats-route://127.0.0.1:6222", "nats-route://127.0.0.1:6223", "nats-route://127.0.0.1:6224"] }
authorization { users: [
    %s
] }
`, i, 4222+i, filepath.Join(c.dir, fmt.Sprintf("js%d", i)), 6222+i, strings.Join(users, ",\n    "))
		os.WriteFile(filepath.Join(c.dir, fmt.Sprintf("nats%d.conf", i)), []byte(cfg), 0o600)
	}
}

func (c *cluster) startNATS(i int) {
	c.t.Helper()
	out, _ := os.OpenFile(filepath.Join(c.dir, fmt.Sprintf("nats%d.log", i)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	cmd := c.fab.Cmd(c.self)
	cmd.Env = append(os.Environ(), "RAMPART_AS_NATS="+filepath.Join(c.dir, fmt.Sprintf("nats%d.conf", i)))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.nats[i] = cmd
	c.t.Cleanup(func() {
		if c.nats[i] == cmd {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	testenv.WaitTCP(c.t, c.fab, fmt.Sprintf("127.0.0.1:%d", 4222+i), 20*time.Second)
}

func (c *cluster) killNATS(i int) {
	c.nats[i].Process.Kill()
	c.nats[i].Wait()
	c.nats[i] = nil
}

func (c *cluster) startSSHD(n *node) {
	t := c.t
	t.Helper()
	hk := filepath.Join(n.dir, "hostkey")
	testenv.Run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hk)
	cfg := filepath.Join(n.dir, "sshd_config")
	n.log = filepath.Join(n.dir, "sshd.log")
	os.WriteFile(cfg, []byte(fmt.Sprintf("Port 22\nListenAddress 0.0.0.0\nHostKey %s\nPidFile none\nLogLevel VERBOSE\nUsePAM no\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\nPermitRootLogin yes\nStrictModes no\nMaxStartups 100\n", hk)), 0o600)
	sshd := n.ns.Cmd(c.sshd, "-D", "-f", cfg, "-E", n.log)
	if err := sshd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sshd.Process.Kill(); sshd.Wait() })
	testenv.WaitTCP(t, c.inet, n.addr+":22", 20*time.Second)
}

// writePolicy writes node n's policy with the given fleet rate limit.
func (c *cluster) writePolicy(n *node, rate, burst int) {
	pw := filepath.Join(n.dir, "nats-password")
	os.WriteFile(pw, []byte("pw-"+n.name+"\n"), 0o600)
	n.policy = filepath.Join(n.dir, "policy.toml")
	q := make([]string, len(n.servers))
	for i, s := range n.servers {
		q[i] = fmt.Sprintf("%q", s)
	}
	os.WriteFile(n.policy, []byte(fmt.Sprintf(`[ban]
bantime = "1h"
findtime = "10m"
maxretry = 3
ignore = ["127.0.0.1/8", "::1", %q]

[ban.jails.sshd]
enabled = true
filter = "sshd"
source = "file"
paths = [%q]

[ban.jails.nginx-noscript]
enabled = false

[fleet]
enabled = true
servers = [%s]
user = %q
password_file = %q
node = %q
rate = %d
burst = %d
`, adminAddr, n.log, strings.Join(q, ", "), n.name, pw, n.name, rate, burst)), 0o600)
}

func (c *cluster) startGuard(n *node) {
	c.t.Helper()
	out, _ := os.OpenFile(filepath.Join(n.dir, "guard.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	n.sock = filepath.Join(n.dir, "guard.sock")
	cmd := n.ns.Cmd(c.self, "guard", "run", "-p", n.policy, "--state-dir", filepath.Join(n.dir, "state"), "--socket", n.sock, "--from-start")
	cmd.Env = append(os.Environ(), "RAMPART_AS_CLI=1")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	n.guard = cmd
	c.t.Cleanup(func() {
		if n.guard == cmd {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
	})
	// The control socket answers once the restore has built the table
	// (listing the table instead would dump sets of 100,000 elements,
	// which takes the kernel seconds each time).
	c.eventually(n.name+"'s guard", 10*time.Second, func() bool { return n.status() != nil })
}

func (c *cluster) stopGuard(n *node, sig syscall.Signal) {
	n.guard.Process.Signal(sig)
	n.guard.Wait()
	n.guard = nil
}

func (c *cluster) eventually(what string, limit time.Duration, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			// Each guard's log without its per-ban lines (a burst
			// would push everything else out), and its fleet status.
			var logs strings.Builder
			for _, n := range []string{"a", "b", "c"} {
				b, _ := os.ReadFile(filepath.Join(c.dir, n, "guard.log"))
				var keep []string
				for _, line := range strings.Split(string(b), "\n") {
					if !strings.Contains(line, `"msg":"ban"`) && !strings.Contains(line, `"msg":"fleet bans"`) {
						keep = append(keep, line)
					}
				}
				text := strings.Join(keep, "\n")
				if len(text) > 6000 {
					text = text[len(text)-6000:]
				}
				st, _ := json.Marshal(c.nodes[n].status())
				fmt.Fprintf(&logs, "--- guard %s (fleet status %s):\n%s\n", n, st, text)
			}
			c.t.Fatalf("timed out waiting for %s\n%s", what, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cli runs the rampart CLI in ns.
func (c *cluster) cli(ns *testenv.Netns, args ...string) (string, error) {
	cmd := ns.Cmd(c.self, args...)
	cmd.Env = append(os.Environ(), "RAMPART_AS_CLI=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

type statusResp struct {
	Status struct {
		Fleet *fleet.Status `json:"fleet"`
	} `json:"status"`
}

func (n *node) status() *fleet.Status {
	self, _ := os.Executable()
	cmd := n.ns.Cmd(self, "guard", "status", "--socket", n.sock, "--json")
	cmd.Env = append(os.Environ(), "RAMPART_AS_CLI=1")
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	var r statusResp
	if json.Unmarshal(out, &r) != nil {
		return nil
	}
	return r.Status.Fleet
}

// element is one set element as `nft -j` prints it.
type element struct {
	Val     string
	Expires time.Duration
	Comment string
}

// elements returns node n's banned4 and banned6 elements by address.
func (n *node) elements() map[string]element {
	out := map[string]element{}
	for _, set := range []string{"banned4", "banned6"} {
		b, err := n.ns.Cmd("nft", "-j", "list", "set", "inet", "rampart", set).Output()
		if err != nil {
			continue
		}
		var doc struct {
			Nftables []map[string]json.RawMessage `json:"nftables"`
		}
		json.Unmarshal(b, &doc)
		for _, o := range doc.Nftables {
			raw, ok := o["set"]
			if !ok {
				continue
			}
			var s struct {
				Elem []json.RawMessage `json:"elem"`
			}
			json.Unmarshal(raw, &s)
			for _, e := range s.Elem {
				var w struct {
					Elem struct {
						Val     json.RawMessage `json:"val"`
						Expires float64         `json:"expires"`
						Comment string          `json:"comment"`
					} `json:"elem"`
				}
				if json.Unmarshal(e, &w) != nil {
					continue
				}
				var v string
				if json.Unmarshal(w.Elem.Val, &v) != nil {
					var p struct {
						Prefix struct {
							Addr string `json:"addr"`
							Len  int    `json:"len"`
						} `json:"prefix"`
					}
					json.Unmarshal(w.Elem.Val, &p)
					v = fmt.Sprintf("%s/%d", p.Prefix.Addr, p.Prefix.Len)
				}
				out[v] = element{Val: v, Expires: time.Duration(w.Elem.Expires * float64(time.Second)), Comment: w.Elem.Comment}
			}
		}
	}
	return out
}

func (n *node) count(prefix string) int {
	k := 0
	for v := range n.elements() {
		if strings.HasPrefix(v, prefix) {
			k++
		}
	}
	return k
}

// reach reports whether src gets an SSH answer from dst (a TCP connect
// and the server's banner) from the attacker's namespace.
func (c *cluster) reach(src, dst string) bool {
	out, _ := c.inet.Cmd("ssh", "-b", src, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
		"-o", "ConnectTimeout=1", "-l", "nobody", dst, "true").CombinedOutput()
	return bytes.Contains(out, []byte("Permission denied"))
}

// bruteForce makes three failed password logins from src against n.
func (c *cluster) bruteForce(src string, n *node) {
	c.t.Helper()
	for range 3 {
		out, _ := c.inet.Cmd(c.sshpass, "-p", "wrong-password", "ssh", "-b", src, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=2",
			"-l", "root", n.addr, "true").CombinedOutput()
		if !bytes.Contains(out, []byte("Permission denied")) {
			c.t.Fatalf("password attempt from %s: want Permission denied, got:\n%s", src, out)
		}
	}
}

// startAll starts the three guards with the given per-origin rate limit
// and waits until every fleet link is connected.
func (c *cluster) startAll(rate, burst int) (a, b, cc *node) {
	a, b, cc = c.nodes["a"], c.nodes["b"], c.nodes["c"]
	for _, n := range []*node{a, b, cc} {
		c.writePolicy(n, rate, burst)
		c.startGuard(n)
	}
	c.eventually("every link connected", 20*time.Second, func() bool {
		for _, n := range []*node{a, b, cc} {
			if st := n.status(); st == nil || !st.Connected {
				return false
			}
		}
		return true
	})
	return a, b, cc
}

// TestE2EFleet runs the whole fleet story on three namespaced guards and a
// three-server JetStream cluster.
func TestE2EFleet(t *testing.T) {
	c := newCluster(t)
	a, b, cc := c.startAll(50000, 50000)

	// 1. A real password brute force against a: the attacker is dropped
	// on b and c too.
	for _, n := range []*node{b, cc} {
		if !c.reach(attacker, n.addr) {
			t.Fatalf("no SSH answer from %s before any ban", n.name)
		}
	}
	c.bruteForce(attacker, a)
	for _, n := range []*node{a, b, cc} {
		c.eventually("the attacker's ban on "+n.name, 10*time.Second, func() bool { _, ok := n.elements()[attacker]; return ok })
	}
	for _, n := range []*node{b, cc} {
		if el := n.elements()[attacker]; el.Comment != "sshd@a" || el.Expires < 59*time.Minute {
			t.Errorf("%s holds %+v, want comment sshd@a and about 1h left", n.name, el)
		}
		if c.reach(attacker, n.addr) {
			t.Errorf("the attacker still gets an SSH answer from %s", n.name)
		}
	}
	if out, err := c.cli(b.ns, "guard", "list", "--socket", b.sock); err != nil || !strings.Contains(out, attacker+"/32") || !strings.Contains(out, " a ") {
		t.Errorf("guard list on b (want the origin a): %v\n%s", err, out)
	}
	if out, err := c.cli(b.ns, "guard", "status", "--socket", b.sock); err != nil || !strings.Contains(out, "fleet node b") {
		t.Errorf("guard status on b: %v\n%s", err, out)
	}

	// 2. c is killed; a burst of 10,000 bans on a, with a's NATS server
	// killed in the middle: a and b end with all of them.
	c.stopGuard(cc, syscall.SIGKILL)
	cStopped := time.Now()
	line := failedLine(t, a.log, attacker)
	var burst bytes.Buffer
	for i := range 10000 {
		l := strings.Replace(line, attacker, fmt.Sprintf("2001:db8:a::%x", i+1), 1)
		for range 3 {
			burst.WriteString(l)
		}
	}
	f, err := os.OpenFile(a.log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(burst.Bytes())
	f.Close()
	c.eventually("part of the burst on b", 10*time.Second, func() bool { return b.count("2001:db8:a::") >= 500 })
	c.killNATS(0)
	// A consumer the killed server held is recreated by the client
	// library with a backoff of up to 10 s between attempts of up to 10 s
	// each (three, then the link starts again), and a loaded machine (CI
	// runs the packages side by side, under -race) slows the cluster's
	// elections: once, the JetStream API did not answer for over a
	// minute. 150 s.
	for _, n := range []*node{a, b} {
		c.eventually("the whole burst on "+n.name, 150*time.Second, func() bool { return n.count("2001:db8:a::") == 10000 })
	}

	// 3. NATS entirely down: a still bans at once; b gets it once NATS
	// is back.
	c.killNATS(1)
	c.killNATS(2)
	c.bruteForce(attacker2, a)
	c.eventually("the local ban on a with NATS down", 5*time.Second, func() bool { _, ok := a.elements()[attacker2]; return ok })
	if st := a.status(); st == nil || st.Connected || st.Outbox < 1 {
		t.Errorf("a's link with NATS down: %+v", st)
	}
	for i := range 3 {
		c.startNATS(i)
	}
	c.eventually("a's ban made with NATS down, on b", 30*time.Second, func() bool { _, ok := b.elements()[attacker2]; return ok })

	// 4. c comes back after 30 s: it catches up, with the remaining times.
	time.Sleep(time.Until(cStopped.Add(30 * time.Second)))
	c.startGuard(cc)
	c.eventually("c's catch-up", 30*time.Second, func() bool {
		_, ok := cc.elements()[attacker2]
		return ok && cc.count("2001:db8:a::") == 10000
	})
	t.Logf("c caught up %v after its restart, %v after it stopped", time.Since(cStopped)-30*time.Second, time.Since(cStopped))
	ea, ec := a.elements(), cc.elements()
	for _, k := range []string{attacker, attacker2, "2001:db8:a::1", "2001:db8:a::2710"} {
		if d := ea[k].Expires - ec[k].Expires; d > 2*time.Second || d < -2*time.Second || ec[k].Expires == 0 {
			t.Errorf("%s: a has %v left, c %v (want within 2s)", k, ea[k].Expires, ec[k].Expires)
		}
	}

	// 5. A rogue node with valid credentials: b and c (now with a low rate
	// limit) apply none of the protected, wide and long bans, at most the
	// rate limit of the flood, and the server refuses it speaking for a.
	const rate, burstN = 100, 200
	for _, n := range []*node{b, cc} {
		c.stopGuard(n, syscall.SIGTERM)
		c.writePolicy(n, rate, burstN)
		c.startGuard(n)
	}
	rogue := c.fab.Cmd(c.self)
	rogue.Env = append(os.Environ(), "RAMPART_AS_ROGUE=nats://127.0.0.1:4222")
	out, err := rogue.Output()
	var rep rogueReport
	if err != nil || json.Unmarshal(out, &rep) != nil {
		t.Fatalf("rogue: %v\n%s", err, out)
	}
	if !strings.Contains(strings.ToLower(rep.Refused), "permissions violation") {
		t.Errorf("publishing under a's name was not refused: %q", rep.Refused)
	}
	// The bucket runs on the stream's own timestamps, all between the
	// rogue's Start and End (End: every message acknowledged as stored);
	// two seconds of slack.
	limit := burstN + int(rate*(rep.End.Sub(rep.Start).Seconds()+2))
	for _, n := range []*node{b, cc} {
		c.eventually(n.name+" read the flood", 30*time.Second, func() bool {
			st := n.status()
			return st != nil && st.Origins["rogue"].Received >= rogueN+3
		})
		els := n.elements()
		for _, k := range []string{adminAddr, longBan, "203.0.0.0/8", "198.51.100.200"} {
			if _, ok := els[k]; ok {
				t.Errorf("%s applied the rogue ban of %s", n.name, k)
			}
		}
		got := n.count(rogueNet)
		st := n.status()
		t.Logf("%s: %d of the rogue flood applied (limit %d over %v), rejected %v", n.name, got, limit, rep.End.Sub(rep.Start), st.Rejected)
		if got == 0 || got > limit || st.Rejected[fleet.ReasonRate] < int64(rogueN-limit) {
			t.Errorf("%s applied %d of the flood (limit %d); rejected %v", n.name, got, limit, st.Rejected)
		}
		for _, r := range []string{fleet.ReasonProtected, fleet.ReasonWide, fleet.ReasonDuration} {
			if st.Rejected[r] < 1 {
				t.Errorf("%s: no %s rejection counted: %v", n.name, r, st.Rejected)
			}
		}
	}

	// 6. A fleet-wide unban from an admin credential lifts the ban on
	// every node; `fleet bans` lists the fleet's bans from the stream.
	admin := filepath.Join(c.dir, "admin.toml")
	os.WriteFile(filepath.Join(c.dir, "admin-pw"), []byte("pw-admin\n"), 0o600)
	os.WriteFile(admin, []byte(fmt.Sprintf("[fleet]\nservers = [\"nats://127.0.0.1:4222\", \"nats://127.0.0.1:4223\"]\nuser = \"admin\"\npassword_file = %q\n", filepath.Join(c.dir, "admin-pw"))), 0o600)
	if out, err := c.cli(c.fab, "fleet", "unban", attacker, "-p", admin); err != nil {
		t.Fatalf("fleet unban: %v\n%s", err, out)
	}
	for _, n := range []*node{a, b, cc} {
		c.eventually("the fleet unban on "+n.name, 10*time.Second, func() bool { _, ok := n.elements()[attacker]; return !ok })
	}
	if !c.reach(attacker, b.addr) {
		t.Error("the attacker is still blocked on b after the fleet unban")
	}
	out2, err := c.cli(c.fab, "fleet", "bans", "-p", admin)
	if err != nil || !strings.Contains(out2, attacker2+"/32") || strings.Contains(out2, attacker+"/32") {
		t.Errorf("fleet bans: %v\n%s", err, firstLines(out2, 10))
	}
}

func firstLines(s string, n int) string {
	l := strings.SplitN(s, "\n", n+1)
	return strings.Join(l[:min(n, len(l))], "\n")
}

// failedLine returns a "Failed password" line of src from sshd's log.
func failedLine(t *testing.T, log, src string) string {
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if strings.Contains(l, "Failed password") && strings.Contains(l, src) {
			return l
		}
	}
	t.Fatalf("no Failed password line of %s in:\n%s", src, b)
	return ""
}
