package fleet

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// OutboxFile is the outbox's name inside the state directory.
const OutboxFile = "fleet-outbox.log"

// Entry is one message waiting to be published.
type Entry struct {
	// ID is the message ID (JetStream dedupes a resend by it): random, so
	// no other node can pre-empt it.
	ID      string          `json:"id"`
	Subject string          `json:"subject"`
	Data    json.RawMessage `json:"data"`
	// Expires: a ban no longer worth sending after this (zero = never).
	Expires time.Time `json:"expires,omitzero"`
}

// Outbox is a bounded, ordered queue persisted as an append-only log in
// the state directory: "P {entry}" adds, "A id" removes (sent, expired or
// dropped). Open replays it, so a restart or kill -9 loses no entry put
// before a Flush, and a power loss none put before a Sync. Not safe for
// concurrent use.
type Outbox struct {
	path    string
	max     int
	f       *os.File
	w       *bufio.Writer
	pending []Entry
	head    int // pending[:head] are done, awaiting compaction
	lines   int // lines in the file
	// Dropped counts entries dropped because the outbox was full.
	Dropped int64
}

// OpenOutbox opens (or creates) the outbox in dir, holding at most max
// entries. A torn last line (a crash mid-write) is ignored.
func OpenOutbox(dir string, max int) (*Outbox, error) {
	o := &Outbox{path: filepath.Join(dir, OutboxFile), max: max}
	data, err := os.ReadFile(o.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("fleet outbox: %w", err)
	}
	var order []string
	byID := map[string]Entry{}
	for n, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		switch {
		case bytes.HasPrefix(line, []byte("P ")):
			var e Entry
			if err := json.Unmarshal(line[2:], &e); err != nil || e.ID == "" || e.Subject == "" {
				if n == bytes.Count(data, []byte("\n")) { // torn last line
					continue
				}
				return nil, fmt.Errorf("fleet outbox: %s:%d: damaged entry", o.path, n+1)
			}
			if _, dup := byID[e.ID]; !dup {
				order = append(order, e.ID)
			}
			byID[e.ID] = e
		case bytes.HasPrefix(line, []byte("A ")):
			delete(byID, string(line[2:]))
		default:
			if n == bytes.Count(data, []byte("\n")) {
				continue
			}
			return nil, fmt.Errorf("fleet outbox: %s:%d: damaged line", o.path, n+1)
		}
	}
	for _, id := range order {
		if e, ok := byID[id]; ok {
			o.pending = append(o.pending, e)
			delete(byID, id)
		}
	}
	if len(o.pending) > max {
		o.Dropped += int64(len(o.pending) - max)
		o.pending = o.pending[len(o.pending)-max:]
	}
	if err := o.rewrite(); err != nil {
		return nil, err
	}
	return o, nil
}

// NewID returns a random message ID.
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Len is the number of entries waiting.
func (o *Outbox) Len() int { return len(o.pending) - o.head }

// Pending returns up to n waiting entries, oldest first (valid until the
// next call that changes the outbox).
func (o *Outbox) Pending(n int) []Entry {
	p := o.pending[o.head:]
	return p[:min(n, len(p))]
}

// Put appends entries, dropping the oldest when over the bound. Call
// Sync to make them durable.
func (o *Outbox) Put(es ...Entry) error {
	for _, e := range es {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("fleet outbox: %w", err)
		}
		o.w.WriteString("P ")
		o.w.Write(b)
		o.w.WriteByte('\n')
		o.lines++
		o.pending = append(o.pending, e)
	}
	if over := o.Len() - o.max; over > 0 {
		o.Dropped += int64(over)
		if err := o.Done(over); err != nil {
			return err
		}
	}
	return nil
}

// Done removes the n oldest entries (sent, expired or dropped).
func (o *Outbox) Done(n int) error {
	n = min(n, o.Len())
	for _, e := range o.pending[o.head : o.head+n] {
		o.w.WriteString("A ")
		o.w.WriteString(e.ID)
		o.w.WriteByte('\n')
		o.lines++
	}
	o.head += n
	if o.head > 1024 && o.head*2 > len(o.pending) || o.lines > 4*o.max+1024 {
		return o.rewrite()
	}
	return nil
}

// Flush writes buffered lines to the file: a crash of this process
// loses none of them (Sync: nor a crash of the machine).
func (o *Outbox) Flush() error {
	if err := o.w.Flush(); err != nil {
		return fmt.Errorf("fleet outbox: %w", err)
	}
	return nil
}

// Sync writes buffered lines and fsyncs the file.
func (o *Outbox) Sync() error {
	if err := o.Flush(); err != nil {
		return err
	}
	if err := o.f.Sync(); err != nil {
		return fmt.Errorf("fleet outbox: fsync: %w", err)
	}
	return nil
}

// rewrite replaces the file with the waiting entries only.
func (o *Outbox) rewrite() error {
	if o.f != nil {
		if err := o.w.Flush(); err != nil {
			return fmt.Errorf("fleet outbox: %w", err)
		}
	}
	o.pending = append([]Entry(nil), o.pending[o.head:]...)
	o.head = 0
	tmp, err := os.CreateTemp(filepath.Dir(o.path), ".fleet-outbox-*.tmp")
	if err != nil {
		return fmt.Errorf("fleet outbox: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	for _, e := range o.pending {
		b, _ := json.Marshal(e)
		w.WriteString("P ")
		w.Write(b)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("fleet outbox: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("fleet outbox: fsync: %w", err)
	}
	tmp.Close()
	if err := os.Rename(tmp.Name(), o.path); err != nil {
		return fmt.Errorf("fleet outbox: %w", err)
	}
	f, err := os.OpenFile(o.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("fleet outbox: %w", err)
	}
	if o.f != nil {
		o.f.Close()
	}
	o.f, o.w, o.lines = f, bufio.NewWriterSize(f, 64<<10), len(o.pending)
	return nil
}

// Close flushes and closes the file.
func (o *Outbox) Close() error {
	err := o.Sync()
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	return err
}
