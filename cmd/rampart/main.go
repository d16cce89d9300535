// Command rampart makes a hardened internet-facing server real, correct and
// checkable: it renders NixOS modules, verifies live hosts, bans brute-force
// sources natively on nftables, manages audit watches and locks SSH down to
// the tailnet without locking the admin out.
//
// All behaviour lives under internal/; this file only hands over to the CLI.
package main

import (
	"os"

	"github.com/rampart-sec/rampart/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
