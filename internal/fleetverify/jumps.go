package fleetverify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rampart-sec/rampart/internal/host/sshhost"
)

// jumpPool shares one connection per jump host among the hosts of a run
// that go through it, as ssh's ControlMaster would. A bastion in front of
// 200 hosts then sees one login instead of 200 (16 at a time with the
// default --parallel: beyond 10 unauthenticated connections, OpenSSH's
// default MaxStartups 10:30:100 starts dropping them, and those hosts
// would be reported unknown), and each target is reached over a
// direct-tcpip channel of that connection, which sshd's MaxSessions does
// not count. The target's own host key is still checked end to end.
//
// Dial, for one host, dials its jump hosts through a pool of its own.
//
// A jump host that cannot be reached is dialled once: every host behind it
// is reported with that error. A shared connection that closes during the
// run (the bastion restarted) is dialled again by the next host that needs
// it.
type jumpPool struct {
	ctx context.Context // the run's: one host's deadline must not end a connection others share
	// timeout bounds each hop's handshake: the run's, never the deadline
	// of the host that happened to ask first (0: sshhost's default).
	timeout time.Duration
	mu      sync.Mutex
	conns   map[string]*jumpConn
	all     []*jumpConn // every one dialled, closed last to first
}

type jumpConn struct {
	ready chan struct{} // closed once dialled, h or err set
	h     *sshhost.Host
	err   error
}

// newJumpPool is the pool of a run (ctx) whose hops' handshakes take at
// most timeout (0: sshhost's default).
func newJumpPool(ctx context.Context, timeout time.Duration) *jumpPool {
	return &jumpPool{ctx: ctx, timeout: timeout, conns: map[string]*jumpConn{}}
}

// hopKey names a chain of hops by what decides the connection: each hop's
// destination, its own keys and known_hosts files (the run's apply to the
// hops that have none, the same for every host of the run).
func hopKey(chain []*Target) string {
	var b strings.Builder
	for _, hop := range chain {
		fmt.Fprintf(&b, "%s\x00%s\x00%s\x01", hop.Dest(), strings.Join(hop.Identities, "\x00"), strings.Join(hop.KnownHosts, "\x00"))
	}
	return b.String()
}

// get returns the shared connection to the last hop of chain (the
// outermost first), dialling it and the hops before it when needed. It
// waits at most until ctx, the asking host's deadline, ends.
func (p *jumpPool) get(ctx context.Context, chain []*Target, base sshhost.Options) (*sshhost.Host, error) {
	key := hopKey(chain)
	base.Timeout = p.timeout
	p.mu.Lock()
	c := p.conns[key]
	if c == nil {
		c = &jumpConn{ready: make(chan struct{})}
		p.conns[key] = c
		p.all = append(p.all, c)
		go p.dial(c, key, chain, base)
	}
	p.mu.Unlock()
	select {
	case <-c.ready:
		return c.h, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// options are base with t's own keys and known_hosts files, when it has
// them, and the shared connection to its last jump host as the dialer.
// An error names the jump host it is about.
func (p *jumpPool) options(ctx context.Context, t *Target, base sshhost.Options) (sshhost.Options, error) {
	opts := base
	if len(t.Identities) > 0 {
		opts.Identities = t.Identities
	}
	if len(t.KnownHosts) > 0 {
		opts.KnownHosts = t.KnownHosts
	}
	if t.ProxyJump != nil {
		var chain []*Target
		for j := t.ProxyJump; j != nil; j = j.ProxyJump {
			chain = append([]*Target{j}, chain...)
		}
		j, err := p.get(ctx, chain, base)
		if err != nil {
			return opts, err
		}
		opts.Dial = j.DialContext
	}
	return opts, nil
}

func (p *jumpPool) dial(c *jumpConn, key string, chain []*Target, base sshhost.Options) {
	defer close(c.ready)
	hop := chain[len(chain)-1] // its own jump hosts are chain[:len(chain)-1]
	opts, err := p.options(p.ctx, hop, base)
	if err != nil {
		c.err = err
		return
	}
	h, err := sshhost.Dial(p.ctx, hop.Dest(), opts)
	if err != nil {
		c.err = fmt.Errorf("jump host %s: %w", hop.Name, aliasHint(err, hop))
		return
	}
	c.h = h
	go func() {
		_ = h.Wait()
		p.mu.Lock()
		if p.conns[key] == c {
			delete(p.conns, key)
		}
		p.mu.Unlock()
	}()
}

// close closes every connection the pool dialled, the innermost first.
func (p *jumpPool) close() {
	p.mu.Lock()
	all := p.all
	p.all, p.conns = nil, map[string]*jumpConn{}
	p.mu.Unlock()
	for i := len(all) - 1; i >= 0; i-- {
		<-all[i].ready
		if all[i].h != nil {
			all[i].h.Close()
		}
	}
}
