// Package nixexpr is a small emitter for Nix expressions: attribute sets
// with dotted keys, lists, strings (with `\`, `"` and `${` escaped),
// indented multi-line strings, bools, ints, raw expressions chosen by the
// program, function applications, module functions and comments.
//
// Output is deterministic: attribute sets keep the order in which entries
// were added (callers add them in a fixed order), and formatting depends
// only on the values. Values that come from a policy file are never written
// raw: every string goes through Str or Lines, every key through Key, so an
// attacker-written value cannot break out of its string or attribute name.
//
// Flatten walks a value into option paths (for tests and checks that an
// option known to be absent in a release is never emitted).
package nixexpr
