package lockdown

import "testing"

// ssTwoComms is `ss -Htlnp` (iproute2 6.1.0) as captured: one unprivileged
// process listening on 127.0.0.1:47125 forked after listen(), the child
// named "\nLISTEN 0 0" and the parent " *:22 " (prctl PR_SET_NAME). No
// sshd runs.
const ssTwoComms = "LISTEN 0      1      127.0.0.1:47125 0.0.0.0:* users:((\"\nLISTEN 0 0\",pid=8135,fd=3),(\" *:22 \",pid=8133,fd=3))\n"

func TestParseListenersCommNewline(t *testing.T) {
	ls, err := ParseListeners([]byte(ssTwoComms))
	for _, l := range ls {
		if l.Port == 22 && l.IsSSHD() {
			t.Errorf("ParseListeners took process names for an sshd listener on port 22: %+v (err %v)", l, err)
		}
	}
}
