package source

import (
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/internal/host"
)

// Kind is one kind of log source as a policy names it
// (ban.jails.NAME.source). Each kind's file registers its Kind from init;
// the registry is the one list of sources: the policy validates jails
// against it and the daemon and the engine build sources and routes from
// it, so adding a source is its file plus its test.
type Kind struct {
	// Name is the policy's value of ban.jails.NAME.source.
	Name string
	// Help says what the kind reads, for policy comments ("paths below");
	// may be empty.
	Help string
	// Check reports what is wrong with one jail's settings for this kind
	// (nil: nothing). The policy reports each problem at the jail's key
	// Problem.Field; the daemon refuses to start on one.
	Check func(c Config) []Problem
	// Keys are the Record.Source values of the records that feed a jail
	// with settings c ("journal", "file:/var/log/nginx/access.log").
	Keys func(c Config) []string
	// New builds the sources of every jail of this kind at once (cs in
	// policy order, each passed Check), so jails can share a reader: two
	// journal readers would count a line matching both jails twice.
	New func(cs []Config, env Env) ([]Source, error)
}

// Config is what one jail says about its log source: the fields of the
// policy's ban.jails.NAME a source may read (policy.Jail.SourceConfig
// fills it). It does not depend on the policy package, so the policy can
// validate against this registry.
type Config struct {
	// Jail is the jail's name, for errors.
	Jail string
	// Kind is the source kind's name ("" is KindJournal).
	Kind string
	// Journal holds journal matches (FIELD=value).
	Journal []string
	// Paths are log file paths.
	Paths []string
}

// Env is what the daemon gives every constructor.
type Env struct {
	// Host runs programs such as journalctl.
	Host host.Streamer
	// JournalFiles makes the journal source read these journal files
	// instead of the live journal (offline replay).
	JournalFiles []string
	// Stdin is the daemon's standard input (nil: none).
	Stdin io.Reader
	// Poll is the file poll interval (the source's default when 0).
	Poll time.Duration
	// FromStart reads files without a saved position from their start.
	FromStart bool
	Log       *slog.Logger
}

// Problem is one thing a Kind finds wrong with a jail's settings.
type Problem struct {
	// Field is the jail key the problem is reported at ("source", "paths").
	Field string
	Msg   string
}

var kinds = map[string]*Kind{}

// Register adds a kind of source. An incomplete or duplicate kind is a
// programming error that every test of a package importing it finds. A
// package that registers a kind must be linked into the binary for the
// policy to accept it: the built-in kinds live here, which the policy
// imports.
func Register(k *Kind) {
	switch {
	case k.Name == "" || k.Keys == nil || k.New == nil:
		panic(fmt.Sprintf("source.Register: %q needs a name, Keys and New", k.Name))
	case kinds[k.Name] != nil:
		panic(fmt.Sprintf("source.Register: %q registered twice", k.Name))
	}
	kinds[k.Name] = k
}

// KindJournal is the kind of a jail that names no source and no paths (see
// policy's jail defaults), and of a policy built in Go without one.
const KindJournal = "journal"

// Lookup returns the kind called name; "" is KindJournal.
func Lookup(name string) (*Kind, bool) {
	if name == "" {
		name = KindJournal
	}
	k, ok := kinds[name]
	return k, ok
}

// Kinds lists the registered kinds: KindJournal, the default, first, then
// the others by name.
func Kinds() []*Kind {
	out := make([]*Kind, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].Name == KindJournal) != (out[j].Name == KindJournal) {
			return out[i].Name == KindJournal
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// KindNames lists the registered kind names in the order of Kinds.
func KindNames() []string {
	var out []string
	for _, k := range Kinds() {
		out = append(out, k.Name)
	}
	return out
}

// KindOf returns the kind of c's jail, or an error naming the jail when
// no kind is registered by that name.
func KindOf(c Config) (*Kind, error) {
	k, ok := Lookup(c.Kind)
	if !ok {
		return nil, fmt.Errorf("jail %q: unknown source %q (expected %s)", c.Jail, c.Kind, strings.Join(KindNames(), ", "))
	}
	return k, nil
}

// Build makes the sources of jails (in policy order): each kind's
// constructor once with all its jails, kinds in the order of Kinds.
func Build(jails []Config, env Env) ([]Source, error) {
	by := map[string][]Config{}
	for _, c := range jails {
		k, err := KindOf(c)
		if err != nil {
			return nil, err
		}
		if k.Check != nil {
			if ps := k.Check(c); len(ps) > 0 {
				return nil, fmt.Errorf("jail %q: %s: %s", c.Jail, ps[0].Field, ps[0].Msg)
			}
		}
		by[k.Name] = append(by[k.Name], c)
	}
	var out []Source
	for _, k := range Kinds() {
		if cs := by[k.Name]; len(cs) > 0 {
			s, err := k.New(cs, env)
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
	}
	return out, nil
}

func logger(env Env) *slog.Logger {
	if env.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return env.Log
}
