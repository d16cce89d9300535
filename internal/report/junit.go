package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
)

// JUnitSuites is a JUnit document (testsuites).
type JUnitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []JUnitSuite `xml:"testsuite"`
}

// JUnitSuite is one testsuite.
type JUnitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr,omitempty"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Hostname   string          `xml:"hostname,attr,omitempty"`
	Properties []JUnitProperty `xml:"properties>property,omitempty"`
	Cases      []JUnitCase     `xml:"testcase"`
}

// JUnitProperty is one property of a testsuite.
type JUnitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// JUnitCase is one testcase: one check.
type JUnitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// JUnit writes one testsuite per area and one testcase per check: fail is
// a failure, unknown an error, skip skipped; warn passes with its message
// in system-out.
func JUnit(w io.Writer, m Meta, rs []check.Result) error {
	s := check.Summarize(rs)
	doc := JUnitSuites{Name: orDefault(m.Tool, "rampart verify"), Tests: s.Total, Failures: s.Fail, Errors: s.Unknown,
		Skipped: s.Skip, Time: seconds(m.Duration.Seconds()), Suites: JUnitAreas(m, rs)}
	return WriteXML(w, doc)
}

// JUnitAreas is the testsuites JUnit writes for one host: one per area.
func JUnitAreas(m Meta, rs []check.Result) []JUnitSuite {
	var suites []JUnitSuite
	areas, groups := byArea(rs)
	for _, a := range areas {
		suite := JUnitSuite{Name: a, Hostname: m.Host}
		if !m.Started.IsZero() {
			suite.Timestamp = m.Started.UTC().Format("2006-01-02T15:04:05")
		}
		suite.Properties = []JUnitProperty{{"policy", orDefault(m.Policy, "(default)")}, {"release", m.Release}}
		if m.OS != "" {
			suite.Properties = append(suite.Properties, JUnitProperty{"os", m.OS})
		}
		for _, r := range groups[a] {
			c := JUnitCase{Name: r.ID, Classname: m.Host + "." + a, Time: seconds(r.Duration.Seconds())}
			body := details(r)
			switch r.Status {
			case check.Fail:
				c.Failure = &junitProblem{Message: host.SafeText(r.Message), Type: string(r.Severity), Body: body}
				suite.Failures++
			case check.Unknown:
				c.Error = &junitProblem{Message: host.SafeText(r.Message), Type: "unknown", Body: body}
				suite.Errors++
			case check.Skip:
				c.Skipped = &junitSkipped{Message: host.SafeText(r.Message)}
				suite.Skipped++
			default:
				c.SystemOut = strings.ToUpper(string(r.Status)) + ": " + body
			}
			suite.Tests++
			suite.Cases = append(suite.Cases, c)
		}
		suites = append(suites, suite)
	}
	return suites
}

func seconds(f float64) string { return fmt.Sprintf("%.3f", f) }

// details is a check's title, message, evidence and fix as plain text.
func details(r check.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%s\n", r.Title, r.Message)
	for _, e := range r.Evidence {
		fmt.Fprintf(&b, "read: %s\n  %s\n", e.Source, strings.ReplaceAll(e.Text, "\n", "\n  "))
	}
	if r.Remediation.NixOS != "" {
		fmt.Fprintf(&b, "fix (NixOS): %s\n", r.Remediation.NixOS)
	}
	if r.Remediation.Generic != "" {
		fmt.Fprintf(&b, "fix: %s\n", r.Remediation.Generic)
	}
	return host.SafeText(b.String())
}
