// Package control is the local interface of a running `rampart guard run`:
// a unix socket (mode 0600 in a 0700 directory, or 0660 with the
// ban.socket_group group; peers checked by their kernel-reported uid and
// groups) that takes one JSON request per connection and
// answers with one JSON response. `rampart guard status|list|ban|unban`
// are its clients.
//
// Anyone who can write to the socket can ban or unban any address, so
// only root, the daemon's own uid and members of the socket's group are
// served (every request is logged with the peer's uid), requests are bounded in
// size and time, and every field is validated before the daemon sees it.
package control
