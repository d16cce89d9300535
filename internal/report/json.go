package report

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
)

type jsonReport struct {
	Schema     string        `json:"schema"`
	Host       string        `json:"host"`
	OS         string        `json:"os,omitempty"`
	Policy     string        `json:"policy"`
	Release    string        `json:"release"`
	Started    string        `json:"started"`
	DurationMS int64         `json:"duration_ms"`
	Checks     []jsonCheck   `json:"checks"`
	Summary    check.Summary `json:"summary"`
}

type jsonCheck struct {
	ID          string            `json:"id"`
	Title       string            `json:"title"`
	Area        string            `json:"area"`
	Severity    check.Severity    `json:"severity"`
	Status      check.Status      `json:"status"`
	Message     string            `json:"message"`
	Evidence    []check.Evidence  `json:"evidence"`
	Remediation check.Remediation `json:"remediation"`
	DurationMS  float64           `json:"duration_ms"`
}

// JSON writes the rampart.verify/v1 document (see the package comment).
func JSON(w io.Writer, m Meta, rs []check.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(Doc(m, rs))
}

// Doc is the rampart.verify/v1 document JSON writes, as a value that
// encoding/json marshals: a fleet document embeds it for each host
// without encoding, compacting and indenting it again.
func Doc(m Meta, rs []check.Result) any {
	doc := jsonReport{
		Schema: Schema, Host: m.Host, OS: m.OS, Policy: m.Policy, Release: m.Release,
		Started: m.Started.UTC().Format(time.RFC3339), DurationMS: m.Duration.Milliseconds(),
		Checks: make([]jsonCheck, 0, len(rs)), Summary: check.Summarize(rs),
	}
	for _, r := range rs {
		ev := r.Evidence
		if ev == nil {
			ev = []check.Evidence{}
		}
		doc.Checks = append(doc.Checks, jsonCheck{ID: r.ID, Title: r.Title, Area: r.Area, Severity: r.Severity,
			Status: r.Status, Message: r.Message, Evidence: ev, Remediation: r.Remediation,
			DurationMS: float64(r.Duration.Microseconds()) / 1000})
	}
	return doc
}

// ReadJSON reads a rampart.verify/v1 document back into the run's Meta and
// results (what JSON wrote, apart from sub-microsecond durations), so a
// saved or remote report can be rendered again in another format.
func ReadJSON(r io.Reader) (Meta, []check.Result, error) {
	var doc jsonReport
	dec := json.NewDecoder(r)
	if err := dec.Decode(&doc); err != nil {
		return Meta{}, nil, fmt.Errorf("read %s report: %w", Schema, err)
	}
	if doc.Schema != Schema {
		return Meta{}, nil, fmt.Errorf("read report: schema %q, want %q", doc.Schema, Schema)
	}
	m := Meta{Tool: "rampart verify", Host: doc.Host, OS: doc.OS, Policy: doc.Policy, Release: doc.Release,
		Duration: time.Duration(doc.DurationMS) * time.Millisecond}
	if doc.Started != "" {
		t, err := time.Parse(time.RFC3339, doc.Started)
		if err != nil {
			return Meta{}, nil, fmt.Errorf("read report: field started: %w", err)
		}
		m.Started = t
	}
	rs := make([]check.Result, 0, len(doc.Checks))
	for i, c := range doc.Checks {
		if c.ID == "" || c.Status == "" {
			return Meta{}, nil, fmt.Errorf("read report: checks[%d]: id and status are required", i)
		}
		rs = append(rs, check.Result{ID: c.ID, Title: c.Title, Area: c.Area, Severity: c.Severity, Status: c.Status,
			Message: c.Message, Evidence: c.Evidence, Remediation: c.Remediation, Host: doc.Host,
			Duration: time.Duration(c.DurationMS * float64(time.Millisecond))})
	}
	return m, rs, nil
}
