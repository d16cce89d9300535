package logline

import (
	"strings"
	"time"
)

// Line is one log record.
type Line struct {
	// Time is the log time; the zero value means unknown (the consumer uses
	// its injected clock instead).
	Time time.Time
	// Text is the journal MESSAGE, or a whole file line.
	Text string
	// Msg is the message after the syslog prefix ("Failed password for …").
	// Empty means Text has no syslog prefix: use Message().
	Msg string
	// Ident is the SYSLOG_IDENTIFIER (or _COMM) when known: "sshd",
	// "sshd-session", "nginx".
	Ident string
	// PID is the process id from the prefix or _PID (0 = unknown).
	PID int
	// Host is the syslog host name when the prefix carried one.
	Host string
	// Source names where the line came from ("journal", "stdin",
	// "file:/var/log/nginx/access.log"); the engine routes on it.
	Source string
}

// Message returns the text filters match: Msg when a syslog prefix was
// stripped, otherwise Text.
func (l *Line) Message() string {
	if l.Msg != "" {
		return l.Msg
	}
	return l.Text
}

// Parser turns file lines into Lines. Traditional syslog timestamps carry no
// year; Parser starts at Year and moves to the next year when the month goes
// backwards by more than six months (a December→January rollover in one
// file). It is not safe for concurrent use.
type Parser struct {
	Year int
	Loc  *time.Location
	// Source is copied into every Line.
	Source string
	last   time.Month
}

// Parse parses one line of a file. It recognises, in order: RFC 3164
// syslog ("Nov 14 07:15:17 host ident[pid]: msg"), RFC 3339 syslog
// ("2025-11-14T07:15:17.123+00:00 host ident[pid]: msg"), the nginx error log
// ("2025/11/14 07:15:17 [error] …") and the nginx access log time
// ("[14/Nov/2025:07:15:17 +0000]"). Unrecognised lines come back with only
// Text (and Source) set; that is not an error, filters decide.
func (p *Parser) Parse(text string) Line {
	loc := p.Loc
	if loc == nil {
		loc = time.Local
	}
	year := p.Year
	if year == 0 {
		year = time.Now().In(loc).Year()
	}
	if len(text) >= 15 && text[3] == ' ' {
		if mon, ok := monthOf(text[:3]); ok {
			if p.Year == 0 {
				p.Year = year
			}
			if p.last != 0 && int(p.last)-int(mon) > 6 {
				p.Year++
			}
			year, p.last = p.Year, mon
		}
	}
	l, ok := ParseSyslog(text, year, loc)
	if !ok {
		l = Line{Text: text}
		l.Time = parseNginxTime(text, loc)
	}
	l.Source = p.Source
	return l
}

// ParseSyslog parses a syslog file line, RFC 3164 ("Nov 14 07:15:17 host
// sshd-session[123]: msg", year supplied by the caller) or RFC 3339
// ("2025-11-14T07:15:17.123456+00:00 host sshd[123]: msg"). ok is false when
// the line has no recognisable prefix.
func ParseSyslog(text string, year int, loc *time.Location) (Line, bool) {
	var l Line
	var rest string
	switch {
	case len(text) >= 15 && text[3] == ' ':
		t, n, ok := parse3164(text, year, loc)
		if !ok || len(text) <= n || text[n] != ' ' {
			return l, false
		}
		l.Time, rest = t, text[n+1:]
	case len(text) >= 20 && text[4] == '-' && text[10] == 'T':
		sp := strings.IndexByte(text, ' ')
		if sp < 0 {
			return l, false
		}
		t, err := time.Parse(time.RFC3339Nano, text[:sp])
		if err != nil {
			return l, false
		}
		l.Time, rest = t, text[sp+1:]
	default:
		return l, false
	}
	// [host] ident[pid]: msg — the host is absent when the first word is
	// already the tag ("sshd[8148]: …", "[sshd]: …").
	sp := strings.IndexByte(rest, ' ')
	if sp <= 0 {
		return l, false
	}
	if first := rest[:sp]; !strings.HasSuffix(first, ":") && first[0] != '[' {
		l.Host, rest = first, rest[sp+1:]
	}
	// ident[pid]: msg  or  ident: msg  or  [ident]: msg
	colon := strings.Index(rest, ": ")
	if colon <= 0 {
		if strings.HasSuffix(rest, ":") {
			colon = len(rest) - 1
		} else {
			return l, false
		}
	}
	tag := rest[:colon]
	if strings.IndexByte(tag, ' ') >= 0 {
		return l, false
	}
	if len(tag) > 2 && tag[0] == '[' && tag[len(tag)-1] == ']' {
		l.Ident = tag[1 : len(tag)-1]
	} else if i := strings.IndexByte(tag, '['); i > 0 && tag[len(tag)-1] == ']' {
		pid, ok := atoi(tag[i+1 : len(tag)-1])
		if !ok {
			return l, false
		}
		l.Ident, l.PID = tag[:i], pid
	} else {
		l.Ident = tag
	}
	l.Text = text
	if colon+2 <= len(rest) {
		l.Msg = rest[colon+2:]
	}
	if l.Msg == "" {
		// An empty message keeps Message() from returning the whole line.
		l.Msg = " "
	}
	return l, true
}

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

func monthOf(s string) (time.Month, bool) {
	for i, m := range months {
		if s == m {
			return time.Month(i + 1), true
		}
	}
	return 0, false
}

// parse3164 parses the "Nov 14 07:15:17" / "Nov  4 07:15:17" / "Nov 4
// 07:15:17" at the start of s and returns the time and its length.
func parse3164(s string, year int, loc *time.Location) (time.Time, int, bool) {
	mon, ok := monthOf(s[:3])
	if !ok || s[3] != ' ' {
		return time.Time{}, 0, false
	}
	i := 4
	if s[i] == ' ' {
		i++
	}
	day := 0
	for n := 0; i < len(s) && s[i] >= '0' && s[i] <= '9' && n < 2; n++ {
		day = day*10 + int(s[i]-'0')
		i++
	}
	if i+9 > len(s) || s[i] != ' ' || s[i+3] != ':' || s[i+6] != ':' {
		return time.Time{}, 0, false
	}
	h, ok2 := num2(s[i+1], s[i+2])
	m, ok3 := num2(s[i+4], s[i+5])
	sec, ok4 := num2(s[i+7], s[i+8])
	if !ok2 || !ok3 || !ok4 || day < 1 || day > 31 || h > 23 || m > 59 || sec > 60 {
		return time.Time{}, 0, false
	}
	return time.Date(year, mon, day, h, m, sec, 0, loc), i + 9, true
}

// parseNginxTime finds the nginx access-log "[14/Nov/2025:07:15:17 +0000]"
// field or the error-log leading "2025/11/14 07:15:17"; zero if neither.
func parseNginxTime(text string, loc *time.Location) time.Time {
	if len(text) >= 19 && text[4] == '/' && text[7] == '/' && text[10] == ' ' {
		if t, err := time.ParseInLocation("2006/01/02 15:04:05", text[:19], loc); err == nil {
			return t
		}
	}
	// The access-log time follows the first two fields ("addr - user ["); the
	// user is client-supplied, so take the first "[" that parses.
	for i := 0; i < len(text) && i < 512; {
		j := strings.IndexByte(text[i:], '[')
		if j < 0 || i+j+28 > len(text) {
			break
		}
		i += j
		if text[i+27] == ']' {
			if t, err := time.Parse("02/Jan/2006:15:04:05 -0700", text[i+1:i+27]); err == nil {
				return t
			}
		}
		i++
	}
	return time.Time{}
}

func num2(a, b byte) (int, bool) {
	if a < '0' || a > '9' || b < '0' || b > '9' {
		return 0, false
	}
	return int(a-'0')*10 + int(b-'0'), true
}

func atoi(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
