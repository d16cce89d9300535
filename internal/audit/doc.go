// Package audit makes the policy's kernel audit watches real and readable:
// it renders them as auditctl rules, compares them SEMANTICALLY with what
// the kernel has loaded (`-w P -p wa -k K` is the same rule as
// `-a always,exit -F path=P -F perm=aw -F key=K`, perms and keys are sets,
// a directory may be listed with `-F dir=`), applies the difference through
// auditctl on a host.Host, parses audit.log into events and reports them
// per key, and registers the audit.* checks of `rampart verify`.
//
// One comparison (Compare, on Rule.Canon) serves apply, diff and verify,
// so the three never disagree about whether a watch is loaded.
//
// Rules are changed with auditctl through the host seam rather than over
// netlink: it works the same on this machine and over SSH (sudo -n), it is
// what NixOS's own units run, and every change is a command line a person
// can read in the evidence or --dry-run. Netlink (go-libaudit's
// AuditClient) is used for one thing only, on the local kernel: auditctl
// -l prints a "never" path rule exactly like a watch, so the kernel's own
// list and action of each rule are read back to correct the listing.
//
// Every audit.log line is treated as attacker-written: file names, comm,
// exe and proctitle come from whoever touched the watched files. The parser
// never panics, bounds what it keeps, reports malformed lines as
// FILE:LINE:COL notes, and the renderers quote anything that is not plain
// printable text.
package audit
