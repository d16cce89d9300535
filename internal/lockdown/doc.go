// Package lockdown closes SSH on every interface but the tailnet's
// (tailscale0 trusted, port 22 closed everywhere else) without ever
// locking the admin out.
//
// The change is made in the commit-confirmed style of network devices:
//
//   - Preflight proves the tailnet path first: tailscale Running, the node
//     key not expiring, the tailnet interface up with a tailnet address
//     (verify's tailnet.* checks, run from the check registry, so verify
//     and lockdown give one verdict; each must pass), sshd listening where the tailnet reaches it, an admin key on disk,
//     and (from an SSH session) that the session itself came over the
//     tailnet.
//   - Apply installs rampart's own nftables table (one atomic `nft -f`
//     transaction) that drops new TCP connections to the SSH ports unless
//     they arrive on a trusted interface; loopback and established
//     connections are untouched, and other tables are left alone.
//   - The change stays only if `rampart lockdown confirm` runs from a new
//     SSH session that arrives over the tailnet before the deadline.
//     Otherwise it is rolled back by whichever comes first: the apply
//     process itself, a detached watchdog process (which survives kill -9
//     of rampart and a hang-up of the SSH session), or a transient systemd
//     timer when systemd runs.
//   - On NixOS the same flow runs through `nixos-rebuild test` (which does
//     not change the boot default) and the previous generation's
//     switch-to-configuration as the rollback.
//
// Lockdown writes through `nft -f` (the text of Config.Script), where
// guard talks netlink through github.com/google/nftables, on purpose: the
// change is made once and confirmed by a person, so the same text is what
// `rampart lockdown plan` shows, what apply loads in one atomic transaction
// (the whole table or nothing), what `lockdown confirm --persist` writes for
// /etc/nftables.conf to include at boot, and what the tests have nft itself
// check (`nft -c`). guard changes set elements many times a minute and
// needs no reviewable text. Both tables are rampart's own; the ruleset is
// read back in one place only, nftrules.Read (Exposure here, the firewall
// checks of verify).
//
// The state of a pending change lives in a small JSON file (default
// /run/rampart/lockdown.json), updated under a lock so that a confirm and
// a rollback at the deadline cannot both win.
package lockdown
