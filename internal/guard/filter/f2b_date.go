package filter

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// dateTemplate is one compiled date pattern; group di spans the date (a
// pattern's own first group when it has one, as in fail2ban).
type dateTemplate struct {
	re *regexp.Regexp
	di int
}

// dateDetector finds the timestamp in a line, so it can be cut out before
// the failregex runs (fail2ban matches the line without its date), and
// parses it.
type dateDetector struct {
	templates []dateTemplate
	none      bool // {NONE}: lines carry no date
}

// Default date formats, in our own strftime-style spelling (fail2ban's
// default detector recognises the same families): ISO 8601 and y/m/d,
// syslog and asctime, d/m/y, Apache "[d/Mon/Y:H:M:S z]", m/d/Y:H:M:S,
// m-d-Y, epoch seconds, MySQL "yymmdd H:M:S", Tomcat, compact ISO, and
// syslog with a zone name or offset in front.
var defaultDateFormats = []string{
	`%Y(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?`,
	`(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %Y)?`,
	`(?:%a )?%b %d %Y %k:%M:%S(?:\.%f)?`,
	`%d(?P<_sep>[-/])%m(?P=_sep)(?:%Y|%y) %k:%M:%S`,
	`%d(?P<_sep>[-/])%b(?P=_sep)%Y[ :]?%H:%M:%S(?:\.%f)?(?: %z)?`,
	`%m/%d/%Y:%H:%M:%S`,
	`%m-%d-%Y %k:%M:%S(?:\.%f)?`,
	`EPOCH`,
	`{^LN-BEG}%H:%M:%S`,
	`^<%m/%d/%y@%H:%M:%S>`,
	`%y%m%d  ?%H:%M:%S`,
	`%b %d, %Y %I:%M:%S %p`,
	`^%b-%d-%y %k:%M:%S`,
	`%Y%m%d(?:T|  ?)%H%M%S(?:[.,]%f)?(?:\s*%z)?`,
	`(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %Y)?`,
	`(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %Y)?`,
}

var monthNames = `(?P<b>(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?))`

// strftimeToRE turns a fail2ban datepattern into an RE2 pattern with named
// groups Y y m d H I M S f z Z b p s. Each field name appears once (later
// uses become plain patterns).
func strftimeToRE(p string) (string, error) {
	used := map[string]bool{}
	grp := func(name, re string) string {
		if used[name] {
			return "(?:" + re + ")"
		}
		used[name] = true
		return "(?P<" + name + ">" + re + ")"
	}
	var b strings.Builder
	// (?P<_sep>X)…(?P=_sep): the back-reference becomes the same class.
	seps := map[string]string{}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if strings.HasPrefix(p[i:], "(?P<_") {
			end := strings.IndexByte(p[i:], '>')
			close := strings.IndexByte(p[i:], ')')
			if end > 0 && close > end {
				name := p[i+4 : i+end]
				seps[name] = p[i+end+1 : i+close]
				b.WriteString("(?:" + seps[name] + ")")
				i += close
				continue
			}
		}
		if strings.HasPrefix(p[i:], "(?P=_") {
			close := strings.IndexByte(p[i:], ')')
			if close > 0 {
				b.WriteString("(?:" + seps[p[i+4:i+close]] + ")")
				i += close
				continue
			}
		}
		if c != '%' || i+1 >= len(p) {
			b.WriteByte(c)
			continue
		}
		i++
		d := p[i]
		if d == 'E' && i+2 < len(p) && p[i+1] == 'x' {
			// fail2ban's extended %Ex?: same fields, stricter ranges.
			i += 2
			d = p[i]
		}
		switch d {
		case 'Y':
			b.WriteString(grp("Y", `\d{4}`))
		case 'y':
			b.WriteString(grp("y", `\d{2}`))
		case 'm':
			b.WriteString(grp("m", `1[0-2]|0?[1-9]`))
		case 'd', 'e':
			b.WriteString(grp("d", `3[01]|[12]\d|0?[1-9]| [1-9]`))
		case 'H', 'k':
			b.WriteString(grp("H", `2[0-3]|[01]?\d| \d`))
		case 'I', 'l':
			b.WriteString(grp("I", `1[0-2]|0?[1-9]| [1-9]`))
		case 'M':
			b.WriteString(grp("M", `[0-5]?\d`))
		case 'S':
			b.WriteString(grp("S", `6[01]|[0-5]?\d`))
		case 'f':
			b.WriteString(grp("f", `\d{1,9}`))
		case 'z':
			b.WriteString(grp("z", `Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?`))
		case 'Z':
			b.WriteString(grp("Z", `[A-Z]{3,5}`))
		case 'b', 'B', 'h':
			if used["b"] {
				b.WriteString(`(?i:[a-z]{3,9})`)
			} else {
				used["b"] = true
				b.WriteString(monthNames)
			}
		case 'a', 'A':
			b.WriteString(`(?i:mon|tue|wed|thu|fri|sat|sun)[a-z]*`)
		case 'p':
			b.WriteString(grp("p", `(?i:AM|PM)`))
		case 'j':
			b.WriteString(`\d{3}`)
		case 's':
			b.WriteString(grp("s", `\d{9,11}`))
		case '%':
			b.WriteByte('%')
		default:
			return "", fmt.Errorf("date format %%%c is not supported", d)
		}
	}
	return b.String(), nil
}

// newDateDetector compiles a fail2ban datepattern (one or more lines), or
// the default formats when pattern is "".
func newDateDetector(pattern string) (*dateDetector, error) {
	dd := &dateDetector{}
	var pats []string
	if strings.TrimSpace(pattern) == "" {
		pats = defaultDateFormats
	} else {
		for l := range strings.SplitSeq(pattern, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				pats = append(pats, l)
			}
		}
	}
	// {DATE} stands for any default format.
	var expanded []string
	for _, p := range pats {
		if !strings.Contains(p, "{DATE}") {
			expanded = append(expanded, p)
			continue
		}
		for _, d := range defaultDateFormats {
			if d == "EPOCH" || strings.HasPrefix(d, "{") || strings.HasPrefix(d, "^") {
				continue
			}
			expanded = append(expanded, strings.Replace(p, "{DATE}", "("+d+")", 1))
		}
	}
	pats = expanded
	for _, p := range pats {
		lnBeg, unbound := false, false
		for {
			switch {
			case strings.HasPrefix(p, "{^LN-BEG}"):
				lnBeg, p = true, p[len("{^LN-BEG}"):]
				continue
			case strings.HasPrefix(p, "{UNB}"):
				unbound, p = true, p[len("{UNB}"):]
				continue
			case strings.HasPrefix(p, "{*WD-BEG}"), strings.HasPrefix(p, "{*WD-END}"):
				p = p[len("{*WD-BEG}"):]
				continue
			}
			break
		}
		p = strings.ReplaceAll(p, "{*WD-END}", "")
		switch strings.ToUpper(p) {
		case "{NONE}":
			dd.none = true
			continue
		case "{DEFAULT}", "":
			def, err := newDateDetector("")
			if err != nil {
				return nil, err
			}
			dd.templates = append(dd.templates, def.templates...)
			continue
		}
		var re string
		switch p {
		case "EPOCH", "{EPOCH}":
			re = `(?P<s>\d{10})(?:\.(?P<f>\d{1,6}))?`
		case "LEPOCH", "{LEPOCH}":
			re = `(?P<s>\d{10})(?P<f>\d{3,6})?`
		case "TAI64N", "{TAI64N}":
			continue
		default:
			var err error
			if re, err = strftimeToRE(p); err != nil {
				return nil, fmt.Errorf("datepattern %q: %w", p, err)
			}
			re2, _, err := pyToRE2(re)
			if err != nil {
				return nil, fmt.Errorf("datepattern %q: %w", p, err)
			}
			re = re2
		}
		if strings.HasPrefix(re, "^") {
			re = re[1:]
			lnBeg = true
		}
		body := "(?P<date>" + re + ")"
		switch {
		case lnBeg:
			body = `^\W{0,2}` + body
		case !unbound:
			body = `(?:^|\b|\W)` + body
		}
		if !unbound {
			body += `(?:\b|\W|$)`
		}
		c, err := regexp.Compile(body)
		if err != nil {
			return nil, fmt.Errorf("datepattern %q: %w", p, err)
		}
		di := c.SubexpIndex("date")
		if c.NumSubexp() > di && c.SubexpNames()[di+1] == "" {
			di++ // the pattern's own (…) group is the date
		}
		dd.templates = append(dd.templates, dateTemplate{re: c, di: di})
	}
	return dd, nil
}

// find returns the date's byte range in line and its time (zero if it
// could not be built); ok false when no template matches.
func (dd *dateDetector) find(line string, year int, loc *time.Location) (start, end int, t time.Time, ok bool) {
	for _, tp := range dd.templates {
		re := tp.re
		m := re.FindStringSubmatchIndex(line)
		if m == nil {
			continue
		}
		start, end = m[2*tp.di], m[2*tp.di+1]
		if start == end {
			continue
		}
		return start, end, dateFields(re, line, m, year, loc), true
	}
	return 0, 0, time.Time{}, false
}

func dateFields(re *regexp.Regexp, line string, m []int, year int, loc *time.Location) time.Time {
	get := func(name string) (string, bool) {
		i := re.SubexpIndex(name)
		if i < 0 || m[2*i] < 0 {
			return "", false
		}
		return strings.TrimSpace(line[m[2*i]:m[2*i+1]]), true
	}
	num := func(name string, def int) int {
		if s, ok := get(name); ok {
			if n, err := strconv.Atoi(s); err == nil {
				return n
			}
		}
		return def
	}
	if s, ok := get("s"); ok {
		sec, _ := strconv.ParseInt(s, 10, 64)
		return time.Unix(sec, 0)
	}
	y := num("Y", 0)
	if y == 0 {
		if yy, ok := get("y"); ok {
			n, _ := strconv.Atoi(yy)
			y = 2000 + n
		} else {
			y = year
		}
	}
	mon := num("m", 0)
	if bs, ok := get("b"); ok && len(bs) >= 3 {
		if mm, ok := monthOf3(bs[:3]); ok {
			mon = mm
		}
	}
	if mon == 0 {
		mon = 1
	}
	h := num("H", -1)
	if h < 0 {
		h = num("I", 0) % 12
		if p, _ := get("p"); strings.EqualFold(p, "pm") {
			h += 12
		}
	}
	ns := 0
	if f, ok := get("f"); ok {
		for len(f) < 9 {
			f += "0"
		}
		ns, _ = strconv.Atoi(f[:9])
	}
	l := loc
	if z, ok := get("z"); ok {
		switch {
		case z == "Z" || z == "UTC" || z == "GMT":
			l = time.UTC
		case len(z) >= 3:
			sign := 1
			if z[0] == '-' {
				sign = -1
			}
			zz := strings.ReplaceAll(z[1:], ":", "")
			hh, _ := strconv.Atoi(zz[:2])
			mm := 0
			if len(zz) >= 4 {
				mm, _ = strconv.Atoi(zz[2:4])
			}
			l = time.FixedZone(z, sign*(hh*3600+mm*60))
		}
	}
	return time.Date(y, time.Month(mon), num("d", 1), h, num("M", 0), num("S", 0), ns, l)
}

func monthOf3(s string) (int, bool) {
	s = strings.ToLower(s)
	for i, m := range [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"} {
		if s == m {
			return i + 1, true
		}
	}
	return 0, false
}
