package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/internal/probe"
)

var probeCmd = &Command{
	Name:    "probe",
	Summary: "outside view of SSH: open/refused/filtered, and whether passwords are offered",
	Usage:   "probe [--port N] [--timeout D] [--user U[,U...]] [--expect-closed] [--format text|json] HOST...",
	Help: `rampart probe connects to the SSH port of each address of each HOST, from
where it runs, and reports what an attacker there sees:

  open         the TCP handshake completed; for SSH also the version banner,
               the host key and the authentication methods offered
  refused      the host answered with a reset (nothing listens, or a reject rule)
  filtered     no answer before --timeout (a drop rule: what a tailnet-only server wants
               from the public internet)
  unreachable  an ICMP host/network unreachable or prohibited answer

The methods are learned with the SSH "none" request: no password, key or
other credential is ever sent. "password" or "keyboard-interactive" offered
is a failure. Run it from outside the host (a laptop, another server, a
tailnet peer): probing a host's own address from the host itself goes
through loopback and proves nothing about the firewall.

HOST is [USER@]HOST[:PORT]; a port in HOST overrides --port. The user name
defaults to root because it exists everywhere: probing as a user that does
not exist logs "Invalid user", which fail2ban's sshd filter counts as a
failure in its normal mode. As an existing user sshd logs only "Connection
closed by authenticating user ... [preauth]" (counted in the ddos and
aggressive modes only); probe from an ignored address if you use those.

Flags:

Exit status: 0 nothing wrong, 1 a failure (password offered, no
authentication, or open with --expect-closed), 2 could not run (usage, a
name that does not resolve).

Examples:
  rampart probe 203.0.113.5
  rampart probe admin@server.example.org:2222 --format json
  rampart probe --user root,deploy 203.0.113.5
  rampart probe --expect-closed --timeout 5s 203.0.113.5 2001:db8::5`,
}

func init() {
	probeCmd.Run = runProbe
	Register(probeCmd)
}

func runProbe(env *Env, args []string) int {
	cmd := probeCmd
	fs := NewFlags("probe")
	port := fs.Int("port", 22, "SSH port `N` when HOST names none (default 22)")
	timeout := fs.Duration("timeout", 3*time.Second, "TCP connect timeout `D` per address (default 3s): no answer within it is \"filtered\"; an open port then gets at least 5s for the SSH exchange")
	user := fs.String("user", "root", "user names `U[,U...]` for the \"none\" request (default root); with more than one, each open port is asked once per user, so a Match User block that offers passwords to one account only is found")
	expectClosed := fs.Bool("expect-closed", false, "an open port is a failure (check a tailnet-only host from the public side)")
	format := fs.String("format", "text", "output format `F`: text (default) or json")
	hosts, code, ok := ParseFlags(env, fs, cmd, "probe", args)
	if !ok {
		return code
	}
	usage := func(msg string) int {
		fmt.Fprintf(env.Stderr, "rampart probe: %s\nUsage: rampart %s\n", msg, cmd.Usage)
		return ExitUsage
	}
	switch {
	case len(hosts) == 0:
		return usage("no HOST given")
	case *port < 1 || *port > 65535:
		return usage(fmt.Sprintf("--port %d: expected a port from 1 to 65535", *port))
	case *timeout <= 0:
		return usage(fmt.Sprintf("--timeout %s: expected a positive duration such as 3s", *timeout))
	case *format != "text" && *format != "json":
		return usage(fmt.Sprintf("--format %q: expected text or json", *format))
	}
	users := strings.Split(*user, ",")
	for _, u := range users {
		if u == "" || strings.ContainsFunc(u, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return usage(fmt.Sprintf("--user %q: expected user names separated by commas, without spaces or control characters", *user))
		}
	}
	rs := probe.Probe(env.Ctx, hosts, probe.Options{Port: *port, Timeout: *timeout, User: users[0], MoreUsers: users[1:], ExpectClosed: *expectClosed})
	sum := summarize(rs)
	if *format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Results []probe.Result `json:"results"`
			Summary probeSummary   `json:"summary"`
		}{rs, sum}); err != nil {
			fmt.Fprintf(env.Stderr, "rampart probe: %v\n", err)
			return ExitUsage
		}
	} else {
		writeProbeText(env.Stdout, rs, sum, *timeout)
	}
	switch {
	case sum.Fail > 0:
		return ExitProblem
	case sum.Error > 0:
		return ExitUsage
	}
	return ExitOK
}

type probeSummary struct {
	Total int `json:"total"`
	Pass  int `json:"pass"`
	Warn  int `json:"warn"`
	Fail  int `json:"fail"`
	// Error counts addresses that could not be probed (they are not in
	// Fail).
	Error int `json:"error"`
}

func summarize(rs []probe.Result) probeSummary {
	var s probeSummary
	for _, r := range rs {
		s.Total++
		switch {
		case r.State == probe.Error:
			s.Error++
		case r.Verdict == probe.Fail:
			s.Fail++
		case r.Verdict == probe.Warn:
			s.Warn++
		default:
			s.Pass++
		}
	}
	return s
}

func writeProbeText(w io.Writer, rs []probe.Result, sum probeSummary, timeout time.Duration) {
	for _, r := range rs {
		addr := r.Address
		if addr == "" {
			addr = r.Target
		}
		verdict := strings.ToUpper(r.Verdict)
		if r.State == probe.Error {
			verdict = "ERROR"
		}
		line := fmt.Sprintf("%-5s %s  %s", verdict, addr, r.State)
		if r.Address != "" && r.Target != r.Address && !strings.HasPrefix(r.Address, r.Target) {
			line += "  (" + r.Target + ")"
		}
		fmt.Fprintln(w, line)
		switch {
		case r.State == probe.Filtered:
			fmt.Fprintf(w, "      no answer within %s\n", timeout)
		case r.Detail != "" && r.State != probe.Refused:
			fmt.Fprintf(w, "      %s\n", r.Detail)
		}
		if s := r.SSH; s != nil {
			if s.Banner != "" {
				fmt.Fprintf(w, "      banner   %s\n", s.Banner)
			}
			if s.HostKey != "" {
				fmt.Fprintf(w, "      host key %s\n", s.HostKey)
			}
			if len(s.Methods) > 0 {
				fmt.Fprintf(w, "      methods  %s  (asked as %s from %s, no credential sent)\n", strings.Join(s.Methods, ", "), s.User, s.Source)
			}
			if s.TailscaleSSH {
				fmt.Fprintf(w, "      note     this is Tailscale SSH, not OpenSSH\n")
			}
		}
		for _, p := range r.Problems {
			fmt.Fprintf(w, "      problem  %s\n", p)
		}
	}
	fmt.Fprintf(w, "%d addresses: %d pass, %d warn, %d fail, %d could not be probed\n", sum.Total, sum.Pass, sum.Warn, sum.Fail, sum.Error)
}
