package nft_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/rampart-sec/rampart/internal/guard/nft"
)

var update = flag.Bool("update", false, "rewrite the golden netlink dumps in testdata/")

// recorder is a netlink "kernel" that acknowledges every request and
// keeps what it was sent, so the messages the backend builds are checked
// without root (as tailscale's linuxfw tests do with the same test dial).
type recorder struct{ msgs []netlink.Message }

func (r *recorder) dial(req []netlink.Message) ([]netlink.Message, error) {
	r.msgs = append(r.msgs, req...)
	var acks []netlink.Message
	for _, m := range req {
		if m.Header.Flags&netlink.Acknowledge != 0 {
			acks = append(acks, netlink.Message{
				Header: netlink.Header{Type: netlink.Error, Sequence: m.Header.Sequence, PID: m.Header.PID},
				Data:   make([]byte, 4),
			})
		}
	}
	return acks, nil
}

func newRecorded(t *testing.T) (*nft.Netlink, *recorder) {
	t.Helper()
	r := &recorder{}
	b, err := nft.NewNetlink("rampart", nftables.WithTestDial(r.dial))
	if err != nil {
		t.Fatal(err)
	}
	return b, r
}

var msgNames = map[uint16]string{
	unix.NFT_MSG_NEWTABLE: "newtable", unix.NFT_MSG_DELTABLE: "deltable",
	unix.NFT_MSG_NEWCHAIN: "newchain", unix.NFT_MSG_NEWRULE: "newrule",
	unix.NFT_MSG_NEWSET: "newset", unix.NFT_MSG_NEWSETELEM: "newsetelem", unix.NFT_MSG_DELSETELEM: "delsetelem",
}

// dump renders the recorded messages one per line, decoding the attributes
// that carry rampart's meaning: names, set flags and key types, hooks and
// priorities, element keys, interval ends, timeouts, comments and the
// expressions of each rule.
func dump(t *testing.T, msgs []netlink.Message) string {
	t.Helper()
	var b strings.Builder
	for _, m := range msgs {
		typ := uint16(m.Header.Type)
		if typ == unix.NFNL_MSG_BATCH_BEGIN || typ == unix.NFNL_MSG_BATCH_END {
			b.WriteString(map[bool]string{true: "batch-begin", false: "batch-end"}[typ == unix.NFNL_MSG_BATCH_BEGIN] + "\n")
			continue
		}
		if typ>>8 != unix.NFNL_SUBSYS_NFTABLES {
			t.Fatalf("message type %#x is not nf_tables", typ)
		}
		name := msgNames[typ&0xff]
		if name == "" {
			name = fmt.Sprintf("msg%d", typ&0xff)
		}
		fam := m.Data[0]
		fmt.Fprintf(&b, "%s family=%d", name, fam)
		attrs := m.Data[4:]
		switch typ & 0xff {
		case unix.NFT_MSG_NEWTABLE, unix.NFT_MSG_DELTABLE:
			walk(t, attrs, func(a uint16, v []byte) {
				if a == unix.NFTA_TABLE_NAME {
					fmt.Fprintf(&b, " table=%s", cstr(v))
				}
			})
		case unix.NFT_MSG_NEWSET:
			walk(t, attrs, func(a uint16, v []byte) {
				switch a {
				case unix.NFTA_SET_NAME:
					fmt.Fprintf(&b, " set=%s", cstr(v))
				case unix.NFTA_SET_FLAGS:
					f := binary.BigEndian.Uint32(v)
					fmt.Fprintf(&b, " interval=%v timeout=%v", f&unix.NFT_SET_INTERVAL != 0, f&unix.NFT_SET_TIMEOUT != 0)
				case unix.NFTA_SET_KEY_TYPE:
					fmt.Fprintf(&b, " keytype=%d", binary.BigEndian.Uint32(v))
				case unix.NFTA_SET_KEY_LEN:
					fmt.Fprintf(&b, " keylen=%d", binary.BigEndian.Uint32(v))
				}
			})
		case unix.NFT_MSG_NEWSETELEM, unix.NFT_MSG_DELSETELEM:
			walk(t, attrs, func(a uint16, v []byte) {
				switch a {
				case unix.NFTA_SET_ELEM_LIST_SET:
					fmt.Fprintf(&b, " set=%s", cstr(v))
				case unix.NFTA_SET_ELEM_LIST_ELEMENTS:
					n := 0
					walk(t, v, func(_ uint16, el []byte) {
						n++
						b.WriteString("\n  elem")
						walk(t, el, func(a uint16, v []byte) {
							switch a {
							case unix.NFTA_SET_ELEM_KEY:
								walk(t, v, func(_ uint16, key []byte) {
									addr, _ := netip.AddrFromSlice(key)
									fmt.Fprintf(&b, " key=%s", addr)
								})
							case unix.NFTA_SET_ELEM_FLAGS:
								if binary.BigEndian.Uint32(v)&unix.NFT_SET_ELEM_INTERVAL_END != 0 {
									b.WriteString(" end")
								}
							case unix.NFTA_SET_ELEM_TIMEOUT:
								fmt.Fprintf(&b, " timeout=%dms", binary.BigEndian.Uint64(v))
							case unix.NFTA_SET_ELEM_USERDATA:
								fmt.Fprintf(&b, " userdata=%q", v)
							}
						})
					})
					fmt.Fprintf(&b, "\n  (%d elements)", n)
				}
			})
		case unix.NFT_MSG_NEWCHAIN:
			walk(t, attrs, func(a uint16, v []byte) {
				switch a {
				case unix.NFTA_CHAIN_NAME:
					fmt.Fprintf(&b, " chain=%s", cstr(v))
				case unix.NFTA_CHAIN_TYPE:
					fmt.Fprintf(&b, " type=%s", cstr(v))
				case unix.NFTA_CHAIN_POLICY:
					fmt.Fprintf(&b, " policy=%d", binary.BigEndian.Uint32(v))
				case unix.NFTA_CHAIN_HOOK:
					walk(t, v, func(a uint16, v []byte) {
						switch a {
						case unix.NFTA_HOOK_HOOKNUM:
							fmt.Fprintf(&b, " hook=%d", binary.BigEndian.Uint32(v))
						case unix.NFTA_HOOK_PRIORITY:
							fmt.Fprintf(&b, " priority=%d", int32(binary.BigEndian.Uint32(v)))
						}
					})
				}
			})
		case unix.NFT_MSG_NEWRULE:
			walk(t, attrs, func(a uint16, v []byte) {
				switch a {
				case unix.NFTA_RULE_CHAIN:
					fmt.Fprintf(&b, " chain=%s", cstr(v))
				case unix.NFTA_RULE_EXPRESSIONS:
					var names []string
					walk(t, v, func(_ uint16, e []byte) {
						var name string
						walk(t, e, func(a uint16, v []byte) {
							switch a {
							case unix.NFTA_EXPR_NAME:
								name = cstr(v)
							case unix.NFTA_EXPR_DATA:
								name += exprDetail(t, name, v)
							}
						})
						names = append(names, name)
					})
					fmt.Fprintf(&b, " exprs=%s", strings.Join(names, ","))
				}
			})
		}
		b.WriteString("\n")
	}
	return b.String()
}

// exprDetail renders what distinguishes one rule from another: the
// protocol compared, the header bytes loaded, the set looked up, the verdict
// (NF_DROP is 0, NF_ACCEPT 1).
func exprDetail(t *testing.T, name string, data []byte) string {
	var d string
	walk(t, data, func(a uint16, v []byte) {
		switch {
		case name == "cmp" && a == unix.NFTA_CMP_DATA:
			walk(t, v, func(_ uint16, val []byte) { d = fmt.Sprintf("(%x)", val) })
		case name == "payload" && a == unix.NFTA_PAYLOAD_OFFSET:
			d += fmt.Sprintf("(off %d", binary.BigEndian.Uint32(v))
		case name == "payload" && a == unix.NFTA_PAYLOAD_LEN:
			d += fmt.Sprintf(" len %d)", binary.BigEndian.Uint32(v))
		case name == "lookup" && a == unix.NFTA_LOOKUP_SET:
			d = "(@" + cstr(v) + ")"
		case name == "immediate" && a == unix.NFTA_IMMEDIATE_DATA:
			walk(t, v, func(a uint16, v []byte) {
				if a == unix.NFTA_DATA_VERDICT {
					walk(t, v, func(a uint16, v []byte) {
						if a == unix.NFTA_VERDICT_CODE {
							d = map[int32]string{0: "(drop)", 1: "(accept)"}[int32(binary.BigEndian.Uint32(v))]
						}
					})
				}
			})
		}
	})
	return d
}

func walk(t *testing.T, data []byte, fn func(typ uint16, v []byte)) {
	t.Helper()
	ad, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		t.Fatal(err)
	}
	for ad.Next() {
		fn(ad.Type(), ad.Bytes())
	}
	if err := ad.Err(); err != nil {
		t.Fatal(err)
	}
}

func cstr(b []byte) string { return string(bytes.TrimRight(b, "\x00")) }

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("netlink messages differ from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", p, got, want)
	}
}

var encNow = time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)

func TestSyncMessages(t *testing.T) {
	b, r := newRecorded(t)
	bans := []nft.Ban{
		{Prefix: pfx("192.0.2.7/32"), Until: encNow.Add(90 * time.Second), Jail: "sshd"},
		{Prefix: pfx("198.51.100.0/24"), Until: encNow.Add(time.Hour), Jail: "manual"},
		{Prefix: pfx("2001:db8:1::/64"), Until: encNow.Add(10 * time.Minute), Jail: "sshd"},
		// Expires in 200 ms: sent with the minimum timeout, never 0 (0 means "never").
		{Prefix: pfx("2001:db8:2::5/128"), Until: encNow.Add(200 * time.Millisecond), Jail: "sshd"},
	}
	if err := b.Sync(context.Background(), bans, encNow); err != nil {
		t.Fatal(err)
	}
	golden(t, "sync.netlink", dump(t, r.msgs))
}

func TestApplyMessages(t *testing.T) {
	b, r := newRecorded(t)
	add := []nft.Ban{{Prefix: pfx("203.0.113.9/32"), Until: encNow.Add(time.Hour), Jail: "nginx-noscript"}}
	del := []netip.Prefix{pfx("192.0.2.7/32"), pfx("2001:db8:1::/64")}
	if err := b.Apply(context.Background(), add, del, encNow); err != nil {
		t.Fatal(err)
	}
	golden(t, "apply.netlink", dump(t, r.msgs))

	// Nothing to do sends nothing.
	r.msgs = nil
	if err := b.Apply(context.Background(), nil, nil, encNow); err != nil || len(r.msgs) != 0 {
		t.Errorf("empty Apply sent %d messages, err %v", len(r.msgs), err)
	}
}

// A large sync is cut into element messages that each fit one netlink
// attribute (at most 512 elements, never splitting a start from its end).
func TestSyncChunks(t *testing.T) {
	b, r := newRecorded(t)
	var bans []nft.Ban
	for i := 0; i < 700; i++ {
		a := netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
		bans = append(bans, nft.Ban{Prefix: netip.PrefixFrom(a, 32), Until: encNow.Add(time.Hour), Jail: "sshd"})
	}
	if err := b.Sync(context.Background(), bans, encNow); err != nil {
		t.Fatal(err)
	}
	var counts []int
	for _, m := range r.msgs {
		if uint16(m.Header.Type)&0xff != unix.NFT_MSG_NEWSETELEM || uint16(m.Header.Type)>>8 != unix.NFNL_SUBSYS_NFTABLES {
			continue
		}
		n := 0
		walk(t, m.Data[4:], func(a uint16, v []byte) {
			if a == unix.NFTA_SET_ELEM_LIST_ELEMENTS {
				walk(t, v, func(uint16, []byte) { n++ })
			}
		})
		counts = append(counts, n)
	}
	if fmt.Sprint(counts) != "[512 512 376]" {
		t.Errorf("element messages carry %v elements, want [512 512 376] (1400 = 700 start/end pairs)", counts)
	}
}

// Invalid bans are refused before anything is sent: nothing half-applied.
func TestInvalidBanSendsNothing(t *testing.T) {
	b, r := newRecorded(t)
	bad := []nft.Ban{
		{Prefix: pfx("192.0.2.7/32"), Until: encNow.Add(time.Hour), Jail: "sshd"},
		{Prefix: pfx("0.0.0.0/0"), Until: encNow.Add(time.Hour), Jail: "sshd"},
	}
	if err := b.Sync(context.Background(), bad, encNow); err == nil {
		t.Error("Sync accepted a ban of 0.0.0.0/0")
	}
	if err := b.Apply(context.Background(), bad, nil, encNow); err == nil {
		t.Error("Apply accepted a ban of 0.0.0.0/0")
	}
	if len(r.msgs) != 0 {
		t.Errorf("%d messages sent for a refused operation", len(r.msgs))
	}
}
