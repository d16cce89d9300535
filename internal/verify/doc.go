// Package verify holds rampart's live-host checks for the areas ssh,
// sysctl, time, journald and ban, their shared collectors, and the runner
// behind `rampart verify`.
//
// Every check reads the effective state through host.Host, never only the
// configuration files the daemon may not be using:
//
//   - ssh: every running sshd found in the process table, with its own -f
//     config and -o overrides, evaluated with `sshd -T -C …` over a matrix
//     of users × source addresses (a tailnet peer, a public address, the
//     policy's trusted networks, and one address in each network a Match
//     Address line names that none of those stands for) so a Match block
//     that re-enables passwords for one range is caught;
//   - sysctl: /proc/sys per interface with the kernel's own all/interface
//     combination rule for each key, plus what sysctl.d persists;
//   - time: `chronyc -c tracking` (a LOCAL reference is not synchronised)
//     and no second time daemon;
//   - journald: journald.conf merged with its drop-ins, last assignment wins;
//   - ban: the ban daemon asked over its socket (fail2ban-client, or
//     rampart guard), so "enabled but stopped" fails.
//
// Collectors are shared between checks through check.Env.Memo, so one run
// reads each thing once. Checks register in init; the CLI selects and runs
// them with Select and Run. Evidence that cannot be read gives unknown,
// never pass.
package verify
