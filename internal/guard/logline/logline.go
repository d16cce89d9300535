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

// Parse parses one line of a file. It recognises a syslog line with any
// timestamp Stamp accepts (RFC 3164, RFC 3339, every journalctl short form,
// rsyslog's and syslog-ng's file formats), the nginx error log ("2025/11/14
// 07:15:17 [error] …") and the nginx access log time ("[14/Nov/2025:07:15:17
// +0000]"). Unrecognised lines come back with only Text (and Source) set;
// that is not an error, filters decide.
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

// ParseSyslog parses a syslog file line: a timestamp in any form Stamp
// accepts, then "[host] ident[pid]: msg". year is the year of timestamps that
// carry none (RFC 3164); loc the zone of timestamps without an offset. ok is
// false when the line has no recognisable prefix. Only the start of the line
// is read as a timestamp: whatever the message says is message.
func ParseSyslog(text string, year int, loc *time.Location) (Line, bool) {
	var l Line
	t, n, ok := Stamp(text, year, loc)
	if !ok || len(text) <= n || text[n] != ' ' {
		return l, false
	}
	l.Time = t
	rest := text[n+1:]
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

// monthOf returns the month of an English three-letter abbreviation ("Nov").
func monthOf(s string) (time.Month, bool) {
	if len(s) != 3 {
		return 0, false
	}
	switch uint32(s[0])<<16 | uint32(s[1])<<8 | uint32(s[2]) {
	case 'J'<<16 | 'a'<<8 | 'n':
		return time.January, true
	case 'F'<<16 | 'e'<<8 | 'b':
		return time.February, true
	case 'M'<<16 | 'a'<<8 | 'r':
		return time.March, true
	case 'A'<<16 | 'p'<<8 | 'r':
		return time.April, true
	case 'M'<<16 | 'a'<<8 | 'y':
		return time.May, true
	case 'J'<<16 | 'u'<<8 | 'n':
		return time.June, true
	case 'J'<<16 | 'u'<<8 | 'l':
		return time.July, true
	case 'A'<<16 | 'u'<<8 | 'g':
		return time.August, true
	case 'S'<<16 | 'e'<<8 | 'p':
		return time.September, true
	case 'O'<<16 | 'c'<<8 | 't':
		return time.October, true
	case 'N'<<16 | 'o'<<8 | 'v':
		return time.November, true
	case 'D'<<16 | 'e'<<8 | 'c':
		return time.December, true
	}
	return 0, false
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
