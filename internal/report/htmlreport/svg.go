package htmlreport

import (
	"fmt"
	"html"
	"html/template"
	"strings"
	"time"
	"unicode/utf8"
)

// palette colours series in charts (colour-blind friendly, Okabe-Ito).
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"}

// bar is one labelled value of a bar chart.
type bar struct {
	Label string
	Value int
	Note  string // shown after the value ("3 failed")
}

// barChart draws horizontal bars, largest first as given, as inline SVG.
func barChart(title string, bars []bar) template.HTML {
	const rowH, labelW, barW, pad = 22, 210, 420, 8
	max := 1
	for _, b := range bars {
		if b.Value > max {
			max = b.Value
		}
	}
	h := pad*2 + rowH*len(bars)
	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="chart" role="img" viewBox="0 0 %d %d" width="%d" height="%d"><title>%s</title>`,
		labelW+barW+120, h, labelW+barW+120, h, html.EscapeString(title))
	for i, b := range bars {
		y := pad + i*rowH
		w := b.Value * barW / max
		if b.Value > 0 && w < 2 {
			w = 2
		}
		fmt.Fprintf(&s, `<g class="bar" data-label="%s" data-value="%d">`, html.EscapeString(b.Label), b.Value)
		fmt.Fprintf(&s, `<text x="%d" y="%d" text-anchor="end" class="lbl">%s</text>`, labelW-6, y+15, html.EscapeString(short(b.Label, 30)))
		fmt.Fprintf(&s, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s: %d</title></rect>`,
			labelW, y+3, w, rowH-6, palette[0], html.EscapeString(b.Label), b.Value)
		note := fmt.Sprint(b.Value)
		if b.Note != "" {
			note += " · " + b.Note
		}
		fmt.Fprintf(&s, `<text x="%d" y="%d" class="val">%s</text></g>`, labelW+w+6, y+15, html.EscapeString(note))
	}
	s.WriteString(`</svg>`)
	return template.HTML(s.String())
}

// series is one named line of counts per time bucket.
type series struct {
	Name   string
	Counts []int
}

// timeBuckets chooses a bucket width giving at most about n buckets over
// [from, to] and returns the bucket starts.
func timeBuckets(from, to time.Time, n int) (time.Duration, []time.Time) {
	span := to.Sub(from)
	width := time.Minute
	for _, w := range []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 3 * time.Hour,
		6 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour} {
		width = w
		if span/w < time.Duration(n) {
			break
		}
	}
	start := from.Truncate(width)
	var out []time.Time
	for t := start; !t.After(to); t = t.Add(width) {
		out = append(out, t)
	}
	if len(out) == 0 {
		out = []time.Time{start}
	}
	return width, out
}

// stackedChart draws counts per time bucket, one colour per series,
// stacked, with a legend, as inline SVG.
func stackedChart(title string, starts []time.Time, width time.Duration, ss []series, loc *time.Location) template.HTML {
	const W, H, left, bottom, top = 860, 240, 44, 38, 10
	plotW, plotH := W-left-10, H-bottom-top
	max := 1
	for i := range starts {
		sum := 0
		for _, s := range ss {
			sum += s.Counts[i]
		}
		if sum > max {
			max = sum
		}
	}
	legendH := 18 * ((len(ss) + 3) / 4)
	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="chart" role="img" viewBox="0 0 %d %d" width="%d" height="%d"><title>%s</title>`,
		W, H+legendH, W, H+legendH, html.EscapeString(title))
	fmt.Fprintf(&s, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>`, left, top+plotH, left+plotW, top+plotH)
	fmt.Fprintf(&s, `<text x="%d" y="%d" text-anchor="end" class="tick">%d</text><text x="%d" y="%d" text-anchor="end" class="tick">0</text>`,
		left-4, top+10, max, left-4, top+plotH)
	colW := float64(plotW) / float64(len(starts))
	format := "15:04"
	if width >= 24*time.Hour {
		format = "Jan 2"
	} else if starts[len(starts)-1].Sub(starts[0]) >= 24*time.Hour {
		format = "Jan 2 15:04"
	}
	every := max1(len(starts) / 8)
	for i, t := range starts {
		x := float64(left) + colW*float64(i)
		y := float64(top + plotH)
		for k, sr := range ss {
			c := sr.Counts[i]
			if c == 0 {
				continue
			}
			h := float64(c) * float64(plotH) / float64(max)
			y -= h
			fmt.Fprintf(&s, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" data-series="%s" data-count="%d"><title>%s %s: %d</title></rect>`,
				x+0.5, y, colW-1, h, palette[k%len(palette)], html.EscapeString(sr.Name), c,
				html.EscapeString(sr.Name), t.In(loc).Format("2006-01-02 15:04"), c)
		}
		if i%every == 0 {
			fmt.Fprintf(&s, `<text x="%.1f" y="%d" class="tick">%s</text>`, x, top+plotH+14, t.In(loc).Format(format))
		}
	}
	for k, sr := range ss {
		x, y := left+(k%4)*205, H+(k/4)*18
		fmt.Fprintf(&s, `<rect x="%d" y="%d" width="11" height="11" fill="%s"/><text x="%d" y="%d" class="lbl">%s</text>`,
			x, y-12, palette[k%len(palette)], x+15, y-2, html.EscapeString(short(sr.Name, 26)))
	}
	s.WriteString(`</svg>`)
	return template.HTML(s.String())
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// short cuts a chart label to n runes, marking the cut with "…" (the
// whole label is in the bar's <title>): clip's "(N more bytes; see the
// JSON report)" would make it longer than the room left of the bar.
func short(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
