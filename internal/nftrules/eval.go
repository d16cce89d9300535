package nftrules

import (
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
)

// Packet is the new connection the analysis follows.
type Packet struct {
	Family string // "ipv4" or "ipv6"
	Iface  string // input interface name
	Proto  string // "tcp" or "udp"
	Port   int    // destination port
}

// limits on the analysis; beyond them the answer is unknown.
const (
	maxPaths = 20000
	maxDepth = 32
)

type valKind int

const (
	kValue       valKind = iota
	kAbsent              // the header the expression reads is not in this packet: the match fails
	kSymbolic            // a real packet property the ruleset alone cannot know
	kUnsupported         // an expression this analysis does not understand
)

type val struct {
	kind valKind
	v    any // string, int64, bool, flags ([]string), tuple ([]val)
	// restricting marks symbolic properties that select who may connect
	// (source or destination address, source port), as opposed to ones
	// that do not (rate limits).
	restricting bool
}

// cond is one fork the analysis took: the match text and whether the path
// assumed it true or false.
type cond struct {
	text        string
	holds       bool
	restricting bool
	unknown     bool
}

// outcome is one way a chain can end for the packet.
type outcome struct {
	verdict string // accept, drop, return (fall through), unknown
	conds   []cond
	rule    string   // the rule (or chain policy) that decided it
	via     []string // the jump or goto rules that led to it
}

type evaluator struct {
	rs    *Ruleset
	pkt   Packet
	paths int
	over  bool
	// untracked: an earlier chain exempted the packet from connection
	// tracking (notrack), so ct state is "untracked", not "new".
	untracked bool
}

// notrackMark is the path marker a notrack statement leaves.
const notrackMark = "\x00notrack"

func (e *evaluator) chainOutcomes(c *Chain, conds []cond, depth int) []outcome {
	if depth > maxDepth {
		return []outcome{{verdict: "unknown", conds: conds, rule: "chain nesting deeper than " + strconv.Itoa(maxDepth) + " at " + c.ID()}}
	}
	return e.rulesFrom(c, 0, conds, depth)
}

func (e *evaluator) rulesFrom(c *Chain, i int, conds []cond, depth int) []outcome {
	e.paths++
	if e.paths > maxPaths {
		e.over = true
		return []outcome{{verdict: "unknown", conds: conds, rule: "ruleset too complex to analyse"}}
	}
	if i >= len(c.Rules) {
		return []outcome{{verdict: "return", conds: conds}}
	}
	r := c.Rules[i]
	var out []outcome
	for _, b := range e.rule(r, conds) {
		switch b.verdict {
		case "":
			out = append(out, e.rulesFrom(c, i+1, b.conds, depth)...)
		case "accept", "drop", "unknown":
			out = append(out, outcome{verdict: b.verdict, conds: b.conds, rule: ruleText(r)})
		case "return":
			out = append(out, outcome{verdict: "return", conds: b.conds})
		case "jump", "goto":
			target := e.rs.chain(c.Family, c.Table, b.target)
			if target == nil {
				out = append(out, outcome{verdict: "unknown", conds: b.conds, rule: ruleText(r) + " (target chain missing)"})
				continue
			}
			for _, o := range e.chainOutcomes(target, b.conds, depth+1) {
				if o.verdict == "return" && b.verdict == "jump" {
					out = append(out, e.rulesFrom(c, i+1, o.conds, depth)...)
					continue
				}
				if o.verdict != "return" {
					o.via = append([]string{ruleText(r)}, o.via...)
				}
				out = append(out, o)
			}
		}
	}
	return out
}

// branch is one way a single rule can go: verdict "" means the rule did
// not end evaluation and the next rule follows.
type branch struct {
	verdict string
	target  string
	conds   []cond
}

func withCond(conds []cond, c cond) []cond {
	out := make([]cond, len(conds), len(conds)+1)
	copy(out, conds)
	return append(out, c)
}

// assumed returns what an earlier fork on the same text assumed.
func assumed(conds []cond, text string) (holds, ok bool) {
	for _, c := range conds {
		if c.text == text {
			return c.holds, true
		}
	}
	return false, false
}

func hasVerdict(r *Rule) bool {
	for _, st := range r.Expr {
		for k := range st {
			switch k {
			case "accept", "drop", "reject", "jump", "goto", "return", "queue", "vmap", "xt", "synproxy", "notrack":
				return true
			}
		}
	}
	return false
}

// rule evaluates one rule's statements for the packet under conds.
func (e *evaluator) rule(r *Rule, conds []cond) []branch {
	if !hasVerdict(r) {
		// Counters, logs and the like never decide; forking on them
		// would only add paths.
		return []branch{{conds: conds}}
	}
	return e.stmts(r, r.Expr, conds)
}

func (e *evaluator) stmts(r *Rule, stmts []map[string]any, conds []cond) []branch {
	if len(stmts) == 0 {
		return []branch{{conds: conds}}
	}
	st, rest := stmts[0], stmts[1:]
	for k, body := range st {
		switch k {
		case "match":
			m, _ := body.(map[string]any)
			t, text, restricting, unknown := e.match(r.Chain, m)
			switch t {
			case yes:
				return e.stmts(r, rest, conds)
			case no:
				return []branch{{conds: conds}}
			default:
				if holds, ok := assumed(conds, text); ok {
					if holds {
						return e.stmts(r, rest, conds)
					}
					return []branch{{conds: conds}}
				}
				out := e.stmts(r, rest, withCond(conds, cond{text: text, holds: true, restricting: restricting, unknown: unknown}))
				return append(out, branch{conds: withCond(conds, cond{text: text, holds: false, restricting: restricting, unknown: unknown})})
			}
		case "limit", "quota", "numgen":
			// Within the rate (or quota) the rule goes on; beyond it,
			// the next rule follows. Neither selects who connects.
			text := exprText(map[string]any{k: body})
			out := e.stmts(r, rest, withCond(conds, cond{text: text, holds: true}))
			return append(out, branch{conds: withCond(conds, cond{text: text, holds: false})})
		case "accept", "drop", "return":
			return []branch{{verdict: k, conds: conds}}
		case "reject":
			return []branch{{verdict: "drop", conds: conds}}
		case "jump", "goto":
			m, _ := body.(map[string]any)
			target, _ := m["target"].(string)
			return []branch{{verdict: k, target: target, conds: conds}}
		case "continue":
			return []branch{{conds: conds}}
		case "vmap":
			return e.vmap(r, body, conds)
		case "notrack":
			return e.stmts(r, rest, withCond(conds, cond{text: notrackMark, holds: true}))
		case "counter", "log", "comment", "mangle", "set", "map", "meta", "ct helper", "ct timeout",
			"ct expectation", "snat", "dnat", "masquerade", "redirect", "tproxy", "dup", "fwd", "flow", "secmark",
			"ct count", "xt_target_none":
			// Statements without a verdict for this packet.
			if k == "ct count" {
				text := exprText(map[string]any{k: body})
				out := e.stmts(r, rest, withCond(conds, cond{text: text, holds: true}))
				return append(out, branch{conds: withCond(conds, cond{text: text, holds: false})})
			}
			return e.stmts(r, rest, conds)
		default:
			// queue, xt, synproxy and anything newer: the verdict is
			// not known. The rule may decide or may not.
			text := exprText(map[string]any{k: body})
			return []branch{
				{verdict: "unknown", conds: withCond(conds, cond{text: text, holds: true, unknown: true})},
				{conds: withCond(conds, cond{text: text, holds: false, unknown: true})},
			}
		}
	}
	return e.stmts(r, rest, conds)
}

func (e *evaluator) vmap(r *Rule, body any, conds []cond) []branch {
	m, _ := body.(map[string]any)
	left := e.value(r.Chain, m["key"])
	elems, ok := e.elems(r.Chain, m["data"])
	text := exprText(m["key"]) + " vmap"
	if !ok || left.kind == kUnsupported {
		return []branch{
			{verdict: "unknown", conds: withCond(conds, cond{text: text, holds: true, unknown: true})},
			{conds: withCond(conds, cond{text: text, holds: false, unknown: true})},
		}
	}
	if left.kind == kAbsent {
		return []branch{{conds: conds}}
	}
	var out []branch
	for _, el := range elems {
		pair, ok := el.([]any)
		if !ok || len(pair) != 2 {
			continue
		}
		vb := verdictOf(pair[1])
		if left.kind == kSymbolic {
			c := cond{text: exprText(m["key"]) + " " + exprText(pair[0]), holds: true, restricting: left.restricting}
			out = append(out, branch{verdict: vb.verdict, target: vb.target, conds: withCond(conds, c)})
			continue
		}
		switch elemMatch(left, pair[0]) {
		case yes:
			return []branch{{verdict: vb.verdict, target: vb.target, conds: conds}}
		case maybe:
			c := cond{text: text + " " + exprText(pair[0]), holds: true, unknown: true}
			out = append(out, branch{verdict: vb.verdict, target: vb.target, conds: withCond(conds, c)})
		}
	}
	if left.kind == kSymbolic {
		c := cond{text: exprText(m["key"]) + " not in map", holds: true, restricting: left.restricting}
		return append(out, branch{conds: withCond(conds, c)})
	}
	return append(out, branch{conds: conds})
}

func verdictOf(v any) branch {
	m, ok := v.(map[string]any)
	if !ok {
		return branch{verdict: "unknown"}
	}
	for k, b := range m {
		switch k {
		case "accept", "drop", "return":
			return branch{verdict: k}
		case "reject":
			return branch{verdict: "drop"}
		case "continue":
			return branch{}
		case "jump", "goto":
			bm, _ := b.(map[string]any)
			t, _ := bm["target"].(string)
			return branch{verdict: k, target: t}
		}
	}
	return branch{verdict: "unknown"}
}

type tri int

const (
	no tri = iota
	yes
	maybe
)

// match evaluates {"op","left","right"}.
func (e *evaluator) match(c *Chain, m map[string]any) (t tri, text string, restricting, unknown bool) {
	text = exprText(map[string]any{"match": m})
	op, _ := m["op"].(string)
	left := e.value(c, m["left"])
	switch left.kind {
	case kAbsent:
		return no, text, false, false
	case kUnsupported:
		return maybe, text, false, true
	case kSymbolic:
		// An empty set never matches, whatever the packet.
		if elems, ok := e.elems(c, m["right"]); ok && len(elems) == 0 {
			if op == "!=" {
				return yes, text, false, false
			}
			return no, text, false, false
		}
		return maybe, text, left.restricting, false
	}
	var res tri
	if elems, ok := e.elems(c, m["right"]); ok {
		res = no
		for _, el := range elems {
			switch elemMatch(left, el) {
			case yes:
				res = yes
			case maybe:
				if res == no {
					res = maybe
				}
			}
			if res == yes {
				break
			}
		}
	} else {
		res = compare(left, op, m["right"])
		if res == maybe {
			return maybe, text, false, true
		}
		return res, text, false, false
	}
	switch op {
	case "==", "in", "":
	case "!=":
		if res != maybe {
			res = 1 - res
		}
	default:
		return maybe, text, false, true
	}
	if res == maybe {
		return maybe, text, false, true
	}
	return res, text, false, false
}

// elems returns the members of a set on the right side of a match or
// vmap: an anonymous set, a named one ("@name"), or nothing (ok false).
func (e *evaluator) elems(c *Chain, right any) ([]any, bool) {
	switch r := right.(type) {
	case string:
		if strings.HasPrefix(r, "@") {
			s := e.rs.set(c.Family, c.Table, r[1:])
			if s == nil {
				return nil, false
			}
			return s.Elems, true
		}
	case map[string]any:
		if s, ok := r["set"]; ok {
			if l, ok := s.([]any); ok {
				return l, true
			}
			return []any{s}, true
		}
	}
	return nil, false
}

// elemMatch tests left against one set element (value, range, prefix,
// concatenation, or an {"elem": {"val": …}} wrapper).
func elemMatch(left val, el any) tri {
	if m, ok := el.(map[string]any); ok {
		if w, ok := m["elem"].(map[string]any); ok {
			return elemMatch(left, w["val"])
		}
		if rg, ok := m["range"].([]any); ok && len(rg) == 2 {
			n, ok1 := left.v.(int64)
			lo, ok2 := toInt(rg[0])
			hi, ok3 := toInt(rg[1])
			if !ok1 || !ok2 || !ok3 {
				return maybe
			}
			if n >= lo && n <= hi {
				return yes
			}
			return no
		}
		if cc, ok := m["concat"].([]any); ok {
			tup, ok := left.v.([]val)
			if !ok || len(tup) != len(cc) {
				return maybe
			}
			res := yes
			for i := range cc {
				switch elemMatch(tup[i], cc[i]) {
				case no:
					return no
				case maybe:
					res = maybe
				}
			}
			return res
		}
	}
	return compare(left, "==", el)
}

// compare compares a known value with a literal.
func compare(left val, op string, right any) tri {
	if left.kind == kSymbolic {
		return maybe
	}
	if left.kind == kAbsent {
		return no
	}
	switch l := left.v.(type) {
	case []string: // flags: ct state, tcp flags
		var want []string
		switch r := right.(type) {
		case string:
			want = []string{r}
		case []any:
			for _, x := range r {
				s, ok := x.(string)
				if !ok {
					return maybe
				}
				want = append(want, s)
			}
		default:
			return maybe
		}
		inter, equal := flagsCmp(l, want)
		switch op {
		case "in":
			return boolTri(inter)
		case "==", "":
			if len(want) == 1 {
				return boolTri(inter)
			}
			return boolTri(equal)
		case "!=":
			if len(want) == 1 {
				return boolTri(!inter)
			}
			return boolTri(!equal)
		}
		return maybe
	case string:
		r, ok := right.(string)
		if !ok {
			return maybe
		}
		eq := l == r
		if strings.HasSuffix(r, "*") && !strings.HasSuffix(r, `\*`) {
			eq = strings.HasPrefix(l, strings.TrimSuffix(r, "*"))
		}
		switch op {
		case "==", "in", "":
			return boolTri(eq)
		case "!=":
			return boolTri(!eq)
		}
		return maybe
	case bool:
		r, ok := right.(bool)
		if !ok {
			if n, ok := toInt(right); ok {
				r = n != 0
			} else {
				return maybe
			}
		}
		switch op {
		case "==", "in", "":
			return boolTri(l == r)
		case "!=":
			return boolTri(l != r)
		}
		return maybe
	case int64:
		r, ok := toInt(right)
		if !ok {
			if s, isStr := right.(string); isStr {
				if p, known := services[s]; known {
					r, ok = p, true
				}
			}
			if !ok {
				return maybe
			}
		}
		switch op {
		case "==", "in", "":
			return boolTri(l == r)
		case "!=":
			return boolTri(l != r)
		case "<":
			return boolTri(l < r)
		case ">":
			return boolTri(l > r)
		case "<=":
			return boolTri(l <= r)
		case ">=":
			return boolTri(l >= r)
		}
		return maybe
	}
	return maybe
}

// services are the names nft may print for ports (with -S or in sets).
var services = map[string]int64{"ssh": 22, "http": 80, "https": 443, "domain": 53}

func flagsCmp(have, want []string) (intersects, equal bool) {
	h := map[string]bool{}
	for _, x := range have {
		h[x] = true
	}
	w := map[string]bool{}
	for _, x := range want {
		w[x] = true
		if h[x] {
			intersects = true
		}
	}
	equal = len(h) == len(w)
	for x := range h {
		if !w[x] {
			equal = false
		}
	}
	return intersects, equal
}

func boolTri(b bool) tri {
	if b {
		return yes
	}
	return no
}

func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			if bi, ok := new(big.Int).SetString(string(n), 0); ok && bi.IsInt64() {
				return bi.Int64(), true
			}
			return 0, false
		}
		return i, true
	case float64:
		return int64(n), true
	case int:
		return int64(n), true
	case int64:
		return n, true
	}
	return 0, false
}

// value evaluates the left side of a match for the packet.
func (e *evaluator) value(c *Chain, x any) val {
	m, ok := x.(map[string]any)
	if !ok {
		return val{kind: kUnsupported}
	}
	p := e.pkt
	for k, body := range m {
		b, _ := body.(map[string]any)
		switch k {
		case "meta":
			switch b["key"] {
			case "iifname", "iif":
				return val{v: p.Iface}
			case "l4proto":
				return val{v: p.Proto}
			case "nfproto":
				return val{v: p.Family}
			case "protocol":
				if p.Family == "ipv4" {
					return val{v: "ip"}
				}
				return val{v: "ip6"}
			case "pkttype":
				return val{v: "host"}
			case "iiftype":
				if p.Iface == "lo" {
					return val{v: "loopback"}
				}
				return val{kind: kSymbolic}
			case "iifgroup", "skuid", "skgid", "cpu", "mark", "priority", "random", "cgroup", "time", "day", "hour":
				return val{kind: kSymbolic}
			}
			return val{kind: kUnsupported}
		case "payload":
			return e.payload(b)
		case "ct":
			switch b["key"] {
			case "state":
				if e.untracked {
					return val{v: []string{"untracked"}}
				}
				return val{v: []string{"new"}}
			case "direction":
				return val{v: "original"}
			case "status", "mark", "label", "zone", "helper", "count", "expiration":
				return val{kind: kSymbolic}
			case "saddr", "daddr", "ip saddr", "ip daddr", "ip6 saddr", "ip6 daddr":
				return val{kind: kSymbolic, restricting: true}
			}
			return val{kind: kUnsupported}
		case "fib":
			// The analysis asks about a well-behaved peer whose address
			// routes back through the interface it arrived on.
			switch b["result"] {
			case "oif", "check":
				return val{v: true}
			case "type":
				if flagsHave(b["flags"], "daddr") {
					return val{v: "local"}
				}
				return val{v: "unicast"}
			}
			return val{kind: kSymbolic}
		case "&":
			l, ok := body.([]any)
			if !ok || len(l) != 2 {
				return val{kind: kUnsupported}
			}
			inner := e.value(c, l[0])
			if inner.kind != kValue {
				return inner
			}
			have, ok := inner.v.([]string)
			if !ok {
				return val{kind: kUnsupported}
			}
			var mask []string
			switch r := l[1].(type) {
			case string:
				mask = []string{r}
			case []any:
				for _, y := range r {
					if s, ok := y.(string); ok {
						mask = append(mask, s)
					}
				}
			default:
				return val{kind: kUnsupported}
			}
			var outFlags []string
			for _, f := range have {
				for _, mk := range mask {
					if f == mk {
						outFlags = append(outFlags, f)
					}
				}
			}
			return val{v: outFlags}
		case "concat":
			l, ok := body.([]any)
			if !ok {
				return val{kind: kUnsupported}
			}
			tup := make([]val, 0, len(l))
			kind := kValue
			for _, y := range l {
				v := e.value(c, y)
				switch v.kind {
				case kAbsent:
					return v
				case kUnsupported:
					kind = kUnsupported
				case kSymbolic:
					if kind == kValue {
						kind = kSymbolic
					}
				}
				tup = append(tup, v)
			}
			if kind != kValue {
				r := false
				for _, v := range tup {
					r = r || v.restricting
				}
				return val{kind: kind, restricting: r}
			}
			return val{v: tup}
		}
		return val{kind: kUnsupported}
	}
	return val{kind: kUnsupported}
}

func flagsHave(v any, f string) bool {
	switch x := v.(type) {
	case string:
		return x == f
	case []any:
		for _, y := range x {
			if y == f {
				return true
			}
		}
	}
	return false
}

func (e *evaluator) payload(b map[string]any) val {
	p := e.pkt
	proto, _ := b["protocol"].(string)
	field, _ := b["field"].(string)
	if proto == "" {
		// Raw payload (@nh,16,16): not understood.
		return val{kind: kUnsupported}
	}
	switch proto {
	case "tcp", "udp", "th", "sctp", "dccp", "udplite":
		if proto != "th" && proto != p.Proto {
			return val{kind: kAbsent}
		}
		switch field {
		case "dport":
			return val{v: int64(p.Port)}
		case "sport":
			return val{kind: kSymbolic, restricting: true}
		case "flags":
			if p.Proto == "tcp" {
				return val{v: []string{"syn"}}
			}
		}
		return val{kind: kSymbolic}
	case "ip", "ip6":
		fam, protoField, version := "ipv4", "protocol", int64(4)
		if proto == "ip6" {
			fam, protoField, version = "ipv6", "nexthdr", 6
		}
		if p.Family != fam {
			return val{kind: kAbsent}
		}
		switch field {
		case protoField:
			return val{v: p.Proto}
		case "saddr", "daddr":
			return val{kind: kSymbolic, restricting: true}
		case "version":
			return val{v: version}
		}
		return val{kind: kSymbolic}
	case "icmp", "icmpv6", "igmp", "esp", "ah", "comp", "gre":
		return val{kind: kAbsent}
	case "ether", "vlan", "arp":
		return val{kind: kSymbolic}
	}
	return val{kind: kUnsupported}
}
