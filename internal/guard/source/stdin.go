package source

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
)

// Reader reads lines from a stream such as stdin until EOF. It has no
// cursor: a pipe cannot be resumed.
type Reader struct {
	R io.Reader
	// Name is the record source ("stdin" when empty).
	Name string
	// MaxLine cuts longer lines (DefaultMaxLine when 0).
	MaxLine int
}

var _ Source = (*Reader)(nil)

func init() {
	Register(&Kind{
		Name: "stdin",
		Keys: func(Config) []string { return []string{"stdin"} },
		New: func(_ []Config, env Env) ([]Source, error) {
			if env.Stdin == nil {
				return nil, errors.New("a jail reads stdin but no stdin was given")
			}
			return []Source{&Reader{R: env.Stdin}}, nil
		},
	})
}

// Key implements Source.
func (r *Reader) Key() string {
	if r.Name == "" {
		return "stdin"
	}
	return r.Name
}

// Run implements Source.
func (r *Reader) Run(ctx context.Context, _ Cursor, out chan<- Record) error {
	max := r.MaxLine
	if max <= 0 {
		max = DefaultMaxLine
	}
	br := bufio.NewReaderSize(r.R, max)
	key := r.Key()
	var cut bool
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !cut {
				if e := send(ctx, out, Record{Text: string(line), Source: key}); e != nil {
					return nil
				}
			}
			cut = true
			continue
		}
		if len(line) > 0 && !cut {
			text := strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r")
			if e := send(ctx, out, Record{Text: text, Source: key}); e != nil {
				return nil
			}
		}
		cut = false
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return errf(key, "read: %w", err)
		}
	}
}
