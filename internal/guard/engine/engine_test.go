package engine

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/logline"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// corpus generates a deterministic auth.log with the project's generator
// (bench/gen-authlog.py) and returns its path and the per-address failure
// counts of its truth file (fail2ban mode=normal semantics).
func corpus(t testing.TB, lines int, args ...string) (string, map[string]int) {
	t.Helper()
	testenv.RequireCommands(t, "python3")
	out := filepath.Join(t.TempDir(), "auth.log")
	gen, _ := filepath.Abs("../../../bench/gen-authlog.py")
	cmd := exec.Command("python3", append([]string{gen, "--lines", strconv.Itoa(lines), "--out", out, "--seed", "7"}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen-authlog: %v\n%s", err, b)
	}
	f, err := os.Open(out + ".truth.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	truth := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fs := strings.Split(sc.Text(), "\t")
		n, err := strconv.Atoi(fs[1])
		if err != nil {
			t.Fatalf("truth: %q: %v", sc.Text(), err)
		}
		truth[fs[0]] = n
	}
	return out, truth
}

func testPolicy(t testing.TB, findtime, bantime string) *policy.Policy {
	t.Helper()
	p, err := policy.Default("")
	if err != nil {
		t.Fatal(err)
	}
	p.Ban.Findtime, p.Ban.Bantime = policy.Dur(findtime), policy.Dur(bantime)
	for i := range p.Ban.Jails {
		p.Ban.Jails[i].Findtime, p.Ban.Jails[i].Bantime = policy.Duration{}, policy.Duration{}
	}
	return p
}

// TestReplayTruth: on generated corpora (classic sshd and OpenSSH ≥ 9.8
// sshd-session tags), failures per address equal the generator's truth
// exactly, and the bans are exactly the addresses with maxretry failures
// (findtime and bantime longer than the corpus): precision = recall = 1.
func TestReplayTruth(t *testing.T) {
	for _, daemon := range []string{"sshd", "sshd-session"} {
		t.Run(daemon, func(t *testing.T) {
			path, truth := corpus(t, 20000, "--daemon", daemon)
			rep := replaySSHD(t, testPolicy(t, "1000h", "1000h"), path)
			got := map[string]int{}
			for _, ip := range rep.IPs {
				got[ip.IP] = ip.Failures
			}
			for ip, n := range truth {
				if got[ip] != n {
					t.Errorf("%s: %d failures, truth %d", ip, got[ip], n)
				}
			}
			for ip, n := range got {
				if _, ok := truth[ip]; !ok {
					t.Errorf("%s: %d failures, not in the truth", ip, n)
				}
			}
			banned := map[string]bool{}
			for _, b := range rep.Bans {
				if banned[b.IP] {
					t.Errorf("%s banned twice", b.IP)
				}
				banned[b.IP] = true
			}
			tp, fp, fn := 0, 0, 0
			for ip, n := range truth {
				switch {
				case n >= 3 && banned[ip]:
					tp++
				case n >= 3:
					fn++
				}
			}
			for ip := range banned {
				if truth[ip] < 3 {
					fp++
				}
			}
			if fp != 0 || fn != 0 || tp == 0 {
				t.Errorf("bans: %d true, %d false positives, %d missed", tp, fp, fn)
			}
			t.Logf("%d lines, %d failures matched, %d addresses, %d bans: precision = recall = %.1f", rep.Lines, rep.Matched, len(got), tp, float64(tp)/float64(tp+fp))
		})
	}
}

// TestReplayWindow: with the default 10-minute findtime, every address
// whose truth failures (≥ maxretry) all fall within findtime is banned, and
// no address below maxretry ever is.
func TestReplayWindow(t *testing.T) {
	path, truth := corpus(t, 20000)
	rep := replaySSHD(t, testPolicy(t, "10m", "1h"), path)
	spans := truthSpans(t, path+".truth.tsv")
	banned := map[string]bool{}
	for _, b := range rep.Bans {
		banned[b.IP] = true
		if !b.Until.Equal(b.At.Add(time.Hour)) {
			t.Errorf("%s: ban %s..%s is not one hour", b.IP, b.At, b.Until)
		}
	}
	for ip, n := range truth {
		if n < 3 && banned[ip] {
			t.Errorf("%s banned with %d failures", ip, n)
		}
		if n >= 3 && spans[ip] <= 10*time.Minute && !banned[ip] {
			t.Errorf("%s: %d failures within %s, not banned", ip, n, spans[ip])
		}
	}
}

// replaySSHD replays the file at path through p's sshd jail.
func replaySSHD(t *testing.T, p *policy.Policy, path string) *Report {
	t.Helper()
	e, err := New(p, Options{Jails: []string{"sshd"}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := e.Replay(f, ReplayOptions{Year: 2025, Loc: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func truthSpans(t *testing.T, path string) map[string]time.Duration {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]time.Duration{}
	sc := bufio.NewScanner(f)
	sc.Scan()
	for sc.Scan() {
		fs := strings.Split(sc.Text(), "\t")
		a, _ := time.Parse("2006-01-02T15:04:05.999999", fs[2])
		b, _ := time.Parse("2006-01-02T15:04:05.999999", fs[3])
		// The log has whole seconds: widen by one second.
		out[fs[0]] = b.Truncate(time.Second).Sub(a.Truncate(time.Second))
	}
	return out
}

func TestRouting(t *testing.T) {
	p := testPolicy(t, "10m", "1h")
	e, err := New(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Routes) != 2 {
		t.Fatalf("%d routes, want the 2 enabled default jails", len(e.Routes))
	}
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	ssh := func(src string) *logline.Line {
		return &logline.Line{Time: at, Text: "Invalid user x from 203.0.113.5 port 22", Ident: "sshd", Source: src}
	}
	web := func(src string) *logline.Line {
		return &logline.Line{Time: at, Text: `198.51.100.5 - - [01/Jun/2025:00:00:00 +0000] "GET /x.php HTTP/1.1" 404 1 "-" "-"`, Source: src}
	}
	// The sshd jail reads the journal, nginx-noscript the access log.
	var bans []string
	for range 6 {
		for _, l := range []*logline.Line{ssh(SourceJournal), ssh(SourceFile("/var/log/nginx/access.log")), web(SourceFile("/var/log/nginx/access.log")), web(SourceJournal)} {
			for _, d := range e.Process(l) {
				bans = append(bans, d.Jail+" "+d.Prefix.String())
			}
		}
	}
	want := []string{"sshd 203.0.113.5/32", "nginx-noscript 198.51.100.5/32"}
	if fmt.Sprint(bans) != fmt.Sprint(want) {
		t.Errorf("bans %v, want %v", bans, want)
	}
	if _, err := New(p, Options{Jails: []string{"nope"}}); err == nil {
		t.Error("an unknown jail name was accepted")
	}
}

// TestClock: lines without a timestamp are placed at the injected clock.
func TestClock(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	e, err := New(testPolicy(t, "10m", "1h"), Options{Now: func() time.Time { return now }, Jails: []string{"sshd"}})
	if err != nil {
		t.Fatal(err)
	}
	var ds []string
	for i := range 3 {
		now = now.Add(time.Duration(i) * time.Minute)
		for _, d := range e.Process(&logline.Line{Text: "Failed password for root from 192.0.2.55 port 22 ssh2", Ident: "sshd-session", Source: SourceJournal}) {
			ds = append(ds, d.At.Format(time.TimeOnly)+" "+d.Until.Format(time.TimeOnly))
		}
	}
	if fmt.Sprint(ds) != "[12:03:00 13:03:00]" {
		t.Errorf("decisions %v, want one at 12:03 until 13:03", ds)
	}
}

// TestReplayInjection: the injection logs of ban-anchors §3.3 (user names
// and a banner carrying the victim's address) never ban the victim, in any
// sshd mode.
func TestReplayInjection(t *testing.T) {
	for _, mode := range []string{"normal", "aggressive"} {
		p := testPolicy(t, "10m", "1h")
		p.Ban.Jails[0].Mode = mode
		p.Ban.Jails[0].Maxretry = 1
		e, err := New(p, Options{Jails: []string{"sshd"}})
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open("testdata/inject.log")
		if err != nil {
			t.Fatal(err)
		}
		rep, err := e.Replay(f, ReplayOptions{Year: 2025, Loc: time.UTC})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, ip := range rep.IPs {
			if ip.IP != "203.0.113.77" {
				t.Errorf("mode %s: failures counted for %s", mode, ip.IP)
			}
		}
		if len(rep.Bans) != 1 || rep.Bans[0].IP != "203.0.113.77" {
			t.Errorf("mode %s: bans %+v, want only the attacker 203.0.113.77", mode, rep.Bans)
		}
	}
}

func TestReplayLongLines(t *testing.T) {
	e, _ := New(testPolicy(t, "10m", "1h"), Options{Jails: []string{"sshd"}})
	in := strings.Repeat("x", 200) + "\n" + "Jun  1 00:00:00 h sshd[1]: Invalid user a from 192.0.2.9 port 1\r\nlast line without newline"
	rep, err := e.Replay(strings.NewReader(in), ReplayOptions{Year: 2025, MaxLine: 100})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Lines != 3 || rep.Matched != 1 || rep.Missed != 2 {
		t.Errorf("lines %d matched %d missed %d, want 3/1/2", rep.Lines, rep.Matched, rep.Missed)
	}
}

// BenchmarkReplay replays a 100k-line generated corpus (or the file named by
// RAMPART_BENCH_LOG) through the default sshd jail.
func BenchmarkReplay(b *testing.B) {
	path := os.Getenv("RAMPART_BENCH_LOG")
	if path == "" {
		path, _ = corpus(b, 100000)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	p := testPolicy(b, "10m", "1h")
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		e, _ := New(p, Options{Jails: []string{"sshd"}})
		if _, err := e.Replay(strings.NewReader(string(data)), ReplayOptions{Year: 2025, Loc: time.UTC}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(strings.Count(string(data), "\n")*b.N)/b.Elapsed().Seconds(), "lines/s")
}

// TestReplayJournalctlForms replays a real journal file (built from
// ../logline/testdata/journal.export by systemd-journal-remote) as this
// machine's journalctl prints it in every short form, the way `journalctl -o
// FORM | rampart guard test -` reads it: 192.0.2.7 fails 3 times and is
// banned, 198.51.100.9 once (its user name looks like a timestamp), and the
// two "app" messages shaped like sshd lines count for nobody.
func TestReplayJournalctlForms(t *testing.T) {
	cmds := testenv.RequireCommands(t, "systemd-journal-remote", "journalctl")
	export, err := os.ReadFile("../logline/testdata/journal.export")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "j.journal")
	remote := exec.Command(cmds[0], "-o", file, "-")
	remote.Stdin = strings.NewReader(string(export))
	if b, err := remote.CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-remote: %v\n%s", err, b)
	}
	for _, form := range []string{"short", "short-precise", "short-iso", "short-iso-precise", "short-full", "short-unix"} {
		t.Run(form, func(t *testing.T) {
			jc := exec.Command(cmds[1], "--file", file, "-o", form, "--no-pager")
			jc.Env = append(os.Environ(), "TZ=UTC")
			out, err := jc.Output()
			if err != nil {
				t.Fatalf("journalctl -o %s: %v", form, err)
			}
			e, err := New(testPolicy(t, "10m", "1h"), Options{Jails: []string{"sshd"}})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := e.Replay(strings.NewReader(string(out)), ReplayOptions{Year: 2026, Loc: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(rep.IPs); got != "[{192.0.2.7 3 false} {198.51.100.9 1 false}]" {
				t.Errorf("failures %s, want 192.0.2.7 ×3 and 198.51.100.9 ×1\n%s", got, out)
			}
			if len(rep.Bans) != 1 || rep.Bans[0].IP != "192.0.2.7" || rep.Bans[0].At.UTC().Format(time.TimeOnly) != "07:14:56" {
				t.Errorf("bans %+v, want 192.0.2.7 at 07:14:56", rep.Bans)
			}
		})
	}
}

// TestTailnetAdminNotBanned (issue 9 point 18): with SSH reachable only
// over the tailnet, an admin whose agent offers more keys than MaxAuthTries
// fails three connections from a tailnet address (IPv4 and IPv6) and is not
// banned; a public address doing the same is. In the baseline profile the
// same lines ban all three, so they are failures.
func TestTailnetAdminNotBanned(t *testing.T) {
	var log strings.Builder
	pid := 3000
	for i := range 3 {
		for _, a := range []string{"100.101.102.103", "fd7a:115c:a1e0::5", "203.0.113.50"} {
			pid++
			fmt.Fprintf(&log, "Dec  7 07:1%d:00 web1 sshd-session[%d]: error: maximum authentication attempts exceeded for admin from %s port %d ssh2 [preauth]\n", i, pid, a, 50000+pid)
			fmt.Fprintf(&log, "Dec  7 07:1%d:00 web1 sshd-session[%d]: Disconnecting authenticating user admin %s port %d: Too many authentication failures [preauth]\n", i, pid, a, 50000+pid)
		}
	}
	for _, c := range []struct {
		profile string
		bans    string
		ignored int64
	}{
		{policy.ProfileTailnet, "[203.0.113.50]", 6},
		{policy.ProfileBaseline, "[100.101.102.103 fd7a:115c:a1e0::5 203.0.113.50]", 0},
	} {
		p := policy.MustDefault(c.profile)
		e, err := New(p, Options{Jails: []string{"sshd"}})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := e.Replay(strings.NewReader(log.String()), ReplayOptions{Year: 2026, Loc: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		var bans []string
		for _, b := range rep.Bans {
			bans = append(bans, b.IP)
		}
		if fmt.Sprint(bans) != c.bans || rep.Ignored != c.ignored {
			t.Errorf("%s profile: bans %v with %d failures ignored, want %s with %d", c.profile, bans, rep.Ignored, c.bans, c.ignored)
		}
	}
}

// TestFilterRoute: `guard test --filter NAME` runs with the thresholds of
// the policy jail that uses NAME (nginx-noscript: maxretry 6), --mode
// overriding only the mode; a filter no jail uses gets the [ban] ones.
func TestFilterRoute(t *testing.T) {
	p := policy.MustDefault("")
	p.Ban.Jails[0].Findtime = policy.Dur("30m")
	for _, c := range []struct {
		filter, mode string
		want         string
	}{
		{"nginx-noscript", "", "nginx-noscript 6 10m0s"},
		{"sshd", "aggressive", "sshd 3 30m0s"},
	} {
		r, err := FilterRoute(p, c.filter, c.mode)
		if err != nil {
			t.Fatal(err)
		}
		cfg := r.Jail.Config()
		if got := fmt.Sprintf("%s %d %s", cfg.Name, cfg.Maxretry, cfg.Findtime); got != c.want {
			t.Errorf("--filter %s: %s, want %s", c.filter, got, c.want)
		}
	}
	p.Ban.Jails = p.Ban.Jails[:1]
	p.Ban.Maxretry = 4
	r, err := FilterRoute(p, "nginx-noscript", "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg := r.Jail.Config(); cfg.Maxretry != 4 || cfg.Name != "nginx-noscript" {
		t.Errorf("no jail uses the filter: %+v, want the [ban] maxretry 4", cfg)
	}
	if _, err := FilterRoute(p, "sshd", "nope"); err == nil {
		t.Error("an unknown mode was accepted")
	}
}
