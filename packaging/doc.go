// Package packaging holds what is installed on a machine besides the binary:
// the systemd unit of the ban daemon (rampart-guard.service, shipped in the
// Debian package and generated identically by the NixOS module in
// flake.nix), the Debian package's maintainer scripts and the nfpm
// configuration scripts/package.sh builds the .deb with.
//
// The unit's hardening is measured, not assumed: the tests run
// `systemd-analyze security --offline=true` (exposure at most 2.0) and
// `systemd-analyze verify` on the file as shipped.
package packaging

import (
	_ "embed"
	"fmt"
	"strings"
)

// Unit is rampart-guard.service as shipped.
//
//go:embed rampart-guard.service
var Unit string

// UnitName is the unit's file name.
const UnitName = "rampart-guard.service"

// Directive is one KEY=VALUE line of a unit section, in file order.
type Directive struct {
	Key, Value string
}

// Section returns the directives of [name] in unit text, in order (a key
// may repeat). Comments and blank lines are skipped; a line that is not
// KEY=VALUE is an error naming its line.
func Section(unit, name string) ([]Directive, error) {
	var out []Directive
	in := false
	for i, line := range strings.Split(unit, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[':
			in = line == "["+name+"]"
			continue
		case !in:
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: %q is not KEY=VALUE", UnitName, i+1, line)
		}
		out = append(out, Directive{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
	}
	return out, nil
}
