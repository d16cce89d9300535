package netcheck

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/nftrules"
)

// `ss -p` finds the process of each socket by reading the file
// descriptors of every process on the machine, and on a remote host it
// is one more program start: in a fleet run it cost more CPU than any
// other command rampart starts. The checks need only which listening
// sockets belong to sshd, and the run already knows the sshd listeners
// (verify finds them in the process table before the checks run,
// check.Env.SSHDListeners). So when the TCP tables are small, the listening
// sockets come from /proc/net/tcp and tcp6 and their owner from the
// "ino:" line the kernel writes in each of sshd's /proc/PID/fdinfo files
// (Linux 5.14 and later), read in one round trip: by a remote shell's
// builtins when the tables are tiny, else the tables by sed beside them.
// Otherwise ss answers as before: a busy server's
// tables (thousands of connections) are cheaper to filter in the kernel,
// and an unprivileged run cannot read sshd's descriptors.

// notSSHD is listener.Process for a socket none of the run's sshd
// listeners holds.
const notSSHD = "(not sshd)"

// maxTableSockets bounds the sockets (TCP and TCP6 in use, TIME-WAIT) for
// which the tables are read instead of asking ss: about 150 bytes a line.
const maxTableSockets = 1024

var (
	sockstatPaths = []string{"/proc/net/sockstat", "/proc/net/sockstat6"}
	// TCPTables are the kernel's TCP socket tables, IPv4 then IPv6.
	TCPTables = []string{"/proc/net/tcp", "/proc/net/tcp6"}
)

// KernelFiles are the small files the kernel writes that the network
// checks read besides the socket counts (the interface table, the legacy
// iptables table lists), so verify asks for them before the checks run
// and the checks find them in the run's file cache.
func KernelFiles() []string {
	return append([]string{netDevPath}, nftrules.LegacyNames...)
}

// SockstatFiles are the socket counts that decide whether the TCP tables
// are read, and how (listenTables): verify asks for them before the
// checks run, alone, for a remote shell reads them with its builtins (no
// program started).
func SockstatFiles() []string { return append([]string(nil), sockstatPaths...) }

// tinyTableSockets bounds the sockets for which the tables are read with
// the descriptors, by a remote shell's builtins (a byte per system call:
// some 150 bytes a socket), rather than by a program of their own.
const tinyTableSockets = 16

// listenTables returns the TCP tables the listening sockets will be read
// from, and the sockets they hold; nil when they are too big (or cannot
// be sized) and ss will be asked instead.
func listenTables(ctx context.Context, env *check.Env) ([]string, int) {
	type tables struct {
		paths   []string
		sockets int
	}
	v, _ := env.Memo("netcheck.listen-tables", func() (any, error) {
		// Two small kernel files: a remote shell reads them with its
		// builtins, no program started (verify's prefetch asks for
		// them ahead of the checks).
		st, err := env.ReadFile(ctx, sockstatPaths[0])
		if err != nil {
			return tables{}, nil
		}
		n, ok := sockstatCount(st, "TCP:", "inuse", "tw")
		if st6, err := env.ReadFile(ctx, sockstatPaths[1]); err == nil {
			n6, ok6 := sockstatCount(st6, "TCP6:", "inuse")
			n, ok = n+n6, ok && ok6
		}
		if !ok || n > maxTableSockets {
			return tables{}, nil
		}
		return tables{TCPTables, n}, nil
	})
	t, _ := v.(tables)
	return t.paths, t.sockets
}

// sockstatCount sums the named counters of the line that starts with
// label ("TCP: inuse 5 orphan 0 tw 2 alloc 7 mem 1").
func sockstatCount(b []byte, label string, keys ...string) (int, bool) {
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != label {
			continue
		}
		sum, found := 0, 0
		for i := 1; i+1 < len(f); i += 2 {
			for _, k := range keys {
				if f[i] == k {
					n, err := strconv.Atoi(f[i+1])
					if err != nil || n < 0 {
						return 0, false
					}
					sum += n
					found++
				}
			}
		}
		return sum, found == len(keys)
	}
	return 0, false
}

// procListeners is readListeners from the kernel's tables; ok is false
// when they cannot answer and ss must.
func procListeners(ctx context.Context, env *check.Env) (ls []listener, src string, raw []byte, ok bool) {
	pids, known := env.SSHDListeners()
	if !known || len(pids) == 0 || !env.Host.IsRoot(ctx) {
		return nil, "", nil, false
	}
	tables, sockets := listenTables(ctx, env)
	if tables == nil {
		return nil, "", nil, false
	}
	// The inode of every descriptor of the run's sshd listeners, listed
	// and read together, and the tables: in one request when they are
	// tiny, else in two at once (one round trip on a remote host).
	pats := make([]string, len(pids))
	for i, pid := range pids {
		pats[i] = fmt.Sprintf("/proc/%d/fdinfo/[0-9]*", pid)
	}
	// Tiny tables join the descriptors' request, which leaves them in
	// the run's cache; others go beside it, at the same time.
	tiny := sockets <= tinyTableSockets
	var rs []host.FileResult
	var terr error
	var wg sync.WaitGroup
	globs := pats
	if tiny {
		globs = append(pats, tables...)
	} else {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs, terr = env.ReadFiles(ctx, tables)
		}()
	}
	fdss, err := env.ReadGlobs(ctx, globs)
	wg.Wait()
	if tiny && err == nil {
		rs, terr = env.ReadFiles(ctx, tables)
	}
	err = errors.Join(err, terr)
	if err != nil || rs[0].Err != nil || (rs[1].Err != nil && !errors.Is(rs[1].Err, fs.ErrNotExist)) {
		return nil, "", nil, false
	}
	var socks []TCPSocket
	for i, r := range rs {
		if r.Err != nil {
			continue // no IPv6
		}
		s, err := ParseProcNetTCP(r.Data, tables[i] == "/proc/net/tcp6")
		if err != nil {
			return nil, "", nil, false
		}
		socks = append(socks, s...)
	}
	owner := map[uint64]string{}
	for k, pid := range pids {
		if len(fdss[k]) == 0 {
			return nil, "", nil, false // the sshd is gone
		}
		seen := 0
		for _, fd := range fdss[k] {
			if errors.Is(fd.Err, fs.ErrNotExist) {
				continue // closed since it was listed
			}
			if fd.Err != nil {
				return nil, "", nil, false
			}
			if ino, ok := fdinfoIno(fd.Data); ok {
				seen++
				owner[ino] = fmt.Sprintf("sshd pid %d fd %s", pid, fd.Path[strings.LastIndexByte(fd.Path, '/')+1:])
			}
		}
		if seen == 0 {
			return nil, "", nil, false // a kernel without ino: in fdinfo
		}
	}
	var lines []string
	for _, s := range socks {
		if !s.Listen {
			continue
		}
		l := listener{Port: int(s.Local.Port()), Any: s.Local.Addr().IsUnspecified(), Process: notSSHD}
		if !l.Any {
			l.Addr = s.Local.Addr()
		}
		held := "held by none of the run's sshd listeners"
		if o, ok := owner[s.Inode]; ok {
			l.Process, held = "sshd", o
		}
		l.Line = fmt.Sprintf("LISTEN %s inode %d (%s)", s.Local, s.Inode, held)
		ls = append(ls, l)
		lines = append(lines, l.Line)
	}
	src = strings.Join(tables, ", ") + fmt.Sprintf(" and /proc/PID/fdinfo of sshd %v", pids)
	return ls, src, []byte(strings.Join(lines, "\n")), true
}

// fdinfoIno reads the "ino:" line of a /proc/PID/fdinfo file.
func fdinfoIno(b []byte) (uint64, bool) {
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "ino:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// TCPSocket is one line of /proc/net/tcp or tcp6.
type TCPSocket struct {
	Local  netip.AddrPort
	Listen bool // state 0A
	Inode  uint64
	Line   string
}

// ParseProcNetTCP reads /proc/net/tcp (v6 false) or /proc/net/tcp6: a
// header line, then "sl local rem st tx:rx tr:when retrnsmt uid timeout
// inode …", the local address in hexadecimal, each 32-bit word in host
// (little-endian) order. Lines that do not parse are an error naming the
// line: the table is the kernel's, so one is not expected.
func ParseProcNetTCP(b []byte, v6 bool) ([]TCPSocket, error) {
	var out []TCPSocket
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for n, line := range lines {
		f := strings.Fields(line)
		if n == 0 && len(f) > 0 && f[0] == "sl" {
			continue
		}
		if len(f) == 0 {
			continue
		}
		bad := func(what string) error {
			return fmt.Errorf("line %d: %s in %q", n+1, what, host.SafeText(host.Truncate(line, 120)))
		}
		if len(f) < 10 {
			return nil, bad("fewer than 10 fields")
		}
		hexAddr, hexPort, found := strings.Cut(f[1], ":")
		port, err := strconv.ParseUint(hexPort, 16, 16)
		if !found || err != nil {
			return nil, bad("no local port")
		}
		addr, err := kernelAddr(hexAddr, v6)
		if err != nil {
			return nil, bad(err.Error())
		}
		ino, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			return nil, bad("inode is not a number")
		}
		out = append(out, TCPSocket{Local: netip.AddrPortFrom(addr, uint16(port)), Listen: f[3] == "0A", Inode: ino, Line: strings.TrimSpace(line)})
	}
	return out, nil
}

// kernelAddr decodes an address of /proc/net/tcp{,6}: 8 or 32 hex digits,
// each group of 8 a 32-bit word in little-endian byte order.
func kernelAddr(h string, v6 bool) (netip.Addr, error) {
	want := 8
	if v6 {
		want = 32
	}
	if len(h) != want {
		return netip.Addr{}, fmt.Errorf("local address of %d hex digits, want %d", len(h), want)
	}
	var b [16]byte
	for w := 0; w < want/8; w++ {
		v, err := strconv.ParseUint(h[w*8:w*8+8], 16, 32)
		if err != nil {
			return netip.Addr{}, errors.New("local address is not hexadecimal")
		}
		b[w*4], b[w*4+1], b[w*4+2], b[w*4+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	if !v6 {
		return netip.AddrFrom4([4]byte(b[:4])), nil
	}
	return netip.AddrFrom16(b).Unmap(), nil
}
