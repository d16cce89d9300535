// Package filter turns log lines into failure hits for one address. It holds
// the built-in anchored filters ("sshd", "nginx-noscript") and a loader for
// fail2ban filter files read at run time ("fail2ban:NAME" or
// "fail2ban:/path/to/filter.conf").
//
// Each built-in filter registers itself (Register, in its own file); the
// registry is the one list of filters the policy validates against.
//
// Anchoring is the security property: a built-in filter takes the address
// only from the position where sshd or nginx writes it (parsed from the end
// of sshd's fixed tail, or the first field of an access-log line), so user
// names, client banners, URLs and user agents — all attacker-written — can
// never supply the banned address. Where a message has attacker text on both
// sides of the address and two parses are possible, the line is not counted.
//
// Filters are stateful (the sshd filter remembers, per connection PID, the
// address of connections whose later lines carry none) and are not safe for
// concurrent use: give each jail its own instance.
package filter
