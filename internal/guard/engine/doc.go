// Package engine wires filters and jails from a policy and routes log lines
// from named sources to the jails that read them. The daemon (rampart guard
// run) feeds it live lines; Replay feeds it a file for `rampart guard test`
// and the benchmarks. Time is log time; lines without a timestamp use the
// injected clock.
package engine
