// Package probe is the outside view of a host's SSH port, as an attacker
// on the network sees it: per address, whether the port is open, refused
// or filtered (the connection attempt times out), and for an SSH server
// its version banner and the authentication methods it offers.
//
// The methods are learned without sending any credential: the client
// sends the RFC 4252 "none" request, the server answers with the methods
// that can continue, and the probe disconnects before any other method
// is tried (x/crypto/ssh ClientConfig.AuthCallback). Password or
// keyboard-interactive offered is a failure.
//
// The default user name is "root" because it exists on every Linux host:
// a probe as a user that does not exist makes sshd log "Invalid user …",
// which fail2ban's sshd filter counts as a failure in its normal mode; a
// probe as an existing user only logs "Connection closed by
// authenticating user … [preauth]", which counts only in the ddos and
// aggressive modes. Probe from an address in the ban ignore list if the
// jail runs in those modes.
package probe
