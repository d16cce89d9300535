package fleetverify

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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
	return report.Meta{Tool: tool, Version: h.Version, Host: h.Target.Name, OS: h.OS, Policy: h.Policy, Release: h.Release,
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
	Name             string   `json:"name"`
	Address          string   `json:"address"`
	ReportedHostname string   `json:"reported_hostname"`
	Group            string   `json:"group,omitempty"`
	Labels           []string `json:"labels"`
	Policy           string   `json:"policy"`
	PolicySHA256     string   `json:"policy_sha256"`
	RampartVersion   string   `json:"rampart_version"`
	Release          string   `json:"release"`
	Time             string   `json:"time"`
	DurationMS       int64    `json:"duration_ms"`
	Error            string   `json:"error"`
	Published        string   `json:"published,omitempty"`
	AgeS             *int64   `json:"age_s,omitempty"`
	Stale            bool     `json:"stale,omitempty"`
	Report           any      `json:"report"` // report.Doc
}

// JSON writes the rampart.fleet/v1 document.
//
// It is the indented encoding of docJSON, built in parts: the document
// with no host, then each host at its depth, side by side on every CPU
// (a fleet run renders after its last host, so the encoding is waited
// for; 1,000 hosts are 50 MB of JSON). The bytes are those of encoding
// the whole document at once (TestJSONParts).
func (f *Fleet) JSON(w io.Writer) error {
	doc := f.doc()
	hosts := doc.Hosts
	doc.Hosts = []hostJSON{}
	head, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	// The document ends in its last field: "hosts": []\n}.
	const empty = "[]\n}"
	if !bytes.HasSuffix(head, []byte(empty)) {
		return fmt.Errorf("fleet JSON: the document does not end in its hosts")
	}
	parts := make([][]byte, len(hosts))
	errs := make([]error, len(hosts))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(hosts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(hosts); i = int(next.Add(1) - 1) {
				parts[i], errs[i] = json.MarshalIndent(hosts[i], "    ", "  ")
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	if len(hosts) == 0 {
		bw.Write(head)
	} else {
		bw.Write(head[:len(head)-len(empty)])
		for i, p := range parts {
			if i == 0 {
				bw.WriteString("[\n    ")
			} else {
				bw.WriteString(",\n    ")
			}
			bw.Write(p)
		}
		bw.WriteString("\n  ]\n}")
	}
	bw.WriteString("\n")
	return bw.Flush()
}

// doc is the whole fleet document.
func (f *Fleet) doc() docJSON {
	doc := docJSON{Schema: Schema, Tool: f.tool(), Version: f.Version, Started: f.Started.UTC().Format(time.RFC3339),
		DurationMS: f.Duration.Milliseconds(), Summary: f.Summarize(), Baseline: f.Baseline, Hosts: make([]hostJSON, 0, len(f.Hosts))}
	for _, h := range f.Hosts {
		labels := h.Target.Labels
		if labels == nil {
			labels = []string{}
		}
		doc.Hosts = append(doc.Hosts, hostJSON{Name: h.Target.Name, Address: h.Target.Dest(), ReportedHostname: h.Reported,
			Group: h.Target.Group, Labels: labels, Policy: h.Policy, PolicySHA256: h.PolicyHash, RampartVersion: h.Version,
			Release: h.Release, Time: h.Started.UTC().Format(time.RFC3339), DurationMS: h.Duration.Milliseconds(),
			Error: h.Error, Stale: h.Stale, Report: report.Doc(h.Meta(f.tool()), h.Results)})
		if !h.Published.IsZero() {
			hj := &doc.Hosts[len(doc.Hosts)-1]
			age := int64(h.Age / time.Second)
			hj.Published, hj.AgeS = h.Published.UTC().Format(time.RFC3339Nano), &age
		}
	}
	return doc
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
	runs := make([]report.Run, 0, len(f.Hosts))
	for _, h := range f.Hosts {
		runs = append(runs, report.Run{Meta: h.Meta(f.tool()), Results: h.Results})
	}
	return report.SARIFRuns(w, runs)
}

// JUnit writes one testsuite per host (named after it) holding one
// testcase per check, each exactly as report.JUnit writes it for a single
// host (classname HOST.AREA; fail a failure, unknown an error, skip
// skipped).
func (f *Fleet) JUnit(w io.Writer) error {
	out := report.JUnitSuites{Name: f.tool(), Time: fmt.Sprintf("%.3f", f.Duration.Seconds())}
	for _, h := range f.Hosts {
		s := check.Summarize(h.Results)
		suite := report.JUnitSuite{Name: h.Target.Name, Tests: s.Total, Failures: s.Fail, Errors: s.Unknown, Skipped: s.Skip,
			Time: fmt.Sprintf("%.3f", h.Duration.Seconds()), Hostname: h.Reported}
		if suite.Hostname == "" {
			suite.Hostname = h.Target.Name
		}
		suite.Properties = []report.JUnitProperty{{Name: "address", Value: h.Target.Dest()}, {Name: "policy_sha256", Value: h.PolicyHash},
			{Name: "rampart_version", Value: h.Version}, {Name: "labels", Value: strings.Join(h.Target.Labels, ",")}}
		if h.Error != "" {
			suite.Properties = append(suite.Properties, report.JUnitProperty{Name: "error", Value: h.Error})
		}
		for i, area := range report.JUnitAreas(h.Meta(f.tool()), h.Results) {
			if i == 0 {
				suite.Timestamp = area.Timestamp
				suite.Properties = append(suite.Properties, area.Properties...)
			}
			suite.Cases = append(suite.Cases, area.Cases...)
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
