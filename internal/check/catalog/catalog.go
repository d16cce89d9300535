// Package catalog links every registered check into the binary: the one
// import `rampart verify` needs for the whole catalogue. A package whose
// checks register themselves in init (check.Register) is listed here, and
// TestEveryRegisteringPackageIsLinked fails when one is not, so no check
// reaches verify by way of an unrelated import.
package catalog

import (
	"github.com/rampart-sec/rampart/internal/check"

	_ "github.com/rampart-sec/rampart/internal/audit"    // audit.*
	_ "github.com/rampart-sec/rampart/internal/netcheck" // firewall.*, tailnet.*
	_ "github.com/rampart-sec/rampart/internal/verify"   // ssh.*, sysctl.*, time.*, journald.*, ban.*
)

// All returns every registered check, sorted by ID.
func All() []*check.Check { return check.All() }
