package source

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/internal/host"
)

// Journal follows the systemd journal through journalctl. Matches are
// OR-ed ("FIELD=value" each, joined with "+"), so the default sshd jail's
// unit, _COMM and SYSLOG_IDENTIFIER matches catch both sshd and
// OpenSSH >= 9.8's sshd-session.
type Journal struct {
	Host    host.Streamer
	Matches []string
	// Files reads these journal files instead of the live journal (tests,
	// offline replay); Run then ends at their end instead of following.
	Files []string
	// Program is the journalctl to run ("journalctl" when empty).
	Program string
	// MaxLine bounds one JSON entry (DefaultMaxLine*4 when 0).
	MaxLine int
	// Backoff is the wait before restarting a journalctl that exited
	// while following (1s when 0).
	Backoff time.Duration
	Log     *slog.Logger
}

var _ Source = (*Journal)(nil)

func init() {
	Register(&Kind{
		Name: KindJournal,
		Help: "matches below",
		Check: func(c Config) []Problem {
			if len(c.Journal) == 0 {
				return []Problem{{"source", `source "journal" needs at least one journal match such as "_SYSTEMD_UNIT=sshd.service"`}}
			}
			return nil
		},
		Keys: func(Config) []string { return []string{KindJournal} },
		// One reader for the union of the jails' matches: two readers
		// would count a line matching both jails twice.
		New: func(cs []Config, env Env) ([]Source, error) {
			var matches []string
			for _, c := range cs {
				for _, m := range c.Journal {
					if err := ValidMatch(m); err != nil {
						return nil, fmt.Errorf("jail %q: %w", c.Jail, err)
					}
					if !slices.Contains(matches, m) {
						matches = append(matches, m)
					}
				}
			}
			return []Source{&Journal{Host: env.Host, Matches: matches, Files: env.JournalFiles, Log: logger(env).With("source", KindJournal)}}, nil
		},
	})
}

// Key implements Source.
func (j *Journal) Key() string { return "journal" }

// ValidMatch checks one journal match: FIELD=value with FIELD made of
// upper-case letters, digits and underscores (journalctl's rule), or "+".
func ValidMatch(m string) error {
	field, _, ok := strings.Cut(m, "=")
	if !ok || field == "" {
		return fmt.Errorf("journal match %q: want FIELD=value", m)
	}
	for i, r := range field {
		if !(r >= 'A' && r <= 'Z' || r == '_' || i > 0 && r >= '0' && r <= '9') {
			return fmt.Errorf("journal match %q: field name may only hold A-Z, 0-9 and _", m)
		}
	}
	return nil
}

// Command is the journalctl invocation for a start position.
func (j *Journal) Command(c Cursor) host.Cmd {
	prog := j.Program
	if prog == "" {
		prog = "journalctl"
	}
	args := []string{"-o", "json", "--no-pager", "--quiet"}
	follow := len(j.Files) == 0
	for _, f := range j.Files {
		args = append(args, "--file", f)
	}
	switch {
	case c.Journal != "":
		args = append(args, "--after-cursor", c.Journal)
	case follow:
		args = append(args, "--lines", "0") // first start: from now on
	}
	if follow {
		args = append(args, "--follow")
	}
	for i, m := range j.Matches {
		if i > 0 {
			args = append(args, "+")
		}
		args = append(args, m)
	}
	return host.Cmd{Name: prog, Args: args}
}

// Run implements Source. With no cursor, a live journal is read from now
// on and journal files from their start.
func (j *Journal) Run(ctx context.Context, c Cursor, out chan<- Record) error {
	for _, m := range j.Matches {
		if err := ValidMatch(m); err != nil {
			return errf(j.Key(), "%w", err)
		}
	}
	log := j.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	backoff := j.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	for {
		last, err := j.once(ctx, c, out, log)
		if !last.IsZero() {
			c = last
		}
		if ctx.Err() != nil {
			return nil
		}
		if len(j.Files) > 0 {
			return err
		}
		log.Warn("journalctl ended; restarting", "err", err, "cursor", c.Journal)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
	}
}

func (j *Journal) once(ctx context.Context, c Cursor, out chan<- Record, log *slog.Logger) (Cursor, error) {
	cmd := j.Command(c)
	rc, err := j.Host.Stream(ctx, cmd)
	if err != nil {
		return Cursor{}, errf(j.Key(), "%s: %w", cmd.String(), err)
	}
	defer rc.Close()
	max := j.MaxLine
	if max <= 0 {
		max = DefaultMaxLine * 4
	}
	var last Cursor
	br := bufio.NewReaderSize(rc, max)
	skipping := false
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !skipping {
				log.Warn("journal entry too long; skipped", "max", max)
			}
			skipping = true
			continue
		}
		if skipping { // the tail of an over-long entry
			skipping = false
			line = nil
		}
		if line = bytes.TrimRight(line, "\r\n"); len(line) > 0 {
			r, perr := ParseJSONEntry(line)
			switch {
			case perr != nil:
				log.Warn("journal entry skipped", "err", perr)
			case r.Text != "":
				if send(ctx, out, r) != nil {
					return last, nil
				}
				last = r.Cursor
			case r.Cursor.Journal != "":
				last = r.Cursor
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return last, nil
			}
			return last, errf(j.Key(), "read %s: %w", cmd.Name, err)
		}
	}
}

// ParseJSONEntry decodes one line of `journalctl -o json`. MESSAGE is a
// string, an array of byte values when it is not valid UTF-8, an array
// of those when a field repeats, or null when journalctl left it out; an
// entry without a usable MESSAGE comes back with empty Text (its cursor
// still counts).
func ParseJSONEntry(b []byte) (Record, error) {
	var e struct {
		Cursor   string          `json:"__CURSOR"`
		Realtime string          `json:"__REALTIME_TIMESTAMP"`
		Message  json.RawMessage `json:"MESSAGE"`
		Ident    json.RawMessage `json:"SYSLOG_IDENTIFIER"`
		Comm     json.RawMessage `json:"_COMM"`
		PID      json.RawMessage `json:"_PID"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return Record{}, fmt.Errorf("journal json: %w", err)
	}
	r := Record{Source: "journal", Cursor: Cursor{Journal: e.Cursor}}
	if e.Realtime != "" {
		us, err := strconv.ParseInt(e.Realtime, 10, 64)
		if err != nil || us < 0 {
			return Record{}, fmt.Errorf("journal json: __REALTIME_TIMESTAMP %q: want microseconds since the epoch", e.Realtime)
		}
		r.Time = time.UnixMicro(us)
	}
	var err error
	if r.Text, err = field(e.Message); err != nil {
		return Record{}, fmt.Errorf("journal json: MESSAGE: %w", err)
	}
	if r.Ident, err = field(e.Ident); err != nil || r.Ident == "" {
		if r.Ident, err = field(e.Comm); err != nil {
			return Record{}, fmt.Errorf("journal json: _COMM: %w", err)
		}
	}
	pid, err := field(e.PID)
	if err != nil {
		return Record{}, fmt.Errorf("journal json: _PID: %w", err)
	}
	if pid != "" {
		n, err := strconv.Atoi(pid)
		if err != nil || n < 0 {
			return Record{}, fmt.Errorf("journal json: _PID %q: want a process id", pid)
		}
		r.PID = n
	}
	return r, nil
}

// field decodes a journal JSON field value: "text", [bytes...], null, or
// an array of values for a repeated field (the first is used).
func field(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return "", err
		}
		if len(items) == 0 {
			return "", nil
		}
		if t := bytes.TrimSpace(items[0]); len(t) > 0 && (t[0] == '"' || t[0] == '[') {
			return field(items[0]) // repeated field
		}
		bs := make([]byte, 0, len(items))
		for _, it := range items {
			n, err := strconv.ParseUint(string(bytes.TrimSpace(it)), 10, 8)
			if err != nil {
				return "", fmt.Errorf("byte array element %s: want 0..255", it)
			}
			bs = append(bs, byte(n))
		}
		return string(bs), nil
	}
	return "", fmt.Errorf("unexpected JSON value %.20s", raw)
}
