package jsonpos

import (
	"encoding/json"
	"errors"
	"testing"
)

// The position of the byte a json.SyntaxError is about, and offsets out
// of range clamped.
func TestLineCol(t *testing.T) {
	for _, tc := range []struct {
		data      string
		off       int64
		line, col int
	}{
		{"abc", 0, 1, 1},
		{"abc", 2, 1, 3},
		{"a\nbc", 2, 2, 1},
		{"a\nbc", 3, 2, 2},
		{"a\n\nb", 3, 3, 1},
		{"abc", -1, 1, 1},
		{"a\nb", 99, 2, 2},
	} {
		if l, c := LineCol([]byte(tc.data), tc.off); l != tc.line || c != tc.col {
			t.Errorf("LineCol(%q, %d) = %d:%d, want %d:%d", tc.data, tc.off, l, c, tc.line, tc.col)
		}
	}
	data := []byte("{\n  \"a\": 1,\n  }\n")
	var v any
	var se *json.SyntaxError
	if err := json.Unmarshal(data, &v); !errors.As(err, &se) {
		t.Fatalf("want a syntax error, got %v", err)
	}
	if l, c := LineCol(data, se.Offset-1); l != 3 || c != 3 {
		t.Errorf("the '}' after a comma is at %d:%d, want 3:3", l, c)
	}
}
