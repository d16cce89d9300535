package source

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Record is one log record as a source read it. Every field is
// attacker-influenced text except Cursor and Source.
type Record struct {
	// Text is the journal MESSAGE or one file line without its newline.
	Text string
	// Time is the journal's __REALTIME_TIMESTAMP; zero for files and stdin,
	// whose time is in the text.
	Time time.Time
	// Ident and PID come from the journal (SYSLOG_IDENTIFIER or _COMM, _PID).
	Ident string
	PID   int
	// Source is "journal", "stdin" or "file:PATH".
	Source string
	// Cursor is the position just after this record: a restart that
	// resumes from it neither skips nor re-reads.
	Cursor Cursor
}

// Cursor is a resumable position. Journal cursors are journald's own;
// file positions are (device, inode, offset, hash of the first line), so a
// file replaced or rewritten while rampart was down is noticed.
type Cursor struct {
	Journal string `json:"journal,omitempty"`
	Dev     uint64 `json:"dev,omitempty"`
	Ino     uint64 `json:"ino,omitempty"`
	Off     int64  `json:"off,omitempty"`
	Hash    uint64 `json:"hash,omitempty"`
	// Seq is a stream sequence (the fleet link's position).
	Seq uint64 `json:"seq,omitempty"`
}

// IsZero reports whether c is "no saved position".
func (c Cursor) IsZero() bool { return c == Cursor{} }

// String is a compact form for logs.
func (c Cursor) String() string {
	if c.Journal != "" {
		return c.Journal
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// Source produces records.
//
// Run reads from cursor (the zero Cursor means the source's documented
// default start) and sends each record to out. It returns nil when ctx is
// cancelled or when a finite source ends (stdin at EOF, journal files at
// their end), and an error when reading fails for good. It never closes
// out: the channel belongs to the daemon and is shared by all sources.
type Source interface {
	// Key names the source for cursor storage ("journal", "file:/var/log/x").
	Key() string
	Run(ctx context.Context, cursor Cursor, out chan<- Record) error
}

// send delivers r unless ctx ends first.
func send(ctx context.Context, out chan<- Record, r Record) error {
	select {
	case out <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// DefaultMaxLine bounds one line or journal entry; longer file lines are
// cut to this size, longer journal entries are skipped.
const DefaultMaxLine = 16 << 10

// errf is fmt.Errorf with the source key as prefix.
func errf(key, format string, args ...any) error {
	return fmt.Errorf("source %s: "+format, append([]any{key}, args...)...)
}
