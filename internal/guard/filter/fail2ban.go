package filter

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/logline"
)

// DefaultFail2banDir is where "fail2ban:NAME" filters are looked up.
const DefaultFail2banDir = "/etc/fail2ban/filter.d"

// Fail2ban is a filter loaded from a fail2ban filter file at run time. It
// follows fail2ban's evaluation: cut the date out of the line, match
// prefregex and take its <F-CONTENT>, skip lines an ignoreregex matches,
// then the first failregex that matches gives the host; <F-MLFID> carries a
// host to later lines of the same connection, <F-NOFAIL> marks a match that
// is not a failure, <F-MLFFORGET> ends the connection.
//
// Patterns are Python regular expressions translated to RE2. Constructs RE2
// lacks are approximated and listed by Approximations (look-arounds dropped,
// conditionals as alternations); those make the filter match at least as
// much as fail2ban's, which for injection-hardened filters means the
// hardening is lost — prefer the built-in filters where one exists.
type Fail2ban struct {
	name     string
	path     string
	pref     *f2bRegex
	fail     []*f2bRegex
	ignore   []*regexp.Regexp
	dates    *dateDetector
	journal  bool // logtype journal: no date in the text
	maxlines int
	approx   []string
	mlf      *mlfTable
	// Year and Loc date syslog timestamps without a year (defaults: the
	// current year, time.Local).
	Year int
	Loc  *time.Location
}

type f2bRegex struct {
	re                                *regexp.Regexp
	src                               string
	ip4, ip6, dns, host, cidr, fid    int
	mlfid, nofail, forget, gained, ct int
}

func compileF2B(src string) (*f2bRegex, []string, error) {
	p, err := expandF2BTags(src)
	if err != nil {
		return nil, nil, err
	}
	p, approx, err := pyToRE2(p)
	if err != nil {
		return nil, approx, err
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, approx, fmt.Errorf("RE2: %w", err)
	}
	r := &f2bRegex{re: re, src: src}
	r.ip4, r.ip6, r.dns, r.host, r.cidr = re.SubexpIndex("ip4"), re.SubexpIndex("ip6"), re.SubexpIndex("dns"), re.SubexpIndex("host"), re.SubexpIndex("cidr")
	r.fid, r.mlfid, r.nofail = re.SubexpIndex("fid"), re.SubexpIndex("mlfid"), re.SubexpIndex("nofail")
	r.forget, r.gained, r.ct = re.SubexpIndex("mlfforget"), re.SubexpIndex("mlfgained"), re.SubexpIndex("content")
	return r, approx, nil
}

// Fail2banSpec splits "NAME[key=value, key=value]" (fail2ban's jail filter
// syntax) into the name and its parameters.
func Fail2banSpec(spec string) (string, map[string]string, error) {
	params := map[string]string{}
	i := strings.IndexByte(spec, '[')
	if i < 0 {
		return spec, params, nil
	}
	if !strings.HasSuffix(spec, "]") {
		return "", nil, fmt.Errorf("%q: expected NAME[key=value,…]", spec)
	}
	for kv := range strings.SplitSeq(spec[i+1:len(spec)-1], ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return "", nil, fmt.Errorf("%q: parameter %q: expected key=value", spec, kv)
		}
		params[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	return spec[:i], params, nil
}

// LoadFail2ban loads a fail2ban filter: spec is NAME (looked up as
// DefaultFail2banDir/NAME.conf) or a path, optionally followed by
// "[key=value,…]" parameters; mode, when not empty, sets the "mode"
// parameter.
func LoadFail2ban(spec, mode string) (*Fail2ban, error) {
	name, params, err := Fail2banSpec(spec)
	if err != nil {
		return nil, fmt.Errorf("fail2ban filter: %w", err)
	}
	if mode != "" {
		params["mode"] = mode
	}
	return LoadFail2banFile(resolveFail2ban(name), params)
}

func resolveFail2ban(name string) string {
	if strings.ContainsRune(name, '/') {
		return name
	}
	return filepath.Join(DefaultFail2banDir, name+".conf")
}

// LoadFail2banFile loads the filter file at path with jail parameters.
func LoadFail2banFile(path string, params map[string]string) (*Fail2ban, error) {
	errf := func(format string, a ...any) error {
		return fmt.Errorf("fail2ban filter %s: "+format, append([]any{path}, a...)...)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, errf("%w", err)
	}
	cfg, err := readF2BConfig(path)
	if err != nil {
		return nil, errf("%w", err)
	}
	if params == nil {
		params = map[string]string{}
	}
	o := &f2bOptions{c: cfg, params: params}
	f := &Fail2ban{name: Fail2banPrefix + strings.TrimSuffix(filepath.Base(path), ".conf"), path: path, mlf: newMLFTable(4096), maxlines: 1}
	if v, _ := o.raw("logtype"); strings.TrimSpace(v) == "journal" {
		f.journal = true
	}
	get := func(key string) string {
		v, _, e := o.get(key)
		if e != nil && err == nil {
			err = errf("%w", e)
		}
		return v
	}
	failre, prefre, ignre, datep, maxl := get("failregex"), get("prefregex"), get("ignoreregex"), get("datepattern"), get("maxlines")
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(failre) == "" {
		return nil, errf("no failregex (an include file, or an empty filter)")
	}
	if n, e := strconv.Atoi(strings.TrimSpace(maxl)); e == nil && n > 1 {
		f.maxlines = n
		f.note(fmt.Sprintf("maxlines = %d: lines are matched one at a time", n))
	}
	if p := strings.TrimSpace(prefre); p != "" {
		r, approx, e := compileF2B(p)
		if e != nil {
			return nil, errf("prefregex: %w", e)
		}
		if r.ct < 0 {
			return nil, errf("prefregex: expected a <F-CONTENT> group")
		}
		f.pref = r
		f.note(approx...)
	}
	for i, l := range splitRegexList(failre) {
		r, approx, e := compileF2B(l)
		if e != nil {
			return nil, errf("failregex line %d %q: %w", i+1, l, e)
		}
		f.fail = append(f.fail, r)
		f.note(approx...)
	}
	for i, l := range splitRegexList(ignre) {
		r, approx, e := compileF2B(l)
		if e != nil {
			return nil, errf("ignoreregex line %d %q: %w", i+1, l, e)
		}
		f.ignore = append(f.ignore, r.re)
		f.note(approx...)
	}
	if f.dates, err = newDateDetector(datep); err != nil {
		return nil, errf("%w", err)
	}
	return f, nil
}

func splitRegexList(v string) []string {
	var out []string
	for l := range strings.SplitSeq(v, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (f *Fail2ban) note(a ...string) {
	for _, s := range a {
		dup := false
		for _, x := range f.approx {
			dup = dup || x == s
		}
		if !dup {
			f.approx = append(f.approx, s)
		}
	}
}

// Name implements Filter.
func (f *Fail2ban) Name() string { return f.name }

// Path is the filter file read.
func (f *Fail2ban) Path() string { return f.path }

// Approximations lists what could not be translated exactly ("" when the
// filter runs as fail2ban's would).
func (f *Fail2ban) Approximations() []string { return f.approx }

// F2BResult is the raw outcome of one line, as fail2ban-regex reports it.
type F2BResult struct {
	Matched bool   // a failregex matched
	Ignored bool   // an ignoreregex matched
	NoFail  bool   // the match is marked <F-NOFAIL>
	Host    string // the host as written (IP or name), "" if pending
	Time    time.Time
}

// Eval runs the filter on one line. mlfid identifies the connection when
// the caller knows it (the journal's PID); otherwise prefregex's <F-MLFID>.
func (f *Fail2ban) Eval(text string, journal bool) F2BResult {
	var res F2BResult
	buf := text
	if !journal && !f.journal && !f.dates.none {
		year, loc := f.Year, f.Loc
		if loc == nil {
			loc = time.Local
		}
		if year == 0 {
			year = time.Now().In(loc).Year()
		}
		if s, e, t, ok := f.dates.find(text, year, loc); ok {
			buf = text[:s] + text[e:]
			res.Time = t
		}
	}
	mlfid, prefHost, prefFID := "", "", ""
	content := buf
	if p := f.pref; p != nil {
		m := p.re.FindStringSubmatchIndex(buf)
		if m == nil {
			return res
		}
		content = group(buf, m, p.ct)
		mlfid = group(buf, m, p.mlfid)
		prefHost = firstGroup(buf, m, p.ip4, p.ip6, p.dns, p.host)
		prefFID = group(buf, m, p.fid)
	}
	for _, ig := range f.ignore {
		if ig.MatchString(content) {
			res.Ignored = true
			return res
		}
	}
	for _, r := range f.fail {
		m := r.re.FindStringSubmatchIndex(content)
		if m == nil {
			continue
		}
		res.Matched = true
		host := firstGroup(content, m, r.ip4, r.ip6, r.dns, r.host)
		if host == "" {
			host = prefHost
		}
		if host == "" {
			host = group(content, m, r.fid)
		}
		if host == "" {
			host = prefFID
		}
		if r.mlfid >= 0 && m[2*r.mlfid] >= 0 {
			mlfid = content[m[2*r.mlfid]:m[2*r.mlfid+1]]
		}
		gained := group(content, m, r.gained) != "" || (r.gained >= 0 && m[2*r.gained] >= 0)
		res.NoFail = (r.nofail >= 0 && m[2*r.nofail] >= 0) || gained
		if mlfid != "" {
			c := f.mlf.get(mlfid)
			switch {
			case host != "":
				// A host for this connection: it also settles failures seen
				// earlier on the connection without one.
				if c != nil && c.pending > 0 && !gained {
					res.NoFail = false
				}
				f.mlf.put(mlfid, host)
			case c != nil && c.host != "":
				host = c.host
			case !res.NoFail:
				f.mlf.pend(mlfid)
			}
			if (r.forget >= 0 && m[2*r.forget] >= 0) || gained {
				f.mlf.del(mlfid)
			}
		}
		res.Host = host
		return res
	}
	return res
}

func firstGroup(s string, m []int, idx ...int) string {
	for _, i := range idx {
		if g := group(s, m, i); g != "" {
			return g
		}
	}
	return ""
}

func group(s string, m []int, i int) string {
	if i < 0 || 2*i+1 >= len(m) || m[2*i] < 0 {
		return ""
	}
	return s[m[2*i]:m[2*i+1]]
}

// Match implements Filter. Journal entries (no syslog prefix parsed but an
// identifier known) are matched as fail2ban's journal backend presents
// them: "IDENT[PID]: MESSAGE", without a date.
func (f *Fail2ban) Match(l *logline.Line) (Hit, bool) {
	text, journal := l.Text, false
	if l.Msg == "" && l.Ident != "" {
		journal = true
		if l.PID > 0 {
			text = l.Ident + "[" + strconv.Itoa(l.PID) + "]: " + l.Text
		} else {
			text = l.Ident + ": " + l.Text
		}
	}
	r := f.Eval(text, journal)
	if !r.Matched || r.Host == "" {
		return Hit{}, false
	}
	a, err := netip.ParseAddr(strings.Trim(r.Host, "[]"))
	if err != nil || a.Zone() != "" {
		// A host name: rampart does not resolve names from logs.
		return Hit{}, false
	}
	return Hit{Addr: a.Unmap(), Failure: !r.NoFail}, true
}

// mlfTable remembers, per multi-line failure id (a connection), its host
// and failures still waiting for one; bounded, oldest first out.
type mlfTable struct {
	m    map[string]*mlfEntry
	ring []string
	next int
}

type mlfEntry struct {
	host    string
	pending int
}

func newMLFTable(n int) *mlfTable {
	return &mlfTable{m: make(map[string]*mlfEntry), ring: make([]string, n)}
}

func (t *mlfTable) get(id string) *mlfEntry { return t.m[id] }
func (t *mlfTable) del(id string)           { delete(t.m, id) }

func (t *mlfTable) entry(id string) *mlfEntry {
	e := t.m[id]
	if e == nil {
		if old := t.ring[t.next]; old != "" {
			delete(t.m, old)
		}
		id = strings.Clone(id) // the line's memory is not ours to keep
		t.ring[t.next] = id
		t.next = (t.next + 1) % len(t.ring)
		e = &mlfEntry{}
		t.m[id] = e
	}
	return e
}

func (t *mlfTable) put(id, host string) { *t.entry(id) = mlfEntry{host: strings.Clone(host)} }
func (t *mlfTable) pend(id string)      { t.entry(id).pending++ }
