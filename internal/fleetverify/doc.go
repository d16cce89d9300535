// Package fleetverify runs rampart verify over many hosts at once and
// renders the fleet's results: an inventory file (hosts, groups, labels,
// a policy per group, jump hosts) parsed strictly with FILE:LINE:COL
// errors; a bounded parallel SSH fan-out over internal/host/sshhost where
// every host has its own deadline and an unreachable host becomes unknown
// without stopping the run, and hosts behind the same jump host share one
// connection to it (jumps.go); the fleet JSON document that wraps each host's
// rampart.verify/v1 report; JUnit with one suite per host; SARIF with one
// run per host; a text view (host x area matrix, then failures grouped by
// check across hosts); the comparison with a baseline run; and push mode:
// Publish puts one node's report into the JetStream key-value bucket
// rampart-verify (key = node), ReadBucket and FromBucket build the fleet
// view from every key, with each report's age, stale ones unknown and
// malformed ones an error of their host.
//
// The JSON schema "rampart.fleet/v1":
//
//	{
//	  "schema":      "rampart.fleet/v1",
//	  "tool":        "rampart verify",
//	  "version":     rampart's version,
//	  "started":     RFC 3339 time the run began,
//	  "duration_ms": wall time of the run,
//	  "summary":     {"hosts", "hosts_passing", "hosts_failing", "hosts_unverified",
//	                  "checks": {"total", "pass", "fail", "warn", "unknown", "skip"}},
//	  "baseline":    {"file", "started", "changes": [{"host", "check", "from", "to", "kind"}]} (with --baseline),
//	  "hosts": [{
//	    "name":              as given (inventory name or --host),
//	    "address":           [USER@]HOST[:PORT] dialled,
//	    "reported_hostname": what the host calls itself ("" when unread),
//	    "group", "labels":   from the inventory,
//	    "policy":            policy file or "(default)",
//	    "policy_sha256":     hash of the effective policy,
//	    "rampart_version", "release", "time" (RFC 3339), "duration_ms",
//	    "error":             why the host was not verified ("" when it was),
//	    "published", "age_s", "stale": only in `rampart fleet status` views: when
//	                         the server stored the host's report (RFC 3339), its
//	                         age in seconds when the view was built, and whether
//	                         that was more than --max-age,
//	    "report":            the host's rampart.verify/v1 document
//	  }]
//	}
//
// A change's kind is "regression" (now fail, was not), "worse", "better"
// or "fixed" (was fail, now pass/warn/skip). Fields are only ever added
// within v1.
package fleetverify
