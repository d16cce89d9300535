package lockdown

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// DefaultStateDir holds the state file, the lock and the watchdog log.
const DefaultStateDir = "/run/rampart"

// Phases of a lockdown change.
const (
	PhasePending    = "pending"     // applied, waiting for a confirm
	PhaseConfirmed  = "confirmed"   // kept
	PhaseRolledBack = "rolled-back" // undone
	PhaseFailed     = "failed"      // could not be applied (and was undone)
)

// Modes: how the change was made, and so how it is undone.
const (
	ModeNftables = "nftables"
	ModeNixOS    = "nixos"
)

// State is the persistent record of the last lockdown change.
type State struct {
	ID     string `json:"id"`
	Phase  string `json:"phase"`
	Mode   string `json:"mode"`
	Config Config `json:"config"`
	// AppliedFrom is $SSH_CONNECTION of the session that applied ("" for
	// a console); a confirm must come from another session.
	AppliedFrom string    `json:"applied_from,omitempty"`
	AppliedAt   time.Time `json:"applied_at"`
	Deadline    time.Time `json:"deadline"`
	// WatchdogPID is the detached watchdog process, 0 if none.
	WatchdogPID int `json:"watchdog_pid,omitempty"`
	// TimerUnit is the transient systemd unit that rolls back, if any.
	TimerUnit     string    `json:"timer_unit,omitempty"`
	ConfirmedFrom string    `json:"confirmed_from,omitempty"`
	ConfirmedAt   time.Time `json:"confirmed_at,omitzero"`
	RolledBackAt  time.Time `json:"rolled_back_at,omitzero"`
	// Reason says why the change was rolled back or failed.
	Reason string `json:"reason,omitempty"`
	// NixOS mode: the system the host ran before (a store path), the
	// module file written and a copy of what it held before ("" = none).
	PreviousSystem string `json:"previous_system,omitempty"`
	ModulePath     string `json:"module_path,omitempty"`
	ModuleBackup   string `json:"module_backup,omitempty"`
	ModuleExisted  bool   `json:"module_existed,omitempty"`
}

// Store keeps the state file in Dir.
type Store struct {
	Dir string
}

// File is the state file path.
func (s *Store) File() string { return filepath.Join(s.Dir, "lockdown.json") }

// LogFile is where the watchdog writes.
func (s *Store) LogFile() string { return filepath.Join(s.Dir, "lockdown-watchdog.log") }

func (s *Store) lockFile() string { return filepath.Join(s.Dir, "lockdown.lock") }

// ErrNoState means no lockdown was ever applied with this state directory.
var ErrNoState = errors.New("no lockdown state")

// Load reads the state without locking.
func (s *Store) Load() (*State, error) {
	b, err := os.ReadFile(s.File())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("lockdown: %s: %w", s.File(), ErrNoState)
	}
	if err != nil {
		return nil, fmt.Errorf("lockdown: read state: %w", err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("lockdown: state file %s: %w", s.File(), err)
	}
	if st.ID == "" || st.Phase == "" {
		return nil, fmt.Errorf("lockdown: state file %s: fields id and phase are required", s.File())
	}
	return &st, nil
}

// save writes the state atomically (temporary file, fsync, rename).
func (s *Store) save(st *State) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("lockdown: state dir: %w", err)
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.Dir, ".lockdown-*.json")
	if err != nil {
		return fmt.Errorf("lockdown: write state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("lockdown: write state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("lockdown: write state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("lockdown: write state: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.File()); err != nil {
		return fmt.Errorf("lockdown: write state: %w", err)
	}
	return nil
}

// Locked runs fn holding an exclusive lock on the state directory, so a
// confirm, a rollback and the watchdog never interleave. fn receives the
// current state (nil when there is none) and may return a new state to
// save.
func (s *Store) Locked(fn func(cur *State) (*State, error)) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("lockdown: state dir: %w", err)
	}
	f, err := os.OpenFile(s.lockFile(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("lockdown: lock: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lockdown: lock %s: %w", s.lockFile(), err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck
	cur, err := s.Load()
	if err != nil && !errors.Is(err, ErrNoState) {
		return err
	}
	next, err := fn(cur)
	if next != nil {
		if serr := s.save(next); serr != nil && err == nil {
			err = serr
		}
	}
	return err
}

func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
