// Package metrics is a small Prometheus registry for `rampart guard run`:
// counters, gauges and histograms with labels, written in the Prometheus
// text exposition format (version 0.0.4) by hand, so the daemon needs no
// client library. Label values come from log data and policy names, so
// they are escaped (backslash, double quote, newline) and never trusted.
package metrics
