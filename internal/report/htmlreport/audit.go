package htmlreport

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/internal/audit"
)

// maxAuditRows bounds the event rows listed per key on the page.
const maxAuditRows = 200

// Audit writes the audit report page: events per key over time, events
// and failed calls per key, who caused them, and per key the latest
// events (who changed what, with what result).
func Audit(w io.Writer, rep *audit.Report, loc *time.Location) error {
	p := &simplePage{Title: "rampart audit report"}
	p.Meta = append(p.Meta, "read "+strings.Join(rep.Files, ", "))
	if rep.Since != nil {
		p.Meta = append(p.Meta, "since "+rep.Since.In(loc).Format("2006-01-02 15:04:05 MST"))
	}
	for i, n := range rep.Notes {
		if i == audit.NotesShown {
			p.Meta = append(p.Meta, fmt.Sprintf("note: … and %d more skipped lines (--format json lists them)", len(rep.Notes)-audit.NotesShown))
			break
		}
		p.Meta = append(p.Meta, "note: "+audit.SafeLine(n.String()))
	}
	failed := rep.Failed
	var first, last time.Time
	for _, k := range rep.Keys {
		if first.IsZero() || k.First.Before(first) {
			first = k.First
		}
		if k.Last.After(last) {
			last = k.Last
		}
	}
	p.Cards = []card{{ID: "events", Label: "events", Value: rep.Events}, {ID: "keys", Label: "keys", Value: len(rep.Keys)},
		{ID: "failed", Label: "failed calls", Value: failed, Class: "k-f"}, {ID: "unkeyed", Label: "unkeyed events", Value: rep.Unkeyed}}
	if len(rep.Keys) == 0 {
		p.Sections = append(p.Sections, section{ID: "none", Heading: "No keyed events", Note: "no event of a watched key in this period"})
		return p.write(w)
	}
	keys := append([]*audit.KeyReport(nil), rep.Keys...)
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].Count > keys[j].Count })
	width, starts := timeBuckets(first, last, 48)
	var ss []series
	var bars, whoBars []bar
	who := map[string]int{}
	for _, k := range keys {
		sr := series{Name: k.Key, Counts: make([]int, len(starts))}
		for _, e := range k.Events {
			i := int(e.Time.Sub(starts[0]) / width)
			if i >= 0 && i < len(starts) {
				sr.Counts[i]++
			}
		}
		ss = append(ss, sr)
		b := bar{Label: k.Key, Value: k.Count}
		if k.Failed > 0 {
			b.Note = fmt.Sprintf("%d failed", k.Failed)
		}
		bars = append(bars, b)
		for n, c := range k.Who {
			who[n] += c
		}
	}
	for n, c := range who {
		whoBars = append(whoBars, bar{Label: n, Value: c})
	}
	sort.Slice(whoBars, func(i, j int) bool {
		if whoBars[i].Value != whoBars[j].Value {
			return whoBars[i].Value > whoBars[j].Value
		}
		return whoBars[i].Label < whoBars[j].Label
	})
	if len(whoBars) > 15 {
		whoBars = whoBars[:15]
	}
	p.Sections = append(p.Sections,
		section{ID: "over-time", Heading: "Events per key over time", Note: fmt.Sprintf("one column per %s", width),
			Charts: []template.HTML{stackedChart("events per key over time", starts, width, ss, loc)}},
		section{ID: "per-key", Heading: "Events per key", Charts: []template.HTML{barChart("events per key", bars)}},
		section{ID: "who", Heading: "Who (login user)", Charts: []template.HTML{barChart("events per login user", whoBars)}})
	for _, k := range keys {
		t := &table{Head: []string{"time", "who (login/user)", "what", "program", "on", "result"}}
		evs := k.Events
		if len(evs) > maxAuditRows {
			t.More = fmt.Sprintf("the latest %d of %d events; rampart audit report --format json has them all", maxAuditRows, len(evs))
			evs = evs[len(evs)-maxAuditRows:]
		}
		for i := len(evs) - 1; i >= 0; i-- {
			e := evs[i]
			s := e.Summary()
			t.Rows = append(t.Rows, []string{e.Time.In(loc).Format("2006-01-02 15:04:05"), s.Who, s.What, s.Program,
				s.On, s.Result})
		}
		p.Sections = append(p.Sections, section{ID: "key-" + k.Key, Heading: "Key " + k.Key,
			Note: fmt.Sprintf("%d events, %d failed, %s to %s", k.Count, k.Failed,
				k.First.In(loc).Format("2006-01-02 15:04"), k.Last.In(loc).Format("2006-01-02 15:04")), Table: t})
	}
	return p.write(w)
}
