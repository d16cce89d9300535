package htmlreport

import (
	"bytes"
	"html/template"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/testenv"
)

// TestBrowserBarLabels: a bar label clipped to 40 bytes must fit
// left of its bar, inside the chart.
func TestBrowserBarLabels(t *testing.T) {
	testenv.RequireRoot(t)
	br := newBrowser(t)
	labels := []string{strings.Repeat("k", 30), strings.Repeat("k", 40), "privileged-commands-" + strings.Repeat("x", 25)}
	var bars []bar
	var ss []series
	for i, l := range labels {
		bars = append(bars, bar{Label: l, Value: 3 - i})
		ss = append(ss, series{Name: l, Counts: []int{1}})
	}
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	p := &simplePage{Title: "t", Sections: []section{{ID: "s", Heading: "h",
		Charts: []template.HTML{barChart("bars", bars), stackedChart("over time", []time.Time{now}, time.Minute, ss, time.UTC)}}}}
	var page bytes.Buffer
	if err := p.write(&page); err != nil {
		t.Fatal(err)
	}
	url := br.open(t, page.Bytes())
	got := eval[[]string](t, br, `[...document.querySelectorAll("svg.chart g.bar text.lbl")].map(e => e.textContent + " @x=" + e.getBBox().x.toFixed(0) + ".." + (e.getBBox().x + e.getBBox().width).toFixed(0))`)
	for _, g := range got {
		t.Log(g)
	}
	cut := eval[int](t, br, `[...document.querySelectorAll("svg.chart g.bar text.lbl")].filter(e => e.getBBox().x < 0).length`)
	if cut > 0 {
		t.Errorf("%d of %d bar labels start left of the chart (cut off)", cut, len(labels))
	}
	leg := eval[[]string](t, br, `[...document.querySelectorAll("svg.chart text.lbl")].filter(e => !e.closest("g.bar")).map(e => e.textContent + " @x=" + e.getBBox().x.toFixed(0) + ".." + (e.getBBox().x + e.getBBox().width).toFixed(0))`)
	for _, g := range leg {
		t.Log("legend: " + g)
	}
	br.check(t, url)
}
