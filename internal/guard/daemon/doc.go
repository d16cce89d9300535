// Package daemon is `rampart guard run`: it wires log sources to the
// engine (filters and jails), the engine's decisions to the firewall
// backend and the ban store, and serves the control socket and metrics.
//
// One goroutine owns all ban state. Sources feed it records over a
// channel; it processes them as fast as they come and, whenever the queue
// runs dry or a tick (50ms) has passed, commits the new bans: first to the
// store (fsync), then to nftables in one transaction. Storing first means
// a kill -9 can never leave a ban in the kernel that a restart forgets.
//
// At start the stored bans (plus any rampart element still in the
// kernel) are restored into a freshly rebuilt table in one transaction.
// nftables events (what `nft monitor` reads) from other processes that
// touch the table — `nft flush ruleset` on every NixOS firewall reload, a
// deleted table — trigger an immediate check and rebuild; a periodic
// reconcile also rebuilds it, in case events were lost. Stopping leaves the table in place, so a restart leaves no gap.
package daemon
