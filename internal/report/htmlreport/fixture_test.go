package htmlreport

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/fleetverify"
)

// capturedFleet is the fleet captured from real sshd servers by
// fleetverify's E2E test, compared with its hand-edited week-old baseline.
func capturedFleet(t testing.TB) *fleetverify.Fleet {
	t.Helper()
	dir := filepath.Join("..", "..", "fleetverify", "testdata")
	f, err := fleetverify.ReadFile(filepath.Join(dir, "fleet-e2e.json"))
	if err != nil {
		t.Fatal(err)
	}
	base, err := fleetverify.ReadFile(filepath.Join(dir, "fleet-e2e-lastweek.json"))
	if err != nil {
		t.Fatal(err)
	}
	f.Compare("fleet-e2e-lastweek.json", base)
	return f
}

var pidRE = regexp.MustCompile(`pid [0-9]+|TestE2EFleet[0-9]+/[0-9]+`)

// bigFleet makes n hosts from the captured ones: names, labels and the
// per-host details a real fleet varies in (process IDs, paths) differ from
// host to host, so the page cannot fold them into one entry.
func bigFleet(t testing.TB, n int) *fleetverify.Fleet {
	src := capturedFleet(t)
	labels := [][]string{{"eu", "prod"}, {"us", "prod"}, {"eu", "staging"}, {"us"}}
	f := &fleetverify.Fleet{Version: src.Version, Started: src.Started, Duration: 4 * time.Second}
	for i := range n {
		o := src.Hosts[i%len(src.Hosts)]
		h := *o
		tg := *o.Target
		tg.Name = fmt.Sprintf("%s-%04d", o.Target.Name, i)
		tg.Labels = labels[i%len(labels)]
		h.Target = &tg
		vary := func(s string) string {
			return pidRE.ReplaceAllStringFunc(s, func(m string) string {
				if strings.HasPrefix(m, "pid ") {
					return fmt.Sprintf("pid %d", 1000+i*7)
				}
				return fmt.Sprintf("srv%04d", i)
			})
		}
		h.Results = make([]check.Result, len(o.Results))
		for j, r := range o.Results {
			r.Host = tg.Name
			r.Message = vary(r.Message)
			ev := make([]check.Evidence, len(r.Evidence))
			for k, e := range r.Evidence {
				ev[k] = check.Evidence{Source: vary(e.Source), Text: vary(e.Text)}
			}
			r.Evidence = ev
			h.Results[j] = r
		}
		f.Hosts = append(f.Hosts, &h)
	}
	return f
}
