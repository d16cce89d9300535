// Package logline is the one representation of a log line inside guard: a
// journal entry or a line of a file, with its timestamp (log time, which
// drives every ban window), the syslog identifier and PID, and the message
// after the syslog prefix. Parsing the prefix happens once per line here, so
// filters only look at the message (the "prefix once" design that makes the
// per-message patterns cheap). Everything in a line is attacker-influenced
// text; the parsers never panic and never allocate per line.
package logline
