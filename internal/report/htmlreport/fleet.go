package htmlreport

import (
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/fleetverify"
)

// Bounds that keep a thousand-host page small: one evidence excerpt, the
// problem groups of a check shown with their evidence (the others one line
// per host) and the message on such a line.
const (
	maxEvidenceText = 4000
	maxDetailed     = 10
	maxBriefMessage = 300
)

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d more bytes; see the JSON report)", len(s)-cut)
}

var statusLetter = map[check.Status]byte{check.Pass: 'p', check.Fail: 'f', check.Warn: 'w', check.Unknown: 'u', check.Skip: 's'}

type fleetPage struct {
	Title     string
	Generated string
	Version   string
	Summary   fleetverify.Summary
	Areas     []areaCol
	Checks    []checkCol
	Rows      []hostRow
	Labels    []string
	Findings  []finding
	Baseline  *baselineView
	Data      template.JS // compact JSON the filters read
	Style     template.CSS
	Script    template.JS
}

type areaCol struct {
	Name string
	Span int
}

type checkCol struct {
	ID, Area, Title string
}

type hostRow struct {
	Index                     int
	Name, Reported, OS, Group string
	Labels                    []string
	Error                     string
	Cells                     []hostCell
	// CellsHTML is Cells as table cells: 51 checks by 1,000 hosts are
	// 51,000 cells, which the template engine takes a third of a second
	// to write one by one.
	CellsHTML               template.HTML
	Pass, Fail, Unk         int
	Policy, PolicyHashShort string
	Version, Time           string
	Age                     string // a bucket report's age ("" otherwise)
	Stale                   bool
}

// cellsHTML writes cells as <td class="…"></td>, escaped.
func cellsHTML(cells []hostCell) template.HTML {
	var b strings.Builder
	b.Grow(len(cells) * 24)
	for _, c := range cells {
		b.WriteString(`<td class="`)
		b.WriteString(html.EscapeString(c.Class))
		b.WriteString(`"></td>`)
	}
	return template.HTML(b.String())
}

type hostCell struct {
	Class string // s-p, s-f …, plus chg-… for a baseline change
	Tip   string
}

type finding struct {
	ID, Title, Area string
	Severity        check.Severity
	Status          check.Status // the worst status of the group
	Anchor          string
	Statuses        string // letters present, for the filter
	Fixes           []fixView
	Groups          []findingGroup
	HostCount       int
	Open            bool
	New             int // hosts where this is a regression
	// Brief lists, one line each, the hosts beyond the first maxDetailed
	// problem groups.
	Brief []briefLine
}

type briefLine struct {
	Host    string
	Index   int
	Status  check.Status
	Message string
}

type fixView struct {
	NixOS, Generic string
}

type findingGroup struct {
	Status   check.Status
	Hosts    []string
	HostIdx  string // comma list of row indexes, for the filter
	idx      []byte // HostIdx as it is built
	Message  string
	Evidence []check.Evidence
	Changes  []string // "web3: pass → fail" for hosts with a baseline change
}

type baselineView struct {
	File, Started                     string
	Regressions, Worse, Fixed, Better int
	Changes                           []fleetverify.Change
}

// Fleet writes the HTML page for a verify run (one or many hosts).
func Fleet(w io.Writer, f *fleetverify.Fleet) error {
	p := buildFleet(f)
	return fleetTmpl().Execute(w, p)
}

func buildFleet(f *fleetverify.Fleet) *fleetPage {
	p := &fleetPage{Generated: f.Started.UTC().Format(time.RFC3339), Version: f.Version, Summary: f.Summarize(),
		Style: template.CSS(pageCSS), Script: template.JS(fleetJS)}
	if len(f.Hosts) == 1 {
		p.Title = "rampart verify: " + f.Hosts[0].Target.Name
	} else {
		p.Title = fmt.Sprintf("rampart verify: %d hosts", len(f.Hosts))
	}
	// Columns: every check seen on any host, by area then ID.
	seen := map[string]checkCol{}
	for _, h := range f.Hosts {
		for _, r := range h.Results {
			if _, ok := seen[r.ID]; !ok {
				seen[r.ID] = checkCol{ID: r.ID, Area: r.Area, Title: r.Title}
			}
		}
	}
	for _, c := range seen {
		p.Checks = append(p.Checks, c)
	}
	sort.Slice(p.Checks, func(i, j int) bool {
		a, b := p.Checks[i], p.Checks[j]
		return a.Area < b.Area || a.Area == b.Area && a.ID < b.ID
	})
	col := map[string]int{}
	for i, c := range p.Checks {
		col[c.ID] = i
		if n := len(p.Areas); n > 0 && p.Areas[n-1].Name == c.Area {
			p.Areas[n-1].Span++
		} else {
			p.Areas = append(p.Areas, areaCol{c.Area, 1})
		}
	}
	labelSet := map[string]bool{}
	type dataHost struct {
		N string   `json:"n"`
		L []string `json:"l"`
		S string   `json:"s"` // one status letter per check column ("-" = not run)
	}
	type dataDoc struct {
		Checks []string   `json:"checks"`
		Areas  []string   `json:"areas"`
		Hosts  []dataHost `json:"hosts"`
	}
	data := dataDoc{}
	for _, c := range p.Checks {
		data.Checks = append(data.Checks, c.ID)
		data.Areas = append(data.Areas, c.Area)
	}
	for i, h := range f.Hosts {
		row := hostRow{Index: i, Name: h.Target.Name, Reported: h.Reported, OS: h.OS, Group: h.Target.Group, Labels: h.Target.Labels,
			Error: h.Error, Policy: h.Policy, Version: h.Version}
		if !h.Started.IsZero() { // a bucket value that was no report has no time of its own
			row.Time = h.Started.UTC().Format(time.RFC3339)
		}
		if len(h.PolicyHash) >= 12 {
			row.PolicyHashShort = h.PolicyHash[:12]
		}
		if !h.Published.IsZero() {
			row.Age, row.Stale = fleetverify.FormatAge(h.Age), h.Stale
		}
		for _, l := range h.Target.Labels {
			labelSet[l] = true
		}
		row.Cells = make([]hostCell, len(p.Checks))
		letters := []byte(strings.Repeat("-", len(p.Checks)))
		for j := range row.Cells {
			row.Cells[j] = hostCell{Class: "s-n"}
		}
		for _, r := range h.Results {
			j := col[r.ID]
			letters[j] = statusLetter[r.Status]
			c := hostCell{Class: "s-" + string(statusLetter[r.Status])}
			if ch, ok := f.Baseline.ChangeOf(h.Target.Name, r.ID); ok {
				c.Class += " chg-" + ch.Kind
			}
			row.Cells[j] = c
			switch r.Status {
			case check.Pass, check.Warn:
				row.Pass++
			case check.Fail:
				row.Fail++
			case check.Unknown:
				row.Unk++
			}
		}
		row.CellsHTML = cellsHTML(row.Cells)
		labels := h.Target.Labels
		if labels == nil {
			labels = []string{}
		}
		data.Hosts = append(data.Hosts, dataHost{N: h.Target.Name, L: labels, S: string(letters)})
		p.Rows = append(p.Rows, row)
	}
	for l := range labelSet {
		p.Labels = append(p.Labels, l)
	}
	sort.Strings(p.Labels)
	b, _ := json.Marshal(data)
	// Inside <script>, "</" must not appear literally.
	p.Data = template.JS(strings.ReplaceAll(string(b), "</", `<\/`))
	p.Findings = findings(f, p.Checks)
	if bl := f.Baseline; bl != nil {
		v := &baselineView{File: bl.File, Started: bl.Started, Changes: bl.Changes}
		for _, c := range bl.Changes {
			switch c.Kind {
			case "regression":
				v.Regressions++
			case "worse":
				v.Worse++
			case "fixed":
				v.Fixed++
			case "better":
				v.Better++
			}
		}
		p.Baseline = v
	}
	return p
}

// findings groups every host's result by check; within a check, hosts
// that said the same thing with the same evidence share one entry.
// groupKey is what makes two problem results one group: the status, the
// message and every piece of evidence.
func groupKey(b *strings.Builder, r check.Result) string {
	b.Reset()
	n := len(r.Status) + len(r.Message) + 1
	for _, e := range r.Evidence {
		n += len(e.Source) + len(e.Text) + 2
	}
	b.Grow(n)
	b.WriteString(string(r.Status))
	b.WriteByte(0)
	b.WriteString(r.Message)
	for _, e := range r.Evidence {
		b.WriteByte(0)
		b.WriteString(e.Source)
		b.WriteByte(0)
		b.WriteString(e.Text)
	}
	return b.String()
}

func findings(f *fleetverify.Fleet, cols []checkCol) []finding {
	type acc struct {
		f      *finding
		groups map[string]int
		fixes  map[fixView]bool
		worst  int
		// detailed counts the problem groups shown with evidence.
		detailed int
	}
	rank := map[check.Status]int{check.Skip: 0, check.Pass: 1, check.Warn: 2, check.Unknown: 3, check.Fail: 4}
	by := map[string]*acc{}
	var kb strings.Builder
	for i, h := range f.Hosts {
		for _, r := range h.Results {
			a := by[r.ID]
			if a == nil {
				a = &acc{f: &finding{ID: r.ID, Title: r.Title, Area: r.Area, Severity: r.Severity, Anchor: "c-" + r.ID, Status: r.Status},
					groups: map[string]int{}, fixes: map[fixView]bool{}, worst: -1}
				by[r.ID] = a
			}
			if rank[r.Status] > a.worst {
				a.worst, a.f.Status = rank[r.Status], r.Status
			}
			if r.Status == check.Fail || r.Status == check.Warn {
				fx := fixView{r.Remediation.NixOS, r.Remediation.Generic}
				if (fx.NixOS != "" || fx.Generic != "") && !a.fixes[fx] {
					a.fixes[fx] = true
					a.f.Fixes = append(a.f.Fixes, fx)
				}
			}
			// Passing and skipped hosts share one entry per status (their
			// evidence is in the JSON report); problems are grouped by what
			// the host said and read, the first maxDetailed groups of a
			// check with their evidence, the rest as one line per host.
			key := string(r.Status)
			problem := r.Status == check.Fail || r.Status == check.Warn || r.Status == check.Unknown
			if problem {
				key = groupKey(&kb, r)
			}
			gi, ok := a.groups[key]
			if ok && gi < 0 {
				a.f.Brief = append(a.f.Brief, briefLine{Host: h.Target.Name, Index: i, Status: r.Status, Message: clip(r.Message, maxBriefMessage)})
				a.f.HostCount++
				continue
			}
			if !ok && problem && a.detailed == maxDetailed {
				a.groups[key] = -1
				a.f.Brief = append(a.f.Brief, briefLine{Host: h.Target.Name, Index: i, Status: r.Status, Message: clip(r.Message, maxBriefMessage)})
				a.f.HostCount++
				continue
			}
			if !ok {
				gi = len(a.f.Groups)
				a.groups[key] = gi
				g := findingGroup{Status: r.Status}
				if problem {
					a.detailed++
					g.Message = r.Message
					g.Evidence = make([]check.Evidence, len(r.Evidence))
					for k, e := range r.Evidence {
						e.Text = clip(e.Text, maxEvidenceText)
						g.Evidence[k] = e
					}
				}
				a.f.Groups = append(a.f.Groups, g)
			}
			g := &a.f.Groups[gi]
			g.Hosts = append(g.Hosts, h.Target.Name)
			if len(g.idx) > 0 {
				g.idx = append(g.idx, ',')
			}
			g.idx = strconv.AppendInt(g.idx, int64(i), 10)
			a.f.HostCount++
			if ch, ok := f.Baseline.ChangeOf(h.Target.Name, r.ID); ok {
				from := string(ch.From)
				if from == "" {
					from = "new"
				}
				g.Changes = append(g.Changes, fmt.Sprintf("%s: %s → %s (%s)", h.Target.Name, from, ch.To, ch.Kind))
				if ch.Kind == "regression" {
					a.f.New++
				}
			}
		}
	}
	out := make([]finding, 0, len(by))
	for _, c := range cols {
		a := by[c.ID]
		if a == nil {
			continue
		}
		fd := a.f
		var letters []byte
		add := func(s check.Status) {
			if l := statusLetter[s]; !strings.ContainsRune(string(letters), rune(l)) {
				letters = append(letters, l)
			}
		}
		for _, g := range fd.Groups {
			add(g.Status)
		}
		for _, bl := range fd.Brief { // the status filter shows brief lines too
			add(bl.Status)
		}
		fd.Statuses = string(letters)
		for k := range fd.Groups {
			fd.Groups[k].HostIdx = string(fd.Groups[k].idx)
		}
		// Problems first and open; the worst group first within a check.
		sort.SliceStable(fd.Groups, func(i, j int) bool { return rank[fd.Groups[i].Status] > rank[fd.Groups[j].Status] })
		fd.Open = fd.Status == check.Fail || fd.Status == check.Warn || fd.Status == check.Unknown
		out = append(out, *fd)
	}
	sort.SliceStable(out, func(i, j int) bool { return rank[out[i].Status] > rank[out[j].Status] })
	return out
}
