package filter

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/rampart-sec/rampart/internal/guard/logline"
)

// Hit is what a filter found in one line.
type Hit struct {
	// Addr is the client address (IPv4-mapped IPv6 is unmapped).
	Addr netip.Addr
	// Failure is false for lines that matched but are not counted (a
	// success, a connection close that only identifies the connection).
	Failure bool
	// Conn identifies the connection when known (the sshd PID), "" otherwise.
	Conn string
}

// Filter finds the address and failure in a line.
type Filter interface {
	// Name is the filter's name as written in a policy ("sshd",
	// "fail2ban:apache-auth").
	Name() string
	// Match reports the hit for l, ok false when the line is not for this
	// filter. It must not keep any string of l after it returns: callers
	// may reuse the line's memory (Replay does).
	Match(l *logline.Line) (Hit, bool)
}

// Builtin describes a built-in filter. Each filter's file registers its
// Builtin from init; the registry is the one list of filters: the policy
// validates ban.jails.NAME.filter and .mode against it and the CLI lists it,
// so adding a filter is its file plus its test.
type Builtin struct {
	// Name is the filter's policy name.
	Name string
	// Modes are the accepted modes; the first is "normal", the default
	// (the policy gives a new jail mode "normal").
	Modes []string
	// Help is a one-line description for listings.
	Help string
	New  func(mode string) (Filter, error)
}

var builtins = map[string]*Builtin{}

// Register adds a built-in filter. An incomplete or duplicate one is a
// programming error that every test of a package importing this one finds.
func Register(b *Builtin) {
	switch {
	case b.Name == "" || strings.HasPrefix(b.Name, Fail2banPrefix) || b.New == nil || b.Help == "":
		panic(fmt.Sprintf("filter.Register: %q needs a name (not %s…), a constructor and help", b.Name, Fail2banPrefix))
	case len(b.Modes) == 0 || b.Modes[0] != "normal":
		panic(fmt.Sprintf("filter.Register: %q: the first mode must be \"normal\" (the default)", b.Name))
	case builtins[b.Name] != nil:
		panic(fmt.Sprintf("filter.Register: %q registered twice", b.Name))
	}
	builtins[b.Name] = b
}

// Builtins lists the built-in filters by name.
func Builtins() []*Builtin {
	out := make([]*Builtin, 0, len(builtins))
	for _, b := range builtins {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the built-in filter called name.
func Lookup(name string) (*Builtin, bool) {
	b, ok := builtins[name]
	return b, ok
}

// Names lists the built-in filter names, sorted.
func Names() []string {
	out := make([]string, 0, len(builtins))
	for n := range builtins {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Fail2banPrefix marks a policy filter name that loads a fail2ban filter file.
const Fail2banPrefix = "fail2ban:"

// New returns a fresh filter instance for a policy filter name and mode:
// a built-in name, or "fail2ban:NAME" / "fail2ban:/path/NAME.conf" (NAME is
// looked up in DefaultFail2banDir). An empty mode selects the default.
func New(name, mode string) (Filter, error) {
	if rest, ok := strings.CutPrefix(name, Fail2banPrefix); ok {
		f, err := LoadFail2ban(rest, mode)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	b := builtins[name]
	if b == nil {
		return nil, fmt.Errorf("filter %q: unknown; built-in filters are %s, or use %q", name, strings.Join(Names(), ", "), Fail2banPrefix+"NAME")
	}
	if mode == "" {
		mode = b.Modes[0]
	}
	for _, m := range b.Modes {
		if m == mode {
			return b.New(mode)
		}
	}
	return nil, fmt.Errorf("filter %q: unknown mode %q (expected one of %s)", name, mode, strings.Join(b.Modes, ", "))
}

// parseAddr parses an IPv4 or IPv6 literal as loggers write it (no zone, no
// brackets); 4-in-6 addresses are unmapped.
func parseAddr(s string) (netip.Addr, bool) {
	if len(s) < 2 || len(s) > 45 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func isDigits(s string) bool {
	if s == "" || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
