package filter

import (
	"fmt"
	"strings"
)

// Address sub-patterns for fail2ban's host tags (written for RE2). Each
// IPv6 piece ends with ":", so a trailing "::" needs no look-behind.
const (
	reIP4  = `(?:\d{1,3}\.){3}\d{1,3}`
	reIP6  = `(?:[0-9a-fA-F]{1,4}::?|::?){1,7}(?:[0-9a-fA-F]{1,4}|:)?`
	reDNS  = `[\w\-.]*\w`
	mapped = `(?:::f{4,6}:)?`
)

// expandF2BTags replaces fail2ban's regex tags with named groups:
// <HOST>, <ADDR>, <IP4>, <IP6>, <DNS>, <CIDR>, <SUBNET>, <F-NAME>…</F-NAME>.
func expandF2BTags(p string) (string, error) {
	r := strings.NewReplacer(
		"<HOST>", `(?:`+mapped+`(?P<ip4>`+reIP4+`)|\[?(?P<ip6>`+reIP6+`)\]?|(?P<dns>`+reDNS+`))`,
		"<ADDR>", `(?:`+mapped+`(?P<ip4>`+reIP4+`)|\[?(?P<ip6>`+reIP6+`)\]?)`,
		"<IP4>", mapped+`(?P<ip4>`+reIP4+`)`,
		"<IP6>", `\[?(?P<ip6>`+reIP6+`)\]?`,
		"<DNS>", `(?P<dns>`+reDNS+`)`,
		"<CIDR>", `(?P<cidr>\d{1,3})`,
		"<SUBNET>", `(?:`+mapped+`(?P<ip4>`+reIP4+`)|\[?(?P<ip6>`+reIP6+`)\]?)(?:/(?P<cidr>\d{1,3}))?`,
		"<SKIPLINES>", `(?:.*\n)*?`,
	)
	p = r.Replace(p)
	// <F-NAME> … </F-NAME> → (?P<name> … ) with fail2ban's group names
	// (lower case; ID and PORT become fid and fport); <F-NAME/> is a
	// self-closing field with a default pattern.
	var b strings.Builder
	for {
		i := strings.Index(p, "<F-")
		j := strings.Index(p, "</F-")
		if i < 0 && j < 0 {
			b.WriteString(p)
			return b.String(), nil
		}
		if j >= 0 && (i < 0 || j < i) {
			end := strings.IndexByte(p[j:], '>')
			if end < 0 {
				return "", fmt.Errorf("unterminated tag %q", p[j:])
			}
			b.WriteString(p[:j])
			b.WriteString(")")
			p = p[j+end+1:]
			continue
		}
		end := strings.IndexByte(p[i:], '>')
		if end < 0 {
			return "", fmt.Errorf("unterminated tag %q", p[i:])
		}
		name := p[i+3 : i+end]
		selfClosing := strings.HasSuffix(name, "/")
		name = strings.TrimSuffix(name, "/")
		for _, c := range name {
			if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
				return "", fmt.Errorf("tag <F-%s>: expected letters, digits, - or _", name)
			}
		}
		g := strings.ToLower(strings.ReplaceAll(name, "-", "_"))
		switch g {
		case "id":
			g = "fid"
		case "port":
			g = "fport"
		}
		b.WriteString(p[:i])
		if selfClosing {
			b.WriteString("(?P<" + g + `>\w+)`)
		} else {
			b.WriteString("(?P<" + g + ">")
		}
		p = p[i+end+1:]
	}
}

// pyToRE2 translates a Python re pattern to Go's RE2 syntax. Constructs RE2
// lacks are either approximated (listed in approx: look-arounds dropped,
// conditional groups turned into alternations, atomic groups and possessive
// quantifiers made ordinary; each makes the pattern match at least what
// Python's would) or refused with an error (back-references).
func pyToRE2(p string) (out string, approx []string, err error) {
	var b strings.Builder
	note := func(s string) {
		for _, a := range approx {
			if a == s {
				return
			}
		}
		approx = append(approx, s)
	}
	// stack of open groups: kind 'c' = conditional (needs its own close),
	// 'l' = look-around being dropped, 'n' = normal.
	type group struct {
		kind byte
		mark int // b.Len() at open, for dropping look-arounds
		name string
	}
	named := map[string]string{} // group name → translated body, for back-references
	var numbered []string        // capturing groups by number
	var stack []group
	inClass := false
	classStart := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '\\' {
			if i+1 >= len(p) {
				return "", approx, fmt.Errorf("pattern ends with a lone backslash")
			}
			n := p[i+1]
			i++
			switch {
			case n >= '1' && n <= '9' && !inClass:
				k := int(n - '1')
				if k >= len(numbered) {
					return "", approx, fmt.Errorf("back-reference \\%c to an unclosed or missing group", n)
				}
				note("back-reference matched as a copy of its group's pattern")
				b.WriteString("(?:" + numbered[k] + ")")
			case n == 'Z':
				b.WriteString(`\z`)
			case n == 'u' && i+4 < len(p):
				b.WriteString(`\x{` + p[i+1:i+5] + `}`)
				i += 4
			case n == 'U' && i+8 < len(p):
				b.WriteString(`\x{` + p[i+1:i+9] + `}`)
				i += 8
			case n == '0':
				b.WriteString(`\x00`)
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
			continue
		}
		if inClass {
			if c == ']' && i > classStart {
				inClass = false
			}
			if c == '[' && i+1 < len(p) && p[i+1] == ':' {
				b.WriteString(`\[`)
				continue
			}
			b.WriteByte(c)
			continue
		}
		switch c {
		case '[':
			inClass = true
			b.WriteByte(c)
			classStart = i + 1
			if classStart < len(p) && p[classStart] == '^' {
				b.WriteByte('^')
				i++
				classStart++
			}
			// A leading ] is a literal in both dialects.
		case '(':
			rest := p[i+1:]
			switch {
			case strings.HasPrefix(rest, "?P<"):
				end := strings.IndexByte(rest, '>')
				if end < 0 {
					return "", approx, fmt.Errorf("unterminated group name at %q", p[i:])
				}
				b.WriteString("(" + rest[:end+1])
				stack = append(stack, group{kind: 'g', mark: b.Len(), name: rest[3:end]})
				i += end + 1
			case strings.HasPrefix(rest, "?P="):
				end := strings.IndexByte(rest, ')')
				body, ok := named[rest[3:max(end, 3)]]
				if end < 0 || !ok {
					return "", approx, fmt.Errorf("back-reference %q to an unclosed or missing group", p[i:min(len(p), i+20)])
				}
				note("back-reference matched as a copy of its group's pattern")
				b.WriteString("(?:" + body + ")")
				i += end + 1
			case strings.HasPrefix(rest, "?="), strings.HasPrefix(rest, "?!"):
				note("look-ahead dropped")
				stack = append(stack, group{kind: 'l', mark: b.Len()})
				b.WriteString("(?:")
				i += 2
			case strings.HasPrefix(rest, "?<="), strings.HasPrefix(rest, "?<!"):
				note("look-behind dropped")
				stack = append(stack, group{kind: 'l', mark: b.Len()})
				b.WriteString("(?:")
				i += 3
			case strings.HasPrefix(rest, "?("):
				end := strings.IndexByte(rest, ')')
				if end < 0 {
					return "", approx, fmt.Errorf("unterminated conditional group at %q", p[i:])
				}
				note("conditional group (?(name)yes|no) matched as (?:yes|no)")
				stack = append(stack, group{kind: 'c'})
				b.WriteString("(?:")
				i += end + 1
			case strings.HasPrefix(rest, "?>"):
				note("atomic group matched as an ordinary group")
				stack = append(stack, group{kind: 'n'})
				b.WriteString("(?:")
				i += 2
			case strings.HasPrefix(rest, "?#"):
				end := strings.IndexByte(rest, ')')
				if end < 0 {
					return "", approx, fmt.Errorf("unterminated comment group")
				}
				i += end + 1
			case strings.HasPrefix(rest, "?") && len(rest) > 1 && rest[1] != ':' && rest[1] != 'P':
				// Inline flags "(?aiLmsux)" or scoped "(?i:…)".
				j := 1
				for j < len(rest) && strings.IndexByte("aiLmsux-", rest[j]) >= 0 {
					j++
				}
				if j >= len(rest) || (rest[j] != ')' && rest[j] != ':') {
					return "", approx, fmt.Errorf("unsupported group %q", p[i:min(len(p), i+10)])
				}
				var flags strings.Builder
				for _, f := range rest[1:j] {
					switch f {
					case 'i', 'm', 's', '-':
						flags.WriteRune(f)
					case 'x':
						return "", approx, fmt.Errorf("verbose flag (?x) is not supported")
					}
				}
				fl := strings.TrimSuffix(flags.String(), "-")
				if rest[j] == ')' {
					if fl != "" {
						b.WriteString("(?" + fl + ")")
					}
					i += j + 1
					continue
				}
				stack = append(stack, group{kind: 'n'})
				if fl == "" {
					b.WriteString("(?:")
				} else {
					b.WriteString("(?" + fl + ":")
				}
				i += j + 1
			default:
				b.WriteByte('(')
				stack = append(stack, group{kind: 'g', mark: b.Len()})
			}
		case ')':
			if len(stack) == 0 {
				return "", approx, fmt.Errorf("unbalanced ) at offset %d", i)
			}
			g := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if g.kind == 'l' {
				// Drop the look-around and any quantifier after it.
				s := b.String()[:g.mark]
				b.Reset()
				b.WriteString(s)
				for i+1 < len(p) && strings.IndexByte("?*+", p[i+1]) >= 0 {
					i++
				}
				continue
			}
			if g.kind == 'g' {
				body := b.String()[g.mark:]
				numbered = append(numbered, body)
				if g.name != "" {
					named[g.name] = body
				}
			}
			b.WriteByte(')')
		case '{':
			// Python "{,n}" means {0,n}; RE2 reads it as a literal.
			if strings.HasPrefix(p[i:], "{,") {
				b.WriteString("{0")
				continue
			}
			b.WriteByte(c)
		case '*', '+', '?', '}':
			if c == '*' && i > 0 && p[i-1] == '*' {
				note("repeated quantifier ** read as *")
				continue
			}
			b.WriteByte(c)
			if i+1 < len(p) && p[i+1] == '+' {
				note("possessive quantifier matched as greedy")
				i++
			}
		default:
			b.WriteByte(c)
		}
	}
	if len(stack) != 0 {
		return "", approx, fmt.Errorf("unbalanced ( in pattern")
	}
	return b.String(), approx, nil
}
