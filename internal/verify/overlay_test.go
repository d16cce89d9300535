package verify

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// systemdOrder asks systemd itself (systemd-analyze cat-config --root)
// which files it reads for what, in order.
func systemdOrder(t *testing.T, tool, root, what string) []string {
	t.Helper()
	out, err := exec.Command(tool, "cat-config", "--root="+root, what).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze cat-config %s: %v\n%s", what, err, out)
	}
	var files []string
	for _, line := range strings.Split(string(out), "\n") {
		if p, ok := strings.CutPrefix(line, "# "+root); ok {
			files = append(files, p)
		}
	}
	return files
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestOverlayMatchesSystemd checks the sysctl.d and journald.conf.d
// merging order against systemd's own on real directory trees.
func TestOverlayMatchesSystemd(t *testing.T) {
	tool := testenv.RequireCommands(t, "systemd-analyze")[0]
	for _, tc := range []map[string]string{
		{
			"/usr/lib/sysctl.d/50-a.conf": "a=1\n", "/etc/sysctl.d/50-a.conf": "a=2\n", "/run/sysctl.d/10-c.conf": "c=1\n",
			"/lib/sysctl.d/99-d.conf": "d=1\n", "/usr/lib/sysctl.d/99-d.conf": "d=2\n", "/usr/local/lib/sysctl.d/60-e.conf": "e=1\n",
			"/etc/sysctl.d/README": "not a .conf\n",
		},
		{
			"/etc/sysctl.d/99-x.conf": "x=1\n", "/run/sysctl.d/99-x.conf": "x=2\n", "/usr/lib/sysctl.d/00-y.conf": "y=1\n",
		},
		{
			"/lib/sysctl.d/40-only-lib.conf": "z=1\n", "/usr/lib/sysctl.d/41-usr.conf": "w=1\n",
		},
	} {
		root := writeTree(t, tc)
		env := check.NewEnv(&host.Local{Root: root}, fail2banDefault(""), "")
		got, err := overlay(context.Background(), env, sysctlDirs, "*.conf")
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(systemdOrder(t, tool, root, "sysctl.d"), got); d != "" {
			t.Errorf("sysctl.d order (-systemd +ours):\n%s", d)
		}
	}
	for _, tc := range []map[string]string{
		{
			"/etc/systemd/journald.conf":                           "[Journal]\nStorage=persistent\n",
			"/usr/lib/systemd/journald.conf.d/20-vendor.conf":      "[Journal]\nSystemMaxFiles=3\n",
			"/etc/systemd/journald.conf.d/20-vendor.conf":          "# mask\n",
			"/run/systemd/journald.conf.d/10-override.conf":        "[Journal]\nMaxRetentionSec=2d\n",
			"/usr/lib/systemd/journald.conf.d/90-late.conf":        "[Journal]\nMaxRetentionSec=1month\n",
			"/usr/local/lib/systemd/journald.conf.d/50-local.conf": "[Journal]\nSystemMaxFiles=10\n",
			"/usr/lib/systemd/journald.conf.d/not-a-conf.conf.bak": "[Journal]\nStorage=none\n",
		},
		{
			"/usr/lib/systemd/journald.conf.d/60-only.conf": "[Journal]\nStorage=volatile\n",
		},
		{
			"/usr/lib/systemd/journald.conf": "[Journal]\nStorage=auto\n",
			"/etc/systemd/journald.conf":     "[Journal]\nStorage=persistent\n",
			"/run/systemd/journald.conf":     "[Journal]\nStorage=volatile\n",
		},
		{
			"/usr/lib/systemd/journald.conf":                "[Journal]\nStorage=auto\n",
			"/lib/systemd/journald.conf.d/10-legacy.conf":   "[Journal]\nSystemMaxFiles=5\n",
			"/usr/local/lib/systemd/journald.conf.d/x.conf": "[Journal]\nSystemMaxFiles=6\n",
		},
	} {
		root := writeTree(t, tc)
		env := check.NewEnv(&host.Local{Root: root}, fail2banDefault(""), "")
		c, err := journaldEffective(context.Background(), env)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range c.files {
			got = append(got, e.Source)
		}
		if d := cmp.Diff(systemdOrder(t, tool, root, "systemd/journald.conf"), got); d != "" {
			t.Errorf("journald.conf order (-systemd +ours):\n%s", d)
		}
	}
}

// TestTimespansMatchSystemd: the journald check parses MaxRetentionSec
// with policy.ParseDuration; systemd-analyze timespan is the reference.
func TestTimespansMatchSystemd(t *testing.T) {
	tool := testenv.RequireCommands(t, "systemd-analyze")[0]
	for _, s := range []string{"1month", "2d", "1h 30min", "1y", "30s", "1w", "1M", "5min", "1000ms", "3weeks", "12h"} {
		out, err := exec.Command(tool, "timespan", s).CombinedOutput()
		if err != nil {
			t.Fatalf("systemd-analyze timespan %q: %v\n%s", s, err, out)
		}
		var us string
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "μs:"); ok {
				us = strings.TrimSpace(v)
			}
		}
		d, err := policy.ParseDuration(s)
		if err != nil {
			t.Errorf("ParseDuration(%q): %v (systemd: %s µs)", s, err, us)
			continue
		}
		if got := strconv.FormatInt(d.D.Microseconds(), 10); got != us {
			t.Errorf("%q: rampart %s µs, systemd %s µs", s, got, us)
		}
	}
}
