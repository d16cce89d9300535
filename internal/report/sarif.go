package report

import (
	"encoding/json"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
)

// SARIF 2.1.0 (OASIS), the subset code-scanning services read.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
	Properties  map[string]string `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	Help                 *sarifText     `json:"help,omitempty"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           sarifRuleProps `json:"properties"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifRuleProps struct {
	Tags             []string `json:"tags"`
	SecuritySeverity string   `json:"security-severity"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool   `json:"executionSuccessful"`
	StartTimeUTC        string `json:"startTimeUtc,omitempty"`
	EndTimeUTC          string `json:"endTimeUtc,omitempty"`
}

type sarifResult struct {
	RuleID     string           `json:"ruleId"`
	RuleIndex  int              `json:"ruleIndex"`
	Kind       string           `json:"kind"`
	Level      string           `json:"level"`
	Message    sarifText        `json:"message"`
	Locations  []sarifLocation  `json:"locations"`
	Properties sarifResultProps `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations"`
}

// sarifPhysical points at the policy file, the artifact a fix changes
// (code-scanning services only show results that have one).
type sarifPhysical struct {
	ArtifactLocation struct {
		URI string `json:"uri"`
	} `json:"artifactLocation"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

type sarifResultProps struct {
	Status   check.Status     `json:"status"`
	Evidence []check.Evidence `json:"evidence"`
}

// severityScore maps severities to GitHub's security-severity scale.
var severityScore = map[check.Severity]string{
	check.Critical: "9.5", check.High: "8.0", check.Medium: "5.5", check.Low: "3.0", check.Info: "0.0",
}

func severityLevel(s check.Severity) string {
	switch s {
	case check.Critical, check.High:
		return "error"
	case check.Medium, check.Low:
		return "warning"
	}
	return "note"
}

// SARIF writes a SARIF 2.1.0 log: one rule per check, one result per
// check with kind fail/pass/open(unknown)/notApplicable(skip), located
// at the host as a logical location and at the policy file (when one was
// given) as the physical one.
func SARIF(w io.Writer, m Meta, rs []check.Result) error {
	return SARIFRuns(w, []Run{{Meta: m, Results: rs}})
}

// Run is one host's results with their Meta.
type Run struct {
	Meta    Meta
	Results []check.Result
}

// SARIFRuns writes one SARIF log with a run per host, each the run SARIF
// writes for that host alone (a fleet).
func SARIFRuns(w io.Writer, runs []Run) error {
	doc := sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: make([]sarifRun, 0, len(runs))}
	for _, r := range runs {
		doc.Runs = append(doc.Runs, sarifRunOf(r.Meta, r.Results))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func sarifRunOf(m Meta, rs []check.Result) sarifRun {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{Name: "rampart", Version: m.Version,
			InformationURI: "https://github.com/rampart-sec/rampart"}},
		Results: []sarifResult{},
	}
	inv := sarifInvocation{ExecutionSuccessful: true}
	if !m.Started.IsZero() {
		inv.StartTimeUTC = m.Started.UTC().Format(time.RFC3339)
		inv.EndTimeUTC = m.Started.Add(m.Duration).UTC().Format(time.RFC3339)
	}
	run.Invocations = []sarifInvocation{inv}
	run.Properties = map[string]string{"host": m.Host, "policy": m.Policy, "release": m.Release}
	if m.OS != "" {
		run.Properties["os"] = m.OS
	}
	var phys *sarifPhysical
	if m.Policy != "" && !strings.HasPrefix(m.Policy, "(") {
		phys = &sarifPhysical{}
		phys.ArtifactLocation.URI = (&url.URL{Path: filepath.ToSlash(m.Policy)}).String()
	}
	index := map[string]int{}
	for _, r := range rs {
		if _, ok := index[r.ID]; !ok {
			index[r.ID] = len(run.Tool.Driver.Rules)
			rule := sarifRule{ID: r.ID, Name: r.ID, ShortDescription: sarifText{r.Title},
				DefaultConfiguration: sarifConfig{severityLevel(r.Severity)},
				Properties:           sarifRuleProps{Tags: []string{"security", r.Area}, SecuritySeverity: severityScore[r.Severity]}}
			if r.Remediation.NixOS != "" || r.Remediation.Generic != "" {
				rule.Help = &sarifText{fixText(r.Remediation)}
			}
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, rule)
		}
		kind, level := "pass", "none"
		switch r.Status {
		case check.Fail:
			kind, level = "fail", severityLevel(r.Severity)
		case check.Warn:
			kind, level = "fail", "warning"
		case check.Unknown:
			kind = "open"
		case check.Skip:
			kind = "notApplicable"
		}
		ev := r.Evidence
		if ev == nil {
			ev = []check.Evidence{}
		}
		msg := host.SafeText(r.Message)
		if msg == "" {
			msg = r.Title
		}
		run.Results = append(run.Results, sarifResult{RuleID: r.ID, RuleIndex: index[r.ID], Kind: kind, Level: level,
			Message:    sarifText{msg},
			Locations:  []sarifLocation{{PhysicalLocation: phys, LogicalLocations: []sarifLogical{{Name: r.ID, FullyQualifiedName: m.Host + "/" + r.ID, Kind: "resource"}}}},
			Properties: sarifResultProps{Status: r.Status, Evidence: ev}})
	}
	return run
}

func fixText(r check.Remediation) string {
	s := ""
	if r.NixOS != "" {
		s = "NixOS: " + r.NixOS
	}
	if r.Generic != "" {
		if s != "" {
			s += "\n"
		}
		s += "Any Linux: " + r.Generic
	}
	return s
}
