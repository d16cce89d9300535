package daemon_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// prober connects to dst:22 from src over and over (20ms connect timeout,
// 2ms apart) for dur seconds and prints the monotonic time of each
// connection that went through, and the number of attempts at the end.
const prober = `import socket,sys,time
dst,src,dur=sys.argv[1],sys.argv[2],float(sys.argv[3])
end=time.monotonic()+dur
n=0
while time.monotonic()<end:
    s=socket.socket(); s.settimeout(0.02); s.bind((src,0))
    t=time.monotonic(); n+=1
    try:
        s.connect((dst,22)); print("ok %.4f"%t, flush=True)
    except OSError:
        pass
    s.close()
    time.sleep(0.002)
print("attempts %d"%n)`

// TestE2EFlushRuleset: `nft flush ruleset` (what NixOS's nftables service
// does on every reload) 20 times while a second address brute-forces sshd:
// the nftables event listener re-asserts the table and every ban each
// time (the periodic reconcile is 1h here, so it cannot help), and the
// banned attacker gets a TCP connection through only in short windows
// (the longest is logged: the figure for the 100ms goal).
func TestE2EFlushRuleset(t *testing.T) {
	w := newWorld(t)
	w.reconcile = "1h"
	// Bans for an hour: the world's 10s bantime can run out before the
	// last check (the probe and the brute force take 5-10s on their own).
	pol, err := os.ReadFile(w.policy)
	short := []byte(fmt.Sprintf("bantime = %q", fmt.Sprintf("%ds", int(bantime/time.Second))))
	if err != nil || !bytes.Contains(pol, short) {
		t.Fatalf("world policy has no %s: %v", short, err)
	}
	if err := os.WriteFile(w.policy, bytes.Replace(pol, short, []byte(`bantime = "1h"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	const brute = "198.51.100.12"
	w.inet.Exec(t, "ip", "addr", "add", brute+"/24", "dev", "eth0", "nodad")
	w.startDaemon()
	for range 3 {
		w.password(w.attacker, "root")
	}
	w.eventually("the ban of the attacker", 5*time.Second, func() bool { return strings.Contains(w.elements(), w.attacker) })

	probe := w.inet.Cmd(python3(t), "-c", prober, srvInet, w.attacker, "5")
	var out bytes.Buffer
	probe.Stdout = &out
	if err := probe.Start(); err != nil {
		t.Fatal(err)
	}
	// The brute force: password attempts from a second address until it
	// is banned (its attempts then time out).
	bruteDone := make(chan struct{})
	go func() {
		defer close(bruteDone)
		for range 4 {
			w.inet.Cmd(w.sshpass, "-p", "wrong-password", "ssh", "-b", brute, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
				"-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=1",
				"-l", "root", srvInet, "true").Run()
		}
	}()
	time.Sleep(300 * time.Millisecond)
	for range 20 {
		w.srv.Exec(t, "nft", "flush", "ruleset")
		time.Sleep(150 * time.Millisecond)
	}
	<-bruteDone
	if err := probe.Wait(); err != nil {
		t.Fatalf("prober: %v\n%s", err, out.String())
	}

	// Windows: runs of successful connects less than 50ms apart.
	var oks []float64
	attempts := 0
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "ok":
			v, _ := strconv.ParseFloat(f[1], 64)
			oks = append(oks, v)
		case len(f) == 2 && f[0] == "attempts":
			attempts, _ = strconv.Atoi(f[1])
		}
	}
	if attempts < 50 {
		t.Fatalf("the prober made only %d attempts:\n%s", attempts, out.String())
	}
	var longest time.Duration
	windows := 0
	for i := 0; i < len(oks); {
		j := i
		for j+1 < len(oks) && oks[j+1]-oks[j] < 0.05 {
			j++
		}
		windows++
		// Until the first failed attempt after the last success: at most
		// one attempt (20ms timeout + 2ms) later.
		d := time.Duration((oks[j]-oks[i])*float64(time.Second)) + 22*time.Millisecond
		longest = max(longest, d)
		i = j + 1
	}
	t.Logf("20 flushes: %d connects went through in %d windows out of %d attempts; longest window %v", len(oks), windows, attempts, longest)
	// The goal is 100ms (typically 40-60ms here); the bound leaves room
	// for a machine under load (the CPU may be away for 100ms at a load
	// average of 30 on 2 cores). Without the listener the window is the
	// whole run: the periodic reconcile is 1h.
	if longest > time.Second {
		b, _ := os.ReadFile(filepath.Join(w.dir, "daemon.log"))
		t.Errorf("the banned attacker got through for %v (want well under 1s)\n%s\n%v", longest, b, oks)
	}
	b, _ := os.ReadFile(filepath.Join(w.dir, "daemon.log"))
	// A flush that lands in the middle of a ban's apply fails the apply,
	// and the daemon rebuilds the table on that path instead (its event
	// then finds the table whole): both count as a restore.
	reasserts := bytes.Count(b, []byte("re-asserting it"))
	rebuilds := bytes.Count(b, []byte("rebuilding the table"))
	if reasserts+rebuilds < 20 {
		t.Errorf("%d re-asserts and %d rebuilds for 20 flushes:\n%s", reasserts, rebuilds, b)
	}
	set := w.elements()
	for _, a := range []string{w.attacker, brute} {
		if !strings.Contains(set, a) {
			t.Errorf("%s is not banned after the flushes:\n%s", a, set)
		}
	}
	if !strings.Contains(w.srv.Exec(t, "nft", "list", "chain", "inet", "rampart", "input"), "@banned4") {
		t.Error("the input chain's rules are gone")
	}
}
