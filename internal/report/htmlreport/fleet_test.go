package htmlreport

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/fleetverify"
	"github.com/rampart-sec/rampart/internal/fleetverify/fleettest"
)

// TestSelfContained: nothing on the page points outside it.
func TestSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := Fleet(&b, capturedFleet(t)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, re := range []string{`(?i)<(script|img|link|iframe|object|embed)[^>]+(src|href)=`, `(?i)url\(`, `(?i)@import`, `(?i)https?://`} {
		if m := regexp.MustCompile(re).FindString(page); m != "" {
			t.Errorf("page refers outside itself: %q", m)
		}
	}
	for _, want := range []string{"default-src 'none'", `id="hm"`, `id="f-area"`, `id="f-status"`, `id="f-host"`, `id="f-label"`,
		"@media print", "Fix on NixOS", "Fix on any Linux", "Since the baseline"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestHostileText: text from hosts cannot add markup or leave the data
// script.
func TestHostileText(t *testing.T) {
	f := capturedFleet(t)
	evil := `</script><script>alert(1)</script><img src=x onerror=alert(2)>`
	h := f.Hosts[0]
	h.Target.Labels = []string{"x"}
	h.Results[0].Status, h.Results[0].Message = check.Fail, evil
	h.Results[0].Evidence = []check.Evidence{{Source: evil, Text: evil}}
	h.Reported, h.OS = evil, evil
	h.Target.Name = `web1"><b>` + evil
	var b bytes.Buffer
	if err := Fleet(&b, f); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "<script"); n != 2 {
		t.Errorf("%d <script elements, want 2 (data and code)", n)
	}
	if strings.Contains(b.String(), "<img") || strings.Contains(b.String(), "<b>") {
		t.Error("host text became markup")
	}
}

// TestThousandHosts: the page for 1,000 hosts stays under 5 MB, and every
// host and check is on it.
func TestThousandHosts(t *testing.T) {
	f := bigFleet(t, 1000)
	var b bytes.Buffer
	if err := Fleet(&b, f); err != nil {
		t.Fatal(err)
	}
	t.Logf("1000 hosts: %d bytes", b.Len())
	if b.Len() > 5<<20 {
		t.Errorf("page is %d bytes, the budget is 5 MB", b.Len())
	}
	if n := strings.Count(b.String(), `<tr data-i=`); n != 2000 { // heatmap and host list
		t.Errorf("%d host rows, want 2000", n)
	}
}

func BenchmarkFleet1000(b *testing.B) {
	f := bigFleet(b, 1000)
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := Fleet(&buf, f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/page")
}

var _ = fleetverify.Schema

// BenchmarkFleetStatus1000 is `rampart fleet status --format html` for
// 1,000 published reports, after they were read from the bucket: each
// value decoded and checked (FromBucket), then the page. The values are
// the captured published report of web1, renamed per key.
func BenchmarkFleetStatus1000(b *testing.B) {
	now := time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)
	keys, values := fleettest.Renamed(b, 1000)
	var entries []fleetverify.Entry
	for i, key := range keys {
		entries = append(entries, fleetverify.Entry{Key: key, Value: values[i], Created: now.Add(-time.Duration(i) * time.Minute), Revision: uint64(i + 1)})
	}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		f := fleetverify.FromBucket(entries, now, 25*time.Hour, "rampart fleet status", "test")
		if err := Fleet(&buf, f); err != nil {
			b.Fatal(err)
		}
		if len(f.Hosts) != 1000 || f.Hosts[0].Error != "" {
			b.Fatalf("%d hosts, first error %q", len(f.Hosts), f.Hosts[0].Error)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/page")
}
