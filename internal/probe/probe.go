package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/host/sshhost"
)

// Port states.
const (
	Open        = "open"        // the TCP handshake completed
	Refused     = "refused"     // RST (or ICMP port unreachable): nothing listens, or a reject rule
	Filtered    = "filtered"    // no answer before the timeout: a drop rule
	Unreachable = "unreachable" // ICMP host/network unreachable (or prohibited)
	Error       = "error"       // the probe could not be made (name did not resolve)
)

// Verdicts.
const (
	Pass = "pass"
	Fail = "fail"
	Warn = "warn"
)

// HandshakeTimeout is the least time given to the SSH exchange once the
// port is open (Options.Timeout when that is longer).
const HandshakeTimeout = 5 * time.Second

// Options configure a probe.
type Options struct {
	Port    int           // default 22; a port in the target wins
	Timeout time.Duration // TCP connect (the filtered verdict); default 3s
	User    string        // user name for the "none" request; default root
	// MoreUsers are probed too, on each open port, one connection each:
	// a Match User block can offer other methods to other users.
	MoreUsers []string
	// ExpectClosed makes an open port a failure (with ssh.tailnet_only,
	// SSH from outside the tailnet must hang: dropped, not refused).
	ExpectClosed bool
	// Dial opens TCP connections (default net.Dialer); tests dial from a
	// peer namespace with it.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Resolve looks up a host name (default net.DefaultResolver).
	Resolve func(ctx context.Context, host string) ([]string, error)
	// Concurrency bounds addresses probed at once (default 16).
	Concurrency int
}

// Result is the probe of one address.
type Result struct {
	Target  string   `json:"target"`
	Address string   `json:"address"`
	State   string   `json:"state"`
	Detail  string   `json:"detail,omitempty"`
	SSH     *SSHInfo `json:"ssh,omitempty"`
	Verdict string   `json:"verdict"`
	// Problems explain a fail or warn verdict.
	Problems []string `json:"problems"`
	// Elapsed is how long the probe took (a filtered port takes the whole
	// timeout).
	Elapsed time.Duration `json:"elapsed_ns"`
}

// SSHInfo is what the SSH server told the probe.
type SSHInfo struct {
	Banner  string `json:"banner"`
	HostKey string `json:"host_key,omitempty"`
	User    string `json:"user"`
	// Methods are the authentication methods that can continue after the
	// "none" request, in the server's order.
	Methods               []string `json:"methods"`
	NoneAccepted          bool     `json:"none_accepted"`
	PasswordOffered       bool     `json:"password_offered"`
	KbdInteractiveOffered bool     `json:"keyboard_interactive_offered"`
	TailscaleSSH          bool     `json:"tailscale_ssh,omitempty"`
	// Source is the local address the probe came from (sshd logs it).
	Source string `json:"source"`
	Error  string `json:"error,omitempty"`
}

func (o *Options) defaults() {
	if o.Port == 0 {
		o.Port = 22
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	if o.User == "" {
		o.User = "root"
	}
	if o.Dial == nil {
		o.Dial = (&net.Dialer{}).DialContext
	}
	if o.Resolve == nil {
		o.Resolve = func(ctx context.Context, h string) ([]string, error) {
			return net.DefaultResolver.LookupHost(ctx, h)
		}
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
}

type job struct {
	target, addr, user string
}

// Probe probes every address of every target ([USER@]HOST[:PORT]) and
// returns the results in target order, addresses sorted.
func Probe(ctx context.Context, targets []string, opts Options) []Result {
	opts.defaults()
	var jobs []job
	var results []Result
	for _, tg := range targets {
		t, err := sshhost.ParseTarget(tg)
		if err != nil {
			results = append(results, Result{Target: tg, State: Error, Detail: err.Error(), Verdict: Fail,
				Problems: []string{err.Error()}})
			continue
		}
		port := t.Port
		if !hasPort(tg) {
			port = opts.Port
		}
		user := t.User
		if user == "" {
			user = opts.User
		}
		var addrs []string
		if ip := net.ParseIP(t.Host); ip != nil {
			addrs = []string{t.Host}
		} else {
			rctx, cancel := context.WithTimeout(ctx, opts.Timeout)
			addrs, err = opts.Resolve(rctx, t.Host)
			cancel()
			if err != nil || len(addrs) == 0 {
				msg := fmt.Sprintf("cannot resolve %s: %v", t.Host, err)
				results = append(results, Result{Target: tg, State: Error, Detail: msg, Verdict: Fail, Problems: []string{msg}})
				continue
			}
			slices.Sort(addrs)
			addrs = slices.Compact(addrs)
		}
		for _, a := range addrs {
			jobs = append(jobs, job{target: tg, addr: net.JoinHostPort(a, strconv.Itoa(port)), user: user})
		}
	}
	// Each job's results: its address, then (when open) the same address
	// asked as each of MoreUsers, in the job's own goroutine.
	out := make([][]Result, len(jobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, opts.Concurrency)
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r := probeOne(ctx, j, opts)
			out[i] = []Result{r}
			if r.State != Open {
				return
			}
			for _, u := range opts.MoreUsers {
				if u != j.user {
					out[i] = append(out[i], probeOne(ctx, job{target: j.target, addr: j.addr, user: u}, opts))
				}
			}
		}()
	}
	wg.Wait()
	for _, rs := range out {
		results = append(results, rs...)
	}
	return results
}

// hasPort reports whether a target names its port.
func hasPort(tg string) bool {
	if i := strings.LastIndex(tg, "@"); i >= 0 {
		tg = tg[i+1:]
	}
	if strings.HasPrefix(tg, "[") {
		return strings.Contains(tg, "]:")
	}
	return strings.Count(tg, ":") == 1
}

func probeOne(ctx context.Context, j job, opts Options) Result {
	start := time.Now()
	r := Result{Target: j.target, Address: j.addr, Problems: []string{}}
	defer func() { r.Elapsed = time.Since(start) }()
	dctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	conn, err := opts.Dial(dctx, "tcp", j.addr)
	if err != nil {
		r.State, r.Detail = classify(err)
		if r.State == Error && ctx.Err() != nil {
			r.Detail = ctx.Err().Error()
		}
		r.Verdict = Pass
		if r.State == Error {
			r.Verdict = Fail
			r.Problems = append(r.Problems, "could not probe: "+r.Detail)
		}
		return r
	}
	r.State = Open
	// The SSH exchange gets its own budget: a loaded server may answer
	// the handshake slower than it completes a TCP connect.
	hctx, hcancel := context.WithTimeout(ctx, max(opts.Timeout, HandshakeTimeout))
	defer hcancel()
	r.SSH = sshInfo(hctx, conn, j, opts)
	r.Verdict = Pass
	if opts.ExpectClosed {
		r.Problems = append(r.Problems, "port is open from this vantage point; expected it closed (filtered or refused)")
	}
	s := r.SSH
	switch {
	case s.NoneAccepted:
		r.Problems = append(r.Problems, "the server let "+s.User+" in with no authentication at all")
	case s.Error != "":
		r.Problems = append(r.Problems, "no SSH authentication answer: "+s.Error)
	}
	if s.PasswordOffered {
		r.Problems = append(r.Problems, "password authentication is offered")
	}
	if s.KbdInteractiveOffered {
		r.Problems = append(r.Problems, "keyboard-interactive authentication is offered (usually PAM passwords)")
	}
	switch {
	case opts.ExpectClosed || s.NoneAccepted || s.PasswordOffered || s.KbdInteractiveOffered:
		r.Verdict = Fail
	case s.Error != "":
		r.Verdict = Warn
	}
	return r
}

// classify maps a dial error to a port state.
func classify(err error) (string, string) {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused, "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return Unreachable, err.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return Filtered, "no answer (timed out)"
	}
	return Error, err.Error()
}

var errStop = errors.New("probe: stop before any credential")

// sshInfo runs the SSH handshake and the "none" request on conn.
func sshInfo(ctx context.Context, conn net.Conn, j job, opts Options) *SSHInfo {
	info := &SSHInfo{User: j.user, Methods: []string{}, Source: conn.LocalAddr().String()}
	rec := &recordConn{Conn: conn}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	var methods []string
	sawList := false
	cfg := &ssh.ClientConfig{
		User: j.user,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			// Nothing secret is ever sent, so any key is fine to look at.
			info.HostKey = key.Type() + " " + ssh.FingerprintSHA256(key)
			return nil
		},
		AuthCallback: func(ac *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
			methods = ac.AllowedMethods
			sawList = true
			return nil, errStop
		},
	}
	c, chans, reqs, err := ssh.NewClientConn(rec, j.addr, cfg)
	info.Banner = rec.banner()
	info.TailscaleSSH = strings.Contains(strings.ToLower(info.Banner), "tailscale")
	switch {
	case err == nil:
		info.NoneAccepted = true
		go ssh.DiscardRequests(reqs)
		go func() {
			for ch := range chans {
				_ = ch.Reject(ssh.Prohibited, "probe")
			}
		}()
		c.Close()
	case sawList:
	default:
		msg := err.Error()
		if info.Banner == "" {
			msg = "no SSH version banner: " + msg
		}
		info.Error = host.SafeText(msg)
	}
	for _, m := range methods {
		m = host.SafeText(m)
		info.Methods = append(info.Methods, m)
		switch m {
		case "password":
			info.PasswordOffered = true
		case "keyboard-interactive":
			info.KbdInteractiveOffered = true
		}
	}
	return info
}

// recordConn keeps the first bytes the server sends, for its version line.
type recordConn struct {
	net.Conn
	mu   sync.Mutex
	head []byte
}

const maxHead = 4096

func (c *recordConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	if room := maxHead - len(c.head); room > 0 && n > 0 {
		c.head = append(c.head, p[:min(n, room)]...)
	}
	c.mu.Unlock()
	return n, err
}

// banner is the server's "SSH-" identification line, made safe to print.
func (c *recordConn) banner() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, line := range bytes.Split(c.head, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("SSH-")) {
			s := strings.TrimRight(string(line), "\r")
			if len(s) > 255 {
				s = s[:255]
			}
			return host.SafeText(s)
		}
	}
	return ""
}
