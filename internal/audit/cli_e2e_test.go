package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/audit"
	"github.com/rampart-sec/rampart/internal/cli"
)

func rampart(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(&cli.Env{Ctx: context.Background(), Stdout: &out, Stderr: &errb}, args)
	return out.String(), errb.String(), code
}

// TestE2ECLI drives `rampart audit apply|diff|report` against the real
// kernel and a real auditd, with a policy whose watches live in a
// temporary directory.
func TestE2ECLI(t *testing.T) {
	audit.KernelAudit(t)
	dir := t.TempDir()
	work := filepath.Join(dir, "etc")
	logDir := filepath.Join(dir, "log")
	for _, d := range []string{work, logDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	logFile, _ := audit.StartAuditd(t, logDir, "RAW")
	pol := filepath.Join(dir, "policy.toml")
	body := "[audit]\nenabled = true\n[[audit.watches]]\npath = \"" + work + "/passwd\"\nperms = \"aw\"\nkey = \"rampart-cli-id\"\n"
	if err := os.WriteFile(pol, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "passwd"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rule := "-w " + work + "/passwd -p wa -k rampart-cli-id"

	out, _, code := rampart(t, "audit", "diff", "-p", pol)
	if code != cli.ExitProblem || !strings.Contains(out, "  "+rule+"\n") {
		t.Fatalf("diff before apply: exit %d\n%s", code, out)
	}
	out, errs, code := rampart(t, "audit", "apply", "-p", pol)
	if code != cli.ExitOK || !strings.Contains(out, "add  "+rule+"\n") || !strings.Contains(out, "added 1, removed 0, kept 0") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	out, _, code = rampart(t, "audit", "apply", "-p", pol)
	if code != cli.ExitOK || !strings.Contains(out, "already in place (1 loaded)") {
		t.Fatalf("second apply: exit %d\n%s", code, out)
	}
	// Rules the host had before the test show as extra (exit 1).
	out, _, code = rampart(t, "audit", "diff", "-p", pol)
	clean := code == cli.ExitOK && strings.Contains(out, "0 missing, 0 extra, 1 loaded")
	hostRules := code == cli.ExitProblem && strings.Contains(out, "0 missing, ") && !strings.Contains(out, "missing (in the policy")
	if !clean && !hostRules {
		t.Fatalf("diff after apply: exit %d\n%s", code, out)
	}
	audit.AppendInChild(t, filepath.Join(work, "passwd"))
	var events []string
	for i := 0; i < 50; i++ {
		out, errs, code = rampart(t, "audit", "report", "--log", logFile, "--key", "policy", "-p", pol, "--format", "json")
		if code != cli.ExitOK {
			t.Fatalf("report: exit %d %s", code, errs)
		}
		var rep audit.Report
		if err := jsonDecode(out, &rep); err != nil {
			t.Fatal(err)
		}
		events = nil
		for _, k := range rep.Keys {
			for _, e := range k.Events {
				if e.Kind == "syscall" {
					events = append(events, k.Key+" "+e.Syscall+" "+strings.Join(e.Targets(), ","))
				}
			}
		}
		if len(events) > 0 {
			break
		}
		sleep()
	}
	if strings.Join(events, "\n") != "rampart-cli-id openat "+work+"/passwd" {
		t.Fatalf("report events %q", events)
	}
}

func jsonDecode(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func sleep() { time.Sleep(100 * time.Millisecond) }
