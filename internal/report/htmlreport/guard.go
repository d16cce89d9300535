package htmlreport

import (
	"fmt"
	"html/template"
	"io"
	"net/netip"
	"sort"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/store"
)

// Guard writes the guard report page from the guard's state file: bans
// over time (when each ban in force was decided), by jail, the source
// networks with most bans and the repeat offenders, and every ban.
func Guard(w io.Writer, file string, st store.State, now time.Time, loc *time.Location) error {
	p := &simplePage{Title: "rampart guard report"}
	p.Meta = []string{"state " + file + " at " + now.In(loc).Format("2006-01-02 15:04:05 MST"),
		"the state holds the bans in force; expired bans are not kept"}
	byJail := map[string]int{}
	nets := map[netip.Prefix]int{}
	repeat := 0
	var first, last time.Time
	for _, b := range st.Bans {
		byJail[b.Jail]++
		nets[SourceNet(b.Prefix)]++
		if b.Count > 1 {
			repeat++
		}
		if first.IsZero() || b.At.Before(first) {
			first = b.At
		}
		if b.At.After(last) {
			last = b.At
		}
	}
	p.Cards = []card{{ID: "bans", Label: "bans in force", Value: len(st.Bans), Class: "k-f"},
		{ID: "jails", Label: "jails", Value: len(byJail)}, {ID: "networks", Label: "source networks", Value: len(nets)},
		{ID: "repeat", Label: "repeat offenders", Value: repeat}}
	if len(st.Bans) == 0 {
		p.Sections = append(p.Sections, section{ID: "none", Heading: "No ban in force"})
		return p.write(w)
	}
	jails := make([]string, 0, len(byJail))
	for j := range byJail {
		jails = append(jails, j)
	}
	sort.Slice(jails, func(i, k int) bool {
		if byJail[jails[i]] != byJail[jails[k]] {
			return byJail[jails[i]] > byJail[jails[k]]
		}
		return jails[i] < jails[k]
	})
	width, starts := timeBuckets(first, last, 48)
	var ss []series
	var jailBars []bar
	for _, j := range jails {
		sr := series{Name: j, Counts: make([]int, len(starts))}
		for _, b := range st.Bans {
			if b.Jail != j {
				continue
			}
			if i := int(b.At.Sub(starts[0]) / width); i >= 0 && i < len(starts) {
				sr.Counts[i]++
			}
		}
		ss = append(ss, sr)
		jailBars = append(jailBars, bar{Label: j, Value: byJail[j]})
	}
	var netBars []bar
	for n, c := range nets {
		netBars = append(netBars, bar{Label: n.String(), Value: c})
	}
	sort.Slice(netBars, func(i, k int) bool {
		if netBars[i].Value != netBars[k].Value {
			return netBars[i].Value > netBars[k].Value
		}
		return netBars[i].Label < netBars[k].Label
	})
	if len(netBars) > 15 {
		netBars = netBars[:15]
	}
	bans := append([]store.Ban(nil), st.Bans...)
	sort.SliceStable(bans, func(i, k int) bool {
		if bans[i].Count != bans[k].Count {
			return bans[i].Count > bans[k].Count
		}
		return bans[i].At.After(bans[k].At)
	})
	t := &table{Head: []string{"prefix", "jail", "banned at", "until", "left", "failures", "ban #"}}
	for _, b := range bans {
		t.Rows = append(t.Rows, []string{b.Prefix.String(), b.Jail, b.At.In(loc).Format("2006-01-02 15:04:05"),
			b.Until.In(loc).Format("2006-01-02 15:04:05"), b.Until.Sub(now).Round(time.Second).String(),
			fmt.Sprint(b.Failures), fmt.Sprint(max(b.Count, 1))})
	}
	p.Sections = append(p.Sections,
		section{ID: "over-time", Heading: "Bans over time, by jail", Note: fmt.Sprintf("when each ban in force was decided; one column per %s", width),
			Charts: []template.HTML{stackedChart("bans over time by jail", starts, width, ss, loc)}},
		section{ID: "by-jail", Heading: "Bans by jail", Charts: []template.HTML{barChart("bans by jail", jailBars)}},
		section{ID: "top-sources", Heading: "Top source networks", Note: "IPv4 /24, IPv6 /48",
			Charts: []template.HTML{barChart("bans per source network", netBars)}},
		section{ID: "bans", Heading: "Bans in force", Note: "repeat offenders (ban # > 1) first", Table: t})
	return p.write(w)
}

// SourceNet is the network a ban is counted under: the /24 of an IPv4
// address, the /48 of an IPv6 one (or the ban's own prefix when wider).
func SourceNet(p netip.Prefix) netip.Prefix {
	bits := 24
	if p.Addr().Is6() && !p.Addr().Is4In6() {
		bits = 48
	}
	if p.Bits() < bits {
		return p
	}
	n, _ := p.Addr().Prefix(bits)
	return n
}
