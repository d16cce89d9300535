package nixfacts

import (
	"fmt"
	"strings"
)

// Release is a NixOS release channel rampart renders for. The zero value is
// not a release; releases compare in time order (R2411 < Unstable).
type Release int

// The supported releases, oldest first.
const (
	R2411 Release = iota + 1
	R2505
	R2511
	R2605
	Unstable
)

var releaseNames = map[Release]string{
	R2411:    "24.11",
	R2505:    "25.05",
	R2511:    "25.11",
	R2605:    "26.05",
	Unstable: "unstable",
}

// Releases returns every supported release, oldest first.
func Releases() []Release { return []Release{R2411, R2505, R2511, R2605, Unstable} }

// Newest returns the newest stable release (the default of `rampart nix`).
func Newest() Release { return R2605 }

// ParseRelease accepts "25.11", "nixos-25.11", "unstable" or
// "nixos-unstable".
func ParseRelease(s string) (Release, error) {
	in := strings.TrimPrefix(strings.TrimSpace(s), "nixos-")
	for _, r := range Releases() {
		if releaseNames[r] == in {
			return r, nil
		}
	}
	names := make([]string, 0, len(releaseNames))
	for _, r := range Releases() {
		names = append(names, releaseNames[r])
	}
	return 0, fmt.Errorf("unknown NixOS release %q (expected one of %s)", s, strings.Join(names, ", "))
}

// String is the release as users write it ("25.11", "unstable").
func (r Release) String() string {
	if n, ok := releaseNames[r]; ok {
		return n
	}
	return fmt.Sprintf("Release(%d)", int(r))
}

// Stable reports whether r is a stable release branch.
func (r Release) Stable() bool { return r >= R2411 && r < Unstable }

// Branch is the nixpkgs branch a flake pins ("nixos-25.11", "nixos-unstable").
func (r Release) Branch() string { return "nixos-" + r.String() }

// FlakeURL is the nixpkgs flake input for the release.
func (r Release) FlakeURL() string { return "github:NixOS/nixpkgs/" + r.Branch() }

// StateVersion is the system.stateVersion for a machine first installed
// from this release; unstable is the release it will become (26.11).
func (r Release) StateVersion() string {
	if r == Unstable {
		return "26.11"
	}
	return r.String()
}
