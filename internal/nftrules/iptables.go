package nftrules

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// iptables-save output describes rules that nft cannot: the legacy
// backend's tables are invisible to nft, and iptables-nft's matches
// (conntrack, rpfilter, pkttype, icmp …) show up in nft -j only as opaque
// "xt" expressions. NixOS's iptables firewall is made of exactly those, so
// the iptables rules are translated into the same expression model and
// analysed by the same evaluator.

// Backend reports which kernel backend an iptables-save output came from.
func Backend(save []byte) string {
	if bytes.Contains(save, []byte("(nf_tables)")) {
		return "nf_tables"
	}
	return "legacy"
}

// LegacyPresent reports the warning iptables-nft-save prints when legacy
// tables exist too (read them with iptables-legacy-save).
func LegacyPresent(save []byte) bool {
	return bytes.Contains(save, []byte("iptables-legacy tables present"))
}

// AddIptables merges an iptables-save (family "ip") or ip6tables-save
// (family "ip6") output into the ruleset. Output from the nf_tables
// backend replaces the nft tables of the same family and name (the same
// rules, described completely); legacy output is added beside them, since
// a packet then crosses both.
func (rs *Ruleset) AddIptables(save []byte, family string) error {
	if family != "ip" && family != "ip6" {
		return fmt.Errorf("iptables-save: family %q (expected ip or ip6)", family)
	}
	if len(save) > MaxRulesetSize {
		return fmt.Errorf("iptables-save: %d bytes is more than the %d accepted", len(save), MaxRulesetSize)
	}
	nft := Backend(save) == "nf_tables"
	prog := map[string]string{"ip": "iptables-save", "ip6": "ip6tables-save"}[family]
	sc := bufio.NewScanner(bytes.NewReader(save))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	table, tableName := "", ""
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		errf := func(format string, args ...any) error {
			return fmt.Errorf("%s: line %d: %s", prog, lineNo, fmt.Sprintf(format, args...))
		}
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "*"):
			table = line[1:]
			tableName = table
			if !nft {
				tableName = "legacy-" + table
			}
			if nft {
				// The nft view of this table is replaced by this one.
				for k, c := range rs.chains {
					if c.Family == family && c.Table == table {
						delete(rs.chains, k)
					}
				}
			}
		case line == "COMMIT":
			table = ""
		case strings.HasPrefix(line, ":"):
			if table == "" {
				return errf("chain %q outside a table", line)
			}
			f := strings.Fields(line[1:])
			if len(f) < 2 {
				return errf("chain line %q: expected :NAME POLICY [packets:bytes]", line)
			}
			c := &Chain{Family: family, Table: tableName, Name: f[0]}
			if f[1] != "-" {
				c.Policy = strings.ToLower(f[1])
				c.Type, c.Hook, c.Prio = iptHook(table, f[0])
				if c.Hook == "" {
					c.Type = ""
				}
			}
			rs.chains[key(family, tableName, c.Name)] = c
		case strings.HasPrefix(line, "-A "):
			if table == "" {
				return errf("rule outside a table")
			}
			args, err := splitArgs(line[3:])
			if err != nil {
				return errf("%v", err)
			}
			if len(args) == 0 {
				return errf("rule without a chain")
			}
			c := rs.chains[key(family, tableName, args[0])]
			if c == nil {
				return errf("rule for undeclared chain %q", args[0])
			}
			expr, err := iptRule(family, args[1:])
			if err != nil {
				return errf("%v", err)
			}
			c.Rules = append(c.Rules, &Rule{Chain: c, Handle: len(c.Rules) + 1, Comment: "-A " + strings.Join(args, " "), Expr: expr})
			rs.rules++
		default:
			return errf("unexpected line %q (expected *table, :chain, -A rule or COMMIT)", truncate(line, 80))
		}
	}
	return sc.Err()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// iptHook maps a built-in chain to its hook; nat chains do not filter.
func iptHook(table, chain string) (typ, hook string, prio int) {
	prios := map[string]int{"raw": -300, "mangle": -150, "filter": 0, "security": 50}
	p, ok := prios[table]
	if !ok {
		return "", "", 0
	}
	switch chain {
	case "PREROUTING":
		if table == "raw" || table == "mangle" {
			return "filter", "prerouting", p
		}
	case "INPUT":
		if table != "raw" {
			return "filter", "input", p
		}
	}
	return "", "", 0
}

// splitArgs splits an iptables-save rule into words; iptables-save
// double-quotes words with spaces and escapes quotes inside them.
func splitArgs(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in, esc, have := false, false, false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\':
			esc = true
		case r == '"':
			in = !in
			have = true
		case (r == ' ' || r == '\t') && !in:
			if have || cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
		}
	}
	if in {
		return nil, fmt.Errorf("unterminated quote")
	}
	if have || cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out, nil
}

// iptRule translates one rule's options into nft JSON-shaped statements.
func iptRule(family string, args []string) ([]map[string]any, error) {
	l3 := map[string]string{"ip": "ip", "ip6": "ip6"}[family]
	var out []map[string]any
	match := func(neg bool, left any, right any) {
		op := "=="
		if neg {
			op = "!="
		}
		out = append(out, map[string]any{"match": map[string]any{"op": op, "left": left, "right": right}})
	}
	opaque := func(kind, name string) {
		out = append(out, map[string]any{"xt": map[string]any{"type": kind, "name": name}})
	}
	proto := ""
	module := ""
	i := 0
	next := func() (string, error) {
		if i >= len(args) {
			return "", fmt.Errorf("option %s: missing value", args[i-1])
		}
		v := args[i]
		i++
		return v, nil
	}
	for i < len(args) {
		neg := false
		if args[i] == "!" {
			neg = true
			i++
			if i >= len(args) {
				return nil, fmt.Errorf("\"!\" at the end of the rule")
			}
		}
		opt := args[i]
		i++
		switch opt {
		case "-s", "--source", "-d", "--destination":
			v, err := next()
			if err != nil {
				return nil, err
			}
			field := "saddr"
			if opt == "-d" || opt == "--destination" {
				field = "daddr"
			}
			match(neg, map[string]any{"payload": map[string]any{"protocol": l3, "field": field}}, prefix(v))
		case "-i", "--in-interface":
			v, err := next()
			if err != nil {
				return nil, err
			}
			if strings.HasSuffix(v, "+") {
				v = strings.TrimSuffix(v, "+") + "*"
			}
			match(neg, map[string]any{"meta": map[string]any{"key": "iifname"}}, v)
		case "-o", "--out-interface":
			if _, err := next(); err != nil {
				return nil, err
			}
			opaque("match", "out-interface")
		case "-p", "--protocol":
			v, err := next()
			if err != nil {
				return nil, err
			}
			if n, ok := map[string]string{"6": "tcp", "17": "udp", "1": "icmp", "58": "ipv6-icmp"}[v]; ok {
				v = n
			}
			if v == "all" || v == "0" {
				continue
			}
			proto = v
			match(neg, map[string]any{"meta": map[string]any{"key": "l4proto"}}, v)
		case "-m", "--match":
			v, err := next()
			if err != nil {
				return nil, err
			}
			module = v
			switch v {
			case "tcp", "udp", "multiport", "conntrack", "state", "comment", "pkttype", "rpfilter", "limit",
				"addrtype", "set", "icmp", "icmp6", "icmpv6":
			default:
				opaque("match", v)
			}
		case "-j", "--jump", "-g", "--goto":
			v, err := next()
			if err != nil {
				return nil, err
			}
			// Target options follow; none decide the verdict.
			for i < len(args) && strings.HasPrefix(args[i], "--") {
				i++
				if i < len(args) && !strings.HasPrefix(args[i], "-") {
					i++
				}
			}
			switch v {
			case "ACCEPT":
				out = append(out, map[string]any{"accept": nil})
			case "DROP":
				out = append(out, map[string]any{"drop": nil})
			case "REJECT":
				out = append(out, map[string]any{"reject": nil})
			case "RETURN":
				out = append(out, map[string]any{"return": nil})
			case "LOG", "NFLOG", "ULOG", "MARK", "CONNMARK", "CT", "NOTRACK", "TRACE", "AUDIT", "CHECKSUM", "TOS", "DSCP", "TTL", "HL", "TCPMSS":
				out = append(out, map[string]any{"log": nil})
			default:
				if strings.ToUpper(v) == v {
					opaque("target", v) // an extension target with its own verdict
				} else if opt == "-g" || opt == "--goto" {
					out = append(out, map[string]any{"goto": map[string]any{"target": v}})
				} else {
					out = append(out, map[string]any{"jump": map[string]any{"target": v}})
				}
			}
		case "--dport", "--destination-port", "--sport", "--source-port":
			v, err := next()
			if err != nil {
				return nil, err
			}
			field := "dport"
			if opt == "--sport" || opt == "--source-port" {
				field = "sport"
			}
			p := proto
			if module == "tcp" || module == "udp" {
				p = module
			}
			if p == "" {
				p = "th"
			}
			r, err := portSet(v)
			if err != nil {
				return nil, err
			}
			match(neg, map[string]any{"payload": map[string]any{"protocol": p, "field": field}}, r)
		case "--dports", "--destination-ports", "--sports", "--source-ports", "--ports":
			v, err := next()
			if err != nil {
				return nil, err
			}
			if opt == "--ports" {
				opaque("match", "multiport --ports")
				continue
			}
			field := "dport"
			if strings.HasPrefix(opt, "--s") {
				field = "sport"
			}
			p := proto
			if p == "" {
				p = "th"
			}
			r, err := portSet(v)
			if err != nil {
				return nil, err
			}
			match(neg, map[string]any{"payload": map[string]any{"protocol": p, "field": field}}, r)
		case "--tcp-flags":
			mask, err := next()
			if err != nil {
				return nil, err
			}
			comp, err := next()
			if err != nil {
				return nil, err
			}
			match(neg, map[string]any{"&": []any{map[string]any{"payload": map[string]any{"protocol": "tcp", "field": "flags"}}, flagList(mask)}}, flagList(comp))
		case "--syn":
			match(neg, map[string]any{"&": []any{map[string]any{"payload": map[string]any{"protocol": "tcp", "field": "flags"}}, []any{"fin", "syn", "rst", "ack"}}}, "syn")
		case "--ctstate", "--state":
			v, err := next()
			if err != nil {
				return nil, err
			}
			var states []any
			for _, s := range strings.Split(strings.ToLower(v), ",") {
				states = append(states, s)
			}
			match(neg, map[string]any{"ct": map[string]any{"key": "state"}}, map[string]any{"set": states})
		case "--ctstatus", "--ctproto", "--ctorigsrc", "--ctorigdst", "--ctexpire", "--ctdir":
			if _, err := next(); err != nil {
				return nil, err
			}
			match(neg, map[string]any{"ct": map[string]any{"key": "status"}}, "x")
		case "--comment":
			if _, err := next(); err != nil {
				return nil, err
			}
		case "--pkt-type":
			v, err := next()
			if err != nil {
				return nil, err
			}
			if v == "unicast" {
				v = "host"
			}
			match(neg, map[string]any{"meta": map[string]any{"key": "pkttype"}}, v)
		case "--validmark", "--loose", "--accept-local":
		case "--invert":
			if module == "rpfilter" {
				out = append(out, map[string]any{"match": map[string]any{"op": "==", "left": map[string]any{"fib": map[string]any{"result": "oif", "flags": []any{"saddr", "iif"}}}, "right": false}})
			}
		case "--limit", "--limit-burst":
			if _, err := next(); err != nil {
				return nil, err
			}
			if opt == "--limit" {
				out = append(out, map[string]any{"limit": map[string]any{"rate": "iptables", "per": "limit"}})
			}
		case "--src-type", "--dst-type":
			v, err := next()
			if err != nil {
				return nil, err
			}
			flag := "saddr"
			if opt == "--dst-type" {
				flag = "daddr"
			}
			match(neg, map[string]any{"fib": map[string]any{"result": "type", "flags": []any{flag}}}, strings.ToLower(v))
		case "--match-set":
			name, err := next()
			if err != nil {
				return nil, err
			}
			dir, err := next()
			if err != nil {
				return nil, err
			}
			field := "saddr"
			if strings.HasPrefix(dir, "dst") {
				field = "daddr"
			}
			match(neg, map[string]any{"payload": map[string]any{"protocol": l3, "field": field}}, "@ipset:"+name)
		case "--icmp-type", "--icmpv6-type":
			if _, err := next(); err != nil {
				return nil, err
			}
			p := "icmp"
			if family == "ip6" {
				p = "icmpv6"
			}
			match(neg, map[string]any{"payload": map[string]any{"protocol": p, "field": "type"}}, "x")
		case "-c", "--set-counters":
			if _, err := next(); err != nil {
				return nil, err
			}
			if i < len(args) && !strings.HasPrefix(args[i], "-") {
				i++
			}
		default:
			// An option of a match extension this translation does not
			// know: skip its value and mark the rule as not understood.
			if i < len(args) && !strings.HasPrefix(args[i], "-") && args[i] != "!" {
				i++
			}
			opaque("match", module+" "+opt)
		}
	}
	return out, nil
}

func prefix(v string) any {
	addr, bits, ok := strings.Cut(v, "/")
	if !ok {
		return v
	}
	n, err := strconv.Atoi(bits)
	if err != nil {
		return v // a netmask form; the address is symbolic anyway
	}
	return map[string]any{"prefix": map[string]any{"addr": addr, "len": int64(n)}}
}

// portSet turns "22", "1000:2000" or "22,80,1000:2000" into a value or set.
func portSet(v string) (any, error) {
	var elems []any
	for _, part := range strings.Split(v, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, err := portNum(lo, 0)
		if err != nil {
			return nil, err
		}
		if !isRange {
			elems = append(elems, a)
			continue
		}
		b, err := portNum(hi, 65535)
		if err != nil {
			return nil, err
		}
		elems = append(elems, map[string]any{"range": []any{a, b}})
	}
	if len(elems) == 1 {
		if _, isRange := elems[0].(map[string]any); !isRange {
			return elems[0], nil
		}
	}
	return map[string]any{"set": elems}, nil
}

func portNum(s string, empty int64) (int64, error) {
	if s == "" {
		return empty, nil
	}
	if p, ok := services[s]; ok {
		return p, nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 || n > 65535 {
		return 0, fmt.Errorf("port %q: expected a number from 0 to 65535", s)
	}
	return n, nil
}

func flagList(s string) any {
	if strings.EqualFold(s, "NONE") {
		return []any{}
	}
	var out []any
	for _, f := range strings.Split(strings.ToLower(s), ",") {
		if f == "all" {
			out = append(out, "fin", "syn", "rst", "psh", "ack", "urg")
			continue
		}
		out = append(out, f)
	}
	if len(out) == 1 {
		return out[0]
	}
	return out
}
