package netcheck

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/nftrules"
	"github.com/rampart-sec/rampart/internal/proctab"
	"github.com/rampart-sec/rampart/internal/tailscale"
)

// readRuleset is shared by the firewall checks through env.Memo.
func readRuleset(ctx context.Context, env *check.Env) (*nftrules.Live, error) {
	v, err := env.Memo("netcheck.nft", func() (any, error) { return nftrules.ReadUsing(ctx, env.Host, env.ReadFile) })
	if err != nil {
		return nil, err
	}
	return v.(*nftrules.Live), nil
}

// netDevPath lists the interfaces of the network namespace that reads it
// (the kernel's own table, whatever mounted /sys): one line per interface,
// its name before the first ':' (a name never holds one). Reading it starts
// no program, where `ip -j addr` would be one more on every host of a
// fleet run; the exposure check needs only the names.
const netDevPath = "/proc/net/dev"

type links struct {
	names []string
	raw   []byte
}

func readLinks(ctx context.Context, env *check.Env) (*links, error) {
	v, err := env.Memo("netcheck.links", func() (any, error) {
		b, err := env.ReadFile(ctx, netDevPath)
		if err != nil {
			return nil, err
		}
		names, err := parseNetDev(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", netDevPath, err)
		}
		return &links{names: names, raw: b}, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*links), nil
}

// parseNetDev reads the interface names of /proc/net/dev: two header lines,
// then "NAME: counters…" per interface.
func parseNetDev(b []byte) ([]string, error) {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], "Receive") || !strings.Contains(lines[1], "face") {
		return nil, errors.New("not the kernel's interface table (no Inter-|Receive header)")
	}
	var names []string
	for i, line := range lines[2:] {
		name, rest, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || len(name) > 15 || strings.ContainsAny(name, " \t/") || len(strings.Fields(rest)) != 16 {
			return nil, fmt.Errorf("line %d: want \"NAME: 16 counters\", got %q", i+3, host.SafeText(host.Truncate(line, 80)))
		}
		names = append(names, name)
	}
	return names, nil
}

type status struct {
	st  *tailscale.Status
	raw []byte
}

func readStatus(ctx context.Context, env *check.Env) (*status, error) {
	v, err := env.Memo("netcheck.tailscale-status", func() (any, error) {
		st, raw, err := tailscale.ReadStatus(ctx, env.Host)
		if err != nil {
			return nil, err
		}
		return &status{st: st, raw: raw}, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*status), nil
}

type iface struct {
	ifc *tailscale.Interface
	src string
	raw []byte
}

// ReadInterface reads interface name (`ip -j addr show dev NAME`) once per
// env: the tailnet checks and lockdown's pre-flight share it. It returns
// the interface, the command read and its output, as
// tailscale.ReadInterface does.
func ReadInterface(ctx context.Context, env *check.Env, name string) (*tailscale.Interface, string, []byte, error) {
	v, err := env.Memo("netcheck.iface."+name, func() (any, error) {
		ifc, src, raw, err := tailscale.ReadInterface(ctx, env.Host, name)
		return iface{ifc, src, raw}, err
	})
	r, _ := v.(iface)
	return r.ifc, r.src, r.raw, err
}

// ssCmd lists listening TCP sockets with their processes (root sees
// every process name).
var ssCmd = host.Cmd{Name: "ss", Args: []string{"-Htlnp"}, Sudo: true}

// readListeners reads the listening TCP sockets once per env, with the
// source named for evidence: from the kernel's tables when that is cheap
// and sshd's sockets can be told (procListeners), else from ss.
func readListeners(ctx context.Context, env *check.Env) ([]listener, string, []byte, error) {
	type result struct {
		ls  []listener
		src string
		raw []byte
	}
	v, err := env.Memo("netcheck.listeners", func() (any, error) {
		if ls, src, raw, ok := procListeners(ctx, env); ok {
			return &result{ls, src, raw}, nil
		}
		out, err := host.RunOK(ctx, env.Host, ssCmd)
		if err != nil {
			return nil, err
		}
		ls, err := parseSS(out)
		if err != nil {
			return nil, err
		}
		if err := rootSSHD(ctx, env, ls); err != nil {
			return nil, err
		}
		return &result{ls, ssCmd.String(), out}, nil
	})
	if err != nil {
		return nil, "", nil, err
	}
	r := v.(*result)
	return r.ls, r.src, r.raw, nil
}

// listener is one listening TCP socket.
type listener struct {
	Addr netip.Addr // unspecified for a wildcard
	Any  bool       // 0.0.0.0, [::] or *
	Port int
	// Process is the owner's name ("sshd"), notSSHD when the kernel's
	// tables show the socket is held by none of the run's sshd
	// listeners, or "" when ss could not tell.
	Process string
	Line    string
	// sshdPIDs are the processes ss names sshd that hold the socket.
	sshdPIDs []int
}

// ssEntry is one ("NAME",pid=N,fd=N) of the process list ss -p ends a
// line with; the name and the pid are submatches.
const ssEntry = `\("([^"]+)",pid=([0-9]+),fd=[0-9]+\)`

var (
	// SSUsersRE is the whole list, users:(ENTRY,…); the first entry's
	// name and pid are the submatches. Names are not empty: a line cut
	// short by a name holding a newline cannot pass for a whole one (a
	// name is at most 15 bytes, and the smallest entry that closes the
	// list, `x",pid=1,fd=1))`, already takes 15).
	SSUsersRE = regexp.MustCompile(`^users:\(` + ssEntry + `(?:,` + ssEntry + `)*\)$`)
	// ssEntryRE finds each entry of a list SSUsersRE matched.
	ssEntryRE = regexp.MustCompile(ssEntry)
)

// SSPIDs are the process IDs of a process list SSUsersRE matched.
func SSPIDs(users string) []int { return ssPIDs(users, "") }

// ssPIDs are the process IDs of the entries of users named name (any
// name when "").
func ssPIDs(users, name string) []int {
	var pids []int
	for _, e := range ssEntryRE.FindAllStringSubmatch(users, -1) {
		if pid, err := strconv.Atoi(e[2]); err == nil && (name == "" || e[1] == name) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// parseSS reads `ss -Htlnp`: State Recv-Q Send-Q Local:Port Peer:Port [users:(("name",pid=N,fd=N))].
func parseSS(data []byte) ([]listener, error) {
	var out []listener
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 5 {
			return nil, fmt.Errorf("ss -Htlnp: line %d: %d fields, expected State Recv-Q Send-Q Local Peer [Process]", n, len(f))
		}
		local := f[3]
		i := strings.LastIndex(local, ":")
		if i < 0 {
			return nil, fmt.Errorf("ss -Htlnp: line %d: local address %q has no port", n, local)
		}
		port, err := strconv.Atoi(local[i+1:])
		if err != nil || port < 0 || port > 65535 {
			return nil, fmt.Errorf("ss -Htlnp: line %d: port %q is not a number from 0 to 65535", n, local[i+1:])
		}
		l := listener{Port: port, Line: line}
		a := strings.Trim(local[:i], "[]")
		if pct := strings.IndexByte(a, '%'); pct >= 0 {
			a = a[:pct] // 0.0.0.0%eth0 binds to a device
		}
		switch a {
		case "*", "0.0.0.0", "::":
			l.Any = true
		default:
			addr, err := netip.ParseAddr(a)
			if err != nil {
				return nil, fmt.Errorf("ss -Htlnp: line %d: local address %q: expected an IP address", n, local)
			}
			l.Addr = addr
		}
		if f[0] != "LISTEN" {
			return nil, fmt.Errorf("ss -Htlnp: line %d: state %q, expected LISTEN", n, host.SafeText(f[0]))
		}
		if j := strings.Index(line, "users:("); j >= 0 {
			// ss prints process names raw: one holding a newline would
			// end the line early and start a line of its own.
			m := SSUsersRE.FindStringSubmatch(line[j:])
			if m == nil {
				return nil, fmt.Errorf("ss -Htlnp: line %d: malformed process list %q", n, host.SafeText(line[j:]))
			}
			l.Process = m[1]
			l.sshdPIDs = ssPIDs(line[j:], "sshd")
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

// rootSSHD keeps "sshd" for the sockets ss shows held by a process of
// that name only when one of those processes is root's
// (proctab.RootOwned): any user may name a program sshd and listen on a
// port above 1023. The others are notSSHD.
func rootSSHD(ctx context.Context, env *check.Env, ls []listener) error {
	var pids []int
	for _, l := range ls {
		pids = append(pids, l.sshdPIDs...)
	}
	if len(pids) == 0 {
		return nil
	}
	root, err := proctab.RootOwned(ctx, env, pids)
	if err != nil {
		return err
	}
	for i, l := range ls {
		if l.Process == "sshd" && !slices.ContainsFunc(l.sshdPIDs, func(pid int) bool { return root[pid] }) {
			ls[i].Process = notSSHD
		}
	}
	return nil
}
