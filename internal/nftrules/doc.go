// Package nftrules decides, from the live nftables ruleset (`nft -j list
// ruleset`), whether a TCP port accepts new connections on each network
// interface. rampart verify uses it for the firewall.* checks and rampart
// lockdown for its pre-flight and its own table; both must decide from the
// ruleset, never by connecting to the host's own address (that goes
// through loopback, which every sane ruleset trusts). Read is the one place
// the live ruleset is read from a host (nft -j list ruleset, with the
// iptables-nft and legacy iptables rules merged in).
//
// The analysis follows a new TCP SYN (ct state new) to the port through
// every filter base chain on the prerouting and input hooks of every
// table (ip, ip6, inet, and netdev ingress on the interface), for IPv4 and
// IPv6 separately: the packet is accepted only if every base chain
// accepts it. Jumps, gotos, returns, verdict maps, anonymous and named
// sets (with intervals, prefixes and concatenations) and interface-name
// wildcards are followed. Facts the ruleset tests but a static analysis
// cannot know (source address, limits, marks) fork the analysis; anything
// it does not understand makes the answer "unknown", never "closed".
package nftrules
