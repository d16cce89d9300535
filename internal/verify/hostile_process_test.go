package verify

import (
	"context"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
)

// An unprivileged user runs a process whose argv[0] is a program of their
// own named sshd; verify must not run that program (as root, via sudo).
func TestFakeSSHDNotRunAsRoot(t *testing.T) {
	h := fixture(t, []string{"ssh_hardened"}, map[string]string{
		// exec -a /home/eve/sshd /home/eve/payload -D  (any user can do this)
		"/proc/4242/cmdline": "/home/eve/sshd\x00-D\x00",
		"/proc/4242/status":  eveStatus,
	})
	_ = Run(context.Background(), check.NewEnv(h, fail2banDefault(""), ""), Options{}, areaChecks(t, "ssh"))
	for _, l := range h.Ran() {
		if strings.HasPrefix(l, "/home/eve/") {
			t.Errorf("verify ran a user-owned program with sudo: %s", l)
		}
	}
}

// A clock 317 years (1e10 s) away from NTP time must fail max_offset;
// |offset| in nanoseconds overflows int64 and, on amd64, the conversion
// yields a negative Duration that is never above the maximum.
func TestHugeChronyOffsetFails(t *testing.T) {
	for _, off := range []string{"10000000000.0", "-10000000000.0", "1e300", "inf"} {
		h := fixture(t, nil, map[string]string{"/proc/1/cmdline": "/sbin/init", "/proc/77/cmdline": "/usr/sbin/chronyd -F 1"})
		h.Cmds["chronyc -n -c tracking"] = &host.Output{Stdout: []byte(
			"C0000201,192.0.2.1,2,1795596097.886487347," + off + ",0.000000389,0.000000219,9.774,1.334,86.433,0.000007153,0.000010229,0.0,Normal\n")}
		rs := Run(context.Background(), check.NewEnv(h, fail2banDefault(""), ""), Options{}, areaChecks(t, "time"))
		if r := byID(rs, "time.synchronised"); r.Status == check.Pass {
			t.Errorf("offset %s s: %s %s", off, r.Status, r.Message)
		}
	}
}

// journald is stopped (journald_bad); any user's process named
// systemd-journald (`exec -a systemd-journald sleep 1d`) must not make
// journald.running pass.
func TestFakeJournaldFails(t *testing.T) {
	h := fixture(t, []string{"journald_bad"}, map[string]string{"/proc/4242/cmdline": "systemd-journald\x00", "/proc/4242/status": eveStatus})
	rs := Run(context.Background(), check.NewEnv(h, fail2banDefault(""), ""), Options{}, areaChecks(t, "journald"))
	if r := byID(rs, "journald.running"); r.Status != check.Fail {
		t.Errorf("journald.running with only a user's look-alike process: %s %s", r.Status, r.Message)
	}
}

// eveStatus is /proc/PID/status of a process of uid 1000.
const eveStatus = "Name:\tsleep\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\n"
