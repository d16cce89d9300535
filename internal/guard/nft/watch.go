package nft

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Watcher is implemented by backends that can report changes other
// programs make to nftables, so a flushed or deleted table is re-asserted
// at once instead of at the next periodic reconcile.
type Watcher interface {
	// Watch calls changed, from Watch's own goroutine, after every
	// nftables transaction of another process that touched the table
	// (or deleted set elements, whose table events do not name). It
	// returns nil when ctx ends, or an error when the event socket fails
	// (events may then have been lost: re-check, then watch again).
	Watch(ctx context.Context, changed func(what string)) error
}

var _ Watcher = (*Netlink)(nil)

// Watch implements Watcher with the kernel's nftables event group (what
// `nft monitor` reads). Transactions of this process are skipped by the
// thread id the kernel reports with each one (NEWGEN, which closes every
// transaction).
//
// The events are read from the socket here, not through the library's
// monitor: that one decodes every event in full before the transaction's
// thread id says whose it was, and the guard's own commits add thousands
// of set elements at a time (a fleet catch-up adds 100,000 within
// seconds). Only the message type and the table name are read here, and
// added elements not even that: another program adding an element to the
// guard's sets takes nothing away.
func (n *Netlink) Watch(ctx context.Context, changed func(what string)) error {
	var sock *netlink.Conn
	capture := func(c *netlink.Conn) error { sock = c; return nil }
	cc, err := nftables.New(append(append([]nftables.ConnOption{}, n.opts...), nftables.WithSockOptions(capture), nftables.AsLasting())...)
	switch {
	case err != nil:
		return fmt.Errorf("nftables: watch events: %w", hint(err))
	case sock == nil:
		return errors.New("nftables: watch events: no netlink socket was opened")
	}
	defer cc.CloseLasting()
	if err := sock.JoinGroup(unix.NFNLGRP_NFTABLES); err != nil {
		return fmt.Errorf("nftables: watch events: %w", hint(err))
	}
	stop := context.AfterFunc(ctx, func() { _ = cc.CloseLasting() })
	defer stop()
	var tx []event
	for {
		msgs, err := sock.Receive()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("nftables: watch events: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Type>>8 != unix.NFNL_SUBSYS_NFTABLES {
				continue
			}
			t := int(m.Header.Type & 0xff)
			switch t {
			case unix.NFT_MSG_NEWSETELEM:
				continue
			case unix.NFT_MSG_NEWGEN:
				pid, comm := genInfo(m.Data)
				if !ownThread(pid) {
					if what := n.touched(tx); what != "" {
						changed(what + fmt.Sprintf(" (by %s, pid %d)", comm, pid))
					}
				}
				tx = tx[:0]
				continue
			}
			tx = append(tx, decodeEvent(t, m.Data))
		}
	}
}

// event is one change of a transaction: its message type, and the table
// it names (family, name).
type event struct {
	typ    int
	family byte
	table  string
	err    error
}

// attrs walks the attributes of an nftables message: each message starts
// with the 4-byte nfgenmsg header (family, version, resource id), and
// numbers are big-endian. It returns the family.
func attrs(data []byte, each func(ad *netlink.AttributeDecoder)) (byte, error) {
	if len(data) < 4 {
		return 0, errors.New("short message")
	}
	ad, err := netlink.NewAttributeDecoder(data[4:])
	if err != nil {
		return data[0], err
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		each(ad)
	}
	return data[0], ad.Err()
}

// decodeEvent reads the table a table, chain, rule, set or set element
// message names: every one carries it as attribute 1.
func decodeEvent(t int, data []byte) event {
	e := event{typ: t}
	e.family, e.err = attrs(data, func(ad *netlink.AttributeDecoder) {
		if ad.Type() == unix.NFTA_TABLE_NAME {
			e.table = ad.String()
		}
	})
	return e
}

// genInfo reads the thread id and program name a NEWGEN message reports.
func genInfo(data []byte) (pid uint32, comm string) {
	_, _ = attrs(data, func(ad *netlink.AttributeDecoder) {
		switch ad.Type() {
		case unix.NFTA_GEN_PROC_PID:
			pid = ad.Uint32()
		case unix.NFTA_GEN_PROC_NAME:
			comm = ad.String()
		}
	})
	return pid, comm
}

// ownThread reports whether tid is a thread of this process: the kernel
// reports the id of the thread that committed a transaction, and Go runs
// goroutines on many threads.
func ownThread(tid uint32) bool {
	if int(tid) == os.Getpid() {
		return true
	}
	_, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid))
	return err == nil
}

// touched names the first change in a transaction that concerns the
// table ("" when none does).
func (n *Netlink) touched(evs []event) string {
	for _, e := range evs {
		del := false
		switch e.typ {
		case unix.NFT_MSG_DELTABLE, unix.NFT_MSG_DELCHAIN, unix.NFT_MSG_DELRULE, unix.NFT_MSG_DELSET:
			del = true
		case unix.NFT_MSG_DELSETELEM:
			return "set elements deleted"
		case unix.NFT_MSG_NEWCHAIN, unix.NFT_MSG_NEWRULE, unix.NFT_MSG_NEWSET:
		default:
			continue
		}
		if e.err != nil && del {
			return fmt.Sprintf("unreadable %s event (%v)", eventName(e.typ), e.err)
		}
		if e.table == n.table && (e.family == unix.NFPROTO_INET || e.family == unix.NFPROTO_UNSPEC) {
			return fmt.Sprintf("%s in table inet %s", eventName(e.typ), n.table)
		}
	}
	return ""
}

func eventName(t int) string {
	switch t {
	case unix.NFT_MSG_DELTABLE:
		return "table deleted"
	case unix.NFT_MSG_DELCHAIN:
		return "chain deleted"
	case unix.NFT_MSG_DELRULE:
		return "rule deleted"
	case unix.NFT_MSG_DELSET:
		return "set deleted"
	case unix.NFT_MSG_NEWCHAIN:
		return "chain added"
	case unix.NFT_MSG_NEWRULE:
		return "rule added"
	case unix.NFT_MSG_NEWSET:
		return "set added"
	}
	return fmt.Sprintf("event %d", t)
}
