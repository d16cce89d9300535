package audit

import (
	"context"
	"encoding/binary"
	"fmt"

	libaudit "github.com/elastic/go-libaudit/v2"

	"github.com/rampart-sec/rampart/internal/host"
)

// auditctl -l (audit 3.0.9, verified on this kernel) prints every rule
// that has a perm field, all system calls and only path/dir/key besides
// as "-w PATH -p PERM", whatever its action: "-a never,exit -F path=/x
// -F perm=r" is listed as "-w /x -p r". Read that way, a rule that
// suppresses records would pass for the watch that records them. On the
// local host the kernel's own list and action of every rule are read over
// netlink (AUDIT_LIST_RULES) and put right on the parsed listing.

// Numbers from <linux/audit.h>.
var (
	listNames   = map[uint32]string{0: "user", 1: "task", 4: "exit", 5: "exclude", 6: "filesystem", 7: "io_uring"}
	actionNames = map[uint32]string{0: "never", 2: "always"}
)

const auditFilterPrepend = 0x10

// ruleHead is the list and action at the start of a struct
// audit_rule_data (two native-endian u32s).
type ruleHead struct{ list, action string }

func decodeHeads(raw [][]byte) ([]ruleHead, error) {
	out := make([]ruleHead, 0, len(raw))
	for i, b := range raw {
		if len(b) < 8 {
			return nil, fmt.Errorf("rule %d: %d bytes, too short for audit_rule_data", i, len(b))
		}
		flags := binary.NativeEndian.Uint32(b[0:4]) &^ auditFilterPrepend
		action := binary.NativeEndian.Uint32(b[4:8])
		l, ok1 := listNames[flags]
		a, ok2 := actionNames[action]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("rule %d: unknown list %d or action %d", i, flags, action)
		}
		out = append(out, ruleHead{l, a})
	}
	return out, nil
}

// kernelHeads lists the loaded rules' list and action over netlink.
func kernelHeads() ([]ruleHead, error) {
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		return nil, fmt.Errorf("open audit netlink socket: %w", err)
	}
	defer c.Close()
	raw, err := c.GetRules()
	if err != nil {
		return nil, fmt.Errorf("list rules over netlink: %w", err)
	}
	return decodeHeads(raw)
}

// correctHeads overwrites the list and action auditctl -l implied with
// the kernel's, rule by rule. It changes nothing unless both listings
// have the same length and every rule's list agrees except where
// auditctl printed a watch (so a change between the two reads cannot
// shift rules onto each other). It reports whether it corrected.
func correctHeads(rules []Rule, heads []ruleHead) bool {
	if len(rules) != len(heads) {
		return false
	}
	for i, r := range rules {
		if r.List != heads[i].list && !(r.IsWatch() && heads[i].list == "exit") {
			return false
		}
	}
	for i := range rules {
		if rules[i].Action != heads[i].action || rules[i].List != heads[i].list {
			rules[i].List, rules[i].Action = heads[i].list, heads[i].action
			rules[i].relisted = true
		}
	}
	return true
}

// localKernel reports whether h is this machine's kernel (not a fixture
// tree or a remote host), where netlink reaches the same rules.
func localKernel(ctx context.Context, h host.Host) bool {
	l, ok := h.(*host.Local)
	return ok && l.Root == "" && h.IsRoot(ctx)
}
