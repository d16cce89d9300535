package audit

import "testing"

// For the external tests (package audit_test) that drive the CLI.
var (
	KernelAudit = kernelAudit
	StartAuditd = startAuditd
	// AppendInChild appends to a file from a new process (see auditedChild).
	AppendInChild = func(t *testing.T, path string) { auditedChild(t, childOp{"append", path}) }
)
