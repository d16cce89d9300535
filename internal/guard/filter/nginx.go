package filter

import (
	"strings"

	"github.com/rampart-sec/rampart/internal/guard/logline"
)

func init() {
	Register(&Builtin{
		Name:  "nginx-noscript",
		Modes: []string{"normal"},
		Help:  "access-log 404s for scripts, \"Primary script unknown\"",
		New:   func(string) (Filter, error) { return NginxNoscript{}, nil },
	})
}

// NginxNoscript flags clients probing for scripts. In the access log
// (combined format) the address is the first field, the only one nginx
// writes itself; X-Forwarded-For, the request, the referrer and the user
// agent are never looked at for an address. In the error log the address is
// the "client:" field that follows nginx's fixed FastCGI message.
type NginxNoscript struct{}

// Name implements Filter.
func (NginxNoscript) Name() string { return "nginx-noscript" }

// scriptExt are the probed script extensions (lower case, with the dot).
var scriptExt = []string{".php", ".php3", ".php4", ".php5", ".php7", ".phtml", ".asp", ".aspx", ".exe", ".pl", ".cgi", ".jsp", ".cfm", ".dll"}

// Match implements Filter.
func (NginxNoscript) Match(l *logline.Line) (Hit, bool) {
	t := l.Message()
	if l.Ident != "" && !strings.HasPrefix(l.Ident, "nginx") {
		return Hit{}, false
	}
	if len(t) >= 20 && t[4] == '/' && t[7] == '/' {
		return nginxError(t)
	}
	sp := strings.IndexByte(t, ' ')
	if sp < 2 {
		return Hit{}, false
	}
	a, ok := parseAddr(t[:sp])
	if !ok {
		return Hit{}, false
	}
	// "ADDR - USER [TIME] "REQUEST" STATUS …": USER (basic auth) is the
	// client's and may contain anything but a raw quote; the request is the
	// first quoted field after the "] " that ends the time.
	rest := t[sp:]
	i := strings.Index(rest, "] \"")
	if i < 0 {
		return Hit{}, false
	}
	rest = rest[i+3:]
	j := strings.IndexByte(rest, '"')
	if j < 0 || len(rest) < j+5 || rest[j+1] != ' ' {
		return Hit{}, false
	}
	req, status := rest[:j], rest[j+2:j+5]
	if len(rest) > j+5 && rest[j+5] != ' ' {
		return Hit{}, false
	}
	h := Hit{Addr: a}
	if status == "404" && isScriptRequest(req) {
		h.Failure = true
	}
	return h, true
}

// isScriptRequest reports whether "METHOD PATH PROTO" asks for a script.
func isScriptRequest(req string) bool {
	_, path, ok := strings.Cut(req, " ")
	if !ok {
		return false
	}
	if k := strings.IndexByte(path, ' '); k >= 0 {
		path = path[:k]
	}
	if k := strings.IndexAny(path, "?#"); k >= 0 {
		path = path[:k]
	}
	p := strings.ToLower(path)
	if strings.Contains(p, "/cgi-bin/") {
		return true
	}
	// The extension of any path segment counts ("/x.php/info" is PATH_INFO).
	for seg := range strings.SplitSeq(p, "/") {
		for _, e := range scriptExt {
			if strings.HasSuffix(seg, e) {
				return true
			}
		}
	}
	return false
}

const primaryScript = ` FastCGI sent in stderr: "Primary script unknown" while reading response header from upstream, client: `

// nginxError matches "YYYY/MM/DD HH:MM:SS [error] PID#TID: *CID FastCGI sent
// in stderr: "Primary script unknown" while reading response header from
// upstream, client: ADDR, server: …". Everything before the client field is
// nginx's own text, so the address position is fixed.
func nginxError(t string) (Hit, bool) {
	rest, ok := strings.CutPrefix(t[19:], " [error] ")
	if !ok {
		return Hit{}, false
	}
	// PID#TID: *CID
	k := strings.Index(rest, ": *")
	if k < 0 || k > 24 {
		return Hit{}, false
	}
	rest = rest[k+3:]
	k = 0
	for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
		k++
	}
	rest, ok = strings.CutPrefix(rest[k:], primaryScript)
	if !ok || k == 0 {
		return Hit{}, false
	}
	end := strings.IndexByte(rest, ',')
	if end < 0 {
		return Hit{}, false
	}
	a, ok := parseAddr(rest[:end])
	if !ok {
		return Hit{}, false
	}
	return Hit{Addr: a, Failure: true}, true
}
