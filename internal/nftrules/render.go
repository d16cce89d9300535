package nftrules

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// ruleText names a rule and shows it in nft syntax, for evidence.
func ruleText(r *Rule) string {
	parts := make([]string, 0, len(r.Expr))
	for _, st := range r.Expr {
		parts = append(parts, exprText(st))
	}
	s := fmt.Sprintf("%s (handle %d): %s", r.Chain.ID(), r.Handle, strings.Join(parts, " "))
	if r.Comment != "" {
		s += fmt.Sprintf(" comment %q", r.Comment)
	}
	return s
}

// exprText renders a JSON statement or expression in nft syntax, as close
// as is useful for a person reading evidence.
func exprText(x any) string {
	switch v := x.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		if v {
			return "exists"
		}
		return "missing"
	case []any:
		parts := make([]string, len(v))
		for i, y := range v {
			parts[i] = exprText(y)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		return mapText(v)
	}
	return fmt.Sprint(x)
}

func mapText(v map[string]any) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) != 1 {
		b, _ := json.Marshal(v)
		return string(b)
	}
	k := keys[0]
	body := v[k]
	b, _ := body.(map[string]any)
	switch k {
	case "match":
		op, _ := b["op"].(string)
		l, r := exprText(b["left"]), exprText(b["right"])
		if op == "==" || op == "in" || op == "" {
			return l + " " + r
		}
		return l + " " + op + " " + r
	case "meta":
		key, _ := b["key"].(string)
		switch key {
		case "iifname", "iif", "oifname", "oif", "l4proto", "nfproto", "mark", "pkttype":
			if key == "l4proto" || key == "nfproto" || key == "mark" || key == "pkttype" {
				return "meta " + key
			}
			return key
		}
		return "meta " + key
	case "payload":
		if p, ok := b["protocol"].(string); ok {
			f, _ := b["field"].(string)
			return p + " " + f
		}
		return fmt.Sprintf("@%v,%v,%v", b["base"], b["offset"], b["len"])
	case "ct":
		key, _ := b["key"].(string)
		return "ct " + key
	case "fib":
		return "fib " + strings.ReplaceAll(exprText(b["flags"]), ",", " . ") + " " + exprText(b["result"])
	case "&", "|", "^", "<<", ">>":
		l, _ := body.([]any)
		if len(l) == 2 {
			return exprText(l[0]) + " " + k + " " + exprText(l[1])
		}
	case "concat":
		l, _ := body.([]any)
		parts := make([]string, len(l))
		for i, y := range l {
			parts[i] = exprText(y)
		}
		return strings.Join(parts, " . ")
	case "set":
		l, ok := body.([]any)
		if !ok {
			l = []any{body}
		}
		parts := make([]string, len(l))
		for i, y := range l {
			if pair, ok := y.([]any); ok && len(pair) == 2 {
				parts[i] = exprText(pair[0]) + " : " + exprText(pair[1])
			} else {
				parts[i] = exprText(y)
			}
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case "prefix":
		return fmt.Sprintf("%v/%v", exprText(b["addr"]), exprText(b["len"]))
	case "range":
		l, _ := body.([]any)
		if len(l) == 2 {
			return exprText(l[0]) + "-" + exprText(l[1])
		}
	case "elem":
		return exprText(b["val"])
	case "accept", "drop", "return", "continue", "counter", "notrack":
		return k
	case "reject", "queue", "log", "limit", "quota", "mangle", "xt":
		if k == "limit" {
			return fmt.Sprintf("limit rate %s/%s", exprText(b["rate"]), exprText(b["per"]))
		}
		return k
	case "jump", "goto":
		return k + " " + exprText(b["target"])
	case "vmap":
		return exprText(b["key"]) + " vmap " + exprText(b["data"])
	}
	js, _ := json.Marshal(body)
	return k + " " + string(js)
}
