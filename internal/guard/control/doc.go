// Package control is the local interface of a running `rampart guard run`:
// a unix socket (mode 0600 in a 0700 directory, peers checked by their
// kernel-reported uid) that takes one JSON request per connection and
// answers with one JSON response. `rampart guard status|list|ban|unban`
// are its clients.
//
// Anyone who can write to the socket can ban or unban any address, so
// only root (or the daemon's own uid) is served, requests are bounded in
// size and time, and every field is validated before the daemon sees it.
package control
