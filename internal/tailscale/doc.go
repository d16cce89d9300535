// Package tailscale reads what rampart needs to know about the tailnet on
// a host: the state of the local tailscale node (`tailscale status --json`),
// the network interfaces and their addresses (`ip -j addr`), which
// interface a peer is routed through (`ip -j route get`), and where the
// current SSH session comes from ($SSH_CONNECTION).
//
// It exists because the tailnet profile (ssh.tailnet_only) closes SSH on
// every interface but the tailnet's, and that is only safe when the
// tailnet path is proven: the node is Running, its key does not expire
// (a tagged node), the interface carries a tailnet address, and the
// admin's session really arrives over it. lockdown, verify and probe all draw those facts from here.
//
// Every parser treats its input as untrusted: it checks types and ranges
// and reports where (line:column or field) the input went wrong.
package tailscale
