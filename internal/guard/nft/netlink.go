package nft

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// chunk is the most elements sent in one netlink message: a message's
// element list is one attribute whose length field has 16 bits.
const chunk = 512

// Netlink is the Backend that programs the kernel.
type Netlink struct {
	table string
	opts  []nftables.ConnOption
}

var _ Backend = (*Netlink)(nil)

// NewNetlink returns a backend for the inet table named table. opts are
// passed to nftables.New for each transaction (tests pass
// nftables.WithNetNSFd to work inside a throwaway network namespace).
func NewNetlink(table string, opts ...nftables.ConnOption) (*Netlink, error) {
	if err := ValidTableName(table); err != nil {
		return nil, err
	}
	opts = append([]nftables.ConnOption{nftables.WithSockOptions(bigBuffers)}, opts...)
	return &Netlink{table: table, opts: opts}, nil
}

// bufSize is the socket buffer asked for: a whole sync (10k bans is about
// 1 MB of netlink messages) goes out in one sendmsg.
const bufSize = 32 << 20

// bigBuffers raises the socket buffers past net.core.[wr]mem_max (root has
// CAP_NET_ADMIN, so the FORCE variants work; otherwise the plain ones).
func bigBuffers(c *netlink.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		// Only a connection with no kernel socket behind it (the test dial
		// the encoding tests use) has no syscall conn: nothing to size.
		return nil
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		for _, o := range [][2]int{{unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}, {unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}} {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[0], bufSize) != nil {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[1], bufSize)
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// ValidTableName checks an nftables table name (nft's identifier syntax,
// at most 255 bytes).
func ValidTableName(s string) error {
	if s == "" || len(s) > 255 {
		return fmt.Errorf("nftables table name %q: want 1 to 255 characters", s)
	}
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '.')
		if !ok {
			return fmt.Errorf("nftables table name %q: character %q at %d is not allowed (letters, digits, _ - .; starting with a letter or _)", s, r, i+1)
		}
	}
	return nil
}

// Name implements Backend.
func (n *Netlink) Name() string { return "nftables" }

// Close implements Backend.
func (n *Netlink) Close() error { return nil }

func (n *Netlink) conn() (*nftables.Conn, error) {
	c, err := nftables.New(n.opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: open netlink: %w", err)
	}
	return c, nil
}

type objects struct {
	table          *nftables.Table
	set4, set6     *nftables.Set
	input, forward *nftables.Chain
}

func (n *Netlink) objects() *objects {
	t := &nftables.Table{Name: n.table, Family: nftables.TableFamilyINet}
	o := &objects{
		table: t,
		set4:  &nftables.Set{Table: t, Name: SetV4, KeyType: nftables.TypeIPAddr, Interval: true, HasTimeout: true},
		set6:  &nftables.Set{Table: t, Name: SetV6, KeyType: nftables.TypeIP6Addr, Interval: true, HasTimeout: true},
	}
	accept := nftables.ChainPolicyAccept
	prio := nftables.ChainPriority(Priority)
	o.input = &nftables.Chain{Table: t, Name: ChainInput, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookInput, Priority: &prio, Policy: &accept}
	o.forward = &nftables.Chain{Table: t, Name: ChainForward, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookForward, Priority: &prio, Policy: &accept}
	return o
}

// dropRule is "meta nfproto FAM SADDR @set counter drop".
func dropRule(t *nftables.Table, c *nftables.Chain, s *nftables.Set, v6 bool) *nftables.Rule {
	proto, off, ln := byte(unix.NFPROTO_IPV4), uint32(12), uint32(4)
	if v6 {
		proto, off, ln = unix.NFPROTO_IPV6, 8, 16
	}
	return &nftables.Rule{Table: t, Chain: c, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: ln},
		&expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}}
}

// elements encodes bans as interval start/end pairs, split by family.
func elements(bans []Ban, now time.Time) (v4, v6 []nftables.SetElement) {
	v4, v6 = pairs(len(bans), func(i int) netip.Prefix { return bans[i].Prefix })
	for _, b := range bans {
		p := b.Prefix.Masked()
		start := nftables.SetElement{Key: p.Addr().AsSlice(), Timeout: Timeout(b, now), Comment: b.Jail}
		end := nftables.SetElement{Key: next(lastAddr(p)).AsSlice(), IntervalEnd: true}
		if p.Addr().Is4() {
			v4 = append(v4, start, end)
		} else {
			v6 = append(v6, start, end)
		}
	}
	return v4, v6
}

func keys(ps []netip.Prefix) (v4, v6 []nftables.SetElement) {
	v4, v6 = pairs(len(ps), func(i int) netip.Prefix { return ps[i] })
	for _, p := range ps {
		p = p.Masked()
		start := nftables.SetElement{Key: p.Addr().AsSlice()}
		end := nftables.SetElement{Key: next(lastAddr(p)).AsSlice(), IntervalEnd: true}
		if p.Addr().Is4() {
			v4 = append(v4, start, end)
		} else {
			v6 = append(v6, start, end)
		}
	}
	return v4, v6
}

// pairs returns empty slices with room for the start/end pairs of n
// prefixes split by family: a SetElement is some 200 bytes, and growing
// the slices by appending copied each batch of a fleet catch-up (4,096
// bans) several times over.
func pairs(n int, prefix func(int) netip.Prefix) (v4, v6 []nftables.SetElement) {
	n4 := 0
	for i := range n {
		if prefix(i).Addr().Is4() {
			n4++
		}
	}
	return make([]nftables.SetElement, 0, 2*n4), make([]nftables.SetElement, 0, 2*(n-n4))
}

// addChunked queues elements in chunks that fit one netlink attribute;
// start/end pairs are never split.
func addChunked(c *nftables.Conn, s *nftables.Set, es []nftables.SetElement, del bool) error {
	for len(es) > 0 {
		k := min(len(es), chunk)
		var err error
		if del {
			err = c.SetDeleteElements(s, es[:k])
		} else {
			err = c.SetAddElements(s, es[:k])
		}
		if err != nil {
			return err
		}
		es = es[k:]
	}
	return nil
}

// begin validates the bans of an operation and opens its connection.
func (n *Netlink) begin(op string, bans []Ban) (*nftables.Conn, error) {
	if err := validBans(bans); err != nil {
		return nil, fmt.Errorf("nftables %s: %w", op, err)
	}
	return n.conn()
}

// Sync implements Backend: "add table; delete table; add table, sets,
// chains, rules, elements" in one batch, so the result is the same whether
// the table existed, was flushed, or never was.
func (n *Netlink) Sync(_ context.Context, bans []Ban, now time.Time) error {
	c, err := n.begin("sync", bans)
	if err != nil {
		return err
	}
	o := n.objects()
	c.AddTable(o.table)
	c.DelTable(o.table)
	c.AddTable(o.table)
	v4, v6 := elements(bans, now)
	for _, s := range []*nftables.Set{o.set4, o.set6} {
		if err := c.AddSet(s, nil); err != nil {
			return fmt.Errorf("nftables sync: add set %s: %w", s.Name, err)
		}
	}
	if err := addChunked(c, o.set4, v4, false); err != nil {
		return fmt.Errorf("nftables sync: %w", err)
	}
	if err := addChunked(c, o.set6, v6, false); err != nil {
		return fmt.Errorf("nftables sync: %w", err)
	}
	for _, ch := range []*nftables.Chain{o.input, o.forward} {
		c.AddChain(ch)
		c.AddRule(dropRule(o.table, ch, o.set4, false))
		c.AddRule(dropRule(o.table, ch, o.set6, true))
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables sync of table inet %s (%d bans): %w", n.table, len(bans), hint(err))
	}
	return nil
}

// Apply implements Backend.
func (n *Netlink) Apply(_ context.Context, add []Ban, del []netip.Prefix, now time.Time) error {
	if len(add) == 0 && len(del) == 0 {
		return nil
	}
	c, err := n.begin("apply", add)
	if err != nil {
		return err
	}
	o := n.objects()
	d4, d6 := keys(del)
	a4, a6 := elements(add, now)
	for _, x := range []struct {
		s   *nftables.Set
		es  []nftables.SetElement
		del bool
	}{{o.set4, d4, true}, {o.set6, d6, true}, {o.set4, a4, false}, {o.set6, a6, false}} {
		if err := addChunked(c, x.s, x.es, x.del); err != nil {
			return fmt.Errorf("nftables apply: %w", err)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables apply to table inet %s (+%d -%d): %w", n.table, len(add), len(del), hint(err))
	}
	return nil
}

// Check implements Backend.
func (n *Netlink) Check(_ context.Context) ([]Element, error) {
	c, err := n.conn()
	if err != nil {
		return nil, err
	}
	o := n.objects()
	if _, err := c.ListTableOfFamily(n.table, nftables.TableFamilyINet); err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("table inet %s: %w", n.table, ErrIncomplete)
		}
		return nil, fmt.Errorf("nftables: list table inet %s: %w", n.table, hint(err))
	}
	for _, ch := range []*nftables.Chain{o.input, o.forward} {
		rules, err := c.GetRules(o.table, ch)
		if err != nil || len(rules) != 2 {
			return nil, fmt.Errorf("chain inet %s %s: %w", n.table, ch.Name, ErrIncomplete)
		}
	}
	var out []Element
	for _, s := range []*nftables.Set{o.set4, o.set6} {
		es, err := c.GetSetElements(s)
		if err != nil {
			return nil, fmt.Errorf("set inet %s %s: %v: %w", n.table, s.Name, err, ErrIncomplete)
		}
		got, err := decodeIntervals(es)
		if err != nil {
			return nil, fmt.Errorf("set inet %s %s: %w", n.table, s.Name, err)
		}
		out = append(out, got...)
	}
	SortElements(out)
	return out, nil
}

// decodeIntervals pairs interval starts with their ends.
func decodeIntervals(es []nftables.SetElement) ([]Element, error) {
	type pt struct {
		a   netip.Addr
		end bool
		el  nftables.SetElement
	}
	pts := make([]pt, 0, len(es))
	for _, e := range es {
		a, ok := netip.AddrFromSlice(e.Key)
		if !ok {
			return nil, fmt.Errorf("element key of %d bytes is not an address", len(e.Key))
		}
		pts = append(pts, pt{a, e.IntervalEnd, e})
	}
	sort.SliceStable(pts, func(i, j int) bool {
		if c := pts[i].a.Compare(pts[j].a); c != 0 {
			return c < 0
		}
		return pts[i].end && !pts[j].end // an end sorts before a start at the same key
	})
	var out []Element
	for i := 0; i < len(pts); i++ {
		if pts[i].end {
			continue // the kernel's leading "0.0.0.0 end" or a stray end
		}
		start := pts[i]
		if i+1 >= len(pts) || !pts[i+1].end {
			return nil, fmt.Errorf("interval starting at %v has no end", start.a)
		}
		p, ok := rangeToPrefix(start.a, pts[i+1].a)
		if !ok {
			return nil, fmt.Errorf("interval %v-%v is not a prefix", start.a, pts[i+1].a)
		}
		out = append(out, Element{Prefix: p, Expires: start.el.Expires, Comment: start.el.Comment})
		i++
	}
	return out, nil
}

// Delete implements Backend.
func (n *Netlink) Delete(_ context.Context) error {
	c, err := n.conn()
	if err != nil {
		return err
	}
	o := n.objects()
	c.AddTable(o.table)
	c.DelTable(o.table)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: delete table inet %s: %w", n.table, hint(err))
	}
	return nil
}

// hint adds the next step to the errors people meet first.
func hint(err error) error {
	switch {
	case errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%w (changing nftables needs root or CAP_NET_ADMIN; use --dry-run to try without)", err)
	case errors.Is(err, syscall.EPROTONOSUPPORT) || errors.Is(err, syscall.EAFNOSUPPORT):
		return fmt.Errorf("%w (the kernel has no nf_tables support)", err)
	}
	return err
}
