package report

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
)

// Schema is the JSON schema identifier.
const Schema = "rampart.verify/v1"

// Meta describes the run the results came from.
type Meta struct {
	Tool     string // "rampart verify"
	Version  string // rampart's version (SARIF driver, JUnit properties)
	Host     string
	Policy   string
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
