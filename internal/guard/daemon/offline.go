package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/nft"
	"github.com/rampart-sec/rampart/internal/guard/store"
)

// ErrRunning reports that a daemon holds the state directory: changes go
// through its control socket.
var ErrRunning = errors.New("rampart guard run is running")

// Match selects the bans an offline change lifts.
type Match func(p netip.Prefix, jail string) bool

// OfflineRemove lifts the bans m selects while no daemon runs: under the
// state directory's lock (the one a running daemon holds for its whole
// life), it deletes their elements from the kernel set first, then from
// the store, so the daemon's next start neither restores them from the
// store nor adopts them from the kernel. Elements in the kernel that the
// store lacks are lifted too. A missing or damaged table leaves the
// kernel alone (the next start rebuilds it from the store). It returns
// what was lifted, sorted.
func OfflineRemove(ctx context.Context, stateDir string, backend nft.Backend, m Match, now time.Time) ([]store.Ban, error) {
	st, err := store.Open(stateDir)
	if err != nil {
		return nil, err
	}
	lk, err := st.TryLock()
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("%w (its state directory %s is locked) but its control socket did not answer", ErrRunning, stateDir)
	}
	if err != nil {
		return nil, err
	}
	defer lk.Unlock()
	state, err := st.Load(now)
	if err != nil {
		return nil, fmt.Errorf("ban store: %w (fix or move the file; nothing was changed)", err)
	}
	var keep, lifted []store.Ban
	inStore := map[netip.Prefix]bool{}
	for _, b := range state.Bans {
		if m(b.Prefix, b.Jail) {
			lifted = append(lifted, b)
			inStore[b.Prefix] = true
		} else {
			keep = append(keep, b)
		}
	}
	els, cerr := backend.Check(ctx)
	switch {
	case errors.Is(cerr, nft.ErrIncomplete):
		// Nothing to lift in the kernel that the next start would keep.
	case cerr != nil:
		return nil, fmt.Errorf("nftables: %w (nothing was changed)", cerr)
	default:
		var del []netip.Prefix
		for _, e := range els {
			if inStore[e.Prefix] {
				del = append(del, e.Prefix)
			} else if m(e.Prefix, e.Comment) {
				del = append(del, e.Prefix)
				lifted = append(lifted, store.Ban{Prefix: e.Prefix, Jail: e.Comment, Until: now.Add(e.Expires)})
			}
		}
		if err := backend.Apply(ctx, nil, del, now); err != nil {
			return nil, fmt.Errorf("nftables: %w (nothing was changed in the store)", err)
		}
	}
	if len(lifted) > 0 {
		state.Bans = keep
		if err := st.Save(state); err != nil {
			return nil, fmt.Errorf("ban store: %w (the bans are out of the firewall but still stored: the daemon's next start restores them)", err)
		}
	}
	store.SortBans(lifted)
	return lifted, nil
}
