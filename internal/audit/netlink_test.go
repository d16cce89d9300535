package audit

import (
	"context"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/policy"
)

// testdata/netlink-rules.hex holds the raw audit_rule_data of three rules
// read over netlink (AUDIT_LIST_RULES) on this VM, one hex line each, and
// testdata/netlink-auditctl-l.txt what auditctl -l printed for the same
// rules: the second, "-a never,exit -F path=/tmp/h7d/a -F perm=r -F
// key=nev", is printed as if it were a watch.
func TestCorrectHeadsFromRealNetlink(t *testing.T) {
	listing, err := os.ReadFile("testdata/netlink-auditctl-l.txt")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ParseRules("auditctl -l", listing)
	if err != nil {
		t.Fatal(err)
	}
	hexes, err := os.ReadFile("testdata/netlink-rules.hex")
	if err != nil {
		t.Fatal(err)
	}
	var raw [][]byte
	for _, h := range strings.Fields(string(hexes)) {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, b)
	}
	heads, err := decodeHeads(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := []ruleHead{{"exit", "always"}, {"exit", "never"}, {"exit", "always"}}
	if len(heads) != 3 || heads[0] != want[0] || heads[1] != want[1] || heads[2] != want[2] {
		t.Fatalf("heads %v", heads)
	}
	watch := mustRule(t, "-w /tmp/h7d/a -p r -k nev")
	if rs.Rules[1].Canon() != watch.Canon() {
		t.Fatalf("auditctl -l alone cannot tell the never rule from a watch (that is the bug being corrected)")
	}
	if !correctHeads(rs.Rules, heads) {
		t.Fatal("correctHeads refused matching listings")
	}
	never := rs.Rules[1]
	if never.IsWatch() || never.Canon() == watch.Canon() || never.Canon() != mustRule(t, "-a never,exit -F path=/tmp/h7d/a -F perm=r -F key=nev").Canon() {
		t.Errorf("corrected rule %s", never)
	}
	if got := strings.Join(never.DeleteArgs(), " "); got != "-d never,exit -F path=/tmp/h7d/a -F perm=r -F key=nev" {
		t.Errorf("DeleteArgs of a corrected rule: %s", got)
	}
	if rs.Rules[0].relisted || rs.Rules[2].relisted {
		t.Error("rules that were right were marked")
	}
	// Listings that do not line up are left alone.
	if correctHeads(rs.Rules[:2], heads) || correctHeads(rs.Rules, []ruleHead{{"exclude", "always"}, {"exit", "never"}, {"exit", "always"}}) {
		t.Error("correctHeads accepted mismatched listings")
	}
	if _, err := decodeHeads([][]byte{{1, 2, 3}}); err == nil {
		t.Error("short rule data accepted")
	}
}

// TestE2ENeverRuleIsNotAWatch: a "never" rule on a watched path, which
// auditctl -l prints exactly like the watch, must not make verify pass
// or apply skip the watch.
func TestE2ENeverRuleIsNotAWatch(t *testing.T) {
	kernelAudit(t)
	ctx := context.Background()
	h := &host.Local{}
	p := filepath.Join(t.TempDir(), "passwd")
	if out, err := exec.Command("auditctl", "-a", "never,exit", "-F", "path="+p, "-F", "perm=wa", "-F", "key=rampart-e2e-never").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	pol := policy.MustDefault("")
	pol.Audit.Watches = []policy.Watch{{Path: p, Perms: "wa", Key: "rampart-e2e-never"}}
	c, _ := check.Lookup("audit.watch-other")
	r := check.Run(ctx, check.NewEnv(h, pol, ""), []*check.Check{c})[0]
	if r.Status != check.Fail {
		t.Errorf("verify with only a never rule loaded: %s %q", r.Status, r.Message)
	}
	want, _ := FromPolicy(pol.Audit)
	plan, err := Apply(ctx, h, want, ApplyOptions{})
	if err != nil || len(plan.Add) != 1 {
		t.Fatalf("apply: %v, add %d", err, len(plan.Add))
	}
	// The watch is loaded now, but after the never rule, which the
	// kernel matches first: a warning, not a pass.
	if r := check.Run(ctx, check.NewEnv(h, pol, ""), []*check.Check{c})[0]; r.Status != check.Warn || !strings.Contains(r.Message, "never rule listed before") {
		t.Errorf("after apply: %s %q", r.Status, r.Message)
	}
}
