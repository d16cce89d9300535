// Package lazyre holds regular expressions that compile on first use.
//
// A validation pattern with a bounded repetition (`[a-z0-9._-]{0,127}`)
// compiles to one instruction run per allowed repetition: the sixteen such
// patterns of the policy, inventory, bucket, lockdown and flake validators
// cost every rampart process about 5 ms and 760 KB at start, most of it in
// page faults, whether or not it validates anything (`rampart version`,
// each verify run). A Regexp compiles when it is first matched, once, safe
// for concurrent use; a pattern that does not compile panics there, as
// regexp.MustCompile would have at start, and the validators' tests reach
// every one of them.
package lazyre

import (
	"regexp"
	"sync"
)

// Regexp is a regular expression compiled on its first use.
type Regexp struct {
	get func() *regexp.Regexp
}

// New returns expr, to be compiled by regexp.MustCompile on first use.
func New(expr string) *Regexp {
	return &Regexp{get: sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })}
}

// MatchString reports whether s contains a match of the expression.
func (r *Regexp) MatchString(s string) bool { return r.get().MatchString(s) }

// FindAllString is regexp.Regexp's FindAllString.
func (r *Regexp) FindAllString(s string, n int) []string { return r.get().FindAllString(s, n) }

// String returns the expression's source text.
func (r *Regexp) String() string { return r.get().String() }
