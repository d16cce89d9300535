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

// Any user may name a program sshd and listen above port 1023: a socket
// ss shows held by a process named sshd is sshd's only when that process
// is root's.
func TestSSUserNamedSSHD(t *testing.T) {
	const out = "LISTEN 0      128    0.0.0.0:2222 0.0.0.0:* users:((\"sshd\",pid=4242,fd=3))\n"
	for _, tc := range []struct {
		uid  string
		want check.Status
	}{
		{"0\t0\t0\t0", check.Pass},
		{"1000\t1000\t1000\t1000", check.Fail},
	} {
		f := fixture(t, setup{ss: "none"})
		f.SetCmd(ssCmd, out, 0)
		f.SetFile("/proc/4242/status", "Name:\tsshd\nUid:\t"+tc.uid+"\n")
		c, _ := check.Lookup("firewall.sshd-bindings")
		p := policy.MustDefault("baseline")
		p.SSH.Ports = []int{2222}
		r := check.Run(context.Background(), check.NewEnv(f, p, ""), []*check.Check{c})[0]
		if r.Status != tc.want {
			t.Errorf("sshd of uid %q on :2222: %s %q, want %s", tc.uid, r.Status, r.Message, tc.want)
		}
	}
}
