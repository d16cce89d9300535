package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/nft"
	"github.com/rampart-sec/rampart/internal/guard/source"
	"github.com/rampart-sec/rampart/internal/jsonpos"
)

// FileName is the snapshot's name inside the state directory.
const FileName = "guard-state.json"

// Version is the snapshot format version.
const Version = 1

// Ban is one active ban.
type Ban struct {
	Prefix netip.Prefix `json:"prefix"`
	Jail   string       `json:"jail"`
	// At is when the ban was decided (log time of the last failure).
	At time.Time `json:"at"`
	// Until is the absolute expiry.
	Until    time.Time `json:"until"`
	Failures int       `json:"failures,omitempty"`
	// Count is n for the nth ban of this prefix (ban-time increment).
	Count int `json:"count,omitempty"`
	// Origin is the fleet node that decided the ban ("" = this host).
	Origin string `json:"origin,omitempty"`
}

// State is everything persisted.
type State struct {
	Version int                      `json:"version"`
	Bans    []Ban                    `json:"bans"`
	Cursors map[string]source.Cursor `json:"cursors,omitempty"`
}

// Store is a state file in a directory.
type Store struct {
	dir string
}

// Open prepares dir (created 0700 when missing) and returns its store.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("state directory: empty path")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Path is the snapshot file.
func (s *Store) Path() string { return filepath.Join(s.dir, FileName) }

// Load reads the snapshot. A missing file is an empty state. Bans that
// expired before now are dropped, and a prefix listed twice keeps its
// latest expiry, so a restart restores each active ban exactly once.
// A damaged file is an error naming the file, line and column.
func (s *Store) Load(now time.Time) (State, error) {
	data, err := os.ReadFile(s.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return State{Version: Version, Cursors: map[string]source.Cursor{}}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("read state: %w", err)
	}
	return Decode(s.Path(), data, now)
}

// Decode parses a snapshot (see Load).
func Decode(name string, data []byte, now time.Time) (State, error) {
	var st State
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		off := dec.InputOffset()
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			off = se.Offset - 1 // the offending byte was already read
		case errors.As(err, &te):
			off = te.Offset
		}
		line, col := jsonpos.LineCol(data, off)
		return State{}, fmt.Errorf("%s:%d:%d: %w (expected a rampart guard state snapshot)", name, line, col, err)
	}
	if st.Version != Version {
		return State{}, fmt.Errorf("%s: version %d: expected %d", name, st.Version, Version)
	}
	if st.Cursors == nil {
		st.Cursors = map[string]source.Cursor{}
	}
	best := map[netip.Prefix]Ban{}
	for i, b := range st.Bans {
		if !b.Prefix.IsValid() || b.Prefix.Masked() != b.Prefix {
			return State{}, fmt.Errorf("%s: bans[%d]: prefix %v: expected a masked address prefix", name, i, b.Prefix)
		}
		if !b.Until.After(now) {
			continue
		}
		if old, ok := best[b.Prefix]; !ok || b.Until.After(old.Until) {
			best[b.Prefix] = b
		}
	}
	st.Bans = st.Bans[:0]
	for _, b := range best {
		st.Bans = append(st.Bans, b)
	}
	SortBans(st.Bans)
	return st, nil
}

// SortBans orders bans by prefix.
func SortBans(bs []Ban) {
	sort.Slice(bs, func(i, j int) bool { return nft.ComparePrefix(bs[i].Prefix, bs[j].Prefix) < 0 })
}

// Save replaces the snapshot atomically and durably.
func (s *Store) Save(st State) error {
	var bans iter.Seq[Ban]
	if st.Bans != nil {
		bans = slices.Values(st.Bans)
	}
	return s.SaveSeq(bans, st.Cursors)
}

// SaveSeq is Save with the bans given one at a time (in the order they
// are to be written, nil for none): a daemon holding 100,000 bans saves
// them without building a slice of them all. The file is the same as
// Save's.
func (s *Store) SaveSeq(bans iter.Seq[Ban], cursors map[string]source.Cursor) error {
	tmp, err := os.CreateTemp(s.dir, ".guard-state-*.tmp")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	w := bufio.NewWriterSize(tmp, 64<<10)
	err = encode(w, bans, cursors)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		tmp.Close()
		return fmt.Errorf("save state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save state: fsync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.Path()); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	d, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("save state: fsync directory: %w", err)
	}
	return nil
}

// encode writes a State of these bans and cursors as json.Marshal does,
// plus a newline, one ban at a time: marshalling 100,000 bans at once
// holds (and leaves in encoding/json's buffer pool) tens of megabytes.
func encode(w *bufio.Writer, bans iter.Seq[Ban], cursors map[string]source.Cursor) error {
	fmt.Fprintf(w, `{"version":%d,"bans":`, Version)
	if bans == nil {
		w.WriteString("null")
	} else {
		w.WriteByte('[')
		i := 0
		var err error
		for b := range bans {
			var data []byte
			if data, err = json.Marshal(&b); err != nil {
				break
			}
			if i > 0 {
				w.WriteByte(',')
			}
			w.Write(data)
			i++
		}
		if err != nil {
			return err
		}
		w.WriteByte(']')
	}
	if len(cursors) > 0 {
		b, err := json.Marshal(cursors)
		if err != nil {
			return err
		}
		w.WriteString(`,"cursors":`)
		w.Write(b)
	}
	_, err := w.WriteString("}\n")
	return err
}

// Quarantine moves a damaged snapshot aside (to FILE.damaged-UNIXTIME) so
// the daemon can start, and returns the new name.
func (s *Store) Quarantine(now time.Time) (string, error) {
	to := fmt.Sprintf("%s.damaged-%d", s.Path(), now.Unix())
	if err := os.Rename(s.Path(), to); err != nil {
		return "", fmt.Errorf("quarantine state: %w", err)
	}
	return to, nil
}
