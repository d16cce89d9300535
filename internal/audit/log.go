package audit

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Record is one audit.log line:
//
//	[node=N ]type=T msg=audit(SEC.MSEC:SERIAL): name=value …[\x1dNAME=value …]
//
// The part after the \x1d (auditd's ENRICHED format) holds resolved
// values such as SYSCALL=openat or AUID="alice"; it is kept in Enriched
// (look values up with Resolved).
type Record struct {
	Type   string    `json:"type"`
	Node   string    `json:"node,omitempty"`
	Time   time.Time `json:"time"`
	Serial uint64    `json:"serial"`
	// ID is "SEC.MSEC:SERIAL": every record of one event shares it.
	ID       string `json:"id"`
	Fields   []KV   `json:"fields"`
	Enriched []KV   `json:"enriched,omitempty"`
}

// Resolved returns the first enriched field called name ("AUID").
func (r *Record) Resolved(name string) string {
	for _, f := range r.Enriched {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// KV is one field with its value decoded (hex undone, quotes removed).
type KV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Null is set for the literal (null) (e.g. key=(null)).
	Null bool `json:"null,omitempty"`
}

// Get returns the first field called name.
func (r *Record) Get(name string) (string, bool) {
	for _, f := range r.Fields {
		if f.Name == name && !f.Null {
			return f.Value, true
		}
	}
	return "", false
}

// Limits that keep a hostile log from costing unbounded memory or time.
const (
	// MaxLine is the longest line parsed; the kernel's records are at
	// most about 9 KiB (MAX_AUDIT_MESSAGE_LENGTH 8970).
	MaxLine = 64 << 10
	// maxFields bounds the fields kept per record.
	maxFields = 512
)

// isHexField reports whether a field may hold an "untrusted string":
// auditd writes it quoted when it is plain, and as upper-case hex when it
// contains a space, a quote, a control character or a byte above 0x7e.
func isHexField(name string) bool {
	switch name {
	case "name", "comm", "exe", "cwd", "path", "proctitle", "key", "data", "cmd", "acct",
		"dir", "file", "watch", "new", "old", "root_dir", "ocomm", "vm":
		return true
	}
	// EXECVE arguments: a0, a1 … and a0[0] … for long ones.
	return len(name) >= 2 && name[0] == 'a' && name[1] >= '0' && name[1] <= '9'
}

// ParseRecord parses one line (without its newline). Errors are
// *PosError with Col set; the caller fills Name and Line.
func ParseRecord(line []byte) (Record, error) {
	return parseRecord(string(line))
}

// parseRecord is ParseRecord on a string; the record's values are
// substrings of s.
func parseRecord(s string) (Record, error) { return parseRecordInto(s, nil, nil) }

// parseRecordInto is parseRecord with the field slices' storage given:
// Fields and Enriched are appended to fields[:0] and enriched[:0].
func parseRecordInto(s string, fields, enriched []KV) (Record, error) {
	var r Record
	bad := func(col int, format string, args ...any) (Record, error) {
		return Record{}, &PosError{Col: col + 1, Msg: fmt.Sprintf(format, args...)}
	}
	if len(s) > MaxLine {
		return bad(MaxLine, "line longer than %d bytes", MaxLine)
	}
	pos := 0
	if strings.HasPrefix(s, "node=") {
		end := strings.IndexByte(s, ' ')
		if end < 0 {
			return bad(len(s), "expected \" type=\" after node=")
		}
		r.Node = s[5:end]
		pos = end + 1
	}
	if !strings.HasPrefix(s[pos:], "type=") {
		return bad(pos, "expected \"type=\" (an audit.log record starts with type=TYPE msg=audit(…))")
	}
	pos += 5
	end := strings.IndexByte(s[pos:], ' ')
	if end <= 0 {
		return bad(pos, "expected a record type and \" msg=audit(\"")
	}
	r.Type = s[pos : pos+end]
	if !validType(r.Type) {
		return bad(pos, "invalid record type %q: expected upper-case letters, digits and _", r.Type)
	}
	pos += end + 1
	const pre = "msg=audit("
	if !strings.HasPrefix(s[pos:], pre) {
		return bad(pos, "expected %q", pre)
	}
	pos += len(pre)
	close := strings.IndexByte(s[pos:], ')')
	if close < 0 {
		return bad(pos, "expected SECONDS.MILLIS:SERIAL) after msg=audit(")
	}
	stamp := s[pos : pos+close]
	t, serial, err := parseStamp(stamp)
	if err != nil {
		return bad(pos, "%v", err)
	}
	r.ID, r.Time, r.Serial = stamp, t, serial
	pos += close + 1
	if !strings.HasPrefix(s[pos:], ":") {
		return bad(pos, "expected ':' after msg=audit(%s)", stamp)
	}
	pos++
	body, etext, hasEnriched := strings.Cut(s[pos:], "\x1d")
	fs, err := parseFields(fields, body, pos, true)
	if err != nil {
		return Record{}, err
	}
	r.Fields = fs
	if hasEnriched {
		ef, err := parseFields(enriched, etext, pos+len(body)+1, false)
		if err != nil {
			return Record{}, err
		}
		r.Enriched = ef
	}
	return r, nil
}

func validType(t string) bool {
	if len(t) > 64 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}

// parseStamp parses "1795593791.340:1140".
func parseStamp(s string) (time.Time, uint64, error) {
	ts, ser, ok := strings.Cut(s, ":")
	sec, ms, ok2 := strings.Cut(ts, ".")
	if !ok || !ok2 || sec == "" || len(ms) != 3 {
		return time.Time{}, 0, fmt.Errorf("invalid event stamp %q: expected SECONDS.MILLIS:SERIAL", s)
	}
	secs, err1 := strconv.ParseInt(sec, 10, 64)
	msecs, err2 := strconv.ParseInt(ms, 10, 64)
	serial, err3 := strconv.ParseUint(ser, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || secs < 0 || secs > 1<<40 || msecs < 0 {
		return time.Time{}, 0, fmt.Errorf("invalid event stamp %q: expected SECONDS.MILLIS:SERIAL", s)
	}
	return time.Unix(secs, msecs*int64(time.Millisecond)).UTC(), serial, nil
}

// parseFields parses space-separated name=value pairs. Values may be
// "double quoted", 'single quoted' (user-space records wrap their own
// fields in msg='…', which are flattened), {braced} (enriched SADDR) or
// bare. off is the column offset of s in the line, for errors. The
// fields are appended to dst[:0].
func parseFields(dst []KV, s string, off int, decode bool) ([]KV, error) {
	out := dst[:0]
	if out == nil {
		out = make([]KV, 0, min(strings.Count(s, "="), maxFields))
	}
	i := 0
	for i < len(s) {
		if s[i] == ' ' {
			i++
			continue
		}
		if len(out) >= maxFields {
			return out, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' {
			i++
		}
		if i >= len(s) || s[i] != '=' {
			// A bare word with no value: tolerated (some user-space
			// messages have them), skipped.
			continue
		}
		name := s[start:i]
		if name == "" {
			return nil, &PosError{Col: off + start + 1, Msg: "field with an empty name"}
		}
		i++ // '='
		var val string
		quoted := false
		switch {
		case i < len(s) && (s[i] == '"' || s[i] == '\''):
			q := s[i]
			j := strings.IndexByte(s[i+1:], q)
			if j < 0 {
				return nil, &PosError{Col: off + i + 1, Msg: fmt.Sprintf("unterminated %c quote in field %q", q, name)}
			}
			val = s[i+1 : i+1+j]
			if q == '\'' && decode && strings.Contains(val, "=") {
				inner, err := parseFields(nil, val, off+i+1, true)
				if err == nil {
					out = append(out, KV{Name: name, Value: val})
					for _, f := range inner {
						if len(out) < maxFields {
							out = append(out, f)
						}
					}
					i += j + 2
					continue
				}
			}
			quoted = true
			i += j + 2
		case i < len(s) && s[i] == '{':
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				return nil, &PosError{Col: off + i + 1, Msg: fmt.Sprintf("unterminated { in field %q", name)}
			}
			val = s[i+1 : i+j]
			quoted = true
			i += j + 1
		default:
			j := strings.IndexByte(s[i:], ' ')
			if j < 0 {
				j = len(s) - i
			}
			val = s[i : i+j]
			i += j
		}
		kv := KV{Name: name, Value: val}
		if !quoted {
			switch {
			case val == "(null)" || val == "(none)":
				kv.Null = val == "(null)"
			case decode && isHexField(name) && isHexString(val):
				b, _ := hex.DecodeString(val)
				kv.Value = string(b)
			}
		}
		out = append(out, kv)
	}
	return out, nil
}

func isHexString(s string) bool {
	if s == "" || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Note is something the reader skipped, with where it was.
type Note struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col,omitempty"`
	Msg  string `json:"msg"`
}

func (n Note) String() string {
	if n.Col > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", n.File, n.Line, n.Col, n.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", n.File, n.Line, n.Msg)
}

// ScanLog parses every line of an audit.log from r, a line at a time, and
// calls fn for each record. A large log is never held whole: each
// record's strings slice into its own line, and only the lines of records
// somebody keeps stay in memory. Lines that do not parse are skipped and
// returned as notes; a last line without its newline is a record auditd
// was still writing (or a torn file) and is always skipped with a note.
// The error is a read error; what was read before it has been scanned.
//
// The slices rec.Fields and rec.Enriched are reused for the next record
// once fn returns (the strings in them stay valid): fn copies what it
// keeps, as Event.add does.
func ScanLog(name string, r io.Reader, fn func(rec Record, line int)) ([]Note, error) {
	var notes []Note
	var fields, enriched []KV
	note := func(line, col int, msg string) {
		notes = append(notes, Note{File: name, Line: line, Col: col, Msg: msg})
	}
	// One byte more than MaxLine, so a line of exactly MaxLine bytes and
	// its newline fit.
	br := bufio.NewReaderSize(r, MaxLine+1)
	lineNo := 0
	for {
		b, err := br.ReadSlice('\n')
		switch {
		case err == bufio.ErrBufferFull:
			lineNo++
			note(lineNo, MaxLine, fmt.Sprintf("line longer than %d bytes", MaxLine))
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			if err == io.EOF {
				return notes, nil
			}
			if err != nil {
				return notes, err
			}
			continue
		case err == io.EOF:
			if len(b) > 0 {
				lineNo++
				note(lineNo, 0, fmt.Sprintf("last line has no newline (%d bytes): a torn or still-written record, ignored", len(b)))
			}
			return notes, nil
		case err != nil:
			return notes, err
		}
		lineNo++
		line := strings.TrimSuffix(string(b[:len(b)-1]), "\r")
		if len(line) == 0 {
			continue
		}
		rec, perr := parseRecordInto(line, fields, enriched)
		if perr != nil {
			if pe, ok := perr.(*PosError); ok {
				note(lineNo, pe.Col, pe.Msg)
			} else {
				note(lineNo, 0, perr.Error())
			}
			continue
		}
		fn(rec, lineNo)
		fields, enriched = rec.Fields, rec.Enriched
	}
}
