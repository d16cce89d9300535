// Package action runs the policy's [[ban.actions]] on bans and unbans:
// webhooks (a JSON body POSTed with a timeout and retries) and programs
// (an argv template, run without a shell).
//
// Actions never slow the ban path: the daemon hands events to Send, which
// never blocks (a full queue drops the event and counts it), and each
// action has its own worker, so a slow webhook delays only itself.
//
// Nothing an attacker writes reaches an action: events carry only
// rampart's own values (the banned prefix as netip formats it, the jail
// name from the policy, times and counts), and each argv element stays
// exactly one argument whatever a placeholder expands to.
package action
