// Package netcheck holds the firewall.* and tailnet.* checks of rampart
// verify: whether a default-deny firewall is loaded, whether the tailnet
// interface is trusted, whether the SSH ports accept new connections on
// any interface that is not trusted (decided by internal/nftrules from the
// live `nft -j list ruleset`, never by connecting to the host's own
// address), where sshd listens, and whether tailscale is running with key
// expiry disabled and an address on its interface (internal/tailscale).
//
// The checks register themselves in init; internal/check/catalog imports
// the package, which links them into rampart verify.
package netcheck
