// Package jail decides bans: per-address failure windows driven by log
// time, maxretry/findtime/bantime from the policy, ban-time increase for
// repeat offenders, the ignore list (loopback always), IPv6 prefix banning,
// and a hard bound on memory.
//
// Memory bound: at most MaxTracked addresses (or IPv6 prefixes) with
// pending failures are remembered; the least recently failing one is evicted
// first, so a flood of distinct addresses costs O(MaxTracked·Maxretry) words.
// Active bans are kept until they expire (one small entry per ban) so an
// address is never banned twice while its ban runs. Repeat-offender counts
// (Increment) are bounded by MaxTracked as well.
package jail
