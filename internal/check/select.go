package check

import (
	"fmt"
	"strings"
)

// Select returns the checks of all chosen by only and skip, each a list of
// check IDs or area names ("ssh", "sysctl", also written "ssh.*"). An empty
// only means all. A name matching no check of all is an error, so a typo
// never silently selects nothing. It works on any list of checks: verify
// passes the whole catalogue (internal/check/catalog).
func Select(all []*Check, only, skip []string) ([]*Check, error) {
	match := func(c *Check, sel string) bool {
		sel = strings.TrimSuffix(sel, ".*")
		sel = strings.TrimSuffix(sel, ".")
		return c.ID == sel || c.Area() == sel
	}
	for _, list := range [][]string{only, skip} {
		for _, sel := range list {
			found := false
			for _, c := range all {
				if match(c, sel) {
					found = true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("no check or area named %q (run 'rampart verify --list' to see them)", sel)
			}
		}
	}
	var out []*Check
	for _, c := range all {
		keep := len(only) == 0
		for _, sel := range only {
			keep = keep || match(c, sel)
		}
		for _, sel := range skip {
			if match(c, sel) {
				keep = false
			}
		}
		if keep {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the selection leaves no check to run")
	}
	return out, nil
}
