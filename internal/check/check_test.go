package check

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/host/hosttest"
	"github.com/rampart-sec/rampart/internal/nixfacts"
	"github.com/rampart-sec/rampart/internal/policy"
)

func ev(s string) []Evidence { return []Evidence{{Source: "test", Text: s}} }

// The runner fills identity from the check, never from what Eval returns,
// and enforces the rules every check shares.
func TestRunnerRules(t *testing.T) {
	h := hosttest.New(t)
	h.HostName = "web1"
	p := &policy.Policy{}
	env := NewEnv(h, p, "25.11")
	mk := func(id string, eval func(context.Context, *Env) Result) *Check {
		return &Check{ID: id, Title: "title of " + id, Severity: High, Eval: eval}
	}
	tests := []struct {
		name    string
		check   *Check
		status  Status
		message string
	}{
		{"pass with evidence", mk("a.pass", func(context.Context, *Env) Result {
			return Result{Status: Pass, Message: "ok", Evidence: ev("read")}
		}), Pass, "ok"},
		{"pass without evidence is unknown", mk("a.bare-pass", func(context.Context, *Env) Result {
			return Result{Status: Pass, Message: "trust me"}
		}), Unknown, "check reported pass without evidence: trust me"},
		{"fail without evidence stays fail", mk("a.fail", func(context.Context, *Env) Result {
			return Result{Status: Fail, Message: "bad"}
		}), Fail, "bad"},
		{"panic is unknown", mk("a.panic", func(context.Context, *Env) Result {
			panic("collector broke")
		}), Unknown, "internal error in check: collector broke"},
		{"not applicable is skip", &Check{ID: "a.skip", Title: "t", Applies: func(*policy.Policy) (bool, string) { return false, "tailnet is off" },
			Eval: func(context.Context, *Env) Result {
				t.Error("Eval ran for a check that does not apply")
				return Result{}
			}}, Skip, "tailnet is off"},
		{"eval cannot rename itself", mk("a.rename", func(context.Context, *Env) Result {
			return Result{ID: "other.id", Title: "other", Area: "other", Status: Fail, Message: "m"}
		}), Fail, "m"},
	}
	checks := make([]*Check, len(tests))
	for i, tc := range tests {
		checks[i] = tc.check
	}
	rs := Run(context.Background(), env, checks)
	if len(rs) != len(tests) {
		t.Fatalf("%d results for %d checks", len(rs), len(tests))
	}
	for i, tc := range tests {
		r := rs[i]
		t.Run(tc.name, func(t *testing.T) {
			if r.ID != tc.check.ID || r.Title != tc.check.Title || r.Area != "a" || r.Severity != tc.check.Severity {
				t.Errorf("identity = %q %q %q %q; want the check's (%q, area a)", r.ID, r.Title, r.Area, r.Severity, tc.check.ID)
			}
			if r.Status != tc.status || r.Message != tc.message {
				t.Errorf("status, message = %s, %q; want %s, %q", r.Status, r.Message, tc.status, tc.message)
			}
			if r.Host != "web1" {
				t.Errorf("host = %q, want web1", r.Host)
			}
			if r.Evidence == nil {
				t.Error("evidence is nil; JSON must carry [] not null")
			}
		})
	}
}

// Results come back in the order of the checks, whatever order they finish
// in, and at most MaxParallel run at once.
func TestRunOrderAndBound(t *testing.T) {
	var running, peak atomic.Int32
	release := make(chan struct{})
	var checks []*Check
	const n = MaxParallel + 24
	for i := 0; i < n; i++ {
		id := "order.c" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		checks = append(checks, &Check{ID: id, Title: id, Eval: func(ctx context.Context, env *Env) Result {
			cur := running.Add(1)
			for {
				old := peak.Load()
				if cur <= old || peak.CompareAndSwap(old, cur) {
					break
				}
			}
			<-release
			running.Add(-1)
			return Result{Status: Fail, Message: id}
		}})
	}
	done := make(chan []Result)
	go func() { done <- Run(context.Background(), NewEnv(nil, nil, ""), checks) }()
	// Let the first wave block, then release everything.
	deadline := time.Now().Add(30 * time.Second)
	for running.Load() < MaxParallel {
		select {
		case rs := <-done:
			t.Fatalf("Run returned before checks were released: %d results", len(rs))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d checks started; the runner should run %d at once", running.Load(), MaxParallel)
		}
		runtime.Gosched()
	}
	close(release)
	rs := <-done
	for i, r := range rs {
		if r.ID != checks[i].ID || r.Message != checks[i].ID {
			t.Errorf("result %d is %s/%q, want %s", i, r.ID, r.Message, checks[i].ID)
		}
	}
	if p := peak.Load(); p > MaxParallel {
		t.Errorf("%d checks ran at once, bound is %d", p, MaxParallel)
	}
}

// Memo runs a collector once per key however many checks ask at once.
func TestMemo(t *testing.T) {
	env := NewEnv(nil, nil, "")
	var calls atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := env.Memo("sshd -T", func() (any, error) { calls.Add(1); return "cfg", nil })
			if v != "cfg" || err != nil {
				t.Errorf("Memo = %v, %v", v, err)
			}
		}()
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Errorf("collector ran %d times, want 1", calls.Load())
	}
	if v, _ := env.Memo("other", func() (any, error) { return 2, nil }); v != 2 {
		t.Errorf("second key = %v", v)
	}
	if v, _ := NewEnv(nil, nil, "").Memo("sshd -T", func() (any, error) { return "fresh", nil }); v != "fresh" {
		t.Errorf("memo leaked across Envs: %v", v)
	}
}

func TestRegisterRejects(t *testing.T) {
	ok := func(context.Context, *Env) Result { return Result{} }
	for _, c := range []*Check{
		{ID: "NoDot", Title: "t", Eval: ok},
		{ID: "Upper.case", Title: "t", Eval: ok},
		{ID: "area.", Title: "t", Eval: ok},
		{ID: "zz-test.no-eval", Title: "t"},
		{ID: "zz-test.no-title", Eval: ok},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) accepted", c.ID)
				}
			}()
			Register(c)
		}()
	}
	Register(&Check{ID: "zz-test.once", Title: "t", Eval: ok})
	if _, found := Lookup("zz-test.once"); !found {
		t.Fatal("registered check not found")
	}
	defer func() {
		if recover() == nil {
			t.Error("duplicate ID accepted")
		}
	}()
	Register(&Check{ID: "zz-test.once", Title: "t", Eval: ok})
}

func TestAreaAndSummary(t *testing.T) {
	if a := (&Check{ID: "ssh.password-authentication"}).Area(); a != "ssh" {
		t.Errorf("Area = %q", a)
	}
	s := Summarize([]Result{{Status: Pass}, {Status: Fail}, {Status: Fail}, {Status: Warn}, {Status: Unknown}, {Status: Skip}})
	if s != (Summary{Total: 6, Pass: 1, Fail: 2, Warn: 1, Unknown: 1, Skip: 1}) {
		t.Errorf("Summarize = %+v", s)
	}
}

// TestNixRelease: the one place a check resolves the release of its
// remediation text.
func TestNixRelease(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{{"", nixfacts.Newest().String(), true}, {"24.11", "24.11", true}, {"unstable", "unstable", true}, {"19.03", "", false}, {"bogus", "", false}} {
		rel, ok := (&Env{Release: tc.in}).NixRelease()
		if ok != tc.ok || (ok && rel.String() != tc.want) {
			t.Errorf("NixRelease(%q) = %s, %v; want %s, %v", tc.in, rel, ok, tc.want, tc.ok)
		}
	}
}

// The runner bounds and sanitises what every check returns, so that no
// check can put a megabyte or a terminal escape from a hostile host into
// a report, whatever helper it used to build its evidence.
func TestRunnerCleansOutput(t *testing.T) {
	huge := strings.Repeat("a", MaxEvidence-1) + "é" + strings.Repeat("b", 10000) // é straddles the limit
	shared := []Evidence{{Source: "/etc/motd\x1b]0;title\x07", Text: "line\x1b[2J\x1b[31mred\r\n\u009bmore\xff"}}
	c := &Check{ID: "zz-clean.c", Title: "t", Eval: func(context.Context, *Env) Result {
		return Result{Status: Fail, Message: "msg\x1b[1;1H\x00end",
			Evidence: append(append([]Evidence{}, shared...), Evidence{Source: "cmd", Text: huge})}
	}}
	r := Run(context.Background(), NewEnv(nil, nil, ""), []*Check{c})[0]
	if want := `msg\x1b[1;1H\x00end`; r.Message != want {
		t.Errorf("message = %q, want %q", r.Message, want)
	}
	if want := `/etc/motd\x1b]0;title\x07`; r.Evidence[0].Source != want {
		t.Errorf("source = %q, want %q", r.Evidence[0].Source, want)
	}
	if want := "line\\x1b[2J\\x1b[31mred\\x0d\n\\x9bmore\uFFFD"; r.Evidence[0].Text != want {
		t.Errorf("text = %q, want %q", r.Evidence[0].Text, want)
	}
	got := r.Evidence[1].Text
	if !strings.HasSuffix(got, EvidenceCut) || len(got) > MaxEvidence+len(EvidenceCut) {
		t.Errorf("long evidence kept %d bytes, ends %q; want at most %d plus the marker %q", len(got), got[max(0, len(got)-20):], MaxEvidence, EvidenceCut)
	}
	if body := strings.TrimSuffix(got, EvidenceCut); body != strings.Repeat("a", MaxEvidence-1) {
		t.Errorf("cut at %d bytes, want at the character boundary %d", len(body), MaxEvidence-1)
	}
	if shared[0].Text != "line\x1b[2J\x1b[31mred\r\n\u009bmore\xff" {
		t.Error("the runner rewrote the check's own evidence slice")
	}
	// Text at the limit is kept whole.
	exact := strings.Repeat("x", MaxEvidence)
	c.Eval = func(context.Context, *Env) Result {
		return Result{Status: Pass, Message: "ok", Evidence: []Evidence{{Source: "s", Text: exact}}}
	}
	if r := Run(context.Background(), NewEnv(nil, nil, ""), []*Check{c})[0]; r.Evidence[0].Text != exact {
		t.Errorf("evidence of exactly MaxEvidence bytes was changed to %d bytes", len(r.Evidence[0].Text))
	}
	// A panic's message (which may quote host text) is cleaned too.
	c.Eval = func(context.Context, *Env) Result { panic("bad \x1b[2J") }
	if r := Run(context.Background(), NewEnv(nil, nil, ""), []*Check{c})[0]; strings.Contains(r.Message, "\x1b") {
		t.Errorf("panic message kept an escape: %q", r.Message)
	}
}

func TestSelect(t *testing.T) {
	ok := func(context.Context, *Env) Result { return Result{} }
	var all []*Check
	for _, id := range []string{"ssh.password-authentication", "ssh.x11-forwarding", "time.chrony-running", "time.single-daemon", "time.synchronised", "tailnet.running"} {
		all = append(all, &Check{ID: id, Title: id, Eval: ok})
	}
	ids := func(cs []*Check) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		only, skip []string
		want       string
	}{
		{nil, nil, "ssh.password-authentication ssh.x11-forwarding time.chrony-running time.single-daemon time.synchronised tailnet.running"},
		{[]string{"time", "ssh.password-authentication"}, []string{"time.single-daemon"}, "ssh.password-authentication time.chrony-running time.synchronised"},
		{[]string{"ssh.*"}, nil, "ssh.password-authentication ssh.x11-forwarding"},
		{[]string{"tailnet."}, nil, "tailnet.running"},
		{nil, []string{"ssh", "time"}, "tailnet.running"},
	} {
		cs, err := Select(all, tc.only, tc.skip)
		if err != nil || ids(cs) != tc.want {
			t.Errorf("Select(%v, %v) = %q, %v; want %q", tc.only, tc.skip, ids(cs), err, tc.want)
		}
	}
	for _, bad := range [][2][]string{{{"sssh"}, nil}, {nil, {"time.nope"}}, {{"time"}, {"time"}}, {{"ssh.password"}, nil}} {
		if _, err := Select(all, bad[0], bad[1]); err == nil {
			t.Errorf("Select(%v, %v) accepted", bad[0], bad[1])
		}
	}
}

// A failure carries the check's declared Fix unless Eval chose one; other
// verdicts carry only what Eval set, and a panicking Fix costs the fix,
// not the run.
func TestRunnerFix(t *testing.T) {
	env := NewEnv(nil, &policy.Policy{}, "")
	declared := Remediation{NixOS: "services.openssh.enable = true;", Generic: "start sshd"}
	own := Remediation{Generic: "the eval's own"}
	mk := func(id string, st Status, rem Remediation, fix func(*Env) Remediation) *Check {
		return &Check{ID: id, Title: id, Fix: fix, Eval: func(context.Context, *Env) Result {
			return Result{Status: st, Message: "m", Evidence: ev("e"), Remediation: rem}
		}}
	}
	fix := func(*Env) Remediation { return declared }
	for _, tc := range []struct {
		c    *Check
		want Remediation
	}{
		{mk("fix.fail", Fail, Remediation{}, fix), declared},
		{mk("fix.fail-own", Fail, own, fix), own},
		{mk("fix.pass", Pass, Remediation{}, fix), Remediation{}},
		{mk("fix.unknown", Unknown, Remediation{}, fix), Remediation{}},
		{mk("fix.warn-own", Warn, own, fix), own},
		{mk("fix.none", Fail, Remediation{}, nil), Remediation{}},
		{mk("fix.panics", Fail, Remediation{}, func(*Env) Remediation { panic("bad fix") }), Remediation{}},
	} {
		r := Run(context.Background(), env, []*Check{tc.c})[0]
		if r.Remediation != tc.want || r.Status != tc.c.Eval(context.Background(), env).Status {
			t.Errorf("%s: %s with remediation %+v, want %+v", tc.c.ID, r.Status, r.Remediation, tc.want)
		}
	}
}

// Envs that share a policy's NixCache print the same remediation text as
// an Env without one, for every release; the cache holds each topic of
// each release once, and an Env for another release misses it.
func TestNixCache(t *testing.T) {
	p, err := policy.Default("")
	if err != nil {
		t.Fatal(err)
	}
	topics := [][]string{{"ssh.max_auth_tries"}, {"audit.enabled", "audit.watches"}, {"time.chrony"}, {"no.such.topic"}}
	var cache NixCache
	for _, rel := range []string{"", "24.11", "unstable"} {
		plain, a, b := NewEnv(nil, p, rel), NewEnv(nil, p, rel), NewEnv(nil, p, rel)
		a.NixCache, b.NixCache = &cache, &cache
		for _, ts := range topics {
			want := plain.Nix(ts...)
			if got := a.Nix(ts...); got != want {
				t.Errorf("release %q, %v: cached %q, want %q", rel, ts, got, want)
			}
			if got := b.Nix(ts...); got != want {
				t.Errorf("release %q, %v: second Env %q, want %q", rel, ts, got, want)
			}
		}
	}
	if plain := NewEnv(nil, p, "").Nix("ssh.max_auth_tries"); plain == "" {
		t.Fatal("no remediation text for ssh.max_auth_tries: the test proves nothing")
	}
	n := 0
	cache.m.Range(func(any, any) bool { n++; return true })
	if want := 3 * 5; n != want { // 3 releases × 5 distinct topics
		t.Errorf("the cache holds %d entries, want %d", n, want)
	}
}

// ReadGlobs fills the run's caches: each pattern's matches for GlobAll,
// each match's contents for ReadFiles, and for a plain path that matched
// nothing, as root, that it does not exist. Another user's listing may
// miss what is there, so its misses are asked again.
func TestEnvReadGlobs(t *testing.T) {
	for _, user := range []string{"root", "admin"} {
		t.Run(user, func(t *testing.T) {
			ctx := context.Background()
			h := hosttest.New(t)
			h.User = user
			h.SetFile("/e/a.conf", "a\n").SetFile("/e/b.conf", "b").SetFile("/e/x", "x\n")
			env := NewEnv(h, nil, "")
			res, err := env.ReadGlobs(ctx, []string{"/e/*.conf", "/e/x", "/e/missing", "/e/*.none"})
			if err != nil || len(res) != 4 || len(res[0]) != 2 || len(res[1]) != 1 || len(res[2]) != 0 || len(res[3]) != 0 {
				t.Fatalf("ReadGlobs = %+v, %v", res, err)
			}
			// The host changes; the run's snapshot does not.
			h.Files = map[string][]byte{"/e/missing": []byte("m\n")}
			got, err := env.ReadFiles(ctx, []string{"/e/a.conf", "/e/b.conf", "/e/x", "/e/missing"})
			if err != nil || string(got[0].Data) != "a\n" || string(got[1].Data) != "b\n" || string(got[2].Data) != "x\n" {
				t.Fatalf("ReadFiles after ReadGlobs = %+v, %v", got, err)
			}
			if user == "root" && !host.IsNotExist(got[3].Err) || user != "root" && string(got[3].Data) != "m\n" {
				t.Errorf("as %s, /e/missing = %q, %v", user, got[3].Data, got[3].Err)
			}
			if gs, err := env.GlobAll(ctx, []string{"/e/*.conf", "/e/*.none"}); err != nil || strings.Join(gs[0], ",") != "/e/a.conf,/e/b.conf" || len(gs[1]) != 0 {
				t.Errorf("GlobAll after ReadGlobs = %q, %v", gs, err)
			}
		})
	}
}
