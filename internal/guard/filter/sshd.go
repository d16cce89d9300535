package filter

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/internal/guard/logline"
)

// Mode bits of the sshd filter. Every mode includes the normal rules, as in
// fail2ban's sshd filter: aggressive = normal + ddos + extra.
const (
	modeNormal uint8 = 1 << iota
	modeDDoS
	modeExtra
)

var sshdModes = map[string]uint8{
	"normal":     modeNormal,
	"ddos":       modeNormal | modeDDoS,
	"extra":      modeNormal | modeExtra,
	"aggressive": modeNormal | modeDDoS | modeExtra,
}

func init() {
	Register(&Builtin{
		Name:  "sshd",
		Modes: []string{"normal", "aggressive", "ddos", "extra"},
		Help:  "OpenSSH failed logins; ddos adds scanners, extra kex failures",
		New: func(mode string) (Filter, error) {
			return &SSHD{mode: sshdModes[mode], conns: newConnTable(8192)}, nil
		},
	})
}

// SSHD is the built-in OpenSSH filter. Every rule parses sshd's fixed tail
// from the right ("… from ADDR port N ssh2 [preauth]") or a fixed
// left-anchored prefix ("Received disconnect from ADDR port N:…"), so
// user-supplied text never supplies the address.
type SSHD struct {
	mode  uint8
	conns *connTable
}

// Name implements Filter.
func (*SSHD) Name() string { return "sshd" }

// sshdResult is what one sshd message says.
type sshdResult struct {
	addr    netip.Addr
	hasAddr bool
	fail    uint8 // mode bits in which the line is a failure (0: never)
	once    bool  // count at most one such failure per connection
	forget  bool  // the connection ended
}

// Match implements Filter.
func (f *SSHD) Match(l *logline.Line) (Hit, bool) {
	if l.Ident != "" && !strings.HasPrefix(l.Ident, "sshd") {
		return Hit{}, false
	}
	r, ok := classifySSHD(l.Message())
	if !ok {
		return Hit{}, false
	}
	var c *connState
	pending := false
	if l.PID > 0 {
		c = f.conns.get(l.PID)
		switch {
		case r.hasAddr:
			if c != nil && c.pending > 0 && (!c.addr.IsValid() || c.addr == r.addr) {
				// An earlier failure of this connection had no address:
				// it counts now (fail2ban's pending MLFID failures).
				pending, c.pending = true, 0
			}
			c = f.conns.put(l.PID, r.addr)
		case c != nil && c.addr.IsValid():
			r.addr, r.hasAddr = c.addr, true
		case r.fail&f.mode != 0:
			f.conns.pend(l.PID)
			return Hit{}, false
		}
	}
	if !r.hasAddr {
		return Hit{}, false
	}
	h := Hit{Addr: r.addr, Failure: r.fail&f.mode != 0 || pending}
	if l.PID > 0 {
		h.Conn = strconv.Itoa(l.PID)
	}
	if h.Failure && r.once && c != nil && !pending {
		if c.onceCounted {
			h.Failure = false
		}
		c.onceCounted = true
	}
	if r.forget && c != nil {
		f.conns.del(l.PID)
	}
	return h, true
}

// classifySSHD recognises one sshd message (the text after the syslog prefix).
func classifySSHD(m string) (r sshdResult, ok bool) {
	for _, p := range [...]string{"error: ", "fatal: "} {
		m = strings.TrimPrefix(m, p)
	}
	m = strings.TrimPrefix(m, "PAM: ")
	m = strings.TrimRight(m, " ")
	if strings.HasPrefix(m, "[ID ") {
		// Solaris "[ID 800047 auth.info] " tag.
		if i := strings.Index(m, "] "); i > 0 {
			m = m[i+2:]
		}
	}
	if m == "" {
		return r, false
	}
	switch m[0] {
	case 'I':
		if rest, ok := cutPrefix2(m, "Invalid user ", "Illegal user "); ok {
			return withAddr(fromTail(rest, false))(modeNormal)
		}
	case 'F':
		if rest, ok := strings.CutPrefix(m, "Failed "); ok {
			method, rest, ok := strings.Cut(rest, " for ")
			if !ok || strings.IndexByte(method, ' ') >= 0 {
				return r, false
			}
			user, a, ok := authTail(rest, method)
			if !ok {
				return r, false
			}
			fail := modeNormal
			if method == "publickey" && !strings.HasPrefix(user, "invalid user ") {
				// fail2ban's publickey=nofail: a failed key of a valid user
				// only identifies the connection (clients try several keys).
				fail = 0
			}
			return sshdResult{addr: a, hasAddr: true, fail: fail}, true
		}
	case 'A':
		if rest, ok := strings.CutPrefix(m, "Accepted "); ok {
			method, rest, ok := strings.Cut(rest, " for ")
			if !ok || strings.IndexByte(method, ' ') >= 0 {
				return r, false
			}
			if _, a, ok := authTail(rest, method); ok {
				return sshdResult{addr: a, hasAddr: true}, true
			}
			return r, false
		}
		if rest, ok := authFailure(m); ok {
			return withAddr(fromTail(trimVia(rest), false))(modeNormal)
		}
	case 'a':
		if rest, ok := authFailure(m); ok {
			return withAddr(fromTail(trimVia(rest), false))(modeNormal)
		}
	case 'm':
		if rest, ok := strings.CutPrefix(m, "maximum authentication attempts exceeded for "); ok {
			rest = strings.TrimSuffix(rest, " [preauth]")
			rest = trimSSH2(rest)
			return withAddr(fromTail(rest, false))(modeNormal)
		}
	case 'S':
		if rest, ok := strings.CutPrefix(m, "SSH: Server;Ltype: "); ok {
			// Helper (LogLevel VERBOSE on some builds):
			// "SSH: Server;Ltype: Kex;Remote: ADDR-PORT;…".
			_, rest, ok := strings.Cut(rest, ";Remote: ")
			if !ok {
				break
			}
			end := strings.IndexByte(rest, ';')
			if end < 0 {
				break
			}
			dash := strings.LastIndexByte(rest[:end], '-')
			if dash < 0 || !isDigits(rest[dash+1:end]) {
				break
			}
			a, ok := parseAddr(rest[:dash])
			return withAddr("", a, ok)(0)
		}
	case 'U':
		if rest, ok := strings.CutPrefix(m, "User not known to the underlying authentication module for "); ok {
			return withAddr(fromTail(rest, false))(modeNormal)
		}
		if rest, ok := strings.CutPrefix(m, "User "); ok {
			if strings.HasSuffix(rest, " not allowed because account is locked") {
				return sshdResult{fail: modeNormal}, true
			}
			i := strings.LastIndex(rest, " not allowed because ")
			if i < 0 || !userRefusal[rest[i+len(" not allowed because "):]] {
				break
			}
			return withAddr(fromTail(rest[:i], false))(modeNormal)
		}
		if strings.HasPrefix(m, "Unable to negotiate a ") {
			// Older OpenSSH: no address, the connection's.
			return sshdResult{fail: modeExtra}, true
		}
		if rest, ok := strings.CutPrefix(m, "Unable to negotiate with "); ok {
			a, reason, ok := leftAddrPort(rest)
			if !ok || !strings.HasPrefix(reason, ": no matching ") {
				return r, false
			}
			return sshdResult{addr: a, hasAddr: true, fail: modeExtra}, true
		}
	case 'R':
		if rest, ok := strings.CutPrefix(m, "ROOT LOGIN REFUSED FROM "); ok {
			rest = strings.TrimSuffix(rest, " [preauth]")
			if i := strings.Index(rest, " port "); i > 0 && isDigits(rest[i+6:]) {
				rest = rest[:i]
			}
			a, ok := parseAddr(rest)
			return withAddr("", a, ok)(modeNormal)
		}
		if rest, ok := strings.CutPrefix(m, "Received disconnect from "); ok {
			return receivedDisconnect(rest)
		}
		if m == "Read from socket failed: Connection reset by peer" || m == "Read from socket failed: Connection reset by peer [preauth]" {
			return sshdResult{fail: modeDDoS, forget: true}, true
		}
	case 'r':
		if rest, ok := strings.CutPrefix(m, "refused connect from "); ok {
			// "refused connect from NAME (ADDR)": NAME comes from reverse DNS,
			// the address is inside the final parentheses.
			if !strings.HasSuffix(rest, ")") {
				break
			}
			i := strings.LastIndex(rest, " (")
			if i < 0 {
				i = -1
				if !strings.HasPrefix(rest, "(") {
					break
				}
			}
			a, ok := parseAddr(rest[i+2 : len(rest)-1])
			return withAddr("", a, ok)(modeNormal)
		}
	case 'D':
		if rest, ok := strings.CutPrefix(m, "Disconnecting"); ok {
			return disconnecting(rest)
		}
		if rest, ok := strings.CutPrefix(m, "Disconnected from "); ok {
			rest, preauth := strings.CutSuffix(rest, " [preauth]")
			head, a, ok := addrPortTail(rest, true)
			if !ok {
				return r, false
			}
			r = sshdResult{addr: a, hasAddr: true}
			switch {
			case !preauth:
			case hasPrefix2(head, "invalid user ", "authenticating user "):
				r.fail = modeDDoS | modeExtra
			case head == "" || strings.HasPrefix(head, "user "):
				r.fail = modeDDoS
			default:
				return sshdResult{}, false
			}
			r.forget = true
			return r, true
		}
		if rest, ok := strings.CutPrefix(m, "Did not receive identification string from "); ok {
			a, ok := addrMaybePort(rest)
			return ddos(a, ok)
		}
	case 'C':
		if rest, ok := cutPrefix2(m, "Connection closed by ", "Connection reset by "); ok {
			rest, preauth := strings.CutSuffix(rest, " [preauth]")
			head, a, ok := addrPortTail(rest, true)
			if !ok || !(head == "" || hasPrefix2(head, "invalid user ", "authenticating user ")) {
				return r, false
			}
			r = sshdResult{addr: a, hasAddr: true, forget: true}
			if preauth {
				r.fail = modeDDoS
			}
			return r, true
		}
		if rest, ok := strings.CutPrefix(m, "Connection from "); ok {
			// LogLevel VERBOSE: "Connection from ADDR port N on ADDR port N rdomain …"
			a, tail, ok := leftAddrPort(rest)
			if !ok || !(tail == "" || strings.HasPrefix(tail, " on ")) {
				return r, false
			}
			return sshdResult{addr: a, hasAddr: true}, true
		}
	case 'T':
		if rest, ok := strings.CutPrefix(m, "Timeout before authentication for "); ok {
			rest = strings.TrimPrefix(rest, "connection from ")
			a, ok := addrMaybePort(rest)
			return ddos(a, ok)
		}
	case 'k':
		if rest, ok := strings.CutPrefix(m, "kex_exchange_identification: "); ok {
			switch {
			case strings.HasPrefix(rest, "client sent invalid protocol identifier "),
				strings.HasPrefix(rest, "banner line contains invalid characters"),
				rest == "read: Connection reset by peer",
				rest == "Connection closed by remote host":
				return sshdResult{fail: modeDDoS, once: true}, true
			}
		}
	case 'B':
		if rest, ok := strings.CutPrefix(m, "Bad protocol version identification '"); ok {
			// The quoted identification is the client's; the address follows
			// the last quote.
			i := strings.LastIndex(rest, "'")
			if i < 0 {
				break
			}
			tail := strings.TrimPrefix(rest[i+1:], " from")
			tail = strings.TrimPrefix(tail, " ")
			a, ok := addrMaybePort(tail)
			return ddos(a, ok)
		}
	case 'b':
		if rest, ok := strings.CutPrefix(m, "banner exchange: Connection from "); ok {
			a, reason, ok := leftAddrPort(rest)
			if !ok {
				return r, false
			}
			r = sshdResult{addr: a, hasAddr: true}
			if reason == ": invalid format" {
				r.fail, r.once = modeDDoS, true
			}
			return r, true
		}
	case 's':
		if rest, ok := strings.CutPrefix(m, "ssh_dispatch_run_fatal: Connection from "); ok {
			rest = strings.TrimSuffix(rest, " [preauth]")
			i := strings.LastIndex(rest, ": ")
			if i < 0 {
				break
			}
			head, a, ok := addrPortTail(rest[:i], true)
			if !ok || !(head == "" || hasPrefix2(head, "invalid user ", "authenticating user ")) {
				return r, false
			}
			r = sshdResult{addr: a, hasAddr: true}
			switch rest[i+2:] {
			case "message authentication code incorrect", "Connection corrupted", "invalid format":
				r.fail = modeDDoS
			}
			return r, true
		}
	case 'n':
		if rest, ok := strings.CutPrefix(m, "no matching "); ok && strings.Contains(rest, " found: ") {
			return sshdResult{fail: modeExtra}, true
		}
	case 'd':
		if rest, ok := strings.CutPrefix(m, "drop connection #"); ok {
			// OpenSSH ≥ 9.8 PerSourcePenalties:
			// "drop connection #N from [ADDR]:PORT on [ADDR]:PORT penalty: …"
			_, rest, ok := strings.Cut(rest, " from [")
			if !ok {
				break
			}
			end := strings.IndexByte(rest, ']')
			if end < 0 || !strings.HasPrefix(rest[end:], "]:") {
				break
			}
			a, ok := parseAddr(rest[:end])
			if !ok || !strings.Contains(rest[end:], " penalty: ") {
				break
			}
			return sshdResult{addr: a, hasAddr: true, fail: modeDDoS}, true
		}
	case 'p':
		if i := strings.Index(m, "(sshd:auth): authentication failure; "); i > 0 && strings.HasPrefix(m, "pam_") && i < 40 {
			// Helper only: "Failed password" counts the same attempt.
			j := strings.Index(m, " rhost=")
			if j < 0 {
				break
			}
			v := m[j+7:]
			if k := strings.IndexByte(v, ' '); k >= 0 {
				v = v[:k]
			}
			a, ok := parseAddr(v)
			return withAddr("", a, ok)(0)
		}
	}
	return r, false
}

// userRefusal are sshd's fixed reasons in "User U from ADDR not allowed because …".
var userRefusal = map[string]bool{
	"not listed in AllowUsers":                        true,
	"listed in DenyUsers":                             true,
	"not in any group":                                true,
	"a group is listed in DenyGroups":                 true,
	"none of user's groups are listed in AllowGroups": true,
	"not listed in AllowGroups":                       true,
}

func receivedDisconnect(rest string) (sshdResult, bool) {
	// "ADDR port N:CODE: TEXT" or (old) "ADDR: CODE: TEXT". TEXT is the
	// client's; the address is at the fixed start.
	var a netip.Addr
	var ok bool
	var tail string
	if i := strings.Index(rest, " port "); i > 0 {
		a, ok = parseAddr(rest[:i])
		tail = rest[i+6:]
		j := 0
		for j < len(tail) && tail[j] >= '0' && tail[j] <= '9' {
			j++
		}
		if j == 0 || j >= len(tail) || tail[j] != ':' {
			return sshdResult{}, false
		}
		tail = tail[j+1:]
	} else if i := strings.Index(rest, ": "); i > 0 {
		a, ok = parseAddr(rest[:i])
		tail = rest[i+2:]
	}
	if !ok {
		return sshdResult{}, false
	}
	r := sshdResult{addr: a, hasAddr: true}
	code, text, _ := strings.Cut(strings.TrimPrefix(tail, " "), ":")
	text = strings.TrimSuffix(text, " [preauth]")
	switch code {
	case "3":
		if strings.HasSuffix(text, "Auth fail") {
			r.fail = modeNormal
		}
	case "14":
		if strings.HasSuffix(text, "No supported authentication methods available") || strings.HasSuffix(text, "No authentication methods available") {
			r.fail = modeExtra
		}
	case "11":
		r.forget = true
	}
	return r, true
}

func disconnecting(rest string) (sshdResult, bool) {
	if strings.HasPrefix(rest, ": Too many authentication failures") {
		// Old form without an address: the connection's address.
		return sshdResult{fail: modeNormal}, true
	}
	rest, ok := strings.CutPrefix(rest, " ")
	if !ok || !hasPrefix2(rest, "invalid user ", "authenticating user ") {
		return sshdResult{}, false
	}
	rest = strings.TrimSuffix(rest, " [preauth]")
	// The two forms differ in sshd's fixed tail, checked first: the
	// change-of-username form always ends in ")", the other in sshd's text.
	if head, ok := strings.CutSuffix(rest, ": Too many authentication failures"); ok {
		// Counted by "maximum authentication attempts exceeded" already.
		_, a, ok := addrPortTail(head, false)
		return withAddr("", a, ok)(0)
	}
	const chg = ": Change of username or service not allowed: "
	if i := strings.Index(rest, chg); i >= 0 && strings.HasSuffix(rest, ")") {
		// User names appear before and after the address; two occurrences
		// of the marker mean two possible parses: refuse the line.
		if strings.LastIndex(rest, chg) != i {
			return sshdResult{}, false
		}
		_, a, ok := addrPortTail(rest[:i], false)
		return withAddr("", a, ok)(modeNormal)
	}
	return sshdResult{}, false
}

// authTail parses "[invalid user ]USER from ADDR port N ssh2[: INFO]" and
// returns the user part. USER and INFO (key comments, hostbased client
// names) are the client's, so " from ADDR port N ssh2" may occur in either.
// A candidate is a " from " followed by an address, a port, the protocol
// and then the end of the line or ": ". Methods that log no INFO
// (password, none, keyboard-interactive) take the candidate that ends the
// line; otherwise the candidate must be unique, and an ambiguous line is not
// counted.
func authTail(rest, method string) (string, netip.Addr, bool) {
	var eolUser, infoUser string
	var eolAddr, infoAddr netip.Addr
	eol, info := 0, 0
	for i := 0; ; {
		j := strings.Index(rest[i:], " from ")
		if j < 0 {
			break
		}
		j += i
		i = j + 1
		tail := rest[j+6:]
		sp := strings.IndexByte(tail, ' ')
		if sp < 0 {
			continue
		}
		a, ok := parseAddr(tail[:sp])
		if !ok {
			continue
		}
		// The port is required: without it a client text ending in
		// " from ADDR" would look like sshd's tail.
		tail, ok = strings.CutPrefix(tail[sp:], " port ")
		if !ok {
			continue
		}
		k := 0
		for k < len(tail) && tail[k] >= '0' && tail[k] <= '9' {
			k++
		}
		if k == 0 {
			continue
		}
		tail = tail[k:]
		for _, p := range [...]string{" ssh2", " ssh1"} {
			if t, ok := strings.CutPrefix(tail, p); ok {
				tail = t
				break
			}
		}
		switch {
		case tail == "":
			eol++
			eolUser, eolAddr = rest[:j], a
		case strings.HasPrefix(tail, ": "):
			if info == 0 || infoAddr != a {
				info++
			}
			infoUser, infoAddr = rest[:j], a
		}
	}
	noInfo := method == "password" || method == "none" || strings.HasPrefix(method, "keyboard-interactive")
	switch {
	case eol == 1 && (noInfo || info == 0):
		return eolUser, eolAddr, true
	case eol == 0 && info == 1:
		return infoUser, infoAddr, true
	}
	return "", netip.Addr{}, false
}

// authFailure strips "[aA]uthentication (failure|error|failed) for ".
func authFailure(m string) (string, bool) {
	if len(m) < 16 || (m[0] != 'a' && m[0] != 'A') || m[1:15] != "uthentication " {
		return "", false
	}
	for _, w := range [...]string{"failure for ", "error for ", "failed for "} {
		if r, ok := strings.CutPrefix(m[15:], w); ok {
			return r, true
		}
	}
	return "", false
}

func trimSSH2(s string) string {
	if s, ok := strings.CutSuffix(s, " ssh2"); ok {
		return s
	}
	return strings.TrimSuffix(s, " ssh1")
}

func trimVia(s string) string {
	if i := strings.LastIndex(s, " via "); i >= 0 && strings.IndexByte(s[i+5:], ' ') < 0 {
		return s[:i]
	}
	return s
}

// fromTail parses "HEAD from ADDR[ port N]" at the end of s.
func fromTail(s string, needPort bool) (string, netip.Addr, bool) {
	head, a, ok := addrPortTail(s, !needPort)
	if !ok {
		return "", a, false
	}
	if head == "from" {
		return "", a, true
	}
	head, ok = strings.CutSuffix(head, " from")
	return head, a, ok
}

// addrPortTail parses "HEAD ADDR port N" (port optional when optPort) at the
// end of s; head is "" when s starts with the address.
func addrPortTail(s string, optPort bool) (string, netip.Addr, bool) {
	if i := strings.LastIndex(s, " port "); i >= 0 && isDigits(s[i+6:]) {
		s = s[:i]
	} else if !optPort {
		return "", netip.Addr{}, false
	}
	j := strings.LastIndexByte(s, ' ')
	a, ok := parseAddr(s[j+1:])
	if j < 0 {
		return "", a, ok
	}
	return s[:j], a, ok
}

// leftAddrPort parses "ADDR port N…" at the start of s and returns the text
// after the port.
func leftAddrPort(s string) (netip.Addr, string, bool) {
	i := strings.Index(s, " port ")
	if i < 0 {
		return netip.Addr{}, "", false
	}
	a, ok := parseAddr(s[:i])
	if !ok {
		return a, "", false
	}
	t := s[i+6:]
	j := 0
	for j < len(t) && t[j] >= '0' && t[j] <= '9' {
		j++
	}
	if j == 0 {
		return a, "", false
	}
	return a, t[j:], true
}

// addrMaybePort parses "ADDR" or "ADDR port N" (with optional " [preauth]").
func addrMaybePort(s string) (netip.Addr, bool) {
	s = strings.TrimSuffix(s, " [preauth]")
	if i := strings.Index(s, " port "); i > 0 && isDigits(s[i+6:]) {
		s = s[:i]
	}
	return parseAddr(s)
}

func withAddr(_ string, a netip.Addr, ok bool) func(fail uint8) (sshdResult, bool) {
	return func(fail uint8) (sshdResult, bool) {
		if !ok {
			return sshdResult{}, false
		}
		return sshdResult{addr: a, hasAddr: true, fail: fail}, true
	}
}

func ddos(a netip.Addr, ok bool) (sshdResult, bool) {
	if !ok {
		return sshdResult{}, false
	}
	return sshdResult{addr: a, hasAddr: true, fail: modeDDoS}, true
}

func cutPrefix2(s, p1, p2 string) (string, bool) {
	if r, ok := strings.CutPrefix(s, p1); ok {
		return r, true
	}
	return strings.CutPrefix(s, p2)
}

func hasPrefix2(s, p1, p2 string) bool {
	return strings.HasPrefix(s, p1) || strings.HasPrefix(s, p2)
}

// connState is what the filter remembers about one sshd connection (PID).
type connState struct {
	addr        netip.Addr // invalid until a line names it
	onceCounted bool
	pending     int // failures seen before the address
}

// connTable is a bounded PID → connection map; the oldest entries are
// evicted first, so memory stays at cap entries whatever the log says.
type connTable struct {
	m    map[int]*connState
	ring []int
	next int
}

func newConnTable(n int) *connTable {
	return &connTable{m: make(map[int]*connState, n), ring: make([]int, n)}
}

func (t *connTable) get(pid int) *connState { return t.m[pid] }

func (t *connTable) entry(pid int) *connState {
	if c := t.m[pid]; c != nil {
		return c
	}
	if old := t.ring[t.next]; old != 0 {
		delete(t.m, old) // the slot's previous connection, oldest first
	}
	c := &connState{}
	t.m[pid] = c
	t.ring[t.next] = pid
	t.next = (t.next + 1) % len(t.ring)
	return c
}

// put records the connection's address; a new address (PID reuse) starts
// a fresh connection.
func (t *connTable) put(pid int, a netip.Addr) *connState {
	c := t.entry(pid)
	if c.addr != a {
		if c.addr.IsValid() {
			*c = connState{}
		}
		c.addr = a
	}
	return c
}

func (t *connTable) pend(pid int) { t.entry(pid).pending++ }

func (t *connTable) del(pid int) { delete(t.m, pid) }
