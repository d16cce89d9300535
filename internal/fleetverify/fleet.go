package fleetverify

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/report"
)

// Schema is the fleet JSON schema identifier.
const Schema = "rampart.fleet/v1"

// Fleet is one fleet run (or several reports merged) ready to render.
type Fleet struct {
	Tool     string
	Version  string
	Started  time.Time
	Duration time.Duration
	Hosts    []*HostRun
	// Baseline is set by Compare.
	Baseline *Baseline
}

// Summary counts hosts and checks.
type Summary struct {
	Hosts           int           `json:"hosts"`
	HostsPassing    int           `json:"hosts_passing"`
	HostsFailing    int           `json:"hosts_failing"`
	HostsUnverified int           `json:"hosts_unverified"`
	Checks          check.Summary `json:"checks"`
}

// Summarize counts f's hosts: failing has a failed check, unverified could
// not be reached (or had no check evaluated), passing is the rest.
func (f *Fleet) Summarize() Summary {
	var s Summary
	for _, h := range f.Hosts {
		s.Hosts++
		sum := check.Summarize(h.Results)
		s.Checks.Total += sum.Total
		s.Checks.Pass += sum.Pass
		s.Checks.Fail += sum.Fail
		s.Checks.Warn += sum.Warn
		s.Checks.Unknown += sum.Unknown
		s.Checks.Skip += sum.Skip
		switch {
		case sum.Fail > 0:
			s.HostsFailing++
		case h.Error != "" || sum.Pass+sum.Warn == 0:
			s.HostsUnverified++
		default:
			s.HostsPassing++
		}
	}
	return s
}

// Meta is the report.Meta of one host's run.
func (h *HostRun) Meta(tool string) report.Meta {
	return report.Meta{Tool: tool, Version: h.Version, Host: h.Target.Name, Policy: h.Policy, Release: h.Release,
		Started: h.Started, Duration: h.Duration}
}

type docJSON struct {
	Schema     string     `json:"schema"`
	Tool       string     `json:"tool"`
	Version    string     `json:"version"`
	Started    string     `json:"started"`
	DurationMS int64      `json:"duration_ms"`
	Summary    Summary    `json:"summary"`
	Baseline   *Baseline  `json:"baseline,omitempty"`
	Hosts      []hostJSON `json:"hosts"`
}

type hostJSON struct {
	Name             string          `json:"name"`
	Address          string          `json:"address"`
	ReportedHostname string          `json:"reported_hostname"`
	Group            string          `json:"group,omitempty"`
	Labels           []string        `json:"labels"`
	Policy           string          `json:"policy"`
	PolicySHA256     string          `json:"policy_sha256"`
	RampartVersion   string          `json:"rampart_version"`
	Release          string          `json:"release"`
	Time             string          `json:"time"`
	DurationMS       int64           `json:"duration_ms"`
	Error            string          `json:"error"`
	Published        string          `json:"published,omitempty"`
	AgeS             *int64          `json:"age_s,omitempty"`
	Stale            bool            `json:"stale,omitempty"`
	Report           json.RawMessage `json:"report"`
}

// JSON writes the rampart.fleet/v1 document.
func (f *Fleet) JSON(w io.Writer) error {
	doc := docJSON{Schema: Schema, Tool: f.tool(), Version: f.Version, Started: f.Started.UTC().Format(time.RFC3339),
		DurationMS: f.Duration.Milliseconds(), Summary: f.Summarize(), Baseline: f.Baseline, Hosts: []hostJSON{}}
	for _, h := range f.Hosts {
		var buf bytes.Buffer
		if err := report.JSON(&buf, h.Meta(f.tool()), h.Results); err != nil {
			return err
		}
		labels := h.Target.Labels
		if labels == nil {
			labels = []string{}
		}
		doc.Hosts = append(doc.Hosts, hostJSON{Name: h.Target.Name, Address: h.Target.Dest(), ReportedHostname: h.Reported,
			Group: h.Target.Group, Labels: labels, Policy: h.Policy, PolicySHA256: h.PolicyHash, RampartVersion: h.Version,
			Release: h.Release, Time: h.Started.UTC().Format(time.RFC3339), DurationMS: h.Duration.Milliseconds(),
			Error: h.Error, Stale: h.Stale, Report: json.RawMessage(bytes.TrimSpace(buf.Bytes()))})
		if !h.Published.IsZero() {
			hj := &doc.Hosts[len(doc.Hosts)-1]
			age := int64(h.Age / time.Second)
			hj.Published, hj.AgeS = h.Published.UTC().Format(time.RFC3339Nano), &age
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func (f *Fleet) tool() string {
	if f.Tool == "" {
		return "rampart verify"
	}
	return f.Tool
}

// SARIF writes one SARIF 2.1.0 log with one run per host (each run is what
// report.SARIF writes for that host alone).
func (f *Fleet) SARIF(w io.Writer) error {
	type sarifLog struct {
		Schema  string            `json:"$schema"`
		Version string            `json:"version"`
		Runs    []json.RawMessage `json:"runs"`
	}
	log := sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []json.RawMessage{}}
	for _, h := range f.Hosts {
		var buf bytes.Buffer
		if err := report.SARIF(&buf, h.Meta(f.tool()), h.Results); err != nil {
			return err
		}
		var one sarifLog
		if err := json.Unmarshal(buf.Bytes(), &one); err != nil {
			return fmt.Errorf("sarif for %s: %w", h.Target.Name, err)
		}
		log.Schema, log.Version = one.Schema, one.Version
		log.Runs = append(log.Runs, one.Runs...)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

type junitIn struct {
	Suites []struct {
		Timestamp  string `xml:"timestamp,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Inner     string `xml:",innerxml"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

type junitCaseOut struct {
	Name      string `xml:"name,attr"`
	Classname string `xml:"classname,attr"`
	Time      string `xml:"time,attr"`
	Inner     string `xml:",innerxml"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitSuiteOut struct {
	Name       string         `xml:"name,attr"`
	Tests      int            `xml:"tests,attr"`
	Failures   int            `xml:"failures,attr"`
	Errors     int            `xml:"errors,attr"`
	Skipped    int            `xml:"skipped,attr"`
	Time       string         `xml:"time,attr"`
	Timestamp  string         `xml:"timestamp,attr,omitempty"`
	Hostname   string         `xml:"hostname,attr"`
	Properties []junitProp    `xml:"properties>property"`
	Cases      []junitCaseOut `xml:"testcase"`
}

// JUnit writes one testsuite per host (named after it) holding one
// testcase per check, each exactly as report.JUnit writes it for a single
// host (classname HOST.AREA; fail a failure, unknown an error, skip
// skipped).
func (f *Fleet) JUnit(w io.Writer) error {
	var out struct {
		XMLName  xml.Name        `xml:"testsuites"`
		Name     string          `xml:"name,attr"`
		Tests    int             `xml:"tests,attr"`
		Failures int             `xml:"failures,attr"`
		Errors   int             `xml:"errors,attr"`
		Skipped  int             `xml:"skipped,attr"`
		Time     string          `xml:"time,attr"`
		Suites   []junitSuiteOut `xml:"testsuite"`
	}
	out.Name = f.tool()
	out.Time = fmt.Sprintf("%.3f", f.Duration.Seconds())
	for _, h := range f.Hosts {
		var buf bytes.Buffer
		if err := report.JUnit(&buf, h.Meta(f.tool()), h.Results); err != nil {
			return err
		}
		var in junitIn
		if err := xml.Unmarshal(buf.Bytes(), &in); err != nil {
			return fmt.Errorf("junit for %s: %w", h.Target.Name, err)
		}
		s := check.Summarize(h.Results)
		suite := junitSuiteOut{Name: h.Target.Name, Tests: s.Total, Failures: s.Fail, Errors: s.Unknown, Skipped: s.Skip,
			Time: fmt.Sprintf("%.3f", h.Duration.Seconds()), Hostname: h.Reported}
		if suite.Hostname == "" {
			suite.Hostname = h.Target.Name
		}
		suite.Properties = []junitProp{{"address", h.Target.Dest()}, {"policy_sha256", h.PolicyHash},
			{"rampart_version", h.Version}, {"labels", strings.Join(h.Target.Labels, ",")}}
		if h.Error != "" {
			suite.Properties = append(suite.Properties, junitProp{"error", h.Error})
		}
		for i, in := range in.Suites {
			if i == 0 {
				suite.Timestamp = in.Timestamp
				for _, p := range in.Properties {
					suite.Properties = append(suite.Properties, junitProp(p))
				}
			}
			for _, c := range in.Cases {
				suite.Cases = append(suite.Cases, junitCaseOut(c))
			}
		}
		out.Tests += s.Total
		out.Failures += s.Fail
		out.Errors += s.Unknown
		out.Skipped += s.Skip
		out.Suites = append(out.Suites, suite)
	}
	return report.WriteXML(w, out)
}

// byCheck groups the results of every host by check ID (sorted), keeping
// host order within a check.
func (f *Fleet) byCheck(keep func(check.Result) bool) ([]string, map[string][]hostResult) {
	m := map[string][]hostResult{}
	for _, h := range f.Hosts {
		for _, r := range h.Results {
			if keep(r) {
				m[r.ID] = append(m[r.ID], hostResult{h, r})
			}
		}
	}
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, m
}

type hostResult struct {
	h *HostRun
	r check.Result
}
