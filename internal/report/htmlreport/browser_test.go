package htmlreport

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/fleetverify"
	"github.com/rampart-sec/rampart/internal/fleetverify/fleettest"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// browser opens pages in Debian's headless Chromium and records every
// request, console error and uncaught exception.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	requests []string
	problems []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	exe := testenv.RequireCommands(t, "chromium")[0]
	opts := append(append([]chromedp.ExecAllocatorOption(nil), chromedp.DefaultExecAllocatorOptions[:]...),
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	b := &browser{}
	_ = chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, e.Request.URL)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value))
				}
				b.problems = append(b.problems, "console "+string(e.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			b.problems = append(b.problems, "exception: "+(&chromedp.ExceptionError{ExceptionDetails: e.ExceptionDetails}).Error())
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError || e.Entry.Level == cdplog.EntryLevelWarning {
				b.problems = append(b.problems, "log "+string(e.Entry.Source)+": "+e.Entry.Text+" "+e.Entry.URL)
			}
		}
	})
	// The first call starts the browser; it must not carry the timeout.
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		testenv.Missing(t, "start chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(cancelT)
	b.ctx = ctx
	for _, c := range []func() error{
		func() error { _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); return err },
		func() error { _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); return err },
	} {
		if err := c(); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// open loads a page from a file and returns the URL; only that one
// request (the page itself) may be made.
func (b *browser) open(t *testing.T, page []byte) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(file, page, 0o644); err != nil {
		t.Fatal(err)
	}
	url := "file://" + file
	b.mu.Lock()
	b.requests, b.problems = nil, nil
	b.mu.Unlock()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.ID("summary"))); err != nil {
		t.Fatal(err)
	}
	return url
}

func (b *browser) check(t *testing.T, url string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.requests {
		if r != url {
			t.Errorf("the page made a request: %s", r)
		}
	}
	for _, p := range b.problems {
		t.Errorf("browser: %s", p)
	}
}

func eval[T any](t *testing.T, b *browser, js string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

func (b *browser) screenshot(t *testing.T, name string, full bool) {
	t.Helper()
	var png []byte
	var err error
	if full {
		png, err = chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	} else {
		png, err = chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	}
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("RAMPART_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", filepath.Join(dir, name), len(png))
}

// domState is what the page shows, read back from the DOM.
type domState struct {
	Rows     int            `json:"rows"`
	Visible  int            `json:"visible"`
	Fails    []int          `json:"fails"`
	Unknowns []int          `json:"unknowns"`
	Names    []string       `json:"names"`
	Cards    map[string]int `json:"cards"`
	Findings int            `json:"findings"`
	Shown    int            `json:"shown"`
	Changed  int            `json:"changed"`
}

const readDOM = `(() => {
  const rows = [...document.querySelectorAll("#hm tbody tr")];
  const cards = {};
  for (const id of ["n-hosts","n-passing","n-failing","n-unverified","n-pass","n-fail","n-warn","n-unknown","n-skip"])
    cards[id] = +document.getElementById(id).textContent;
  return {
    rows: rows.length,
    visible: rows.filter(r => !r.classList.contains("hidden")).length,
    fails: rows.map(r => r.querySelectorAll("td.s-f").length),
    unknowns: rows.map(r => r.querySelectorAll("td.s-u").length),
    names: rows.map(r => r.querySelector("th").firstChild.textContent.trim()),
    cards,
    findings: document.querySelectorAll("#findings details.fd").length,
    shown: document.querySelectorAll("#findings details.fd:not(.hidden)").length,
    changed: document.querySelectorAll("#hm td.chg-regression").length,
  };
})()`

// TestBrowserFleetPage opens the fleet page in Chromium and checks the DOM
// against the JSON document, the filters, and that nothing left the page.
func TestBrowserFleetPage(t *testing.T) {
	testenv.RequireRoot(t) // Chromium as root: --no-sandbox
	b := newBrowser(t)
	f := capturedFleet(t)
	// Hostile text from a host must stay text (and not load anything).
	f.Hosts[0].Results[0].Message += ` <img src="http://192.0.2.1/x.png"><script>console.error("injected")</script>`
	var page, js bytes.Buffer
	if err := Fleet(&page, f); err != nil {
		t.Fatal(err)
	}
	if err := f.JSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Summary fleetverify.Summary `json:"summary"`
		Hosts   []struct {
			Name   string `json:"name"`
			Report struct {
				Checks []struct {
					Status check.Status `json:"status"`
				} `json:"checks"`
			} `json:"report"`
		} `json:"hosts"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	url := b.open(t, page.Bytes())
	st := eval[domState](t, b, readDOM)
	if st.Rows != len(doc.Hosts) || st.Visible != st.Rows {
		t.Errorf("%d rows (%d visible), want %d", st.Rows, st.Visible, len(doc.Hosts))
	}
	for i, h := range doc.Hosts {
		fails, unk := 0, 0
		for _, c := range h.Report.Checks {
			fails += map[bool]int{true: 1}[c.Status == check.Fail]
			unk += map[bool]int{true: 1}[c.Status == check.Unknown]
		}
		if i < len(st.Names) && (st.Names[i] != h.Name || st.Fails[i] != fails || st.Unknowns[i] != unk) {
			t.Errorf("row %d: %s with %d fail, %d unknown cells; JSON: %s with %d, %d", i, st.Names[i], st.Fails[i], st.Unknowns[i], h.Name, fails, unk)
		}
	}
	s := doc.Summary
	for id, want := range map[string]int{"n-hosts": s.Hosts, "n-passing": s.HostsPassing, "n-failing": s.HostsFailing,
		"n-unverified": s.HostsUnverified, "n-pass": s.Checks.Pass, "n-fail": s.Checks.Fail, "n-warn": s.Checks.Warn,
		"n-unknown": s.Checks.Unknown, "n-skip": s.Checks.Skip} {
		if st.Cards[id] != want {
			t.Errorf("#%s shows %d, JSON says %d", id, st.Cards[id], want)
		}
	}
	if st.Changed != f.Baseline.Regressions() {
		t.Errorf("%d cells marked as new failures, the baseline has %d", st.Changed, f.Baseline.Regressions())
	}
	b.screenshot(t, "fleet-report.png", false)

	// Filter: status fail shows exactly the hosts with a failure.
	wantFailing := 0
	for _, n := range st.Fails {
		if n > 0 {
			wantFailing++
		}
	}
	eval[int](t, b, `document.getElementById("f-status").value = "f"; document.getElementById("f-status").dispatchEvent(new Event("change")); 0`)
	after := eval[domState](t, b, readDOM)
	if after.Visible != wantFailing || after.Shown == 0 || after.Shown >= after.Findings {
		t.Errorf("status=fail: %d hosts visible (want %d), %d of %d checks shown", after.Visible, wantFailing, after.Shown, after.Findings)
	}
	// Host filter on top: one host.
	eval[int](t, b, `document.getElementById("f-host").value = "web3"; document.getElementById("f-host").dispatchEvent(new Event("input")); 0`)
	after = eval[domState](t, b, readDOM)
	if after.Visible != 1 || after.Shown != 1 {
		t.Errorf("status=fail host=web3: %d hosts, %d checks visible; want 1 and 1 (ssh.password-authentication)", after.Visible, after.Shown)
	}
	fixText := eval[string](t, b, `[...document.querySelectorAll("#findings details.fd:not(.hidden) .fix")].map(e => e.textContent).join("|")`)
	if !strings.Contains(fixText, "services.openssh.settings.PasswordAuthentication = false;") || !strings.Contains(fixText, "PasswordAuthentication no") {
		t.Errorf("the finding does not show both fixes: %q", fixText)
	}
	// Area filter hides the other areas' columns.
	eval[int](t, b, `for (const [id, v, ev] of [["f-host","","input"],["f-status","","change"],["f-area","sysctl","change"]]) { const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event(ev)); } 0`)
	cols := eval[int](t, b, `[...document.querySelector("#hm tbody tr").children].filter(c => getComputedStyle(c).display !== "none").length`)
	if cols != 3 { // host, sysctl.ip-forward, total
		t.Errorf("area=sysctl: %d visible cells in a row, want 3", cols)
	}
	injected := eval[bool](t, b, `document.body.innerHTML.includes("&lt;img src=")`)
	if !injected {
		t.Error("the hostile message is not shown as text")
	}
	b.check(t, url)
}

// TestBrowserThousandHosts renders 1,000 hosts and measures, in the
// browser, how long a filter takes (reported, not asserted: timing goes to
// bench/fleet_report.sh).
func TestBrowserThousandHosts(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBrowser(t)
	f := bigFleet(t, 1000)
	var page bytes.Buffer
	if err := Fleet(&page, f); err != nil {
		t.Fatal(err)
	}
	url := b.open(t, page.Bytes())
	st := eval[domState](t, b, readDOM)
	if st.Rows != 1000 {
		t.Fatalf("%d rows, want 1000", st.Rows)
	}
	var ms []float64
	for _, step := range []string{
		`document.getElementById("f-status").value = "f"; document.getElementById("f-status").dispatchEvent(new Event("change"))`,
		`document.getElementById("f-label").value = "eu"; document.getElementById("f-label").dispatchEvent(new Event("change"))`,
		`document.getElementById("f-host").value = "web3-00"; document.getElementById("f-host").dispatchEvent(new Event("input"))`,
		`document.getElementById("f-area").value = "ssh"; document.getElementById("f-area").dispatchEvent(new Event("change"))`,
	} {
		ms = append(ms, eval[float64](t, b, step+`; +document.body.getAttribute("data-filter-ms")`))
	}
	st = eval[domState](t, b, readDOM)
	// web3-0002, -0008, … : i%6 == 2 and i%4 in {0, 2} (eu) and name starts web3-00.
	want := 0
	for i := 0; i < 100; i++ {
		if i%6 == 2 && i%2 == 0 {
			want++
		}
	}
	if st.Visible != want {
		t.Errorf("filters status=fail label=eu host=web3-00 area=ssh: %d rows visible, want %d", st.Visible, want)
	}
	t.Logf("1000 hosts, %d bytes: filter times in the browser (ms): %v", page.Len(), ms)
	b.check(t, url)
}

// TestBrowserAuditAndGuardPages opens the audit and guard report pages in
// Chromium: the SVG charts show the report's counts, nothing is requested,
// the console stays clean.
func TestBrowserAuditAndGuardPages(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBrowser(t)
	rep := auditReport(t, "enriched.log")
	var page bytes.Buffer
	if err := Audit(&page, rep, time.UTC); err != nil {
		t.Fatal(err)
	}
	url := b.open(t, page.Bytes())
	type keyCounts struct {
		Bars   map[string]int `json:"bars"`
		Series map[string]int `json:"series"`
		Rows   map[string]int `json:"rows"`
	}
	got := eval[keyCounts](t, b, `(() => {
  const bars = {}, series = {}, rows = {};
  document.querySelectorAll("#per-key g.bar").forEach(g => bars[g.dataset.label] = +g.dataset.value);
  document.querySelectorAll("#over-time rect[data-series]").forEach(r => series[r.dataset.series] = (series[r.dataset.series] || 0) + +r.dataset.count);
  document.querySelectorAll("section[id^=key-]").forEach(s => rows[s.id.slice(4)] = s.querySelectorAll("tbody tr").length);
  return {bars, series, rows};
})()`)
	for _, k := range rep.Keys {
		want := min(len(k.Events), maxAuditRows)
		if got.Bars[k.Key] != k.Count || got.Series[k.Key] != len(k.Events) || got.Rows[k.Key] != want {
			t.Errorf("key %s: bar %d, over time %d, rows %d; report: %d events, %d kept", k.Key, got.Bars[k.Key], got.Series[k.Key], got.Rows[k.Key], k.Count, len(k.Events))
		}
	}
	b.screenshot(t, "audit-report.png", false)
	b.check(t, url)

	now := time.Now()
	st := guardState(now)
	page.Reset()
	if err := Guard(&page, "guard-state.json", st, now, time.UTC); err != nil {
		t.Fatal(err)
	}
	url = b.open(t, page.Bytes())
	g := eval[keyCounts](t, b, `(() => {
  const bars = {}, series = {}, rows = {};
  document.querySelectorAll("#by-jail g.bar").forEach(g => bars[g.dataset.label] = +g.dataset.value);
  document.querySelectorAll("#over-time rect[data-series]").forEach(r => series[r.dataset.series] = (series[r.dataset.series] || 0) + +r.dataset.count);
  rows.bans = document.querySelectorAll("#bans tbody tr").length;
  return {bars, series, rows};
})()`)
	jails := map[string]int{}
	for _, x := range st.Bans {
		jails[x.Jail]++
	}
	for j, n := range jails {
		if g.Bars[j] != n || g.Series[j] != n {
			t.Errorf("jail %s: bar %d, over time %d; state has %d bans", j, g.Bars[j], g.Series[j], n)
		}
	}
	if g.Rows["bans"] != len(st.Bans) {
		t.Errorf("%d ban rows, state has %d", g.Rows["bans"], len(st.Bans))
	}
	b.screenshot(t, "guard-report.png", false)
	b.check(t, url)
}

// TestBrowserFleetStatusPage is the page `rampart fleet status` builds
// from the verify bucket (captured published reports, and hostile values
// the bucket tests use): each host's row says how long ago its report was
// published, a host past --max-age is stale and its checks unknown, and
// every host the view holds is a row.
func TestBrowserFleetStatusPage(t *testing.T) {
	testenv.RequireRoot(t) // Chromium as root: --no-sandbox
	b := newBrowser(t)
	now := time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)
	ages := map[string]time.Duration{"web1": 42 * time.Second, "web2": 3*time.Minute + 5*time.Second, "web3": 26*time.Hour + 3*time.Minute}
	entries := fleettest.Entries(t, now, ages)
	f := fleetverify.FromBucket(entries, now, 24*time.Hour, "rampart", "test")
	var page bytes.Buffer
	if err := Fleet(&page, f); err != nil {
		t.Fatal(err)
	}
	url := b.open(t, page.Bytes())
	rows := eval[[]string](t, b, `[...document.querySelectorAll("#hostlist tbody tr")].map(r => r.children[8].textContent)`)
	if len(rows) != len(f.Hosts) {
		t.Fatalf("%d host rows, want %d", len(rows), len(f.Hosts))
	}
	stale := 0
	for i, h := range f.Hosts {
		want := "(published " + fleetverify.FormatAge(h.Age) + " ago"
		if h.Stale {
			want += ", stale)"
			stale++
		} else {
			want += ")"
		}
		if !strings.HasSuffix(rows[i], want) {
			t.Errorf("row %d (%s): %q, want it to end in %q", i, h.Target.Name, rows[i], want)
		}
	}
	if stale != 1 {
		t.Errorf("%d stale hosts, want web3 alone", stale)
	}
	st := eval[domState](t, b, readDOM)
	if st.Cards["n-unverified"] < 1 {
		t.Errorf("the stale host is not counted as not verified: %v", st.Cards)
	}
	eval[int](t, b, `document.getElementById("hostlist").scrollIntoView(); 0`)
	b.screenshot(t, "fleet-status.png", false)
	b.check(t, url)
}
