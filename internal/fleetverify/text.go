package fleetverify

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/report"
)

// maxHostsListed bounds the host names printed on one failure line.
const maxHostsListed = 12

// Text writes the fleet for people: a host x area matrix of
// pass/fail/unknown counts, the hosts that could not be verified, every
// failed check once with the hosts it fails on, what each host said and
// the fix, the changes since the baseline, and one summary line.
func (f *Fleet) Text(w io.Writer) error {
	ew := &report.ErrWriter{W: w}
	areaSet := map[string]bool{}
	for _, h := range f.Hosts {
		for _, r := range h.Results {
			areaSet[r.Area] = true
		}
	}
	areas := make([]string, 0, len(areaSet))
	for a := range areaSet {
		areas = append(areas, a)
	}
	sort.Strings(areas)
	release := ""
	if len(f.Hosts) > 0 && f.Hosts[0].Release != "" {
		release = ", fixes for NixOS " + f.Hosts[0].Release
	}
	ew.Printf("%s: %d hosts%s\n\n", f.tool(), len(f.Hosts), release)
	aged := false
	for _, h := range f.Hosts {
		aged = aged || !h.Published.IsZero()
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "HOST\t"
	if aged {
		head += "AGE\t"
	}
	fmt.Fprintf(tw, "%s%s\tTOTAL\n", head, safe(strings.ToUpper(strings.Join(areas, "\t"))))
	for _, h := range f.Hosts {
		per := map[string][]check.Result{}
		for _, r := range h.Results {
			per[r.Area] = append(per[r.Area], r)
		}
		cells := make([]string, 0, len(areas)+2)
		cells = append(cells, safe(h.Target.Name))
		if aged {
			cells = append(cells, ageCell(h))
		}
		for _, a := range areas {
			cells = append(cells, cell(per[a]))
		}
		cells = append(cells, cell(h.Results))
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	ew.Printf("(each cell: pass/fail/unknown)\n")

	var unverified []*HostRun
	for _, h := range f.Hosts {
		if h.Error != "" {
			unverified = append(unverified, h)
		}
	}
	if len(unverified) > 0 {
		ew.Printf("\nNot verified (every check unknown):\n")
		for _, h := range unverified {
			ew.Printf("  %s: %s\n", safe(h.Target.Name), indent(h.Error, "    "))
		}
	}

	ids, fails := f.byCheck(func(r check.Result) bool { return r.Status == check.Fail })
	if len(ids) > 0 {
		ew.Printf("\nFailed checks (%d), by check:\n", len(ids))
	}
	for _, id := range ids {
		hr := fails[id]
		names := make([]string, len(hr))
		for i, x := range hr {
			names[i] = safe(x.h.Target.Name)
		}
		r0 := hr[0].r
		ew.Printf("\nFAIL %s (%s) on %s\n", safe(id), safe(string(r0.Severity)), listHosts(names))
		ew.Printf("     %s\n", safe(r0.Title))
		// The same message on several hosts is printed once.
		var msgs []string
		byMsg := map[string][]string{}
		for i, x := range hr {
			m := x.r.Message
			if _, ok := byMsg[m]; !ok {
				msgs = append(msgs, m)
			}
			byMsg[m] = append(byMsg[m], names[i])
		}
		for _, m := range msgs {
			who := "all"
			if len(msgs) > 1 || len(byMsg[m]) != len(hr) {
				who = listHosts(byMsg[m])
			}
			ew.Printf("     %s: %s\n", who, indent(m, "       "))
		}
		if r0.Remediation.NixOS != "" {
			ew.Printf("     fix (NixOS): %s\n", indent(r0.Remediation.NixOS, "       "))
		}
		if r0.Remediation.Generic != "" {
			ew.Printf("     fix: %s\n", indent(r0.Remediation.Generic, "       "))
		}
	}
	if b := f.Baseline; b != nil {
		kinds := map[string]int{}
		for _, c := range b.Changes {
			kinds[c.Kind]++
		}
		ew.Printf("\nSince the baseline %s (%s): %d new failures, %d worse, %d fixed, %d better\n", safe(b.File), b.Started,
			kinds["regression"], kinds["worse"], kinds["fixed"], kinds["better"])
		for _, c := range b.Changes {
			from := string(c.From)
			if from == "" {
				from = "(new)"
			}
			ew.Printf("  %-10s %s %s: %s -> %s\n", c.Kind, safe(c.Host), safe(c.Check), from, c.To)
		}
	}
	s := f.Summarize()
	ew.Printf("\n%d hosts: %d passing, %d failing, %d not verified; %d checks: %d pass, %d fail, %d warn, %d unknown, %d skip",
		s.Hosts, s.HostsPassing, s.HostsFailing, s.HostsUnverified, s.Checks.Total, s.Checks.Pass, s.Checks.Fail,
		s.Checks.Warn, s.Checks.Unknown, s.Checks.Skip)
	if f.Duration > 0 {
		ew.Printf(" in %.2fs", f.Duration.Seconds())
	}
	ew.Printf("\n")
	return ew.Err
}

// ageCell is a bucket report's age, "(stale)" when past the maximum.
func ageCell(h *HostRun) string {
	if h.Published.IsZero() {
		return "-"
	}
	if h.Stale {
		return FormatAge(h.Age) + " (stale)"
	}
	return FormatAge(h.Age)
}

func cell(rs []check.Result) string {
	if len(rs) == 0 {
		return "-"
	}
	s := check.Summarize(rs)
	return fmt.Sprintf("%d/%d/%d", s.Pass+s.Warn, s.Fail, s.Unknown)
}

func listHosts(names []string) string {
	if len(names) > maxHostsListed {
		return strings.Join(names[:maxHostsListed], ", ") + fmt.Sprintf(" and %d more", len(names)-maxHostsListed)
	}
	return strings.Join(names, ", ")
}

// safe makes host-supplied text harmless on a terminal.
func safe(s string) string { return host.SafeText(s) }

func indent(s, pad string) string {
	return strings.ReplaceAll(safe(strings.TrimRight(s, "\n")), "\n", "\n"+pad)
}
