package netcheck

import (
	"context"
	"testing"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/policy"
)

// ssCommNewline is `ss -Htlnp` (iproute2 6.1.0) as captured on a host
// where no sshd runs and an unprivileged process listens on
// 127.0.0.1:47123 after prctl(PR_SET_NAME, "\n1 2 3 [::]:22 "): ss prints
// the process name raw, newline included.
const ssCommNewline = "LISTEN 0      1      127.0.0.1:47123 0.0.0.0:* users:((\"\n1 2 3 [::]:22 \",pid=2318,fd=3))\n"

func TestSSCommNewlineForgesListener(t *testing.T) {
	ls, err := parseSS([]byte(ssCommNewline))
	for _, l := range ls {
		if l.Port == 22 {
			t.Errorf("parseSS made a listener on port 22 out of a process name: %+v (err %v)", l, err)
		}
	}
	// End to end: with no sshd at all, firewall.sshd-bindings must fail.
	f := fixture(t, setup{ss: "none"})
	f.SetCmd(ssCmd, ssCommNewline, 0)
	c, _ := check.Lookup("firewall.sshd-bindings")
	r := check.Run(context.Background(), check.NewEnv(f, policy.MustDefault("tailnet"), ""), []*check.Check{c})[0]
	if r.Status == check.Pass {
		t.Errorf("firewall.sshd-bindings = %s %q with no sshd running", r.Status, r.Message)
	}
}
