// Package source reads the logs `rampart guard run` watches: the systemd
// journal (journalctl -o json through host.Streamer, resumed from a saved
// __CURSOR), files (a poll-driven tailer that follows rename+create,
// delete+recreate and copytruncate rotation, drains the old file before it
// switches, and resumes from a saved device, inode, offset and first-line
// hash), and stdin.
//
// Each kind registers itself (Register, in its own file); the registry is
// the one list of sources the policy, the engine and the daemon use.
//
// A source only frames records and remembers where it is. It never
// interprets the text: every byte of a log line may be written by an
// attacker, and parsing belongs to the filters.
package source
