// Package fleet shares bans between rampart guards over a NATS JetStream
// stream.
//
// Every local ban and unban goes into a bounded outbox persisted in the
// state directory and is published, in order, under this node's name
// (rampart.ban.NODE.JAIL, rampart.unban.NODE): the server's permissions,
// not the payload, say who spoke. Each guard reads the stream from the
// sequence it saved with its bans and hands other nodes' bans to the
// daemon after the guardrails: never an ignore-listed, tailnet, own or
// NATS server address, nothing wider than /32 or the policy's
// ipv6_prefix, nothing longer than the policy's longest ban, and at most
// a token bucket's worth per origin (timed by the stream's own time
// stamps, so a replay after an outage judges the same messages the same
// way). Payloads are versioned JSON (rampart.ban/v1) decoded strictly;
// anything else is counted and logged, never applied.
//
// Nothing here blocks the local ban path: the daemon hands events over
// with a non-blocking send, and the link does the disk and network work.
package fleet
