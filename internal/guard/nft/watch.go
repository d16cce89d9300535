package nft

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/google/nftables"
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
// thread id the kernel reports with each one.
func (n *Netlink) Watch(ctx context.Context, changed func(what string)) error {
	c, err := n.conn()
	if err != nil {
		return err
	}
	// Any action, any object: the library filters other monitor choices
	// before the generation message that closes a transaction.
	mon := nftables.NewMonitor(nftables.WithMonitorEventBuffer(256))
	ch, err := c.AddGenerationalMonitor(mon)
	if err != nil {
		return fmt.Errorf("nftables: watch events: %w", hint(err))
	}
	stop := context.AfterFunc(ctx, func() { _ = mon.Close() })
	defer stop()
	defer mon.Close()
	for tx := range ch {
		if g := tx.GeneratedBy; g != nil && g.Type == nftables.MonitorEventTypeOOB {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("nftables: watch events: %w", g.Error)
		}
		if gen, ok := tx.GeneratedBy.Data.(*nftables.GenMsg); ok && ownThread(gen.ProcPID) {
			continue
		}
		if what := n.touched(tx.Changes); what != "" {
			if gen, ok := tx.GeneratedBy.Data.(*nftables.GenMsg); ok {
				what += fmt.Sprintf(" (by %s, pid %d)", gen.ProcComm, gen.ProcPID)
			}
			changed(what)
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("nftables: watch events: the event socket closed")
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
func (n *Netlink) touched(evs []*nftables.MonitorEvent) string {
	for _, e := range evs {
		del := false
		var t *nftables.Table
		switch d := e.Data.(type) {
		case *nftables.Table:
			t = d
		case *nftables.Chain:
			t = d.Table
		case *nftables.Rule:
			t = d.Table
		case *nftables.Set:
			t = d.Table
		}
		switch e.Type {
		case nftables.MonitorEventTypeDelTable, nftables.MonitorEventTypeDelChain, nftables.MonitorEventTypeDelRule, nftables.MonitorEventTypeDelSet:
			del = true
		case nftables.MonitorEventTypeDelSetElem:
			return "set elements deleted"
		case nftables.MonitorEventTypeNewChain, nftables.MonitorEventTypeNewRule, nftables.MonitorEventTypeNewSet:
		default:
			continue
		}
		if e.Error != nil && del {
			return fmt.Sprintf("unreadable %s event (%v)", eventName(e.Type), e.Error)
		}
		if t != nil && t.Name == n.table && (t.Family == nftables.TableFamilyINet || t.Family == nftables.TableFamilyUnspecified) {
			return fmt.Sprintf("%s in table inet %s", eventName(e.Type), n.table)
		}
	}
	return ""
}

func eventName(t nftables.MonitorEventType) string {
	switch t {
	case nftables.MonitorEventTypeDelTable:
		return "table deleted"
	case nftables.MonitorEventTypeDelChain:
		return "chain deleted"
	case nftables.MonitorEventTypeDelRule:
		return "rule deleted"
	case nftables.MonitorEventTypeDelSet:
		return "set deleted"
	case nftables.MonitorEventTypeNewChain:
		return "chain added"
	case nftables.MonitorEventTypeNewRule:
		return "rule added"
	case nftables.MonitorEventTypeNewSet:
		return "set added"
	}
	return fmt.Sprintf("event %d", t)
}
