// Package nft is where `rampart guard` bans take effect: rampart's own
// nftables inet table with one IPv4 and one IPv6 set (flags interval and
// timeout, so a ban is one element with its own expiry and may cover a
// prefix such as an IPv6 /64), and two base chains hooked on input and
// forward at priority -10 that drop every packet whose source is in a set.
// Forward matters: traffic to containers never passes the input hook.
//
// Three Backends share one interface: Netlink talks to the kernel through
// github.com/google/nftables (every change of a tick goes out as one
// netlink batch, which the kernel applies atomically), DryRun only logs
// what it would do, and Fake keeps the table in memory for daemon tests.
//
// The kernel forgets nothing on its own when rampart dies, and an admin may
// flush the table at any time; Sync rebuilds the whole table (delete and
// re-create in one transaction) and Check tells the daemon's reconcile loop
// whether that is needed.
package nft
