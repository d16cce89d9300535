package hygiene

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/host"
)

// TestTestSummaryCountsPackages runs scripts/test-summary.sh (the counting
// part of scripts/test.sh) on the captured output of a real `go test ./...`
// over five packages: one passes, one has failing tests and subtests and
// prints a fake result line, one panics, one does not build, one has no
// tests. Counting lines gave "1 passed, 6 failed".
func TestTestSummaryCountsPackages(t *testing.T) {
	root := repoRoot(t)
	script := filepath.Join(root, "scripts", "test-summary.sh")
	out, err := (&host.Local{}).Run(context.Background(), host.C("bash", script,
		filepath.Join("testdata", "gotest-3-failed.txt"), filepath.Join("testdata", "gotest-3-failed.pkgs")))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out.Stdout), "packages: 1 passed, 3 failed\n"; got != want || out.ExitCode != 0 {
		t.Errorf("got %q (exit %d, stderr %q), want %q", got, out.ExitCode, out.Stderr, want)
	}
	// test.sh must use it rather than count by itself.
	b, err := os.ReadFile(filepath.Join(root, "scripts", "test.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "scripts/test-summary.sh") || strings.Contains(string(b), "grep -c") {
		t.Error("scripts/test.sh does not count packages with scripts/test-summary.sh")
	}
}

var (
	// sshdStartGo are the ways a Go test could find or prepare sshd by
	// itself instead of through testenv.RequireSSHD / testenv.SSHD.
	sshdStartGo = regexp.MustCompile(`RequireCommands\([^)]*"sshd"|LookPath\("sshd"\)|"/run/sshd"`)
	// sshdStartScript is a script running sshd without sshd-ready's $SSHD.
	sshdStartScript = regexp.MustCompile(`command -v sshd|(^|[\s/'"])sshd\s+-[DdTt]|/run/sshd`)
)

// TestSSHDOnlyThroughTestenv keeps every sshd a test starts behind one
// helper (testenv.SSHD, which creates the privilege-separation directory):
// on a machine that never ran ssh.service there is no /run/sshd, and an
// sshd started any other way dies at once.
func TestSSHDOnlyThroughTestenv(t *testing.T) {
	root := repoRoot(t)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if p != root && strings.HasPrefix(d.Name(), ".") || rel == "internal/testenv" || rel == "internal/hygiene" {
				return filepath.SkipDir
			}
			return nil
		}
		isGoTest, isScript := strings.HasSuffix(p, "_test.go") || strings.Contains(rel, "/sshtest/"), strings.HasSuffix(p, ".txtar") && strings.Contains(rel, "testdata/script/")
		if !isGoTest && !isScript {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		src := string(b)
		switch {
		case isGoTest && sshdStartGo.MatchString(src):
			t.Errorf("%s: %q: start sshd with testenv.RequireSSHD(t) (it creates the privilege-separation directory)", rel, sshdStartGo.FindString(src))
		case isScript && sshdStartScript.MatchString(src):
			t.Errorf("%s: %q: run 'sshd-ready' and start $SSHD", rel, strings.TrimSpace(sshdStartScript.FindString(src)))
		case isScript && strings.Contains(src, "$SSHD") && !regexp.MustCompile(`(?m)^sshd-ready$`).MatchString(src):
			t.Errorf("%s: uses $SSHD without 'sshd-ready'", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
