package policy

// Positions locates the keys and values of a TOML document, for other
// strict TOML files (the fleet inventory) that report problems as
// FILE:LINE:COL the way policies do.
type Positions struct{ ix *index }

// IndexTOML records where each key and value of src sits; src should
// already have parsed (on malformed input it only records less).
func IndexTOML(src string) *Positions { return &Positions{buildIndex(src)} }

// Key is the position of the key at path (a table header for tables),
// else of its value. Elements of arrays of tables are segments Elem(i).
func (p *Positions) Key(path ...string) (Pos, bool) { return p.ix.keyPos(path) }

// Value is the position of the value at path, else of its key.
func (p *Positions) Value(path ...string) (Pos, bool) { return p.ix.valPos(path) }

// Elem is the path segment of the i-th element of an array.
func Elem(i int) string { return elem(i) }

// SyntaxIssue turns a BurntSushi/toml decode error for the file name with
// source src into an Issue at the offending position.
func SyntaxIssue(name, src string, err error) *Issue { return syntaxIssue(name, src, err) }

// DidYouMean returns ` (did you mean "x"?)` for the closest candidate, or
// the list of candidates.
func DidYouMean(word string, candidates []string) string { return didYouMean(word, candidates) }
