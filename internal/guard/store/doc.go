// Package store keeps what `rampart guard run` must not forget across a
// crash or kill -9: the active bans with their absolute expiry, and the
// read position of every log source.
//
// The state is one JSON snapshot, replaced atomically (write a temporary
// file, fsync it, rename it over the old one, fsync the directory), so a
// reader always finds either the previous or the new state, never a mix.
// A few thousand bans are a few hundred kilobytes; the daemon writes only
// when something changed. The directory is created 0700 and the file 0600:
// it names attackers and the admins' own addresses.
package store
