package logline

import "time"

// Stamp parses the timestamp at the start of s and returns it with its
// length in bytes. It accepts every form journalctl, rsyslog and syslog-ng
// write at the start of a line (the ones fail2ban-regex finds at the start):
//
//	Dec  7 07:14:53                    RFC 3164, rsyslog's RSYSLOG_TraditionalFileFormat,
//	Dec 07 07:14:53                    journalctl -o short (year from year)
//	Dec 07 07:14:53.123456             journalctl -o short-precise
//	2026-12-07T07:14:53+00:00          RFC 3339, syslog-ng ts-format(iso), journalctl -o short-iso (systemd >= 255)
//	2026-12-07T07:14:53+0000           journalctl -o short-iso (systemd < 255, Debian 12)
//	2026-12-07T07:14:53.123456+00:00   rsyslog's RSYSLOG_FileFormat, journalctl -o short-iso-precise; Z, +0000 too
//	2026-12-07 07:14:53                the same with a space, with or without an offset
//	Mon 2026-12-07 07:14:53 UTC        journalctl -o short-full
//	1765091693.123456                  journalctl -o short-unix
//
// A time without an offset is in loc; short-full's zone abbreviation means
// UTC for UTC and GMT, a numeric abbreviation ("+03") its offset, and loc
// otherwise (an abbreviation is only meaningful where it was written).
// Nothing after the timestamp is read. It never allocates for a time in UTC
// or in loc's offset.
func Stamp(s string, year int, loc *time.Location) (time.Time, int, bool) {
	if len(s) < 10 {
		return time.Time{}, 0, false
	}
	c := s[0]
	switch {
	case c >= '0' && c <= '9':
		if s[4] == '-' {
			return parseISO(s, loc, false)
		}
		return parseUnix(s)
	case len(s) >= 14 && s[3] == ' ':
		if mon, ok := monthOf(s[:3]); ok {
			return parse3164(s, mon, year, loc)
		}
		if weekday(s[:3]) {
			t, n, ok := parseISO(s[4:], loc, true)
			return t, n + 4, ok
		}
	}
	return time.Time{}, 0, false
}

var weekdays = [...]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

func weekday(s string) bool {
	for _, d := range weekdays {
		if s == d {
			return true
		}
	}
	return false
}

// parse3164 parses "Nov 14 07:15:17" / "Nov  4 07:15:17" / "Nov 4
// 07:15:17" / "Nov 04 07:15:17.123456" at the start of s (month already
// read) and returns the time and its length.
func parse3164(s string, mon time.Month, year int, loc *time.Location) (time.Time, int, bool) {
	i := 4
	if s[i] == ' ' {
		i++
	}
	day := 0
	for n := 0; i < len(s) && s[i] >= '0' && s[i] <= '9' && n < 2; n++ {
		day = day*10 + int(s[i]-'0')
		i++
	}
	if i+9 > len(s) || s[i] != ' ' {
		return time.Time{}, 0, false
	}
	h, m, sec, ok := clock(s[i+1:])
	if !ok || day < 1 || day > daysIn(mon, year) {
		return time.Time{}, 0, false
	}
	i += 9
	ns, i := fraction(s, i)
	return time.Date(year, mon, day, h, m, sec, ns, loc), i, true
}

// parseISO parses "2026-12-07T07:14:53[.frac][Z|+00:00|+0000]" or the same
// with a space for the T. full is journalctl's short-full: a space and a
// zone abbreviation follow the time instead of an offset.
func parseISO(s string, loc *time.Location, full bool) (time.Time, int, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || (full && s[10] != ' ') {
		return time.Time{}, 0, false
	}
	year, ok1 := num4(s)
	mon, ok2 := num2(s[5], s[6])
	day, ok3 := num2(s[8], s[9])
	h, m, sec, ok4 := clock(s[11:])
	if !ok1 || !ok2 || !ok3 || !ok4 || mon < 1 || mon > 12 || day < 1 || day > daysIn(time.Month(mon), year) {
		return time.Time{}, 0, false
	}
	ns, i := fraction(s, 19)
	off, zoned := 0, false
	switch {
	case full:
		// " UTC", " CET", " +03": the abbreviation runs to the next space.
		if i >= len(s) || s[i] != ' ' {
			return time.Time{}, 0, false
		}
		j := i + 1
		for j < len(s) && s[j] != ' ' && j-i <= 8 {
			j++
		}
		abbr := s[i+1 : j]
		switch {
		case abbr == "UTC" || abbr == "GMT":
			zoned = true
		case abbr != "" && (abbr[0] == '+' || abbr[0] == '-'):
			if n, o, ok := offset(abbr); ok && n == len(abbr) {
				off, zoned = o, true
			} else {
				return time.Time{}, 0, false
			}
		case !letters(abbr):
			return time.Time{}, 0, false
		}
		i = j
	case i < len(s) && (s[i] == 'Z' || s[i] == 'z'):
		zoned = true
		i++
	case i < len(s) && (s[i] == '+' || s[i] == '-'):
		n, o, ok := offset(s[i:])
		if !ok {
			return time.Time{}, 0, false
		}
		off, zoned = o, true
		i += n
	}
	if !zoned {
		return time.Date(year, time.Month(mon), day, h, m, sec, ns, loc), i, true
	}
	return inOffset(time.Date(year, time.Month(mon), day, h, m, sec, ns, time.UTC).Add(-time.Duration(off)*time.Second), off, loc), i, true
}

// inOffset returns the instant t in a zone whose offset is off seconds: UTC,
// loc when loc has that offset at t (the usual case: the machine's own
// logs), or a fixed zone.
func inOffset(t time.Time, off int, loc *time.Location) time.Time {
	if off == 0 {
		return t
	}
	if loc != nil {
		lt := t.In(loc)
		if _, o := lt.Zone(); o == off {
			return lt
		}
	}
	return t.In(time.FixedZone("", off))
}

// parseUnix parses journalctl's short-unix "1765091693.123456": seconds
// since the epoch (10 to 12 digits: September 2001 on) and an optional
// fraction.
func parseUnix(s string) (time.Time, int, bool) {
	i, sec := 0, int64(0)
	for i < len(s) && i < 12 && s[i] >= '0' && s[i] <= '9' {
		sec = sec*10 + int64(s[i]-'0')
		i++
	}
	if i < 10 || (i < len(s) && s[i] != '.' && s[i] != ' ') {
		return time.Time{}, 0, false
	}
	ns, i := fraction(s, i)
	return time.Unix(sec, int64(ns)).UTC(), i, true
}

// clock parses "hh:mm:ss" at the start of s.
func clock(s string) (h, m, sec int, ok bool) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return 0, 0, 0, false
	}
	h, ok1 := num2(s[0], s[1])
	m, ok2 := num2(s[3], s[4])
	sec, ok3 := num2(s[6], s[7])
	// 60 is a leap second; time.Date carries it into the next minute.
	return h, m, sec, ok1 && ok2 && ok3 && h <= 23 && m <= 59 && sec <= 60
}

// fraction parses ".123456" at s[i:] (digits past nanoseconds are read and
// dropped) and returns the nanoseconds and the index after it; no fraction
// is 0 and i.
func fraction(s string, i int) (int, int) {
	if i >= len(s) || s[i] != '.' || i+1 >= len(s) || s[i+1] < '0' || s[i+1] > '9' {
		return 0, i
	}
	i++
	ns, scale := 0, 100000000
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		ns += int(s[i]-'0') * scale
		scale /= 10
	}
	return ns, i
}

// offset parses "+00:00", "+0000" or "+00" at the start of s (s[0] is the
// sign) and returns its length and the offset in seconds.
func offset(s string) (int, int, bool) {
	sign := 1
	if s[0] == '-' {
		sign = -1
	}
	if len(s) < 3 {
		return 0, 0, false
	}
	h, ok := num2(s[1], s[2])
	n, m := 3, 0
	switch {
	case len(s) >= 6 && s[3] == ':':
		m, ok = num2(s[4], s[5])
		n = 6
	case len(s) >= 5 && s[3] >= '0' && s[3] <= '9':
		m, ok = num2(s[3], s[4])
		n = 5
	}
	if !ok || h > 23 || m > 59 {
		return 0, 0, false
	}
	return n, sign * (h*3600 + m*60), true
}

func num4(s string) (int, bool) {
	a, ok1 := num2(s[0], s[1])
	b, ok2 := num2(s[2], s[3])
	return a*100 + b, ok1 && ok2
}

func letters(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

func daysIn(m time.Month, year int) int {
	switch m {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}
