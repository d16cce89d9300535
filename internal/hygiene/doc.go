// Package hygiene holds repository-wide tests that keep the code base honest:
// every package documents itself once, and only the host seam (plus test
// helpers) may start programs, so every other package stays testable against
// fixtures.
package hygiene
