package nftrules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// MaxRulesetSize bounds the JSON accepted by Parse: the ruleset comes from
// a host that may be hostile.
const MaxRulesetSize = 64 << 20

// Ruleset is a parsed `nft -j list ruleset`.
type Ruleset struct {
	Version string
	Tables  []*Table
	chains  map[string]*Chain // family/table/name
	sets    map[string]*Set   // family/table/name (sets and maps)
	rules   int
}

// Table is one nftables table.
type Table struct {
	Family string
	Name   string
}

// Chain is a base or regular chain with its rules in order.
type Chain struct {
	Family, Table, Name string
	// Base chain attributes; Hook is "" for a regular chain.
	Type, Hook, Policy string
	Prio               int
	Devices            []string
	Rules              []*Rule
}

// ID is "family table chain" as nft prints it.
func (c *Chain) ID() string { return c.Family + " " + c.Table + " " + c.Name }

// IsBase reports whether the chain is attached to a hook.
func (c *Chain) IsBase() bool { return c.Hook != "" }

// Rule is one rule: its statements as the JSON objects nft printed.
type Rule struct {
	Chain   *Chain
	Handle  int
	Comment string
	Expr    []map[string]any
}

// Set is a named set or map; Elems are the JSON element values (for a
// map, two-element [key, value] arrays).
type Set struct {
	Family, Table, Name string
	Map                 bool
	Flags               []string
	Elems               []any
}

func key(family, table, name string) string { return family + "/" + table + "/" + name }

// Parse reads the output of `nft -j list ruleset`.
func Parse(data []byte) (*Ruleset, error) {
	if len(data) > MaxRulesetSize {
		return nil, fmt.Errorf("nft ruleset: %d bytes is more than the %d accepted", len(data), MaxRulesetSize)
	}
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("nft ruleset: not nft JSON: %w", err)
	}
	if doc.Nftables == nil {
		return nil, fmt.Errorf("nft ruleset: no top-level \"nftables\" array (expected the output of nft -j list ruleset)")
	}
	rs := &Ruleset{chains: map[string]*Chain{}, sets: map[string]*Set{}}
	var rules []*jsonRule
	for i, obj := range doc.Nftables {
		for kind, raw := range obj {
			if err := rs.add(kind, raw, &rules); err != nil {
				return nil, fmt.Errorf("nft ruleset: object %d (%s): %w", i, kind, err)
			}
		}
	}
	for _, r := range rules {
		c := rs.chains[key(r.Family, r.Table, r.Chain)]
		if c == nil {
			return nil, fmt.Errorf("nft ruleset: rule handle %d refers to unknown chain %s %s %s", r.Handle, r.Family, r.Table, r.Chain)
		}
		c.Rules = append(c.Rules, &Rule{Chain: c, Handle: r.Handle, Comment: r.Comment, Expr: r.Expr})
		rs.rules++
	}
	return rs, nil
}

type jsonRule struct {
	Family  string           `json:"family"`
	Table   string           `json:"table"`
	Chain   string           `json:"chain"`
	Handle  int              `json:"handle"`
	Comment string           `json:"comment"`
	Expr    []map[string]any `json:"expr"`
}

func decode(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

func (rs *Ruleset) add(kind string, raw json.RawMessage, rules *[]*jsonRule) error {
	switch kind {
	case "metainfo":
		var m struct {
			Version string `json:"version"`
		}
		if err := decode(raw, &m); err != nil {
			return err
		}
		rs.Version = m.Version
	case "table":
		var t Table
		if err := decode(raw, &t); err != nil {
			return err
		}
		rs.Tables = append(rs.Tables, &t)
	case "chain":
		var c struct {
			Family, Table, Name, Type, Hook, Policy string
			Prio                                    json.Number
			Dev                                     any `json:"dev"`
		}
		if err := decode(raw, &c); err != nil {
			return err
		}
		ch := &Chain{Family: c.Family, Table: c.Table, Name: c.Name, Type: c.Type, Hook: c.Hook, Policy: c.Policy}
		if c.Prio != "" {
			p, err := c.Prio.Int64()
			if err != nil {
				return fmt.Errorf("chain %s: prio %q: %w", ch.ID(), c.Prio, err)
			}
			ch.Prio = int(p)
		}
		switch d := c.Dev.(type) {
		case string:
			ch.Devices = []string{d}
		case []any:
			for _, x := range d {
				if s, ok := x.(string); ok {
					ch.Devices = append(ch.Devices, s)
				}
			}
		}
		if ch.IsBase() && ch.Policy == "" {
			ch.Policy = "accept"
		}
		rs.chains[key(ch.Family, ch.Table, ch.Name)] = ch
	case "rule":
		var r jsonRule
		if err := decode(raw, &r); err != nil {
			return err
		}
		*rules = append(*rules, &r)
	case "set", "map":
		var s struct {
			Family, Table, Name string
			Flags               any `json:"flags"`
			Elem                []any
		}
		if err := decode(raw, &s); err != nil {
			return err
		}
		set := &Set{Family: s.Family, Table: s.Table, Name: s.Name, Map: kind == "map", Elems: s.Elem}
		switch f := s.Flags.(type) {
		case string:
			set.Flags = []string{f}
		case []any:
			for _, x := range f {
				if s, ok := x.(string); ok {
					set.Flags = append(set.Flags, s)
				}
			}
		}
		rs.sets[key(s.Family, s.Table, s.Name)] = set
	default:
		// element, flowtable, counter, quota, ct helper, limit, secmark,
		// synproxy objects do not decide a verdict on their own.
	}
	return nil
}

// Chains returns every chain, base chains first, by family, table, name.
func (rs *Ruleset) Chains() []*Chain {
	out := make([]*Chain, 0, len(rs.chains))
	for _, c := range rs.chains {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.IsBase() != b.IsBase() {
			return a.IsBase()
		}
		if a.Family != b.Family {
			return a.Family < b.Family
		}
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		return a.Name < b.Name
	})
	return out
}

// NumRules is the number of rules in the ruleset.
func (rs *Ruleset) NumRules() int { return rs.rules }

func (rs *Ruleset) chain(family, table, name string) *Chain {
	return rs.chains[key(family, table, name)]
}

func (rs *Ruleset) set(family, table, name string) *Set {
	return rs.sets[key(family, table, name)]
}
