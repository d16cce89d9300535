//go:build fleetbench

package fleet_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/rampart-sec/rampart/internal/guard/control"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// monitor follows the nftables events of a node's namespace on a netlink
// socket with a 64 MB receive buffer (`nft monitor` loses events in
// bursts of thousands) and records when each address first became an
// element: the time its transaction's generation message arrived.
type monitor struct {
	mu   sync.Mutex
	seen map[netip.Addr]time.Time
	// cond is signalled after every transaction.
	cond *sync.Cond
	err  error
}

func (c *cluster) monitor(n *node) *monitor {
	c.t.Helper()
	fd, err := os.Open("/var/run/netns/" + n.ns.Name)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { fd.Close() })
	conn, err := nftables.New(nftables.WithNetNSFd(int(fd.Fd())), nftables.WithSockOptions(func(nc *netlink.Conn) error {
		rc, err := nc.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 64<<20) })
		return serr
	}))
	if err != nil {
		c.t.Fatal(err)
	}
	mon := nftables.NewMonitor(nftables.WithMonitorEventBuffer(1 << 16))
	ch, err := conn.AddGenerationalMonitor(mon)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { mon.Close() })
	m := &monitor{seen: map[netip.Addr]time.Time{}}
	m.cond = sync.NewCond(&m.mu)
	go func() {
		for tx := range ch {
			now := time.Now()
			m.mu.Lock()
			if tx.GeneratedBy.Type == nftables.MonitorEventTypeOOB {
				m.err = fmt.Errorf("nftables events lost: %v", tx.GeneratedBy.Error)
			}
			for _, e := range tx.Changes {
				els, ok := e.Data.([]nftables.SetElement)
				if e.Type != nftables.MonitorEventTypeNewSetElem || !ok {
					continue
				}
				for _, el := range els {
					if a, ok := netip.AddrFromSlice(el.Key); ok && !el.IntervalEnd {
						if _, dup := m.seen[a]; !dup {
							m.seen[a] = now
						}
					}
				}
			}
			m.cond.Broadcast()
			m.mu.Unlock()
		}
	}()
	return m
}

// all waits until every address in addrs has been an element (or limit
// passes) and returns when the last of them arrived.
func (m *monitor) all(t *testing.T, what string, addrs []netip.Addr, limit time.Duration) time.Time {
	t.Helper()
	timer := time.AfterFunc(limit, func() { m.mu.Lock(); m.cond.Broadcast(); m.mu.Unlock() })
	defer timer.Stop()
	deadline := time.Now().Add(limit)
	m.mu.Lock()
	defer m.mu.Unlock()
	i, last := 0, time.Time{}
	for {
		if m.err != nil {
			t.Fatalf("%s: %v", what, m.err)
		}
		for ; i < len(addrs); i++ {
			at, ok := m.seen[addrs[i]]
			if !ok {
				break
			}
			if at.After(last) {
				last = at
			}
		}
		if i == len(addrs) {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d after %v", what, i, len(addrs), limit)
		}
		m.cond.Wait()
	}
}

// rss reads a memory field of /proc/PID/status (VmRSS, VmHWM).
func rss(pid int, field string) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field+":") {
			return strings.TrimSpace(strings.TrimPrefix(l, field+":"))
		}
	}
	return "?"
}

// TestBenchFleet measures propagation, burst, catch-up and memory on
// the E2E topology; bench/fleet.sh runs it (go test -tags fleetbench) and
// prints its BENCH lines. The build tag keeps it out of the test suite,
// where it would only skip.
func TestBenchFleet(t *testing.T) {
	testenv.RequireRoot(t)
	c := newCluster(t)
	a, b, cc := c.startAll(1_000_000, 10_000_000)
	bench := func(k string, v any) { fmt.Printf("BENCH %s %v\n", k, v) }

	// Propagation: a manual ban on a (control socket) until the element
	// is in b's kernel set, one at a time.
	mb := c.monitor(b)
	// A first ban, not counted, until every link reads the stream (a
	// fresh cluster elects its JetStream leaders for several seconds).
	if resp, err := control.Call(a.sock, control.Request{Op: control.OpBan, IP: "2001:db8:b0::ffff", Jail: "sshd"}); err != nil || !resp.OK {
		t.Fatalf("ban on a: %v %+v", err, resp)
	}
	mb.all(t, "the warm-up ban", []netip.Addr{netip.MustParseAddr("2001:db8:b0::ffff")}, 60*time.Second)
	var lat []time.Duration
	for i := range 1000 {
		addr := fmt.Sprintf("2001:db8:b0::%x", i+1)
		t0 := time.Now()
		resp, err := control.Call(a.sock, control.Request{Op: control.OpBan, IP: addr, Jail: "sshd"})
		if err != nil || !resp.OK {
			t.Fatalf("ban on a: %v %+v", err, resp)
		}
		lat = append(lat, mb.all(t, "propagation of "+addr, []netip.Addr{netip.MustParseAddr(addr)}, 10*time.Second).Sub(t0))
	}
	slices.Sort(lat)
	bench("propagation_p50_ms", float64(lat[len(lat)/2].Microseconds())/1000)
	bench("propagation_p99_ms", float64(lat[len(lat)*99/100].Microseconds())/1000)
	bench("propagation_max_ms", float64(lat[len(lat)-1].Microseconds())/1000)

	// Burst: 10,000 bans decided on a from its log, until on every node.
	line := strings.Replace(failedLineFor(t, c, a), attacker, "ATTACKER", 1)
	mons := map[*node]*monitor{a: c.monitor(a), b: mb, cc: c.monitor(cc)}
	var sb strings.Builder
	var burst []netip.Addr
	for i := range 10000 {
		addr := fmt.Sprintf("2001:db8:a::%x", i+1)
		burst = append(burst, netip.MustParseAddr(addr))
		l := strings.Replace(line, "ATTACKER", addr, 1)
		sb.WriteString(l + l + l)
	}
	f, _ := os.OpenFile(a.log, os.O_WRONLY|os.O_APPEND, 0)
	t0 := time.Now()
	f.WriteString(sb.String())
	f.Close()
	var slowest time.Duration
	for _, n := range []*node{a, b, cc} {
		d := mons[n].all(t, "the burst on "+n.name, burst, 60*time.Second).Sub(t0)
		bench("burst_10000_on_"+n.name+"_s", fmt.Sprintf("%.2f", d.Seconds()))
		slowest = max(slowest, d)
	}
	bench("burst_10000_all_nodes_s", fmt.Sprintf("%.2f", slowest.Seconds()))
	for _, n := range []*node{a, b, cc} {
		if k := n.countRaw("2001:db8:a::"); k < 10000 {
			t.Fatalf("%s has %d of the burst's 10,000 bans in its set", n.name, k)
		}
	}

	// Catch-up: c stopped, 100,000 bans stored, c started.
	c.stopGuard(cc, syscall.SIGTERM)
	tf := time.Now()
	flood := c.fab.Cmd(c.self)
	flood.Env = append(os.Environ(), "RAMPART_AS_FLOOD=nats://127.0.0.1:4222 100000")
	if out, err := flood.CombinedOutput(); err != nil {
		t.Fatalf("flood: %v\n%s", err, out)
	}
	var stored []netip.Addr
	for i := range 100000 {
		stored = append(stored, floodAddr(i+1))
	}
	// b applies the flood as it is stored; c starts once b is done, so
	// that the two do not share the two CPUs.
	bench("flood_100000_published_to_on_b_s", fmt.Sprintf("%.2f", mons[b].all(t, "the flood on b", stored, 120*time.Second).Sub(tf).Seconds()))
	t0 = time.Now()
	c.startGuard(cc)
	bench("catchup_100000_s", fmt.Sprintf("%.2f", mons[cc].all(t, "c's catch-up", stored, 120*time.Second).Sub(t0).Seconds()))
	// Where c's catch-up time went: its start-up steps, from its log.
	logs, _ := os.ReadFile(filepath.Join(c.dir, cc.name, "guard.log"))
	for _, l := range strings.Split(string(logs), "\n") {
		var e struct {
			Time      time.Time `json:"time"`
			Msg       string    `json:"msg"`
			Took      string    `json:"took"`
			StoreLoad string    `json:"store_load"`
			Kernel    string    `json:"kernel_read"`
		}
		if json.Unmarshal([]byte(l), &e) != nil || e.Time.Before(t0) {
			continue
		}
		switch e.Msg {
		case "rampart guard starting", "bans restored", "fleet: reading the stream":
			bench("catchup_step", fmt.Sprintf("+%.3fs %q %s", e.Time.Sub(t0).Seconds(), e.Msg, strings.TrimSpace(strings.Join([]string{e.Took, e.StoreLoad, e.Kernel}, " "))))
		}
	}
	time.Sleep(2 * time.Second)
	bench("guard_rss_with_fleet_bans", fmt.Sprintf("%q", rss(cc.guard.Process.Pid, "VmRSS")))
	bench("guard_peak_rss_with_fleet_bans", fmt.Sprintf("%q", rss(cc.guard.Process.Pid, "VmHWM")))
	bench("guard_rss_anon_with_fleet_bans", fmt.Sprintf("%q", rss(cc.guard.Process.Pid, "RssAnon")))
	bench("guard_rss_file_with_fleet_bans", fmt.Sprintf("%q", rss(cc.guard.Process.Pid, "RssFile")))
	for _, n := range []*node{a, b} {
		bench("guard_rss_"+n.name, fmt.Sprintf("%q", rss(n.guard.Process.Pid, "VmRSS")))
	}
	st := cc.status()
	js, _ := json.Marshal(st)
	bench("c_status", string(js))
	if k := cc.countRaw("2001:db8:cc::"); k < 100000 {
		t.Fatalf("c has %d of the 100,000 stored bans in its set", k)
	}
	for _, n := range []*node{a, b, cc} {
		logs, _ := os.ReadFile(filepath.Join(c.dir, n.name, "guard.log"))
		for _, l := range strings.Split(string(logs), "\n") {
			if strings.Contains(l, `"level":"WARN"`) || strings.Contains(l, `"level":"ERROR"`) {
				fmt.Printf("BENCH_LOG %s %s\n", n.name, l)
			}
		}
	}
}

func failedLineFor(t *testing.T, c *cluster, n *node) string {
	c.bruteForce(attacker, n)
	c.eventually("the attacker's ban", 10*time.Second, func() bool { _, ok := n.elements()[attacker]; return ok })
	return strings.TrimRight(failedLine(t, n.log, attacker), "\n") + "\n"
}

// countRaw counts banned6 elements starting with prefix from the raw
// `nft -j` output (cheaper than decoding 100,000 elements).
func (n *node) countRaw(prefix string) int {
	b, _ := n.ns.Cmd("nft", "-j", "list", "set", "inet", "rampart", "banned6").Output()
	return strings.Count(string(b), `"`+prefix)
}
