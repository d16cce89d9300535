package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/rampart-sec/rampart/internal/check"
)

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiMagent = "\x1b[35m"
)

var statusColor = map[check.Status]string{
	check.Pass: ansiGreen, check.Fail: ansiRed, check.Warn: ansiYellow, check.Unknown: ansiMagent, check.Skip: ansiDim,
}

// maxTextEvidence bounds the evidence lines shown per check in text.
const maxTextEvidence = 8

// Text writes results for people: grouped by area, one line per check,
// failures (and warn/unknown) with their evidence and fix, and one summary
// line.
func Text(w io.Writer, m Meta, rs []check.Result, o Options) error {
	ew := &errWriter{w: w}
	paint := func(code, s string) string {
		if !o.Color {
			return s
		}
		return code + s + ansiReset
	}
	ew.printf("%s: host %s, policy %s", orDefault(m.Tool, "rampart verify"), m.Host, orDefault(m.Policy, "(default)"))
	if m.Release != "" {
		ew.printf(", NixOS %s", m.Release)
	}
	ew.printf("\n")
	areas, groups := byArea(rs)
	for _, a := range areas {
		ew.printf("\n%s\n", paint(ansiBold, a))
		for _, r := range groups[a] {
			label := fmt.Sprintf("%-7s", strings.ToUpper(string(r.Status)))
			ew.printf("  %s %s  %s\n", paint(statusColor[r.Status], label), r.ID, r.Title)
			detail := r.Status != check.Pass && r.Status != check.Skip
			if r.Message != "" && (detail || o.Verbose || r.Status == check.Skip) {
				ew.printf("          %s\n", indent(r.Message, "          "))
			}
			if detail || o.Verbose {
				for i, e := range r.Evidence {
					if i == maxTextEvidence {
						ew.printf("          %s\n", paint(ansiDim, fmt.Sprintf("… %d more evidence items (use --format json)", len(r.Evidence)-i)))
						break
					}
					ew.printf("          %s %s\n", paint(ansiDim, "read:"), e.Source)
					ew.printf("            %s\n", indent(excerpt(e.Text, 6), "            "))
				}
			}
			if r.Status == check.Fail || r.Status == check.Warn {
				if r.Remediation.NixOS != "" {
					ew.printf("          %s %s\n", paint(ansiBold, "fix (NixOS):"), indent(r.Remediation.NixOS, "            "))
				}
				if r.Remediation.Generic != "" {
					ew.printf("          %s %s\n", paint(ansiBold, "fix:"), indent(r.Remediation.Generic, "            "))
				}
			}
		}
	}
	s := check.Summarize(rs)
	ew.printf("\n%s\n", summaryLine(s, m, paint))
	return ew.err
}

func summaryLine(s check.Summary, m Meta, paint func(string, string) string) string {
	parts := []string{
		paint(ansiGreen, fmt.Sprintf("%d pass", s.Pass)),
		paint(ansiRed, fmt.Sprintf("%d fail", s.Fail)),
		paint(ansiYellow, fmt.Sprintf("%d warn", s.Warn)),
		paint(ansiMagent, fmt.Sprintf("%d unknown", s.Unknown)),
		fmt.Sprintf("%d skip", s.Skip),
	}
	line := fmt.Sprintf("%d checks: %s", s.Total, strings.Join(parts, ", "))
	if m.Duration > 0 {
		line += fmt.Sprintf(" in %.2fs", m.Duration.Seconds())
	}
	return line
}

func excerpt(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("… (%d more lines)", len(lines)-n))
	}
	return strings.Join(lines, "\n")
}

func indent(s, pad string) string { return strings.ReplaceAll(sanitize(s), "\n", "\n"+pad) }

// sanitize removes terminal control characters from text that came from
// the host (attacker-writable log lines, config values), so a report
// cannot rewrite the reader's terminal.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
