package nixfacts

import (
	"fmt"
	"strings"
	"time"
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
	R2611
	Unstable
)

// releaseInfo is the one release list: every other list of releases (help
// texts, errors, tests) derives from it.
var releaseInfo = []struct {
	r    Release
	name string
	// eol is the day the release stops getting security updates
	// (zero for unstable). NixOS supports a release for one month after
	// the next one comes out: YY.05 until 31 December, YY.11 until 30 June.
	eol time.Time
}{
	{R2411, "24.11", day(2025, 6, 30)},
	{R2505, "25.05", day(2025, 12, 31)},
	{R2511, "25.11", day(2026, 6, 30)},
	{R2605, "26.05", day(2026, 12, 31)},
	// 26.11 "Zokor": nixpkgs has its release notes
	// (nixos/doc/manual/release-notes/rl-2611.section.md) and master has
	// moved on to rl-2705.section.md, so release-26.11 has branched off.
	{R2611, "26.11", day(2027, 6, 30)},
	{Unstable, "unstable", time.Time{}},
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func info(r Release) (name string, eol time.Time, ok bool) {
	for _, i := range releaseInfo {
		if i.r == r {
			return i.name, i.eol, true
		}
	}
	return "", time.Time{}, false
}

// Releases returns every supported release, oldest first.
func Releases() []Release {
	out := make([]Release, len(releaseInfo))
	for i, x := range releaseInfo {
		out[i] = x.r
	}
	return out
}

// Names returns the release names as users write them, oldest first
// ("24.11", …, "unstable").
func Names() []string {
	out := make([]string, len(releaseInfo))
	for i, x := range releaseInfo {
		out[i] = x.name
	}
	return out
}

// Newest returns the default release of `rampart nix` and `rampart
// verify`: the newest stable release whose option facts rampart has
// checked against a released channel.
func Newest() Release { return R2605 }

// ParseRelease accepts "25.11", "nixos-25.11", "unstable" or
// "nixos-unstable".
func ParseRelease(s string) (Release, error) {
	in := strings.TrimPrefix(strings.TrimSpace(s), "nixos-")
	for _, x := range releaseInfo {
		if x.name == in {
			return x.r, nil
		}
	}
	return 0, fmt.Errorf("unknown NixOS release %q (expected one of %s)", s, strings.Join(Names(), ", "))
}

// String is the release as users write it ("25.11", "unstable").
func (r Release) String() string {
	if n, _, ok := info(r); ok {
		return n
	}
	return fmt.Sprintf("Release(%d)", int(r))
}

// Stable reports whether r is a stable release branch.
func (r Release) Stable() bool { return r >= R2411 && r < Unstable }

// EndOfLife is the last day r gets security updates (zero for unstable).
func (r Release) EndOfLife() time.Time {
	_, eol, _ := info(r)
	return eol
}

// EndOfLifeAt reports whether r no longer gets security updates on the day
// of t (a release is supported through its end-of-life day).
func (r Release) EndOfLifeAt(t time.Time) bool {
	eol := r.EndOfLife()
	if eol.IsZero() {
		return false
	}
	y, m, d := t.UTC().Date()
	return day(y, m, d).After(eol)
}

// EndOfLifeWarning is the warning for choosing r on the day of t, or "".
func (r Release) EndOfLifeWarning(t time.Time) string {
	if !r.EndOfLifeAt(t) {
		return ""
	}
	return fmt.Sprintf("NixOS %s reached its end of life on %s and gets no security updates: render for %s or newer",
		r, r.EndOfLife().Format("2006-01-02"), Newest())
}

// Branch is the nixpkgs branch a flake pins ("nixos-25.11", "nixos-unstable").
func (r Release) Branch() string { return "nixos-" + r.String() }

// FlakeURL is the nixpkgs flake input for the release.
func (r Release) FlakeURL() string { return "github:NixOS/nixpkgs/" + r.Branch() }

// StateVersion is the system.stateVersion for a machine first installed
// from this release; unstable is the release it will become (27.05).
func (r Release) StateVersion() string {
	if r == Unstable {
		return "27.05"
	}
	return r.String()
}
