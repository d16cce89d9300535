package filter

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// f2bConfig is a fail2ban configuration after reading a file with its
// [INCLUDES] and .local overrides: section → key → raw value. Keys are lower
// case (Python configparser's default). Overridden values stay reachable as
// "known/KEY", as fail2ban allows.
type f2bConfig struct {
	sec map[string]map[string]string
	// files read, in order, for error messages and -v output.
	files []string
}

const (
	f2bMaxIncludeDepth = 10
	// f2bMaxValue bounds an option after substitution (a filter that
	// references itself twice per level would otherwise grow exponentially).
	f2bMaxValue = 1 << 20
)

// readF2BConfig reads path with its includes: [INCLUDES] before, the file,
// the file's .local sibling, [INCLUDES] after.
func readF2BConfig(path string) (*f2bConfig, error) {
	c := &f2bConfig{sec: map[string]map[string]string{}}
	if err := c.readWithIncludes(path, 0, map[string]bool{}); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *f2bConfig) readWithIncludes(path string, depth int, seen map[string]bool) error {
	if depth > f2bMaxIncludeDepth {
		return fmt.Errorf("%s: includes nested deeper than %d", path, f2bMaxIncludeDepth)
	}
	if seen[path] {
		return nil
	}
	seen[path] = true
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	secs, err := parseINI(path, string(data))
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	incl := func(key string) []string {
		var out []string
		for _, s := range secs {
			if s.name != "INCLUDES" {
				continue
			}
			for _, kv := range s.kv {
				if kv[0] == key {
					for f := range strings.FieldsSeq(kv[1]) {
						if !filepath.IsAbs(f) {
							f = filepath.Join(dir, f)
						}
						out = append(out, f)
					}
				}
			}
		}
		return out
	}
	for _, f := range incl("before") {
		if err := c.readOptional(f, depth, seen); err != nil {
			return err
		}
	}
	c.merge(secs)
	c.files = append(c.files, path)
	if strings.HasSuffix(path, ".conf") {
		local := strings.TrimSuffix(path, ".conf") + ".local"
		if err := c.readOptional(local, depth, seen); err != nil {
			return err
		}
	}
	for _, f := range incl("after") {
		if err := c.readOptional(f, depth, seen); err != nil {
			return err
		}
	}
	return nil
}

// readOptional reads an include that may be missing (fail2ban ignores
// missing includes such as common.local).
func (c *f2bConfig) readOptional(path string, depth int, seen map[string]bool) error {
	err := c.readWithIncludes(path, depth+1, seen)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func (c *f2bConfig) merge(secs []iniSection) {
	for _, s := range secs {
		m := c.sec[s.name]
		if m == nil {
			m = map[string]string{}
			c.sec[s.name] = m
		}
		for _, kv := range s.kv {
			if old, ok := m[kv[0]]; ok {
				m["known/"+kv[0]] = old
			}
			m[kv[0]] = kv[1]
		}
	}
}

type iniSection struct {
	name string
	kv   [][2]string
}

// parseINI parses configparser syntax: [section], "key = value" or
// "key: value", indented continuation lines, full-line comments (# ;) and
// inline comments after whitespace and ";".
func parseINI(name, text string) ([]iniSection, error) {
	var secs []iniSection
	cur := -1
	lastKey := -1
	for i, raw := range strings.Split(text, "\n") {
		ln := i + 1
		line := strings.TrimRight(raw, "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			continue
		}
		if trimmed[0] == '#' || trimmed[0] == ';' {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && cur >= 0 && lastKey >= 0 {
			kv := &secs[cur].kv[lastKey]
			kv[1] += "\n" + stripInlineComment(trimmed)
			continue
		}
		if trimmed[0] == '[' {
			end := strings.IndexByte(trimmed, ']')
			if end < 0 {
				return nil, fmt.Errorf("%s:%d:1: section header %q: expected a closing ]", name, ln, trimmed)
			}
			secs = append(secs, iniSection{name: trimmed[1:end]})
			cur, lastKey = len(secs)-1, -1
			continue
		}
		k := strings.IndexAny(line, "=:")
		if k <= 0 {
			return nil, fmt.Errorf("%s:%d:1: %q: expected \"key = value\" or a [section]", name, ln, trimmed)
		}
		if cur < 0 {
			return nil, fmt.Errorf("%s:%d:1: key before any [section]", name, ln)
		}
		key := strings.ToLower(strings.TrimSpace(line[:k]))
		val := stripInlineComment(strings.TrimSpace(line[k+1:]))
		secs[cur].kv = append(secs[cur].kv, [2]string{key, val})
		lastKey = len(secs[cur].kv) - 1
	}
	return secs, nil
}

func stripInlineComment(s string) string {
	for i := 1; i < len(s); i++ {
		if s[i] == ';' && (s[i-1] == ' ' || s[i-1] == '\t') {
			return strings.TrimSpace(s[:i])
		}
	}
	return s
}

// f2bOptions resolves a filter's options the way fail2ban's filter reader
// does: jail parameters over [Init] over [Definition] over [DEFAULT], with
// %(name)s interpolation and recursive <tag> substitution.
type f2bOptions struct {
	c      *f2bConfig
	params map[string]string
}

// raw returns the uninterpolated value of key for the filter.
func (o *f2bOptions) raw(key string) (string, bool) {
	if v, ok := o.params[key]; ok {
		return v, true
	}
	for _, s := range []string{"Init", "Definition", "DEFAULT"} {
		if v, ok := o.c.sec[s][key]; ok {
			return v, true
		}
	}
	return "", false
}

// sectionValue looks key up in section sec, falling back to DEFAULT.
func (o *f2bOptions) sectionValue(sec, key string) (string, bool) {
	if strings.EqualFold(sec, "default") {
		v, ok := o.c.sec["DEFAULT"][key]
		return v, ok
	}
	if sec == "known" {
		// The value known before the filter's own definition: an
		// overridden one, else the [DEFAULT] one.
		for _, s := range []string{"Init", "Definition", "DEFAULT"} {
			if v, ok := o.c.sec[s]["known/"+key]; ok {
				return v, true
			}
		}
		v, ok := o.c.sec["DEFAULT"][key]
		return v, ok
	}
	if v, ok := o.c.sec[sec][key]; ok {
		return v, true
	}
	if _, ok := o.c.sec[sec]; ok {
		v, ok := o.c.sec["DEFAULT"][key]
		return v, ok
	}
	return "", false
}

// lookup resolves a reference: "key" or "section/key".
func (o *f2bOptions) lookup(ref string) (string, bool) {
	if i := strings.IndexByte(ref, '/'); i > 0 {
		return o.sectionValue(ref[:i], strings.ToLower(ref[i+1:]))
	}
	return o.raw(ref)
}

// interpolate expands %(name)s references (and %% to %).
func (o *f2bOptions) interpolate(v string, depth int) (string, error) {
	if depth > 30 {
		return "", fmt.Errorf("interpolation nested deeper than 30 levels (a reference loop?)")
	}
	if !strings.Contains(v, "%") {
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			b.WriteByte(v[i])
			continue
		}
		if i+1 < len(v) && v[i+1] == '%' {
			b.WriteByte('%')
			i++
			continue
		}
		if i+1 < len(v) && v[i+1] == '(' {
			end := strings.Index(v[i:], ")s")
			if end < 0 {
				return "", fmt.Errorf("%q: unterminated %%(name)s reference", v[i:])
			}
			name := strings.ToLower(v[i+2 : i+end])
			val, ok := o.lookup(name)
			if !ok {
				return "", fmt.Errorf("%%(%s)s: no such option", name)
			}
			exp, err := o.interpolate(val, depth+1)
			if err != nil {
				return "", fmt.Errorf("%%(%s)s: %w", name, err)
			}
			if b.Len()+len(exp) > f2bMaxValue {
				return "", fmt.Errorf("%%(%s)s: value grows beyond %d bytes", name, f2bMaxValue)
			}
			b.WriteString(exp)
			i += end + 1
			continue
		}
		// A lone % (configparser would refuse it; be lenient).
		b.WriteByte('%')
	}
	return b.String(), nil
}

// get returns the fully resolved value of key: interpolated, then with
// every <tag> naming an option replaced, innermost first.
func (o *f2bOptions) get(key string) (string, bool, error) {
	v, ok := o.raw(key)
	if !ok {
		return "", false, nil
	}
	v, err := o.interpolate(v, 0)
	if err != nil {
		return "", true, fmt.Errorf("%s: %w", key, err)
	}
	v, err = o.substituteTags(v)
	if err != nil {
		return "", true, fmt.Errorf("%s: %w", key, err)
	}
	return v, true, nil
}

func (o *f2bOptions) substituteTags(v string) (string, error) {
	for iter := 0; ; iter++ {
		if iter > 200 {
			return "", fmt.Errorf("tag substitution does not terminate (a <tag> loop?)")
		}
		changed := false
		var b strings.Builder
		i := 0
		for i < len(v) {
			lt := strings.IndexByte(v[i:], '<')
			if lt < 0 {
				break
			}
			lt += i
			gt := strings.IndexByte(v[lt+1:], '>')
			if gt < 0 {
				break
			}
			gt += lt + 1
			tag := v[lt+1 : gt]
			if tag == "" || strings.ContainsAny(tag, " <") {
				b.WriteString(v[i : lt+1])
				i = lt + 1
				continue
			}
			val, ok := o.lookup(tag)
			if !ok {
				b.WriteString(v[i : gt+1])
				i = gt + 1
				continue
			}
			exp, err := o.interpolate(val, 0)
			if err != nil {
				return "", fmt.Errorf("<%s>: %w", tag, err)
			}
			if b.Len()+len(exp) > f2bMaxValue {
				return "", fmt.Errorf("<%s>: value grows beyond %d bytes", tag, f2bMaxValue)
			}
			b.WriteString(v[i:lt])
			b.WriteString(exp)
			i = gt + 1
			changed = true
		}
		b.WriteString(v[i:])
		v = b.String()
		if !changed {
			return v, nil
		}
	}
}
