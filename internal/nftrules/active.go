package nftrules

import (
	"fmt"
	"sort"
	"strings"
)

// Filtering says which base chains on the input hook end in a drop, per
// address family.
type Filtering struct {
	// IPv4 and IPv6 list the input-hook filter base chains that drop what
	// they do not accept: policy drop, or a last rule that drops or
	// rejects unconditionally.
	IPv4 []string `json:"ipv4"`
	IPv6 []string `json:"ipv6"`
	// Chains lists every input-hook filter base chain with its policy.
	Chains []string `json:"chains"`
}

// Active reports whether both address families have a default-deny input
// chain.
func (f Filtering) Active() bool { return len(f.IPv4) > 0 && len(f.IPv6) > 0 }

// Summary is one line for evidence.
func (f Filtering) Summary() string {
	if len(f.Chains) == 0 {
		return "no filter base chain on the input hook"
	}
	s := "input-hook base chains: " + strings.Join(f.Chains, "; ")
	switch {
	case f.Active():
		return s
	case len(f.IPv4) == 0 && len(f.IPv6) == 0:
		return s + "; none drops by default"
	case len(f.IPv4) == 0:
		return s + "; IPv4 has no default drop"
	default:
		return s + "; IPv6 has no default drop"
	}
}

// InputFiltering inspects the input-hook base chains.
func (rs *Ruleset) InputFiltering() Filtering {
	var f Filtering
	for _, c := range rs.Chains() {
		if !c.IsBase() || c.Hook != "input" || (c.Type != "filter" && c.Type != "") {
			continue
		}
		v4 := c.Family == "ip" || c.Family == "inet"
		v6 := c.Family == "ip6" || c.Family == "inet"
		if !v4 && !v6 {
			continue
		}
		how := ""
		if c.Policy == "drop" {
			how = "policy drop"
		} else if n := len(c.Rules); n > 0 && finalDrop(c.Rules[n-1]) {
			how = "final rule " + ruleText(c.Rules[n-1])
		}
		f.Chains = append(f.Chains, fmt.Sprintf("%s (policy %s, %d rules)", c.ID(), c.Policy, len(c.Rules)))
		if how == "" {
			continue
		}
		if v4 {
			f.IPv4 = append(f.IPv4, c.ID()+": "+how)
		}
		if v6 {
			f.IPv6 = append(f.IPv6, c.ID()+": "+how)
		}
	}
	sort.Strings(f.Chains)
	// A chain may accept by policy and still drop everything not allowed
	// (NixOS's iptables firewall ends INPUT with a jump to a refusing
	// chain): ask the evaluator about ports nobody opens.
	for _, fam := range []struct {
		name string
		list *[]string
	}{{"ipv4", &f.IPv4}, {"ipv6", &f.IPv6}} {
		if len(*fam.list) > 0 {
			continue
		}
		if how, ok := rs.dropsUnopened(fam.name); ok {
			*fam.list = append(*fam.list, how)
		}
	}
	return f
}

// dropsUnopened reports whether new connections to ports that nothing
// opens are dropped for family, on an interface no rule names.
func (rs *Ruleset) dropsUnopened(family string) (string, bool) {
	var how string
	for _, p := range []Packet{
		{Family: family, Iface: "rampart-probe0", Proto: "tcp", Port: 1},
		{Family: family, Iface: "rampart-probe0", Proto: "udp", Port: 1},
		{Family: family, Iface: "rampart-probe0", Proto: "tcp", Port: 64999},
	} {
		d := rs.Decide(p)
		if d.State != Closed {
			return "", false
		}
		how = d.Reason
	}
	return "unopened ports " + how, true
}

// finalDrop reports a rule made only of counters/logs and drop or reject.
func finalDrop(r *Rule) bool {
	verdict := false
	for _, st := range r.Expr {
		for k := range st {
			switch k {
			case "counter", "log", "comment":
			case "drop", "reject":
				verdict = true
			default:
				return false
			}
		}
	}
	return verdict
}

// Trusted reports whether iface accepts new connections whatever the
// port: a sample of TCP and UDP ports, IPv4 and IPv6, must all be open.
// The returned Decision carries the evidence (the first port that is not
// open, or the rules that accept).
func (rs *Ruleset) Trusted(iface string) (bool, Decision) {
	var rules []string
	for _, probe := range []struct {
		proto string
		port  int
	}{{"tcp", 22}, {"tcp", 1}, {"tcp", 8443}, {"tcp", 65535}, {"udp", 53}, {"udp", 40000}} {
		x := rs.Exposure(probe.proto, probe.port, iface)
		if x.State != Open {
			return false, Decision{State: x.State,
				Reason: fmt.Sprintf("%s/%d on %s is %s: %s", probe.proto, probe.port, iface, x.State, x.Reason()),
				Rules:  x.Rules()}
		}
		rules = append(rules, x.Rules()...)
	}
	return true, Decision{State: Open, Reason: "every sampled TCP and UDP port is accepted on " + iface, Rules: dedupe(rules)}
}
