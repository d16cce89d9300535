// Package report renders one []check.Result as text for people, JSON with
// a versioned schema, JUnit XML for CI systems, or SARIF 2.1.0 for code
// scanning dashboards. verify, audit and lockdown all produce
// []check.Result; this package is the only place that formats them.
//
// The JSON schema "rampart.verify/v1":
//
//	{
//	  "schema":      "rampart.verify/v1",
//	  "host":        "local" | "admin@203.0.113.5",
//	  "os":          the host's OS from /etc/os-release (PRETTY_NAME); absent
//	                 when it could not be read,
//	  "policy":      policy file path or "(default)",
//	  "release":     NixOS release the remediation text is written for (not
//	                 the host's OS),
//	  "started":     RFC 3339 time the run began,
//	  "duration_ms": wall time of the run,
//	  "checks": [{
//	    "id", "title", "area", "severity", "status", "message",
//	    "evidence":    [{"source": command or path, "text": excerpt read}],
//	    "remediation": {"nixos": option snippet, "generic": any-Linux hint}
//	  }],
//	  "summary": {"total", "pass", "fail", "warn", "unknown", "skip"}
//	}
//
// status is pass, fail, warn, unknown (evidence could not be read; never a
// pass) or skip (not applicable). Fields are only ever added within v1.
package report
