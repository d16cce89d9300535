// Package nixgen renders a policy as a NixOS module for one release
// (rampart.nix), and optionally the files of a flake that installs and
// updates a machine with it: flake.nix, configuration.nix and a disko disk
// layout (disko.nix).
//
// What to emit per policy topic and release comes from internal/nixfacts
// (the same mapping `rampart verify` prints as remediation); this package
// groups those definitions into blocks with comments saying why each block
// exists, gates every definition through nixfacts.Check, and refuses a
// policy that would lock the administrator out unless told otherwise.
// Output is deterministic: the same policy and release give the same bytes.
package nixgen
