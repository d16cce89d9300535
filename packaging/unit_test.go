package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/testenv"
)

var exposureRe = regexp.MustCompile(`Overall exposure level for \S+: (\d+\.\d+)`)

// exposure runs systemd-analyze security --offline=true on a unit file.
func exposure(t *testing.T, analyze, path string) float64 {
	t.Helper()
	out, err := exec.Command(analyze, "security", "--offline=true", "--no-pager", path).CombinedOutput()
	m := exposureRe.FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security %s: %v\n%s", path, err, out)
	}
	f, _ := strconv.ParseFloat(string(m[1]), 64)
	return f
}

// TestUnitExposure: the shipped unit scores at most 2.0 (Debian 12's
// fail2ban.service and ssh.service score 9.6 on the same systemd).
func TestUnitExposure(t *testing.T) {
	analyze := testenv.RequireCommands(t, "systemd-analyze")[0]
	path := filepath.Join(t.TempDir(), UnitName)
	if err := os.WriteFile(path, []byte(Unit), 0o644); err != nil {
		t.Fatal(err)
	}
	got := exposure(t, analyze, path)
	if got > 2.0 {
		out, _ := exec.Command(analyze, "security", "--offline=true", "--no-pager", path).CombinedOutput()
		t.Fatalf("exposure %.1f, want at most 2.0:\n%s", got, out)
	}
	t.Logf("rampart-guard.service exposure %.1f", got)
	for _, peer := range []string{"/lib/systemd/system/fail2ban.service", "/lib/systemd/system/ssh.service"} {
		if _, err := os.Stat(peer); err == nil {
			t.Logf("peer %s exposure %.1f", filepath.Base(peer), exposure(t, analyze, peer))
		}
	}
}

// TestUnitVerify: systemd-analyze verify finds nothing to say about the
// unit. The unit names /usr/bin/rampart, which the Debian package installs;
// here that path is replaced by an executable that exists (the CI step
// verifies the installed unit as it is).
func TestUnitVerify(t *testing.T) {
	analyze := testenv.RequireCommands(t, "systemd-analyze")[0]
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(Unit, "ExecStart=/usr/bin/rampart ") {
		t.Fatal("the unit no longer starts /usr/bin/rampart")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, UnitName)
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(Unit, "/usr/bin/rampart ", self+" ")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestUnitPrivileges pins what the daemon is given: CAP_NET_ADMIN and
// nothing else, an unprivileged user with the journal group, the three
// address families it uses.
func TestUnitPrivileges(t *testing.T) {
	ds, err := Section(Unit, "Service")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range ds {
		got[d.Key] = d.Value
	}
	for k, want := range map[string]string{
		"User":                    "rampart",
		"SupplementaryGroups":     "systemd-journal",
		"AmbientCapabilities":     "CAP_NET_ADMIN",
		"CapabilityBoundingSet":   "CAP_NET_ADMIN",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"RestrictAddressFamilies": "AF_NETLINK AF_UNIX AF_INET AF_INET6",
		"StateDirectory":          "rampart",
		"RuntimeDirectory":        "rampart",
	} {
		if got[k] != want {
			t.Errorf("%s=%q, want %q", k, got[k], want)
		}
	}
	for _, k := range []string{"MemoryMax", "SystemCallFilter"} {
		if got[k] == "" {
			t.Errorf("%s is not set", k)
		}
	}
	if _, err := Section("[Service]\nnot a directive\n", "Service"); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("bad line: %v", err)
	}
}
