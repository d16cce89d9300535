package audit

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// childEnv carries the file operations for a child process of the test
// binary (see auditedChild).
const childEnv = "RAMPART_AUDIT_CHILD_OPS"

// childOp is one file operation done by the child: "append" (open with
// O_APPEND and write), "create" (create and write) or "chmod" (mode 0600).
type childOp struct{ Op, Path string }

func TestMain(m *testing.M) {
	if ops := os.Getenv(childEnv); ops != "" {
		os.Exit(runChildOps(ops))
	}
	os.Exit(m.Run())
}

// auditedChild does the operations in a new process of this test binary
// (the same comm in the records). The kernel gives a task an audit
// context only if auditing had been enabled at least once when it was
// forked (audit_alloc checks audit_ever_enabled): on a machine booted
// without audit=1 whose auditing is first enabled by the test, the test
// process itself records nothing, however many rules match.
func auditedChild(t *testing.T, ops ...childOp) {
	t.Helper()
	b, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child process: %v\n%s", err, out)
	}
}

func runChildOps(s string) int {
	var ops []childOp
	if err := json.Unmarshal([]byte(s), &ops); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for _, o := range ops {
		var err error
		switch o.Op {
		case "append":
			var f *os.File
			if f, err = os.OpenFile(o.Path, os.O_WRONLY|os.O_APPEND, 0); err == nil {
				_, err = f.WriteString("x\n")
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
		case "create":
			err = os.WriteFile(o.Path, []byte("x"), 0o600)
		case "chmod":
			err = os.Chmod(o.Path, 0o600)
		default:
			err = fmt.Errorf("unknown operation %q", o.Op)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s %s: %v\n", o.Op, o.Path, err)
			return 1
		}
	}
	return 0
}
