package cli

// This file owns the "guard" command node. Its subcommands live in their own
// files (guardtest.go: "test"; the daemon files: "run", "status", "list",
// "ban", "unban") and attach themselves from their init functions:
//
//	func init() { AddGuardSubcommand(&Command{Name: "run", ...}) }
//
// The guard command registers itself with the first AddGuardSubcommand call.

// guardCmd is the "rampart guard" node; subcommands are appended by
// AddGuardSubcommand.
var guardCmd = &Command{
	Name:    "guard",
	Summary: "native fail2ban on nftables: ban brute-force sources (run, test, status, ban, unban)",
	Usage:   "guard <subcommand> [arguments]",
	Help: `rampart guard reads sshd and nginx logs (journal, files or stdin), counts
failures per address within findtime using the log's own timestamps, and bans
offenders in rampart's own nftables table. Filters are anchored: only the
address sshd or nginx itself writes can be banned, never one injected through
a user name, banner, URL or user agent.

Examples:
  rampart guard test /var/log/auth.log
  journalctl -u ssh -o short | rampart guard test - --jail sshd --format json
  rampart guard test access.log --filter nginx-noscript
  rampart guard test auth.log --filter fail2ban:sshd`,
}

// AddGuardSubcommand attaches c under "rampart guard". Call it from init.
func AddGuardSubcommand(c *Command) {
	guardCmd.Subcommands = append(guardCmd.Subcommands, c)
	if registry[guardCmd.Name] == nil {
		Register(guardCmd)
	}
}
