package htmlreport

import (
	"bytes"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/fleetverify"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// briefFleet: ssh.x fails on 11 hosts, each with its own message (11
// problem groups: maxDetailed shown with evidence, one brief line), and
// is unknown on a 12th host (a brief line too).
func briefFleet() *fleetverify.Fleet {
	f := &fleetverify.Fleet{Version: "test", Started: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	for i := range 12 {
		r := check.Result{ID: "ssh.x", Area: "ssh", Title: "x", Severity: check.High, Status: check.Fail,
			Message: fmt.Sprintf("pid %d listens", 1000+i)}
		if i == 11 {
			r.Status, r.Message = check.Unknown, "could not read sshd_config"
		}
		f.Hosts = append(f.Hosts, &fleetverify.HostRun{Target: &fleetverify.Target{Name: fmt.Sprintf("web%02d", i)},
			Results: []check.Result{r}})
	}
	return f
}

// TestBriefStatuses: the finding's data-s (what the status filter
// reads) must list every status the finding shows, brief lines included.
func TestBriefStatuses(t *testing.T) {
	var b bytes.Buffer
	if err := Fleet(&b, briefFleet()); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`id="c-ssh.x"[^>]*data-s="([a-z]*)"`).FindStringSubmatch(b.String())
	if m == nil {
		t.Fatal("no finding for ssh.x")
	}
	if !regexp.MustCompile(`u`).MatchString(m[1]) {
		t.Errorf(`ssh.x is unknown on web11 (a brief line on the page), but its data-s is %q: status=unknown hides the finding`, m[1])
	}
}

// TestBrowserBriefStatuses: in Chromium, status=unknown shows web11
// in the heatmap but hides the one finding that says why.
func TestBrowserBriefStatuses(t *testing.T) {
	testenv.RequireRoot(t)
	br := newBrowser(t)
	var page bytes.Buffer
	if err := Fleet(&page, briefFleet()); err != nil {
		t.Fatal(err)
	}
	url := br.open(t, page.Bytes())
	eval[int](t, br, `document.getElementById("f-status").value = "u"; document.getElementById("f-status").dispatchEvent(new Event("change")); 0`)
	hosts := eval[int](t, br, `[...document.querySelectorAll("#hm tbody tr")].filter(r => !r.classList.contains("hidden")).length`)
	fds := eval[int](t, br, `[...document.querySelectorAll("#findings details.fd")].filter(r => !r.classList.contains("hidden")).length`)
	count := eval[string](t, br, `document.getElementById("f-count").textContent`)
	if hosts != 1 || fds != 1 {
		t.Errorf("status=unknown: %d host rows and %d findings visible (%q); want 1 and 1 (web11, ssh.x)", hosts, fds, count)
	}
	br.check(t, url)
}
