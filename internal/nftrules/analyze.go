package nftrules

import (
	"fmt"
	"sort"
	"strings"
)

// State is whether new connections to a port get through.
type State string

// The states, from least to most exposed. Unknown ranks between limited and
// open: a port that cannot be shown closed is treated as exposed.
const (
	// Closed: every path through the ruleset drops or rejects the packet.
	Closed State = "closed"
	// Limited: accepted only from some sources (an address allow-list).
	Limited State = "limited"
	// Unknown: the ruleset contains something the analysis cannot
	// evaluate on a path that could accept.
	Unknown State = "unknown"
	// Open: accepted from any source (perhaps except a deny-list or
	// beyond a rate limit).
	Open State = "open"
)

func rank(s State) int {
	switch s {
	case Closed:
		return 0
	case Limited:
		return 1
	case Unknown:
		return 2
	}
	return 3
}

// Worse returns the more exposed of a and b.
func Worse(a, b State) State {
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// Decision is the verdict for one packet (one address family).
type Decision struct {
	State State `json:"state"`
	// Reason says in one line why.
	Reason string `json:"reason"`
	// Rules are the rules (or chain policies) that decide it.
	Rules []string `json:"rules"`
}

// Exposure is the verdict for one interface, IPv4 and IPv6 combined.
type Exposure struct {
	Iface string   `json:"iface"`
	Proto string   `json:"proto"`
	Port  int      `json:"port"`
	State State    `json:"state"` // the worse of IPv4 and IPv6
	IPv4  Decision `json:"ipv4"`
	IPv6  Decision `json:"ipv6"`
}

// Reason summarises both families in one line.
func (x Exposure) Reason() string {
	if x.IPv4.State == x.IPv6.State && x.IPv4.Reason == x.IPv6.Reason {
		return x.IPv4.Reason
	}
	return fmt.Sprintf("IPv4 %s: %s; IPv6 %s: %s", x.IPv4.State, x.IPv4.Reason, x.IPv6.State, x.IPv6.Reason)
}

// Rules lists the deciding rules of both families without duplicates.
func (x Exposure) Rules() []string {
	return dedupe(append(append([]string(nil), x.IPv4.Rules...), x.IPv6.Rules...))
}

// Analyze parses an `nft -j list ruleset` and decides, for each interface,
// whether new TCP connections to port are accepted.
func Analyze(ruleset []byte, port int, ifaces []string) ([]Exposure, error) {
	rs, err := Parse(ruleset)
	if err != nil {
		return nil, err
	}
	out := make([]Exposure, 0, len(ifaces))
	for _, ifc := range ifaces {
		out = append(out, rs.Exposure("tcp", port, ifc))
	}
	return out, nil
}

// Exposure decides one interface and port for both address families.
func (rs *Ruleset) Exposure(proto string, port int, iface string) Exposure {
	x := Exposure{Iface: iface, Proto: proto, Port: port}
	x.IPv4 = rs.Decide(Packet{Family: "ipv4", Iface: iface, Proto: proto, Port: port})
	x.IPv6 = rs.Decide(Packet{Family: "ipv6", Iface: iface, Proto: proto, Port: port})
	x.State = Worse(x.IPv4.State, x.IPv6.State)
	return x
}

var hookOrder = map[string]int{"ingress": 0, "prerouting": 1, "input": 2}

// baseChains are the filter base chains a packet for this host crosses.
func (rs *Ruleset) baseChains(p Packet) []*Chain {
	var out []*Chain
	for _, c := range rs.chains {
		if !c.IsBase() || (c.Type != "filter" && c.Type != "") {
			continue
		}
		switch c.Family {
		case "ip":
			if p.Family != "ipv4" {
				continue
			}
		case "ip6":
			if p.Family != "ipv6" {
				continue
			}
		case "inet":
		case "netdev":
			if c.Hook != "ingress" || !contains(c.Devices, p.Iface) {
				continue
			}
		default:
			continue
		}
		if c.Family != "netdev" && c.Hook != "prerouting" && c.Hook != "input" && !(c.Family == "inet" && c.Hook == "ingress" && contains(c.Devices, p.Iface)) {
			continue
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if hookOrder[a.Hook] != hookOrder[b.Hook] {
			return hookOrder[a.Hook] < hookOrder[b.Hook]
		}
		if a.Prio != b.Prio {
			return a.Prio < b.Prio
		}
		return a.ID() < b.ID()
	})
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Decide follows p through every base chain it crosses.
func (rs *Ruleset) Decide(p Packet) Decision {
	chains := rs.baseChains(p)
	if len(chains) == 0 {
		return Decision{State: Open, Reason: "no nftables base chain filters the input path for " + p.Family,
			Rules: []string{"(no input or prerouting filter chain for " + p.Family + ")"}}
	}
	// A notrack in a prerouting chain changes what ct state the later
	// chains see; when some paths take it and others do not, both are
	// followed and the more exposed answer wins.
	never, always := rs.notrack(chains, p)
	if !never && !always {
		a, b := rs.decideChains(chains, p, false), rs.decideChains(chains, p, true)
		if rank(b.State) > rank(a.State) {
			return b
		}
		return a
	}
	return rs.decideChains(chains, p, always)
}

// notrack reports whether no accepting path (never) or every accepting
// path (always) through the prerouting chains takes a notrack statement.
func (rs *Ruleset) notrack(chains []*Chain, p Packet) (never, always bool) {
	never, always = true, true
	seen := false
	for _, c := range chains {
		if c.Hook == "input" || !hasNotrack(rs, c, 0) {
			continue
		}
		e := &evaluator{rs: rs, pkt: p}
		for _, o := range e.chainOutcomes(c, nil, 0) {
			if o.verdict == "drop" || (o.verdict == "return" && c.Policy == "drop") {
				continue
			}
			seen = true
			if _, ok := assumed(o.conds, notrackMark); ok {
				never = false
			} else {
				always = false
			}
		}
	}
	if !seen {
		return true, false
	}
	return never, always
}

// hasNotrack reports whether c, or a chain it jumps to, has a notrack.
func hasNotrack(rs *Ruleset, c *Chain, depth int) bool {
	if depth > maxDepth {
		return true
	}
	for _, r := range c.Rules {
		for _, st := range r.Expr {
			if _, ok := st["notrack"]; ok {
				return true
			}
			for _, k := range []string{"jump", "goto"} {
				if m, ok := st[k].(map[string]any); ok {
					if t, _ := m["target"].(string); t != "" {
						if sub := rs.chain(c.Family, c.Table, t); sub != nil && hasNotrack(rs, sub, depth+1) {
							return true
						}
					}
				}
			}
		}
	}
	return false
}

func (rs *Ruleset) decideChains(chains []*Chain, p Packet, untracked bool) Decision {
	var ds []Decision
	for _, c := range chains {
		ds = append(ds, rs.decideChain(c, p, untracked))
	}
	// Closed if any chain always drops; otherwise the weakest link.
	for _, d := range ds {
		if d.State == Closed {
			return d
		}
	}
	best := Open
	for _, d := range ds {
		if rank(d.State) < rank(best) {
			best = d.State
		}
	}
	var reasons, rules []string
	for _, d := range ds {
		if best == Open || d.State == best {
			reasons = append(reasons, d.Reason)
			rules = append(rules, d.Rules...)
		}
	}
	return Decision{State: best, Reason: strings.Join(dedupe(reasons), "; "), Rules: dedupe(rules)}
}

func (rs *Ruleset) decideChain(c *Chain, p Packet, untracked bool) Decision {
	e := &evaluator{rs: rs, pkt: p, untracked: untracked}
	outs := e.chainOutcomes(c, nil, 0)
	var open, limited, unknown, drops []outcome
	for _, o := range outs {
		if o.verdict == "return" {
			o.verdict = c.Policy
			o.rule = fmt.Sprintf("%s: policy %s", c.ID(), c.Policy)
		}
		switch o.verdict {
		case "drop":
			drops = append(drops, o)
			continue
		case "accept":
		default:
			unknown = append(unknown, o)
			continue
		}
		restricted, unk := false, false
		for _, cd := range o.conds {
			if cd.unknown {
				unk = true
			}
			if cd.restricting && cd.holds {
				restricted = true
			}
		}
		switch {
		case unk:
			unknown = append(unknown, o)
		case restricted:
			limited = append(limited, o)
		default:
			open = append(open, o)
		}
	}
	switch {
	case len(open) > 0:
		return Decision{State: Open, Reason: "accepted by " + open[0].rule + qualifiers(open[0]), Rules: rulesOf(open)}
	case len(unknown) > 0:
		return Decision{State: Unknown, Reason: "cannot tell: " + unknownWhy(unknown[0]), Rules: rulesOf(unknown)}
	case len(limited) > 0:
		return Decision{State: Limited, Reason: "accepted only when " + condText(limited[0].conds, true) + " by " + limited[0].rule, Rules: rulesOf(limited)}
	}
	if len(drops) == 0 {
		return Decision{State: Unknown, Reason: "no path through " + c.ID(), Rules: []string{c.ID()}}
	}
	return Decision{State: Closed, Reason: "dropped by " + drops[0].rule, Rules: rulesOf(drops)}
}

func qualifiers(o outcome) string {
	if t := condText(o.conds, false); t != "" {
		return " (when " + t + ")"
	}
	return ""
}

func unknownWhy(o outcome) string {
	for _, cd := range o.conds {
		if cd.unknown {
			return "the analysis does not understand " + strings.TrimSpace(cd.text) + " (in " + o.rule + ")"
		}
	}
	return o.rule + " has a verdict the analysis does not understand"
}

// condText lists the assumptions of a path; onlyRestricting keeps the
// source-selecting ones that hold.
func condText(cs []cond, onlyRestricting bool) string {
	var parts []string
	for _, c := range cs {
		if c.text == notrackMark || (onlyRestricting && !(c.restricting && c.holds)) {
			continue
		}
		if c.holds {
			parts = append(parts, c.text)
		} else {
			parts = append(parts, "not "+c.text)
		}
	}
	return strings.Join(parts, " and ")
}

func rulesOf(os []outcome) []string {
	var out []string
	for _, o := range os {
		out = append(out, o.via...)
		out = append(out, o.rule)
	}
	return dedupe(out)
}

func dedupe(l []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, s := range l {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
