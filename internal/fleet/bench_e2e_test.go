package fleet_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-sec/rampart/internal/fleet"
	"github.com/rampart-sec/rampart/internal/guard/control"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// runFlood publishes N bans of 2001:db8:cc::/48 addresses as node a with
// the admin credential ("URL N").
func runFlood(arg string) int {
	var url string
	var n int
	fmt.Sscan(arg, &url, &n)
	nc, err := nats.Connect(url, nats.UserInfo("admin", "pw-admin"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer nc.Close()
	js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192))
	now := time.Now()
	for i := range n {
		data, _ := fleet.Encode(fleet.Message{Kind: fleet.KindBan, Prefix: mustPrefix(fmt.Sprintf("2001:db8:cc::%x:%x/128", (i+1)>>16, (i+1)&0xffff)), Jail: "sshd", DecidedAt: now, ExpiresAt: now.Add(time.Hour)})
		if _, err := js.PublishAsync(fleet.BanSubject("a", "sshd"), data); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if (i+1)%4096 == 0 || i == n-1 {
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(2 * time.Minute):
				fmt.Fprintln(os.Stderr, "flood: acks timed out")
				return 2
			}
		}
	}
	return 0
}

// monitor follows `nft monitor new elements` in a namespace and records
// when each address first appeared (fine for one element at a time; it
// loses events in bursts of thousands, when its socket buffer overflows).
type monitor struct {
	mu   sync.Mutex
	seen map[string]time.Time
	cmd  interface{ Wait() error }
}

func (c *cluster) monitor(n *node) *monitor {
	c.t.Helper()
	cmd := n.ns.Cmd("nft", "monitor", "new", "elements")
	out, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	m := &monitor{seen: map[string]time.Time{}, cmd: cmd}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			now := time.Now()
			l := sc.Text()
			i, j := strings.Index(l, "{ "), strings.LastIndex(l, " }")
			if i < 0 || j < i {
				continue
			}
			m.mu.Lock()
			for _, e := range strings.Split(l[i+2:j], ", ") {
				addr, _, _ := strings.Cut(strings.TrimSpace(e), " ")
				if _, ok := m.seen[addr]; !ok {
					m.seen[addr] = now
				}
			}
			m.mu.Unlock()
		}
	}()
	time.Sleep(200 * time.Millisecond) // the monitor subscribes
	return m
}

func (m *monitor) at(addr string) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.seen[addr]
	return t, ok
}

func rss(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:"))
		}
	}
	return "?"
}

// TestBenchFleet measures propagation, burst, catch-up and memory on
// the E2E topology; bench/fleet.sh runs it (RAMPART_BENCH=1) and prints
// its BENCH lines.
func TestBenchFleet(t *testing.T) {
	if os.Getenv("RAMPART_BENCH") != "1" {
		t.Skip("run by bench/fleet.sh (RAMPART_BENCH=1)")
	}
	testenv.RequireRoot(t)
	c := newCluster(t)
	a, b, cc := c.nodes["a"], c.nodes["b"], c.nodes["c"]
	for _, n := range []*node{a, b, cc} {
		c.writePolicy(n, 1_000_000, 10_000_000)
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
	bench := func(k string, v any) { fmt.Printf("BENCH %s %v\n", k, v) }

	// Propagation: a manual ban on a (control socket) until the element
	// is in b's kernel set, one at a time.
	mb := c.monitor(b)
	var lat []time.Duration
	for i := range 1000 {
		addr := fmt.Sprintf("2001:db8:b0::%x", i+1)
		t0 := time.Now()
		resp, err := control.Call(a.sock, control.Request{Op: control.OpBan, IP: addr, Jail: "sshd"})
		if err != nil || !resp.OK {
			t.Fatalf("ban on a: %v %+v", err, resp)
		}
		c.eventually("propagation of "+addr, 10*time.Second, func() bool { _, ok := mb.at(addr); return ok })
		t1, _ := mb.at(addr)
		lat = append(lat, t1.Sub(t0))
	}
	slices.Sort(lat)
	bench("propagation_p50_ms", float64(lat[len(lat)/2].Microseconds())/1000)
	bench("propagation_p99_ms", float64(lat[len(lat)*99/100].Microseconds())/1000)
	bench("propagation_max_ms", float64(lat[len(lat)-1].Microseconds())/1000)

	// Burst: 10,000 bans decided on a from its log, until on every node.
	line := strings.Replace(failedLineFor(t, c, a), attacker, "ATTACKER", 1)
	var sb strings.Builder
	for i := range 10000 {
		l := strings.Replace(line, "ATTACKER", fmt.Sprintf("2001:db8:a::%x", i+1), 1)
		sb.WriteString(l + l + l)
	}
	f, _ := os.OpenFile(a.log, os.O_WRONLY|os.O_APPEND, 0)
	t0 := time.Now()
	f.WriteString(sb.String())
	f.Close()
	for _, n := range []*node{a, b, cc} {
		c.eventually("the burst on "+n.name, 60*time.Second, func() bool { return n.countRaw("2001:db8:a::") >= 10000 })
	}
	bench("burst_10000_all_nodes_s", fmt.Sprintf("%.2f", time.Since(t0).Seconds()))

	// Catch-up: c stopped, 100,000 bans stored, c started.
	c.stopGuard(cc, syscall.SIGTERM)
	flood := c.fab.Cmd(c.self)
	flood.Env = append(os.Environ(), "RAMPART_AS_FLOOD=nats://127.0.0.1:4222 100000")
	if out, err := flood.CombinedOutput(); err != nil {
		t.Fatalf("flood: %v\n%s", err, out)
	}
	// nft monitor loses events in a burst this size (its socket buffer
	// overflows), so the set is listed instead, every 100 ms.
	t0 = time.Now()
	c.startGuard(cc)
	c.eventually("c's catch-up", 120*time.Second, func() bool {
		return cc.countRaw("2001:db8:cc::") >= 100000
	})
	bench("catchup_100000_s", fmt.Sprintf("%.2f", time.Since(t0).Seconds()))
	time.Sleep(2 * time.Second)
	bench("guard_rss_with_fleet_bans", fmt.Sprintf("%q", rss(cc.guard.Process.Pid)))
	st := cc.status()
	js, _ := json.Marshal(st)
	bench("c_status", string(js))
}

func failedLineFor(t *testing.T, c *cluster, n *node) string {
	c.bruteForce(attacker, n)
	c.eventually("the attacker's ban", 10*time.Second, func() bool { _, ok := n.elements()[attacker]; return ok })
	return strings.TrimRight(failedLine(t, n.log, attacker), "\n") + "\n"
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// countRaw counts banned6 elements starting with prefix from the raw
// `nft -j` output (cheaper than decoding 100,000 elements).
func (n *node) countRaw(prefix string) int {
	b, _ := n.ns.Cmd("nft", "-j", "list", "set", "inet", "rampart", "banned6").Output()
	return strings.Count(string(b), `"`+prefix)
}
