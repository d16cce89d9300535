package audit

// For the external tests (package audit_test) that drive the CLI.
var (
	KernelAudit = kernelAudit
	StartAuditd = startAuditd
)
