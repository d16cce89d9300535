package policy

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Pos is a 1-based line and column (columns count characters, not bytes).
type Pos struct {
	Line, Col int
}

// IsValid reports whether p names a place in a file.
func (p Pos) IsValid() bool { return p.Line > 0 }

// index records where each key and value of a TOML document sits.
// BurntSushi/toml validates and decodes the document but keeps positions
// private, so this small scanner walks the (already valid) source once and
// records, for every key path, the position of the key and of its value,
// and for every table the order in which its keys first appear.
//
// Paths are key segments joined by pathSep; elements of arrays and of
// arrays of tables get a segment "[i]".
type index struct {
	key   map[string]Pos
	val   map[string]Pos
	order map[string][]string
}

const pathSep = "\x00"

func joinPath(parts []string) string { return strings.Join(parts, pathSep) }

func elem(i int) string { return "[" + strconv.Itoa(i) + "]" }

// keyPos returns the position of the key at path (a table header for
// tables), falling back to its value.
func (ix *index) keyPos(path []string) (Pos, bool) {
	k := joinPath(path)
	if p, ok := ix.key[k]; ok {
		return p, true
	}
	p, ok := ix.val[k]
	return p, ok
}

// valPos returns the position of the value at path, falling back to its key.
func (ix *index) valPos(path []string) (Pos, bool) {
	k := joinPath(path)
	if p, ok := ix.val[k]; ok {
		return p, true
	}
	p, ok := ix.key[k]
	return p, ok
}

// has reports whether the document sets path (as a key, table or element).
func (ix *index) has(path []string) bool {
	_, ok := ix.keyPos(path)
	return ok
}

// keys returns the children of the table at path in document order.
func (ix *index) keys(path []string) []string { return ix.order[joinPath(path)] }

// scanner walks TOML source. It assumes the document already parsed; on
// malformed input it never panics or loops, it only records less.
type scanner struct {
	src        string
	off        int
	line, col  int
	ix         *index
	arrayCount map[string]int
}

func buildIndex(src string) *index {
	s := &scanner{
		src: src, line: 1, col: 1,
		ix:         &index{key: map[string]Pos{}, val: map[string]Pos{}, order: map[string][]string{}},
		arrayCount: map[string]int{},
	}
	if strings.HasPrefix(src, "\uFEFF") { // a byte-order mark is not a column
		s.off = len("\uFEFF")
	}
	s.document()
	return s.ix
}

func (s *scanner) eof() bool { return s.off >= len(s.src) }

func (s *scanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.off]
}

func (s *scanner) hasPrefix(p string) bool { return strings.HasPrefix(s.src[s.off:], p) }

func (s *scanner) pos() Pos { return Pos{s.line, s.col} }

// next advances one character (a whole UTF-8 sequence).
func (s *scanner) next() {
	if s.eof() {
		return
	}
	if s.src[s.off] == '\n' {
		s.line++
		s.col = 1
		s.off++
		return
	}
	_, n := utf8.DecodeRuneInString(s.src[s.off:])
	s.off += n
	s.col++
}

func (s *scanner) skipSpace() {
	for !s.eof() && (s.peek() == ' ' || s.peek() == '\t') {
		s.next()
	}
}

// skipBlank skips whitespace, newlines and comments.
func (s *scanner) skipBlank() {
	for !s.eof() {
		switch s.peek() {
		case ' ', '\t', '\r', '\n':
			s.next()
		case '#':
			s.skipLine()
		default:
			return
		}
	}
}

func (s *scanner) skipLine() {
	for !s.eof() && s.peek() != '\n' {
		s.next()
	}
}

// maxDepth bounds the paths the index records: nothing in a policy is
// nested deeper, and deeper values (fuzzers nest arrays thousands deep) are
// still skipped correctly but recorded at their ancestor, keeping the scan
// linear.
const maxDepth = 12

func (s *scanner) note(parent []string, name string, p Pos) []string {
	if len(parent) >= maxDepth {
		return parent
	}
	path := append(append([]string(nil), parent...), name)
	k := joinPath(path)
	if _, ok := s.ix.key[k]; !ok {
		s.ix.key[k] = p
		pk := joinPath(parent)
		s.ix.order[pk] = append(s.ix.order[pk], name)
	}
	return path
}

func (s *scanner) document() {
	var table []string
	for {
		s.skipBlank()
		if s.eof() {
			return
		}
		start := s.off
		if s.peek() == '[' {
			table = s.header()
		} else {
			s.keyValue(table)
		}
		s.skipSpace()
		if s.peek() == '#' {
			s.skipLine()
		}
		if s.off == start { // malformed: make progress
			s.skipLine()
			s.next()
		}
	}
}

// header reads [a.b] or [[a.b]] and returns the table's path.
func (s *scanner) header() []string {
	p := s.pos()
	s.next()
	array := s.peek() == '['
	if array {
		s.next()
	}
	s.skipSpace()
	segs, poss := s.key()
	s.skipSpace()
	for i := 0; i < 2 && s.peek() == ']'; i++ {
		s.next()
	}
	var path []string
	for i, seg := range segs {
		sp := poss[i]
		path = s.note(path, seg, sp)
		if k := joinPath(path); i < len(segs)-1 && s.arrayCount[k] > 0 {
			// [[a]] then [a.b]: b belongs to the last element of a.
			path = s.note(path, elem(s.arrayCount[k]-1), sp)
		}
	}
	if array && len(path) > 0 {
		k := joinPath(path)
		n := s.arrayCount[k]
		s.arrayCount[k] = n + 1
		path = s.note(path, elem(n), p)
	}
	return path
}

func (s *scanner) keyValue(table []string) {
	segs, poss := s.key()
	if len(segs) == 0 {
		return
	}
	path := table
	for i, seg := range segs {
		path = s.note(path, seg, poss[i])
	}
	s.skipSpace()
	if s.peek() != '=' {
		return
	}
	s.next()
	s.skipSpace()
	s.value(path)
}

// key reads a dotted key and returns its segments and their positions.
func (s *scanner) key() ([]string, []Pos) {
	var segs []string
	var poss []Pos
	for {
		s.skipSpace()
		p := s.pos()
		seg, ok := s.simpleKey()
		if !ok {
			return segs, poss
		}
		segs, poss = append(segs, seg), append(poss, p)
		s.skipSpace()
		if s.peek() != '.' {
			return segs, poss
		}
		s.next()
	}
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func (s *scanner) simpleKey() (string, bool) {
	switch c := s.peek(); {
	case c == '"':
		return s.basicString(), true
	case c == '\'':
		s.next()
		start := s.off
		for !s.eof() && s.peek() != '\'' && s.peek() != '\n' {
			s.next()
		}
		v := s.src[start:s.off]
		s.next()
		return v, true
	case isBare(c):
		start := s.off
		for !s.eof() && isBare(s.peek()) {
			s.next()
		}
		return s.src[start:s.off], true
	}
	return "", false
}

// basicString reads a one-line "..." string and returns its value.
func (s *scanner) basicString() string {
	s.next()
	var b strings.Builder
	for !s.eof() && s.peek() != '"' && s.peek() != '\n' {
		c := s.peek()
		if c != '\\' {
			start := s.off
			s.next()
			b.WriteString(s.src[start:s.off])
			continue
		}
		s.next()
		e := s.peek()
		s.next()
		switch e {
		case 'b':
			b.WriteByte('\b')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'f':
			b.WriteByte('\f')
		case 'r':
			b.WriteByte('\r')
		case 'e':
			b.WriteByte(0x1b)
		case 'u', 'U', 'x':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			start := s.off
			for i := 0; i < n && !s.eof(); i++ {
				s.next()
			}
			if r, err := strconv.ParseUint(s.src[start:s.off], 16, 32); err == nil {
				b.WriteRune(rune(r))
			}
		default:
			b.WriteByte(e)
		}
	}
	s.next()
	return b.String()
}

// value skips one value, recording its position and those of the keys and
// elements inside it.
func (s *scanner) value(path []string) {
	s.ix.val[joinPath(path)] = s.pos()
	switch {
	case s.hasPrefix(`"""`), s.hasPrefix(`'''`):
		q := s.src[s.off : s.off+3]
		for range 3 {
			s.next()
		}
		for !s.eof() && !s.hasPrefix(q) {
			if q[0] == '"' && s.peek() == '\\' {
				s.next()
			}
			s.next()
		}
		for range 3 {
			s.next()
		}
		for i := 0; i < 2 && s.peek() == q[0]; i++ { // """a"""" ends with a quote
			s.next()
		}
	case s.peek() == '"':
		s.basicString()
	case s.peek() == '\'':
		s.simpleKey()
	case s.peek() == '[':
		s.items(']', func(i int) {
			if len(path) < maxDepth {
				s.value(with(path, elem(i)))
			} else {
				s.value(path)
			}
		})
	case s.peek() == '{':
		s.items('}', func(int) { s.keyValue(path) })
	default:
		for !s.eof() && !strings.ContainsRune(",]}#\n\r", rune(s.peek())) {
			s.next()
		}
	}
}

// items reads the comma-separated items of an array or inline table up to
// the closing byte, calling item at the start of each.
func (s *scanner) items(closing byte, item func(i int)) {
	s.next()
	for i := 0; ; i++ {
		s.skipBlank()
		if s.eof() || s.peek() == closing {
			break
		}
		start := s.off
		item(i)
		s.skipBlank()
		if s.peek() == ',' {
			s.next()
		} else if s.off == start {
			break
		}
	}
	s.next()
}
