package report

import (
	"encoding/json"
	"io"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
)

type jsonReport struct {
	Schema     string        `json:"schema"`
	Host       string        `json:"host"`
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
	doc := jsonReport{
		Schema: Schema, Host: m.Host, Policy: m.Policy, Release: m.Release,
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
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
