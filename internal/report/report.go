package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
)

// Schema is the JSON schema identifier.
const Schema = "rampart.verify/v1"

// Meta describes the run the results came from.
type Meta struct {
	Tool    string // "rampart verify"
	Version string // rampart's version (SARIF driver, JUnit properties)
	Host    string
	// OS is the host's operating system as /etc/os-release names it
	// ("Debian GNU/Linux 12 (bookworm)"); "" when it could not be read.
	OS     string
	Policy string
	// Release is the NixOS release the remediation text is written for,
	// not the host's OS.
	Release  string
	Started  time.Time
	Duration time.Duration
}

// Formats lists the names accepted by Write.
var Formats = []string{"text", "json", "junit", "sarif"}

// Options tune the text renderer.
type Options struct {
	// Color adds ANSI colours; the caller decides (a TTY and NO_COLOR unset).
	Color bool
	// Verbose shows evidence for passing checks too.
	Verbose bool
	// Summary prints one line per check that is not pass or skip (text
	// only).
	Summary bool
}

// Write renders rs in the named format.
func Write(w io.Writer, format string, m Meta, rs []check.Result, o Options) error {
	switch format {
	case "text", "":
		return Text(w, m, rs, o)
	case "json":
		return JSON(w, m, rs)
	case "junit":
		return JUnit(w, m, rs)
	case "sarif":
		return SARIF(w, m, rs)
	}
	return fmt.Errorf("unknown format %q (expected text, json, junit or sarif)", format)
}

// byArea returns the areas in sorted order and the results grouped by
// area, each group sorted by ID.
func byArea(rs []check.Result) ([]string, map[string][]check.Result) {
	groups := map[string][]check.Result{}
	var areas []string
	for _, r := range rs {
		if _, ok := groups[r.Area]; !ok {
			areas = append(areas, r.Area)
		}
		groups[r.Area] = append(groups[r.Area], r)
	}
	sort.Strings(areas)
	for _, a := range areas {
		g := groups[a]
		sort.SliceStable(g, func(i, j int) bool { return g[i].ID < g[j].ID })
	}
	return areas, groups
}

// ErrListFormat reports a format List cannot write.
var ErrListFormat = errors.New("the check list is written as text or json")

// List writes the registered checks (ID, severity, title, area): a table
// for text, an array of objects for json. junit and sarif describe the
// results of a run, not a list of checks, so they are refused.
func List(w io.Writer, format string, cs []*check.Check) error {
	switch format {
	case "text", "":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, c := range cs {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.ID, c.Severity, c.Title)
		}
		return tw.Flush()
	case "json":
		type item struct {
			ID       string         `json:"id"`
			Area     string         `json:"area"`
			Severity check.Severity `json:"severity"`
			Title    string         `json:"title"`
		}
		out := make([]item, 0, len(cs))
		for _, c := range cs {
			out = append(out, item{ID: c.ID, Area: c.Area(), Severity: c.Severity, Title: c.Title})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	return fmt.Errorf("%w, not %s", ErrListFormat, format)
}
