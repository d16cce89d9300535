package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
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
// line. A message, evidence list or fix already printed for an earlier
// check is not printed again: the later check names the earlier one ("same
// as ID"), so a dozen checks resting on one unreadable source cost a line
// each. With Options.Summary every failing (and warn/unknown) check is one
// line.
func Text(w io.Writer, m Meta, rs []check.Result, o Options) error {
	ew := &ErrWriter{W: w}
	paint := func(code, s string) string {
		if !o.Color {
			return s
		}
		return code + s + ansiReset
	}
	ew.Printf("%s\n", header(m))
	areas, groups := byArea(rs)
	if o.Summary {
		ew.Printf("\n")
		for _, a := range areas {
			for _, r := range groups[a] {
				if r.Status == check.Pass || r.Status == check.Skip {
					continue
				}
				label := fmt.Sprintf("%-7s", strings.ToUpper(string(r.Status)))
				ew.Printf("%s %s  %s\n", paint(statusColor[r.Status], label), r.ID, oneLine(r.Message, maxSummaryMessage))
			}
		}
		ew.Printf("\n%s\n", summaryLine(check.Summarize(rs), m, paint))
		return ew.Err
	}
	sh := newShared()
	for _, a := range areas {
		ew.Printf("\n%s\n", paint(ansiBold, a))
		for _, r := range groups[a] {
			label := fmt.Sprintf("%-7s", strings.ToUpper(string(r.Status)))
			ew.Printf("  %s %s  %s\n", paint(statusColor[r.Status], label), r.ID, r.Title)
			detail := r.Status != check.Pass && r.Status != check.Skip
			var bs blocks
			if r.Message != "" && (detail || o.Verbose || r.Status == check.Skip) {
				if id, ok := sh.seen("message", r.Message, r.ID); ok && r.Status != check.Skip {
					bs.ref("message", id)
				} else {
					bs.line(host.SafeText(r.Message))
				}
			}
			if (detail || o.Verbose) && len(r.Evidence) > 0 {
				if id, ok := sh.seen("evidence", evidenceKey(r.Evidence...), r.ID); ok {
					bs.ref("evidence", id)
				} else {
					for i, e := range r.Evidence {
						if i == maxTextEvidence {
							bs.line(paint(ansiDim, fmt.Sprintf("… %d more evidence items (use --format json)", len(r.Evidence)-i)))
							break
						}
						if id, ok := sh.seen("evidence item", evidenceKey(e), r.ID); ok {
							bs.line(fmt.Sprintf("%s %s %s", paint(ansiDim, "read:"), host.SafeText(e.Source), paint(ansiDim, "(same as "+id+")")))
							continue
						}
						bs.line(fmt.Sprintf("%s %s\n  %s", paint(ansiDim, "read:"), host.SafeText(e.Source), indent(excerpt(e.Text, 6), "  ")))
					}
				}
			}
			if r.Status == check.Fail || r.Status == check.Warn {
				fix := r.Remediation
				if id, ok := sh.seen("fix", fix.NixOS+"\x00"+fix.Generic, r.ID); ok && fix.NixOS != "" && fix.Generic != "" {
					bs.ref("fix", id)
				} else {
					if fix.NixOS != "" {
						if id, ok := sh.seen("fix (NixOS)", fix.NixOS, r.ID); ok {
							bs.ref("fix (NixOS)", id)
						} else {
							bs.line(paint(ansiBold, "fix (NixOS):") + " " + indent(fix.NixOS, "  "))
						}
					}
					if fix.Generic != "" {
						if id, ok := sh.seen("fix", fix.Generic, r.ID); ok {
							bs.ref("fix", id)
						} else {
							bs.line(paint(ansiBold, "fix:") + " " + indent(fix.Generic, "  "))
						}
					}
				}
			}
			for _, l := range bs.render() {
				ew.Printf("%s%s\n", pad, strings.ReplaceAll(l, "\n", "\n"+pad))
			}
		}
	}
	s := check.Summarize(rs)
	ew.Printf("\n%s\n", summaryLine(s, m, paint))
	return ew.Err
}

// pad indents a check's details under its status line.
const pad = "          "

// maxSummaryMessage bounds the message shown per check by --summary.
const maxSummaryMessage = 120

// header is the first line: which host (and its OS) was checked, under
// which policy, and which NixOS release the fixes are written for.
func header(m Meta) string {
	h := fmt.Sprintf("%s: host %s", orDefault(m.Tool, "rampart verify"), host.SafeText(m.Host))
	if m.OS != "" {
		h += " (" + host.SafeText(m.OS) + ")"
	}
	h += ", policy " + host.SafeText(orDefault(m.Policy, "(default)"))
	if m.Release != "" {
		h += ", fixes for NixOS " + m.Release
	}
	return h
}

// shared remembers which check first printed each message, evidence list
// or fix, so that later checks can refer to it.
type shared map[string]string

func newShared() shared { return shared{} }

// seen records key under kind for id and reports the ID that printed it
// first, if another check did.
func (s shared) seen(kind, key, id string) (string, bool) {
	k := kind + "\x00" + key
	if first, ok := s[k]; ok && first != id {
		return first, true
	}
	s[k] = id
	return "", false
}

func evidenceKey(es ...check.Evidence) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString(e.Source + "\x00" + e.Text + "\x00")
	}
	return b.String()
}

// blocks are a check's detail lines: literal text, or a reference to the
// check that printed the same part before. Adjacent references to one
// check become one line ("message and evidence: same as ID").
type blocks []block

type block struct {
	text     string
	part, id string // a reference when id != ""
}

func (bs *blocks) line(s string) { *bs = append(*bs, block{text: s}) }

func (bs *blocks) ref(part, id string) {
	if n := len(*bs); n > 0 && (*bs)[n-1].id == id {
		(*bs)[n-1].part += "\x00" + part
		return
	}
	*bs = append(*bs, block{part: part, id: id})
}

func (bs blocks) render() []string {
	var out []string
	for _, b := range bs {
		if b.id == "" {
			out = append(out, b.text)
			continue
		}
		parts := strings.Split(b.part, "\x00")
		names := parts[0]
		if n := len(parts); n > 1 {
			names = strings.Join(parts[:n-1], ", ") + " and " + parts[n-1]
		}
		out = append(out, names+": same as "+b.id)
	}
	return out
}

// oneLine is s on one line, cut to at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(host.SafeText(s)), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
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

func indent(s, pad string) string { return strings.ReplaceAll(host.SafeText(s), "\n", "\n"+pad) }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// ErrWriter keeps the first write error and writes nothing after it, so a
// renderer checks for an error once, at the end.
type ErrWriter struct {
	W   io.Writer
	Err error
}

func (e *ErrWriter) Write(p []byte) (int, error) {
	if e.Err != nil {
		return 0, e.Err
	}
	n, err := e.W.Write(p)
	e.Err = err
	return n, err
}

// Printf writes a formatted line unless an earlier write failed.
func (e *ErrWriter) Printf(format string, args ...any) {
	if e.Err == nil {
		_, e.Err = fmt.Fprintf(e.W, format, args...)
	}
}
