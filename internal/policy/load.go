package policy

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/rampart-sec/rampart/internal/guard/source"
)

// Issue is one problem in a policy: where it is, which field, and what is
// wrong. Error() renders it as "FILE:LINE:COL: field: message", or
// "FILE: field: message" when the problem is not at one place in the file
// (a cross-field rule about values the file does not set).
type Issue struct {
	File string
	Pos  Pos
	// Field is the dotted path of the offending key, e.g.
	// "ssh.permit_root_login", "admin.users[0].name",
	// `sysctl."net.ipv4.ip_forward"`. Empty for syntax errors.
	Field string
	Msg   string
	// Lockout marks a lock-out risk (see Policy.LockoutRisks) rather than an
	// invalid value.
	Lockout bool
}

func (e *Issue) Error() string {
	body := e.Msg
	if e.Field != "" {
		body = e.Field + ": " + e.Msg
	}
	if e.Pos.IsValid() {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, body)
	}
	return e.File + ": " + body
}

// Errors is every problem found in one policy, in file order. Parse and Load
// return it as their error; use errors.As to get at the single issues.
type Errors []*Issue

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Options tune ParseOptions and LoadOptions.
type Options struct {
	// Profile is the base profile when the file has no "profile" key
	// ("" = baseline). A "profile" key in the file wins.
	Profile string
	// Strict also reports lock-out risks (see Policy.LockoutRisks) as
	// errors, as `rampart policy check FILE` does.
	Strict bool
}

// Load reads the policy file at path, or returns Default("") when path is
// empty. Problems in the file are returned as Errors, each naming
// FILE:LINE:COL; a file that cannot be read is a plain wrapped error.
func Load(path string) (*Policy, error) { return LoadOptions(path, Options{}) }

// LoadOptions is Load with options; with no path it returns the default of
// o.Profile.
func LoadOptions(path string, o Options) (*Policy, error) {
	if path == "" {
		return Default(o.Profile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	return ParseOptions(path, data, o)
}

// Parse decodes and validates a policy; name is used in error messages.
// The file starts from Default(profile) and overrides what it sets (see the
// package documentation for the schema). Lock-out risks are not errors here:
// callers ask Policy.LockoutRisks and decide.
func Parse(name string, data []byte) (*Policy, error) { return ParseOptions(name, data, Options{}) }

// ParseOptions is Parse with options.
func ParseOptions(name string, data []byte, o Options) (*Policy, error) {
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil, Errors{syntaxIssue(name, string(data), err)}
	}
	d := &decoder{file: name, ix: buildIndex(string(data))}
	base := o.Profile
	if s, ok := raw["profile"].(string); ok && (s == ProfileBaseline || s == ProfileTailnet) {
		base = s
	}
	p, err := Default(base)
	if err != nil {
		return nil, Errors{{File: name, Field: "profile", Msg: err.Error()}}
	}
	d.structFields(reflect.ValueOf(p).Elem(), raw, nil)
	p.Source = name
	v := &validator{d: d, p: p}
	v.run()
	if o.Strict {
		v.lockout()
	}
	if len(d.errs) > 0 {
		d.sort()
		return nil, d.errs
	}
	return p, nil
}

func syntaxIssue(name, src string, err error) *Issue {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		if msg == "" {
			msg = pe.Error()
		}
		// The byte offset is more exact than the reported line and column
		// (which can point past a newline).
		return &Issue{File: name, Pos: posAt(src, pe.Position.Start), Msg: "syntax error: " + msg}
	}
	return &Issue{File: name, Pos: Pos{1, 1}, Msg: "syntax error: " + err.Error()}
}

// posAt converts a byte offset into a line and a character column.
func posAt(src string, off int) Pos {
	off = max(0, min(off, len(src)))
	line := 1 + strings.Count(src[:off], "\n")
	lineStart := strings.LastIndexByte(src[:off], '\n') + 1
	return Pos{line, 1 + utf8.RuneCountInString(src[lineStart:off])}
}

// decoder copies a decoded TOML tree onto a policy, field by field, with
// type checks, collecting every problem instead of stopping at the first.
type decoder struct {
	file string
	ix   *index
	errs Errors
}

func (d *decoder) add(path []string, atKey, lockout bool, format string, args ...any) {
	var pos Pos
	if d.ix != nil {
		// A value the file does not set (a required key left out) is
		// reported at the closest enclosing key the file has.
		for at, ok := path, false; !ok && len(at) > 0; at, atKey = at[:len(at)-1], true {
			if atKey {
				pos, ok = d.ix.keyPos(at)
			} else {
				pos, ok = d.ix.valPos(at)
			}
		}
	}
	d.errs = append(d.errs, &Issue{File: d.file, Pos: pos, Field: FieldName(path), Msg: fmt.Sprintf(format, args...), Lockout: lockout})
}

func (d *decoder) sort() {
	sort.SliceStable(d.errs, func(i, j int) bool {
		a, b := d.errs[i].Pos, d.errs[j].Pos
		if !a.IsValid() || !b.IsValid() {
			return a.IsValid() && !b.IsValid()
		}
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
}

// FieldName renders a key path the way error messages show it:
// ssh.ports[0], sysctl."net.ipv4.ip_forward".
func FieldName(path []string) string {
	var b strings.Builder
	for _, s := range path {
		switch {
		case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
			b.WriteString(s)
			continue
		case b.Len() > 0:
			b.WriteByte('.')
		}
		if isBareKey(s) {
			b.WriteString(s)
		} else {
			b.WriteString(quoteTOML(s))
		}
	}
	return b.String()
}

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isBare(s[i]) {
			return false
		}
	}
	return true
}

func with(path []string, more ...string) []string {
	return append(append(make([]string, 0, len(path)+len(more)), path...), more...)
}

var (
	durationType = reflect.TypeFor[Duration]()
	sizeType     = reflect.TypeFor[Size]()
	sysctlsType  = reflect.TypeFor[Sysctls]()
	jailsType    = reflect.TypeFor[[]Jail]()
	jailType     = reflect.TypeFor[Jail]()
)

// tomlFields maps the TOML keys of a struct type to field indexes, in
// declaration order. Jail's "name" is its table key, not a field in the file.
func tomlFields(t reflect.Type) ([]string, map[string]int) {
	var names []string
	idx := map[string]int{}
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ",")
		if tag == "" || tag == "-" || t == jailType && tag == "name" {
			continue
		}
		names = append(names, tag)
		idx[tag] = i
	}
	return names, idx
}

// topLevel holds the keys of the file's top level, for the hint on a
// top-level key written below a table header.
var topLevel = func() map[string]bool {
	names, _ := tomlFields(reflect.TypeFor[Policy]())
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}()

// orderedKeys returns m's keys in document order (any the index missed
// follow, sorted).
func (d *decoder) orderedKeys(m map[string]any, path []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range d.ix.keys(path) {
		if _, ok := m[k]; ok && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	var rest []string
	for k := range m {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

func (d *decoder) structFields(v reflect.Value, m map[string]any, path []string) {
	names, idx := tomlFields(v.Type())
	for _, k := range d.orderedKeys(m, path) {
		i, ok := idx[k]
		if !ok {
			hint := didYouMean(k, names)
			if len(path) > 0 && topLevel[k] {
				hint = fmt.Sprintf(" (%q is a top-level key: keys after a [table] header belong to that table, so move it above the first header)", k)
			}
			d.add(with(path, k), true, false, "unknown key%s", hint)
			continue
		}
		d.value(v.Field(i), m[k], with(path, k))
	}
}

func (d *decoder) value(v reflect.Value, raw any, path []string) {
	switch v.Type() {
	case durationType:
		d.duration(v, raw, path)
		return
	case sizeType:
		d.size(v, raw, path)
		return
	case sysctlsType:
		d.sysctls(v, raw, path)
		return
	case jailsType:
		d.jails(v, raw, path)
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		if b, ok := raw.(bool); ok {
			v.SetBool(b)
			return
		}
		d.typeErr(path, "a boolean (true or false)", raw)
	case reflect.String:
		if s, ok := raw.(string); ok {
			v.SetString(s)
			return
		}
		d.typeErr(path, "a string", raw)
	case reflect.Int, reflect.Int64:
		n, ok := raw.(int64)
		if !ok {
			d.typeErr(path, "an integer", raw)
			return
		}
		if v.OverflowInt(n) {
			d.add(path, false, false, "integer %d out of range", n)
			return
		}
		v.SetInt(n)
	case reflect.Float64:
		switch n := raw.(type) {
		case float64:
			v.SetFloat(n)
		case int64:
			v.SetFloat(float64(n))
		default:
			d.typeErr(path, "a number", raw)
		}
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			d.typeErr(path, "a table", raw)
			return
		}
		d.structFields(v, m, path)
	case reflect.Slice:
		items, ok := asArray(raw)
		if !ok {
			d.typeErr(path, "an array", raw)
			return
		}
		if len(items) == 0 { // an empty list is nil, as in Default
			v.Set(reflect.Zero(v.Type()))
			return
		}
		out := reflect.MakeSlice(v.Type(), len(items), len(items))
		n := len(d.errs)
		for i, it := range items {
			d.value(out.Index(i), it, with(path, elem(i)))
		}
		if len(d.errs) == n { // else keep the default: no follow-on errors
			v.Set(out)
		}
	default:
		d.add(path, true, false, "cannot be set from a policy file")
	}
}

func asArray(raw any) ([]any, bool) {
	switch a := raw.(type) {
	case []any:
		return a, true
	case []map[string]any:
		out := make([]any, len(a))
		for i, m := range a {
			out[i] = m
		}
		return out, true
	}
	return nil, false
}

func (d *decoder) typeErr(path []string, want string, raw any) {
	d.add(path, false, false, "expected %s, found %s", want, typeName(raw))
}

func typeName(raw any) string {
	switch raw.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date-time"
	case map[string]any:
		return "a table"
	case []any, []map[string]any:
		return "an array"
	}
	return fmt.Sprintf("%T", raw)
}

func (d *decoder) duration(v reflect.Value, raw any, path []string) {
	var x Duration
	switch r := raw.(type) {
	case string:
		var err error
		if x, err = ParseDuration(r); err != nil {
			d.add(path, false, false, "%v", err)
			return
		}
	case int64:
		if r < 0 || r > math.MaxInt64/int64(time.Second) {
			d.add(path, false, false, "duration %d out of range (whole seconds, at least 0)", r)
			return
		}
		x = Duration{D: time.Duration(r) * time.Second, Text: strconv.FormatInt(r, 10)}
	default:
		d.typeErr(path, `a duration such as "10m", "1h", "1month" or whole seconds`, raw)
		return
	}
	v.Set(reflect.ValueOf(x))
}

func (d *decoder) size(v reflect.Value, raw any, path []string) {
	var x Size
	switch r := raw.(type) {
	case string:
		var err error
		if x, err = ParseSize(r); err != nil {
			d.add(path, false, false, "%v", err)
			return
		}
	case int64:
		if r < 0 {
			d.add(path, false, false, "size %d out of range (bytes, at least 0)", r)
			return
		}
		x = Size{Bytes: r, Text: strconv.FormatInt(r, 10)}
	default:
		d.typeErr(path, `a size such as "1000M" or whole bytes`, raw)
		return
	}
	v.Set(reflect.ValueOf(x))
}

// sysctls merges a [sysctl] table onto the defaults: a known key keeps its
// place and takes the new value, a new key is appended in file order.
func (d *decoder) sysctls(v reflect.Value, raw any, path []string) {
	m, ok := raw.(map[string]any)
	if !ok {
		d.typeErr(path, `a table of "name" = integer`, raw)
		return
	}
	s := append(Sysctls(nil), v.Interface().(Sysctls)...)
	for _, k := range d.orderedKeys(m, path) {
		n, ok := m[k].(int64)
		if !ok {
			d.typeErr(with(path, k), "an integer", m[k])
			continue
		}
		found := false
		for i := range s {
			if s[i].Name == k {
				s[i].Value, found = n, true
			}
		}
		if !found {
			s = append(s, Sysctl{Name: k, Value: n})
		}
	}
	v.Set(reflect.ValueOf(s))
}

// jails merges [ban.jails.NAME] tables onto the default jails: a jail with a
// default's name overrides that jail's fields, a new name adds a jail
// (enabled, mode "normal", source "file" when paths are set, else "journal").
func (d *decoder) jails(v reflect.Value, raw any, path []string) {
	m, ok := raw.(map[string]any)
	if !ok {
		if _, isArr := asArray(raw); isArr {
			d.add(path, true, false, "expected tables keyed by jail name such as [ban.jails.sshd], found an array")
			return
		}
		d.typeErr(path, "tables keyed by jail name such as [ban.jails.sshd]", raw)
		return
	}
	js := append([]Jail(nil), v.Interface().([]Jail)...)
	for _, name := range d.orderedKeys(m, path) {
		jp := with(path, name)
		t, ok := m[name].(map[string]any)
		if !ok {
			d.typeErr(jp, "a table", m[name])
			continue
		}
		if _, ok := t["name"]; ok {
			d.add(with(jp, "name"), true, false, "unknown key (a jail is named by its table key, [ban.jails.NAME])")
			t = maps.Clone(t)
			delete(t, "name")
		}
		i := -1
		for k := range js {
			if js[k].Name == name {
				i = k
			}
		}
		if i < 0 {
			js = append(js, Jail{Name: name, Enabled: true, Mode: "normal"})
			i = len(js) - 1
		}
		d.structFields(reflect.ValueOf(&js[i]).Elem(), t, jp)
		if js[i].Source == "" {
			js[i].Source = source.KindJournal
			if len(js[i].Paths) > 0 {
				js[i].Source = "file"
			}
		}
	}
	v.Set(reflect.ValueOf(js))
}

// didYouMean returns ` (did you mean "x"?)` for the closest candidate
// within a small edit distance, or a list of the valid keys.
func didYouMean(word string, candidates []string) string {
	best, bestD := "", 4
	for _, c := range candidates {
		if dd := Levenshtein(word, c); dd < bestD {
			best, bestD = c, dd
		}
	}
	if best != "" && bestD <= max(1, len(word)/2) {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	if len(candidates) == 0 {
		return ""
	}
	return " (expected one of " + strings.Join(candidates, ", ") + ")"
}

// Levenshtein is the edit distance between a and b, for did-you-mean hints
// (policy keys here, command names in package cli).
func Levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
