// Package jsonpos turns the byte offsets encoding/json's errors carry into
// the line and column an error message names, so that a bad JSON file or
// a bad JSON answer from a program is reported as file:line:column, as
// every other bad input is.
package jsonpos

import "bytes"

// LineCol returns the 1-based line and column of data[off], the byte at
// fault (a json.SyntaxError's Offset minus one: the offset counts the
// byte already read). off is clamped to data.
func LineCol(data []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	return bytes.Count(before, []byte{'\n'}) + 1, int(off) - bytes.LastIndexByte(before, '\n')
}
