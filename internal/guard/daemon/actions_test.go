package daemon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/action"
	"github.com/rampart-sec/rampart/internal/guard/daemon"
	"github.com/rampart-sec/rampart/internal/guard/nft"
	"github.com/rampart-sec/rampart/internal/policy"
)

func recordArgv(file string, args []string) int {
	b, _ := json.Marshal(args)
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 3
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		return 3
	}
	return 0
}

// Attacker-chosen user names that carry the victim's address in sshd's
// own phrasing (the filter package's injection corpus), and shell
// metacharacters for good measure.
const victim, attacker = "198.51.100.99", "192.0.2.66"

var injectedUsers = []string{
	"from " + victim,
	"x from " + victim + " port 22 ssh2",
	"root from " + victim + " port 22 ssh2: ED25519 SHA256:x",
	"x " + victim + " port 22 [preauth]",
	"x rhost=" + victim + " ",
	"$(touch /tmp/pwned) `id` ; rm -rf / | " + victim,
}

// TestActionsInjection: every failure of a brute force carries an injected
// user name. The exec action (argv template, no shell) and the webhook
// see the attacker's prefix and the jail only, each placeholder as exactly
// one argument; the victim never appears. The webhook is retried after an
// HTTP 500, and while it hangs the bans still reach the firewall at once.
func TestActionsInjection(t *testing.T) {
	dir := t.TempDir()
	authLog := filepath.Join(dir, "auth.log")
	rec := filepath.Join(dir, "argv.jsonl")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var bodies []action.Body
	calls := 0
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError) // retried
			return
		}
		var body action.Body
		if err := json.Unmarshal(b, &body); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook body %q: %v", b, err)
		}
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
		if body.Prefix == "192.0.2.77/32" {
			<-release // a hanging endpoint
		}
	}))
	defer srv.Close()
	defer close(release)

	p := policy.MustDefault("")
	p.Ban.Jails = []policy.Jail{{Name: "sshd", Enabled: true, Filter: "sshd", Mode: "normal", Source: "file", Paths: []string{authLog}, Maxretry: 3}}
	p.Ban.Actions = []policy.Action{
		{Name: "report", Type: "exec", Argv: []string{self, "__record_argv", rec, "{action}", "{prefix}", "jail={jail}", "{ip}", "{failures}"}},
		{Name: "notify", Type: "webhook", URL: srv.URL, On: []string{"ban"}, Retries: 2, Timeout: policy.Dur("10s")},
	}
	var lines []string
	for i, u := range injectedUsers {
		for _, m := range []string{"Invalid user " + u + " from " + attacker + " port %d", "Failed password for invalid user " + u + " from " + attacker + " port %d ssh2"} {
			lines = append(lines, fmt.Sprintf("%s server sshd[%d]: "+m, time.Now().Format(time.RFC3339), 500+i, 40000+i))
		}
	}
	os.WriteFile(authLog, []byte(strings.Join(lines, "\n")+"\n"), 0o600)

	fake := nft.NewFake(nil)
	ready := make(chan struct{})
	d, err := daemon.New(daemon.Options{Policy: p, Backend: fake, StateDir: filepath.Join(dir, "state"), FromStart: true, Poll: 5 * time.Millisecond,
		Ready: ready, Actions: action.Options{RetryDelay: 10 * time.Millisecond}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	<-ready
	records := func() [][]string {
		f, err := os.Open(rec)
		if err != nil {
			return nil
		}
		defer f.Close()
		var out [][]string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var a []string
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
				t.Fatalf("argv record %q: %v", sc.Text(), err)
			}
			out = append(out, a)
		}
		return out
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; argv records %q", what, records())
			}
		}
	}
	wait("the exec action of the ban", func() bool { return len(records()) >= 1 })
	if _, err := d.Unban(ctx, netip.MustParsePrefix(attacker+"/32")); err != nil {
		t.Fatal(err)
	}
	wait("the exec action of the unban", func() bool { return len(records()) >= 2 })
	got := records()
	want := [][]string{{"ban", attacker + "/32", "jail=sshd", attacker, "3"}, {"unban", attacker + "/32", "jail=sshd", attacker, "0"}}
	if len(got) != 2 || !slices.Equal(got[0], want[0]) || !slices.Equal(got[1], want[1]) {
		t.Errorf("exec action argv:\n got %q\nwant %q", got, want)
	}
	wait("the webhook after its retry", func() bool { mu.Lock(); defer mu.Unlock(); return len(bodies) == 1 })
	mu.Lock()
	b := bodies[0]
	if calls != 2 || b.Action != "ban" || b.Prefix != attacker+"/32" || b.IP != attacker || b.Jail != "sshd" || b.Failures != 3 || b.Bantime != "3600" {
		t.Errorf("webhook: %d calls, body %+v", calls, b)
	}
	mu.Unlock()
	if raw, _ := os.ReadFile(rec); strings.Contains(string(raw), victim) {
		t.Errorf("the victim reached an action:\n%s", raw)
	}
	if fake.Has(netip.MustParsePrefix(victim + "/32")) {
		t.Error("the victim was banned")
	}

	// A hanging webhook never holds up the ban path: the next bans are
	// in the firewall while it waits.
	if _, err := d.Ban(ctx, netip.MustParsePrefix("192.0.2.77/32"), "", time.Hour); err != nil {
		t.Fatal(err)
	}
	wait("the hanging webhook", func() bool { mu.Lock(); defer mu.Unlock(); return len(bodies) == 2 })
	for i := range 5 {
		p := netip.MustParsePrefix(fmt.Sprintf("192.0.2.%d/32", 80+i))
		if _, err := d.Ban(ctx, p, "", time.Hour); err != nil {
			t.Fatal(err)
		}
		if !fake.Has(p) {
			t.Errorf("%v is not in the firewall while a webhook hangs", p)
		}
	}
}
