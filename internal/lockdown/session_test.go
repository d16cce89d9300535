package lockdown

import (
	"context"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/host/hosttest"
)

func TestSessionFromAncestors(t *testing.T) {
	const conn = "100.64.0.2 50022 100.64.0.1 22"
	proc := func(f *hosttest.Fixture, pid, comm, ppid string, env ...string) {
		f.SetFile("/proc/"+pid+"/stat", pid+" ("+comm+") S "+ppid+" 1 1 0 -1 4194560\n")
		f.SetFile("/proc/"+pid+"/environ", strings.Join(env, "\x00")+"\x00")
	}
	tests := []struct {
		name  string
		build func(f *hosttest.Fixture)
		want  string
		err   string
	}{
		{name: "under sudo", want: conn, build: func(f *hosttest.Fixture) {
			// rampart(300) <- sudo(200, env has it) <- bash(150) <- sshd(100)
			proc(f, "200", "sudo", "150", "PATH=/usr/bin", "SSH_CONNECTION="+conn, "USER=admin")
			proc(f, "150", "bash", "100", "SSH_CONNECTION=x")
			proc(f, "100", "sshd", "1")
		}},
		{name: "stops at sshd", want: "", build: func(f *hosttest.Fixture) {
			proc(f, "200", "sudo", "100", "PATH=/usr/bin")
			proc(f, "100", "sshd-session", "50")
			proc(f, "50", "bash", "1", "SSH_CONNECTION=203.0.113.9 1 203.0.113.1 22")
		}},
		{name: "console", want: "", build: func(f *hosttest.Fixture) {
			proc(f, "200", "sudo", "150", "TERM=linux")
			proc(f, "150", "login) (x", "1", "TERM=linux")
		}},
		{name: "unreadable", err: "environ", build: func(f *hosttest.Fixture) {
			f.SetFile("/proc/200/stat", "200 (sudo) S 1 1 1\n")
			f.Denied["/proc/200/environ"] = true
		}},
		{name: "garbage stat", err: "expected", build: func(f *hosttest.Fixture) {
			f.SetFile("/proc/200/stat", "nonsense")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := hosttest.New(t)
			tt.build(f)
			got, err := SessionFromAncestors(context.Background(), f, 200)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
