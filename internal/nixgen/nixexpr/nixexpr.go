package nixexpr

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Value is a Nix expression.
type Value interface {
	write(w *writer, indent int)
}

// Str is a double-quoted string.
type Str string

// Lines is an indented string (between two pairs of single quotes), one
// element per line; the rendered string ends with a newline. Lines with
// characters such a string cannot hold literally (carriage returns, NUL)
// are written as a Str.
type Lines []string

// Bool is true or false.
type Bool bool

// Int is an integer.
type Int int64

// Float is a floating-point number (finite; always written with a
// decimal point so that Nix reads a float, not an integer).
type Float float64

// Null is null.
type Null struct{}

// Raw is an expression written verbatim. Only the program chooses raw
// text (e.g. "config.services.nginx.enable"); never pass input through it.
type Raw string

// List is a list of values.
type List []Value

// Attrs is an attribute set whose entries keep their insertion order.
type Attrs struct {
	Entries []Entry
}

// Entry is one `path = value;` definition with an optional comment above
// it. An entry with a nil Value is a comment only.
type Entry struct {
	Path    []string
	Value   Value
	Comment string
}

// Apply is a function application: Fn Args[0] Args[1] …
type Apply struct {
	Fn   Raw
	Args []Value
}

// Func is a function whose argument is an attribute-set pattern:
// `{ a, b, ... }: Body`.
type Func struct {
	Params []string
	Body   Value
}

// Add appends an entry and returns the set for chaining.
func (a *Attrs) Add(comment string, v Value, path ...string) *Attrs {
	a.Entries = append(a.Entries, Entry{Path: path, Value: v, Comment: comment})
	return a
}

// Len is the number of entries.
func (a *Attrs) Len() int {
	if a == nil {
		return 0
	}
	return len(a.Entries)
}

// Strs builds a list of strings.
func Strs(ss ...string) List {
	l := make(List, 0, len(ss))
	for _, s := range ss {
		l = append(l, Str(s))
	}
	return l
}

// Ints builds a list of integers.
func Ints(ns ...int) List {
	l := make(List, 0, len(ns))
	for _, n := range ns {
		l = append(l, Int(n))
	}
	return l
}

// MkIf is `lib.mkIf cond value`.
func MkIf(cond Raw, v Value) Apply { return Apply{Fn: "lib.mkIf", Args: []Value{cond, v}} }

type writer struct {
	b   strings.Builder
	err error
}

func (w *writer) str(s string) { w.b.WriteString(s) }

func (w *writer) fail(format string, args ...any) {
	if w.err == nil {
		w.err = fmt.Errorf(format, args...)
	}
}

func pad(n int) string { return strings.Repeat("  ", n) }

// Render writes v as a Nix expression (no trailing newline).
func Render(v Value) (string, error) {
	w := &writer{}
	v.write(w, 0)
	return w.b.String(), w.err
}

// File renders a whole file: header comment lines, then v, then a newline.
func File(header string, v Value) ([]byte, error) {
	w := &writer{}
	writeComment(w, header, 0)
	v.write(w, 0)
	w.str("\n")
	return []byte(w.b.String()), w.err
}

// Assign renders one definition as a line (or lines) `a.b.c = value;`.
func Assign(path []string, v Value) (string, error) {
	w := &writer{}
	w.str(KeyPath(path))
	w.str(" = ")
	v.write(w, 0)
	w.str(";")
	return w.b.String(), w.err
}

// ident reports whether s is a Nix identifier: [A-Za-z_][A-Za-z0-9_'-]*.
func ident(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '\'' || c == '-'):
		default:
			return false
		}
	}
	return s != ""
}

var keywords = map[string]bool{
	"if": true, "then": true, "else": true, "assert": true, "with": true, "let": true,
	"in": true, "rec": true, "inherit": true, "or": true, "true": true, "false": true, "null": true,
}

// Key writes one attribute name, quoting it unless it is a plain identifier.
func Key(s string) string {
	if ident(s) && !keywords[s] {
		return s
	}
	return quote(s)
}

// KeyPath writes a dotted attribute path.
func KeyPath(path []string) string {
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = Key(p)
	}
	return strings.Join(parts, ".")
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '"':
			b.WriteString(`\"`)
		case c == '$' && i+1 < len(s) && s[i+1] == '{':
			b.WriteString(`\$`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func (s Str) write(w *writer, _ int) {
	if strings.IndexByte(string(s), 0) >= 0 {
		w.fail("string %q contains a NUL byte, which Nix strings cannot hold", string(s))
	}
	w.str(quote(string(s)))
}

func (l Lines) write(w *writer, indent int) {
	// Lines holding characters or sequences an indented string cannot hold
	// literally, or all starting with a space (Nix strips the indentation common to
	// all non-blank lines, so they would lose it), are written as a Str.
	if !indentable(l) {
		Str(strings.Join(l, "\n")+"\n").write(w, indent)
		return
	}
	w.str("''\n")
	for _, line := range l {
		if line != "" {
			w.str(pad(indent + 1))
			w.str(line)
		}
		w.str("\n")
	}
	w.str(pad(indent))
	w.str("''")
}

func indentable(l Lines) bool {
	allIndented, any := true, false
	for _, line := range l {
		// No escaping inside: "''" and "${" would need escapes that a
		// neighbouring quote can change the meaning of.
		if strings.ContainsAny(line, "\r\x00\n") || strings.Contains(line, "''") || strings.Contains(line, "${") {
			return false
		}
		if strings.TrimLeft(line, " ") != "" {
			any = true
			allIndented = allIndented && strings.HasPrefix(line, " ")
		}
	}
	return !(any && allIndented)
}

func (b Bool) write(w *writer, _ int) { w.str(strconv.FormatBool(bool(b))) }

func (n Int) write(w *writer, _ int) {
	if n < 0 {
		w.str("(" + strconv.FormatInt(int64(n), 10) + ")")
		return
	}
	w.str(strconv.FormatInt(int64(n), 10))
}

func (f Float) write(w *writer, _ int) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		w.fail("float %v has no Nix literal", float64(f))
		return
	}
	s := strconv.FormatFloat(float64(f), 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	if f < 0 {
		s = "(" + s + ")"
	}
	w.str(s)
}

func (Null) write(w *writer, _ int) { w.str("null") }

func (r Raw) write(w *writer, _ int) { w.str(string(r)) }

func scalar(v Value) bool {
	switch v.(type) {
	case Str, Bool, Int, Float, Null, Raw:
		return true
	}
	return false
}

func (l List) write(w *writer, indent int) {
	if len(l) == 0 {
		w.str("[ ]")
		return
	}
	inline, width := true, 0
	for _, v := range l {
		if !scalar(v) {
			inline = false
			break
		}
		s, _ := Render(v)
		width += len(s) + 1
	}
	if inline && width <= 60 {
		w.str("[")
		for _, v := range l {
			w.str(" ")
			v.write(w, indent)
		}
		w.str(" ]")
		return
	}
	w.str("[\n")
	for _, v := range l {
		w.str(pad(indent + 1))
		writeElem(w, v, indent+1)
		w.str("\n")
	}
	w.str(pad(indent) + "]")
}

// writeElem writes a list element or function argument, parenthesising
// applications and functions.
func writeElem(w *writer, v Value, indent int) {
	switch v.(type) {
	case Apply, Func:
		w.str("(")
		v.write(w, indent)
		w.str(")")
	default:
		v.write(w, indent)
	}
}

func writeComment(w *writer, c string, indent int) {
	if c == "" {
		return
	}
	for _, line := range strings.Split(c, "\n") {
		line = strings.Map(func(r rune) rune {
			if r < 0x20 && r != '\t' || r == 0x7f {
				return ' '
			}
			return r
		}, line)
		w.str(pad(indent))
		if line == "" {
			w.str("#\n")
			continue
		}
		w.str("# " + line + "\n")
	}
}

func (a *Attrs) write(w *writer, indent int) {
	if a.Len() == 0 {
		w.str("{ }")
		return
	}
	w.str("{\n")
	seen := map[string]bool{}
	for i, e := range a.Entries {
		if len(e.Path) == 0 && e.Value != nil {
			w.fail("attribute entry without a name")
			continue
		}
		if e.Value == nil { // a comment-only entry
			writeComment(w, e.Comment, indent+1)
			continue
		}
		k := KeyPath(e.Path)
		if seen[k] {
			w.fail("attribute %s defined twice", k)
		}
		seen[k] = true
		if e.Comment != "" && i > 0 && indent == 0 {
			w.str("\n")
		}
		writeComment(w, e.Comment, indent+1)
		w.str(pad(indent+1) + k + " = ")
		e.Value.write(w, indent+1)
		w.str(";\n")
	}
	w.str(pad(indent) + "}")
}

func (a Apply) write(w *writer, indent int) {
	w.str(string(a.Fn))
	for _, arg := range a.Args {
		w.str(" ")
		writeElem(w, arg, indent)
	}
}

func (f Func) write(w *writer, indent int) {
	w.str("{ " + strings.Join(append(append([]string{}, f.Params...), "..."), ", ") + " }:\n")
	w.str(pad(indent))
	f.Body.write(w, indent)
}

// Leaf is one option definition found by Flatten.
type Leaf struct {
	Path  []string
	Value Value
}

// Flatten returns the option definitions in v: attribute sets are walked
// into, as are the bodies of module functions and the last argument of
// lib.mkIf / lib.mkDefault / lib.mkForce; anything else is a leaf.
func Flatten(v Value) []Leaf {
	var out []Leaf
	var walk func(prefix []string, v Value)
	walk = func(prefix []string, v Value) {
		switch x := v.(type) {
		case *Attrs:
			if x.Len() == 0 {
				out = append(out, Leaf{Path: prefix, Value: x})
			}
			for _, e := range x.Entries {
				if e.Value == nil {
					continue
				}
				p := append(append([]string{}, prefix...), e.Path...)
				walk(p, e.Value)
			}
		case Func:
			walk(prefix, x.Body)
		case Apply:
			switch x.Fn {
			case "lib.mkIf", "lib.mkDefault", "lib.mkForce":
				walk(prefix, x.Args[len(x.Args)-1])
				return
			}
			out = append(out, Leaf{Path: prefix, Value: x})
		default:
			out = append(out, Leaf{Path: prefix, Value: v})
		}
	}
	walk(nil, v)
	return out
}
