package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/report"
)

// DefaultLog is auditd's default log file.
const DefaultLog = "/var/log/audit/audit.log"

// ReportOptions select what Build reads and keeps.
type ReportOptions struct {
	// Files are read in order (oldest first). Empty means DefaultLog and
	// its rotations (LogFiles).
	Files []string
	// Since drops events before it (zero keeps all).
	Since time.Time
	// Keys keeps only events with one of these keys (empty keeps all keyed events).
	Keys []string
	// MaxEvents bounds the events kept (0 means 100000); the counts stay exact.
	MaxEvents int
}

// ReportSchema names the JSON layout of Report.
const ReportSchema = "rampart.audit.report/v1"

// Report is the per-key summary of audit events.
type Report struct {
	Schema string     `json:"schema"`
	Files  []string   `json:"files"`
	Since  *time.Time `json:"since,omitempty"`
	// Records and Events count everything read after the Since filter.
	Records int `json:"records"`
	Events  int `json:"events"`
	// Unkeyed counts events no keyed rule produced (logins, daemon
	// messages …); they are not listed.
	Unkeyed int `json:"unkeyed"`
	// Failed counts the keyed events whose system call failed, each once
	// (an event of two keys is in both keys' Failed).
	Failed    int          `json:"failed"`
	Keys      []*KeyReport `json:"keys"`
	Notes     []Note       `json:"notes"`
	Truncated bool         `json:"truncated,omitempty"`
}

// NotesShown is how many skipped lines a report shown to a person lists
// (text and page); the JSON report has them all.
const NotesShown = 20

// KeyReport is every event of one key.
type KeyReport struct {
	Key   string    `json:"key"`
	Count int       `json:"count"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// Who counts events per login user ("alice", "unset"), Failed the
	// system calls that failed (denied attempts stand out).
	Who    map[string]int `json:"who"`
	Failed int            `json:"failed"`
	Events []*Event       `json:"events"`
}

// topWho is "alice 3, root 2, unset 1": most events first, at most five.
func (kr *KeyReport) topWho() string {
	type nc struct {
		n string
		c int
	}
	var l []nc
	for n, c := range kr.Who {
		l = append(l, nc{n, c})
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].c != l[j].c {
			return l[i].c > l[j].c
		}
		return l[i].n < l[j].n
	})
	var parts []string
	for i, x := range l {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("%d more", len(l)-5))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", Safe(x.n), x.c))
	}
	return strings.Join(parts, ", ")
}

// LogFiles returns base and its rotations (base.1, base.2 …), oldest
// first: auditd renames base to base.1 and shifts the others up, so the
// highest number is the oldest.
func LogFiles(ctx context.Context, h host.Host, base string) ([]string, error) {
	matches, err := h.Glob(ctx, base+".*")
	if err != nil {
		return nil, fmt.Errorf("list rotated logs of %s: %w", base, err)
	}
	type rot struct {
		n    int
		name string
	}
	var rots []rot
	for _, m := range matches {
		n, err := strconv.Atoi(strings.TrimPrefix(m, base+"."))
		if err == nil && n > 0 {
			rots = append(rots, rot{n, m})
		}
	}
	sort.Slice(rots, func(i, j int) bool { return rots[i].n > rots[j].n })
	out := make([]string, 0, len(rots)+1)
	for _, r := range rots {
		out = append(out, r.name)
	}
	return append(out, base), nil
}

// Users maps uid numbers to names, from /etc/passwd.
type Users map[string]string

// ReadUsers reads /etc/passwd through h; a missing or unreadable file
// gives an empty map (names then show as numbers).
func ReadUsers(ctx context.Context, h host.Host) Users {
	b, err := h.ReadFile(ctx, "/etc/passwd")
	if err != nil {
		return Users{}
	}
	return ParsePasswd(b)
}

// ParsePasswd parses passwd(5) lines; malformed ones are skipped.
func ParsePasswd(b []byte) Users {
	u := Users{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 || f[0] == "" {
			continue
		}
		if _, err := strconv.ParseUint(f[2], 10, 32); err != nil {
			continue
		}
		if _, dup := u[f[2]]; !dup {
			u[f[2]] = f[0]
		}
	}
	return u
}

func (u Users) name(id, enriched string) string {
	switch {
	case id == "":
		return ""
	case id == unsetID || id == "-1":
		return "unset"
	case enriched != "" && enriched != "unset":
		return enriched
	case u[id] != "":
		return u[id]
	}
	return id
}

// Build reads the files through h and summarises their events per key.
// A file that is missing is an error unless other files were read (a
// rotation may vanish while we list).
func Build(ctx context.Context, h host.Host, opt ReportOptions, users Users) (*Report, error) {
	files := opt.Files
	if len(files) == 0 {
		var err error
		if files, err = LogFiles(ctx, h, DefaultLog); err != nil {
			return nil, err
		}
	}
	max := opt.MaxEvents
	if max <= 0 {
		max = 100000
	}
	rep := &Report{Schema: ReportSchema, Files: []string{}, Keys: []*KeyReport{}, Notes: []Note{}}
	if !opt.Since.IsZero() {
		s := opt.Since
		rep.Since = &s
	}
	byKey := map[string]*KeyReport{}
	kept := 0
	asm := newAssembler(256, func(e *Event) {
		if !opt.Since.IsZero() && e.Time.Before(opt.Since) {
			return
		}
		rep.Events++
		if len(e.Keys) == 0 {
			rep.Unkeyed++
			return
		}
		e.AUIDName = users.name(e.AUID, e.eAUID)
		e.UIDName = users.name(e.UID, e.eUID)
		counted := false
		for _, k := range e.Keys {
			if len(opt.Keys) > 0 && !contains(opt.Keys, k) {
				continue
			}
			kr := byKey[k]
			if kr == nil {
				kr = &KeyReport{Key: k, First: e.Time, Last: e.Time, Who: map[string]int{}}
				byKey[k] = kr
			}
			kr.Count++
			who := e.AUIDName
			if who == "" {
				who = "-"
			}
			if len(kr.Who) < 1000 || kr.Who[who] > 0 {
				kr.Who[who]++
			}
			if e.Success == "no" {
				kr.Failed++
				if !counted {
					rep.Failed++
					counted = true
				}
			}
			if e.Time.Before(kr.First) {
				kr.First = e.Time
			}
			if e.Time.After(kr.Last) {
				kr.Last = e.Time
			}
			if kept >= max {
				rep.Truncated = true
				continue
			}
			kept++
			kr.Events = append(kr.Events, e)
		}
	})
	var readErrs []error
	for _, f := range files {
		rc, err := host.OpenFile(ctx, h, f)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && len(files) > 1 && f != files[len(files)-1] {
				continue
			}
			readErrs = append(readErrs, fmt.Errorf("read %s: %w", f, err))
			continue
		}
		rep.Files = append(rep.Files, f)
		notes, err := ScanLog(f, rc, func(r Record, line int) {
			rep.Records++
			asm.add(&r, f, line)
		})
		rc.Close()
		if err != nil {
			readErrs = append(readErrs, fmt.Errorf("read %s: %w", f, err))
		}
		rep.Notes = append(rep.Notes, notes...)
	}
	asm.flush()
	if len(rep.Files) == 0 {
		return nil, errors.Join(readErrs...)
	}
	for _, kr := range byKey {
		sort.SliceStable(kr.Events, func(i, j int) bool {
			a, b := kr.Events[i], kr.Events[j]
			if !a.Time.Equal(b.Time) {
				return a.Time.Before(b.Time)
			}
			return a.Serial < b.Serial
		})
		rep.Keys = append(rep.Keys, kr)
	}
	sort.Slice(rep.Keys, func(i, j int) bool { return rep.Keys[i].Key < rep.Keys[j].Key })
	return rep, errors.Join(readErrs...)
}

// ParseSince turns --since into a time: "today" and "yesterday" (local
// midnight), ausearch's recent (10 minutes), this-hour, week-ago,
// this-month and this-year, a duration back from now ("2h", "30m", "7d"), a Unix time
// ("@1795593791"), or a timestamp ("2026-11-25", "2026-11-25 08:00",
// "2026-11-25 08:00:00", RFC 3339).
func ParseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	switch s {
	case "":
		return time.Time{}, nil
	case "today":
		return midnight, nil
	case "yesterday":
		return midnight.AddDate(0, 0, -1), nil
	// ausearch's other keywords, where they are not locale-dependent.
	case "recent":
		return now.Add(-10 * time.Minute), nil
	case "this-hour":
		return time.Date(now.Year(), now.Month(), now.Day(), now.Hour(), 0, 0, 0, now.Location()), nil
	case "week-ago":
		return midnight.AddDate(0, 0, -7), nil
	case "this-month":
		return midnight.AddDate(0, 0, 1-now.Day()), nil
	case "this-year":
		return time.Date(now.Year(), 1, 1, 0, 0, 0, 0, now.Location()), nil
	}
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		n, err := strconv.ParseInt(rest, 10, 64)
		if err == nil {
			return time.Unix(n, 0), nil
		}
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, now.Location()); err == nil {
			return t, nil
		}
	}
	if s[0] >= '0' && s[0] <= '9' {
		if d, err := policy.ParseDuration(s); err == nil {
			return now.Add(-d.D), nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: expected today, yesterday, recent, this-hour, week-ago, this-month, this-year, a duration such as 2h or 7d, @UNIXTIME, or a time such as \"2026-11-25 08:00:00\"", s)
}

// Safe returns s ready to print on a terminal: unchanged when it is plain
// printable text without spaces or quotes, otherwise Go-quoted so that
// newlines, escape sequences, bidi controls and invalid UTF-8 show as
// escapes and cannot forge table rows or colour the terminal.
func Safe(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r == utf8.RuneError || r == ' ' || r == '"' || r == '\'' || r == '\\' || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	return s
}

// SafeLine escapes what Safe would (control characters, bidi controls,
// invalid UTF-8) but leaves spaces and quotes, for messages that are
// sentences rather than single values.
func SafeLine(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case r == ' ' || unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes a compact table per key, times in loc.
func (r *Report) WriteText(w io.Writer, loc *time.Location) error {
	ew := &report.ErrWriter{W: w}
	since := "the beginning of the log"
	if r.Since != nil {
		since = r.Since.In(loc).Format("2006-01-02 15:04:05")
	}
	fmt.Fprintf(ew, "audit events since %s: %d events from %d records in %d file(s); %d without a key\n", since, r.Events, r.Records, len(r.Files), r.Unkeyed)
	if len(r.Keys) == 0 {
		fmt.Fprintln(ew, "no keyed events (are the watches loaded? see 'rampart audit diff')")
	}
	for _, kr := range r.Keys {
		fmt.Fprintf(ew, "\nkey %s: %d event(s), %s .. %s; by login user: %s; %d failed\n", Safe(kr.Key), kr.Count,
			kr.First.In(loc).Format("2006-01-02 15:04:05"), kr.Last.In(loc).Format("2006-01-02 15:04:05"), kr.topWho(), kr.Failed)
		tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TIME\tWHO (AUID/UID)\tWHAT\tRESULT\tPROGRAM\tPATH")
		for _, e := range kr.Events {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n",
				e.Time.In(loc).Format("2006-01-02 15:04:05"), e.who(), e.what(), e.result(), e.program(), e.pathText())
		}
		tw.Flush()
		if len(kr.Events) < kr.Count {
			fmt.Fprintf(ew, "  … %d more not listed (output bounded)\n", kr.Count-len(kr.Events))
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(ew, "\nnotes (%d line(s) skipped):\n", len(r.Notes))
		for i, n := range r.Notes {
			if i == NotesShown {
				fmt.Fprintf(ew, "  … and %d more\n", len(r.Notes)-NotesShown)
				break
			}
			fmt.Fprintf(ew, "  %s\n", SafeLine(n.String()))
		}
	}
	return ew.Err
}

func (e *Event) who() string {
	a, u := e.AUIDName, e.UIDName
	if a == "" {
		a = "-"
	}
	if u == "" {
		return Safe(a)
	}
	return Safe(a) + "/" + Safe(u)
}

func (e *Event) what() string {
	switch {
	case e.Kind == "config" && e.Op != "":
		return Safe(e.Op)
	case e.Syscall != "":
		return Safe(e.Syscall)
	case e.Op != "":
		return Safe(e.Op)
	case len(e.Types) > 0:
		return Safe(e.Types[0])
	}
	return "-"
}

func (e *Event) result() string {
	if e.Kind == "config" {
		switch e.Res {
		case "1", "success":
			return "ok"
		case "":
			return "-"
		}
		return "failed(res=" + Safe(e.Res) + ")"
	}
	switch {
	case e.Success == "yes":
		return "ok"
	case e.Success == "no":
		if e.Exit != "" {
			return "failed(" + Safe(e.Exit) + ")"
		}
		return "failed"
	case e.Res == "1" || e.Res == "success":
		return "ok"
	case e.Res != "":
		return "res=" + Safe(e.Res)
	}
	return "-"
}

func (e *Event) program() string {
	switch {
	case e.Comm != "" && e.Exe != "":
		return Safe(e.Comm) + " " + Safe(e.Exe)
	case e.Exe != "":
		return Safe(e.Exe)
	case e.Comm != "":
		return Safe(e.Comm)
	}
	return "-"
}

type target struct{ name, kind string }

// targets are the paths an event touched: the non-PARENT PATH items,
// made absolute with the event's cwd; PARENT items only when nothing else.
func (e *Event) targets() []target {
	var out, parents []target
	for _, p := range e.Paths {
		n := p.Name
		if n == "" {
			continue
		}
		if !strings.HasPrefix(n, "/") && e.Cwd != "" {
			n = path.Join(e.Cwd, n)
		}
		switch p.NameType {
		case "PARENT":
			parents = append(parents, target{n, ""})
		case "", "NORMAL":
			out = append(out, target{n, ""})
		default:
			out = append(out, target{n, strings.ToLower(p.NameType)})
		}
	}
	if len(out) == 0 {
		return parents
	}
	return out
}

// Targets lists the paths an event touched (see targets), with the kind
// of change appended for created and deleted names: "/etc/x (create)".
func (e *Event) Targets() []string {
	var out []string
	for _, t := range e.targets() {
		if t.kind != "" {
			out = append(out, t.name+" ("+t.kind+")")
		} else {
			out = append(out, t.name)
		}
	}
	return out
}

func (e *Event) pathText() string {
	t := e.targets()
	if len(t) == 0 {
		return "-"
	}
	parts := make([]string, len(t))
	for i, p := range t {
		parts[i] = Safe(p.name)
		if p.kind != "" {
			parts[i] += " (" + Safe(p.kind) + ")"
		}
	}
	return strings.Join(parts, ", ")
}
