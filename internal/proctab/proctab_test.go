package proctab

import (
	"context"
	"slices"
	"testing"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host/hosttest"
)

// The command lines are as the kernel shows them: chronyd's argv with its
// NULs, sshd 9.2's listener after setproctitle (one string of spaces), a
// kernel thread (empty), and a process whose cmdline cannot be read.
func TestList(t *testing.T) {
	f := hosttest.New(t)
	f.SetFile("/proc/812/cmdline", "sshd: /usr/sbin/sshd -D -f /etc/ssh/sshd_config [listener] 0 of 10-100 startups")
	f.SetFile("/proc/655/cmdline", "/usr/sbin/chronyd\x00-F\x001\x00")
	f.SetFile("/proc/2/cmdline", "")
	f.Denied["/proc/901/cmdline"] = true
	f.SetFile("/proc/901/cmdline", "secret")
	f.SetFile("/proc/self/cmdline", "not a pid\x00")
	env := check.NewEnv(f, nil, "")
	ctx := context.Background()
	ps, err := List(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range ps {
		pids = append(pids, p.PID)
	}
	if !slices.Equal(pids, []int{655, 812}) {
		t.Fatalf("pids %v, want [655 812] (kernel thread, unreadable and non-pid entries left out)", pids)
	}
	chrony, sshd := ps[0], ps[1]
	if !slices.Equal(chrony.Argv, []string{"/usr/sbin/chronyd", "-F", "1"}) || chrony.Spaced || chrony.Name() != "chronyd" ||
		chrony.Title != "/usr/sbin/chronyd -F 1" {
		t.Errorf("chronyd: %+v", chrony)
	}
	if sshd.Argv[0] != "sshd:" || !sshd.Spaced || sshd.Name() != "sshd" || len(sshd.Argv) != 10 {
		t.Errorf("retitled sshd: %+v (name %q)", sshd, sshd.Name())
	}
	got, err := Running(ctx, env, "ntpd", "chronyd")
	if err != nil || len(got) != 1 || got[0].PID != 655 {
		t.Errorf("Running(ntpd, chronyd) = %+v, %v", got, err)
	}
	if d := Describe(ps); d != "655: /usr/sbin/chronyd -F 1\n812: "+sshd.Title {
		t.Errorf("Describe = %q", d)
	}
	// Once per run: a file written after the first read is not seen.
	f.SetFile("/proc/999/cmdline", "late\x00")
	if again, _ := List(ctx, env); len(again) != 2 {
		t.Errorf("second List read the table again: %d processes", len(again))
	}
}

func TestParseCmdline(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"\x00\x00", nil},
		{"/bin/sh\x00-c\x00echo a  b\x00", []string{"/bin/sh", "-c", "echo a  b"}},
		{"sshd: root@notty", []string{"sshd:", "root@notty"}},
		{"a\x00\x00b\x00", []string{"a", "", "b"}},
	} {
		if got := ParseCmdline([]byte(tc.in)); !slices.Equal(got, tc.want) {
			t.Errorf("ParseCmdline(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A process counts as root's only when its one Uid: line holds four
// zeros: any user can name a program sshd, and a process that changed only
// its effective uid, or whose status cannot be read, is not root's.
func TestRootOwned(t *testing.T) {
	f := hosttest.New(t)
	status := func(uid string) string {
		return "Name:\tsshd\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t" + uid + "\nGid:\t0\t0\t0\t0\n"
	}
	f.SetFile("/proc/812/cmdline", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups")
	f.SetFile("/proc/812/status", status("0\t0\t0\t0"))
	f.SetFile("/proc/4242/cmdline", "/home/eve/sshd\x00-D\x00")
	f.SetFile("/proc/4242/status", status("1000\t1000\t1000\t1000"))
	f.SetFile("/proc/4300/cmdline", "/home/eve/sshd\x00")
	f.SetFile("/proc/4300/status", status("1000\t0\t1000\t0"))
	f.SetFile("/proc/4301/cmdline", "systemd-journald\x00")
	f.SetFile("/proc/4301/status", status("0\t0\t0\t0")+"Uid:\t1000\t1000\t1000\t1000\n")
	f.SetFile("/proc/4302/cmdline", "/usr/sbin/sshd\x00-D\x00") // exited before its status was read
	f.SetFile("/proc/655/cmdline", "/usr/sbin/chronyd\x00")
	f.SetFile("/proc/655/status", status("0\t0\t0\t0"))
	env := check.NewEnv(f, nil, "")
	ctx := context.Background()
	got, err := RootOwned(ctx, env, []int{812, 4242, 4300, 4301, 4302})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]bool{812: true, 4242: false, 4300: false, 4301: false}
	if len(got) != len(want) {
		t.Errorf("RootOwned = %v, want %v", got, want)
	}
	for pid, w := range want {
		if g, ok := got[pid]; !ok || g != w {
			t.Errorf("pid %d: root %v (known %v), want %v", pid, g, ok, w)
		}
	}
	ps, err := RunningAsRoot(ctx, env, "sshd", "chronyd")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range ps {
		pids = append(pids, p.PID)
	}
	if !slices.Equal(pids, []int{655, 812}) {
		t.Errorf("RunningAsRoot(sshd, chronyd) = %v, want [655 812]", pids)
	}
}
