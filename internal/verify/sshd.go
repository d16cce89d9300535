package verify

import (
	"context"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/netcheck"
	"github.com/rampart-sec/rampart/internal/proctab"
)

// DefaultSSHDConfig is where sshd reads its configuration without -f.
const DefaultSSHDConfig = "/etc/ssh/sshd_config"

// Representative source addresses for the connection matrix: a tailnet
// peer (inside 100.64.0.0/10) and a host on the public internet
// (TEST-NET-3). A Match Address block for either range changes what
// `sshd -T -C` prints for it.
const (
	tailnetPeer = "100.101.102.103"
	publicPeer  = "203.0.113.7"
	nonAdmin    = "nobody"
)

// sshdInstance is one sshd server: a listener process from the process
// table, or the default config file when none runs.
type sshdInstance struct {
	PID    int      // 0 when not running
	Binary string   // program to run for -T
	Config string   // -f path
	Extra  []string // -o and -p options from its command line, passed on to -T
	Origin string   // where it was found, for evidence
	Socket bool     // systemd holds the listening socket and starts sshd per connection
}

func (s sshdInstance) label() string {
	if s.Socket {
		return s.Config + " (socket-activated)"
	}
	if s.PID == 0 {
		return s.Config + " (not running)"
	}
	return fmt.Sprintf("%s (pid %d)", s.Config, s.PID)
}

// sshdFromProcess recognises an sshd listener and returns its binary,
// config and overrides. Per-connection children ("sshd: root [priv]",
// re-executed "-R" children) are not listeners.
func sshdFromProcess(p proctab.Process) (sshdInstance, bool) {
	argv := p.Argv
	if len(argv) == 0 {
		return sshdInstance{}, false
	}
	if argv[0] == "sshd:" {
		// Retitled listener: "sshd: /usr/sbin/sshd -D -f CFG [listener] 0 of 10-100 startups".
		if !strings.Contains(p.Title, "[listener]") {
			return sshdInstance{}, false
		}
		argv = argv[1:]
		for i, a := range argv {
			if a == "[listener]" {
				argv = argv[:i]
				break
			}
		}
		if len(argv) == 0 {
			return sshdInstance{}, false
		}
	}
	if p.Name() != "sshd" && !strings.HasSuffix(argv[0], "/sshd") && argv[0] != "sshd" {
		return sshdInstance{}, false
	}
	inst, ok := parseSSHDArgs(argv, false, p.Spaced)
	if !ok {
		return sshdInstance{}, false
	}
	inst.PID, inst.Origin = p.PID, fmt.Sprintf("/proc/%d/cmdline: %s", p.PID, p.Title)
	return inst, true
}

// parseSSHDArgs reads sshd's command line: its binary, -f config and the
// -o/-p overrides. Children (-R), test runs (-T, -t, -G) and, unless
// inetd is set, per-connection servers (-i) are not listeners. When argv
// was split on spaces, a word that is not a flag continues the previous
// value: sshd takes no positional arguments, so "-f /srv/my dir/c" is
// one path.
func parseSSHDArgs(argv []string, inetd, spaced bool) (sshdInstance, bool) {
	inst := sshdInstance{Binary: argv[0], Config: DefaultSSHDConfig}
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		// sshd's flags: value-taking ones are c C E f g h k o p u.
		for j := 1; j < len(a); j++ {
			f := a[j]
			if !strings.ContainsRune("cCEfghkopu", rune(f)) {
				if f == 'R' || f == 'T' || f == 't' || f == 'G' || (f == 'i' && !inetd) {
					return sshdInstance{}, false
				}
				continue
			}
			val := a[j+1:]
			if val == "" && i+1 < len(argv) {
				i++
				val = argv[i]
			}
			for spaced && i+1 < len(argv) && !strings.HasPrefix(argv[i+1], "-") {
				i++
				val += " " + argv[i]
			}
			switch f {
			case 'f':
				inst.Config = val
			case 'o', 'p':
				inst.Extra = append(inst.Extra, "-"+string(f), val)
			}
			break
		}
	}
	return inst, true
}

// unitDirs are systemd's unit search path, first match wins.
var unitDirs = []string{"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}

// unitValues returns the values of key= in a unit file's text.
func unitValues(text, key string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+"="); ok {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// listening returns the TCP ports in LISTEN state from /proc/net/tcp and
// tcp6 (the kernel's view: a socket systemd holds counts too), with the
// table line for evidence.
func listening(ctx context.Context, env *check.Env) map[int]check.Evidence {
	out := map[int]check.Evidence{}
	tables := netcheck.TCPTables
	rs, err := env.ReadFiles(ctx, tables)
	if err != nil {
		return out
	}
	for i, f := range tables {
		if rs[i].Err != nil {
			continue
		}
		socks, err := netcheck.ParseProcNetTCP(rs[i].Data, f == "/proc/net/tcp6")
		if err != nil {
			continue
		}
		for _, s := range socks {
			port := int(s.Local.Port())
			if _, dup := out[port]; s.Listen && !dup {
				out[port] = ev(f, s.Line+fmt.Sprintf("\n(local %s, state 0A = LISTEN)", s.Local))
			}
		}
	}
	return out
}

// socketUnits are the enabled ssh socket units.
const socketUnits = "/etc/systemd/system/sockets.target.wants/ssh*.socket"

// socketActivated finds an sshd that systemd starts on demand (NixOS
// services.openssh.startWhenNeeded, Debian's ssh.socket): an enabled ssh
// socket unit whose port the kernel shows listening. The config comes
// from the ExecStart of the service the socket starts.
func socketActivated(ctx context.Context, env *check.Env) (sshdInstance, []check.Evidence, bool) {
	units, _ := env.Glob(ctx, socketUnits)
	for _, u := range units {
		b, err := env.Host.ReadFile(ctx, u)
		if err != nil {
			continue
		}
		text := string(b)
		listen := listening(ctx, env)
		var hit []check.Evidence
		for _, ls := range unitValues(text, "ListenStream") {
			port, err := strconv.Atoi(ls[strings.LastIndexByte(ls, ':')+1:])
			if e, ok := listen[port]; err == nil && ok {
				hit = append(hit, e)
			}
		}
		if len(hit) == 0 {
			continue
		}
		name := strings.TrimSuffix(path.Base(u), ".socket")
		svc := name + ".service"
		if accept := unitValues(text, "Accept"); len(accept) > 0 && (accept[len(accept)-1] == "yes" || accept[len(accept)-1] == "true") {
			svc = name + "@.service"
		}
		inst := sshdInstance{Binary: "sshd", Config: DefaultSSHDConfig, Socket: true}
		evs := append([]check.Evidence{ev(u, text)}, hit...)
		for _, d := range unitDirs {
			sb, err := env.Host.ReadFile(ctx, d+"/"+svc)
			if err != nil {
				continue
			}
			if execs := unitValues(string(sb), "ExecStart"); len(execs) > 0 {
				var argv []string
				for _, a := range strings.Fields(execs[len(execs)-1]) {
					if !strings.HasPrefix(a, "$") { // $SSHD_OPTS from an EnvironmentFile
						argv = append(argv, a)
					}
				}
				if len(argv) > 0 {
					argv[0] = strings.TrimLeft(argv[0], "-@+!:")
					if parsed, ok := parseSSHDArgs(argv, true, true); ok {
						parsed.Socket = true
						inst = parsed
					}
				}
				evs = append(evs, evf(d+"/"+svc, "ExecStart=%s", execs[len(execs)-1]))
			}
			break
		}
		inst.Origin = fmt.Sprintf("socket-activated by %s (%s)", path.Base(u), svc)
		return inst, evs, true
	}
	return sshdInstance{}, nil, false
}

// sshdCandidate is a process that passes for an sshd listener, and the
// instance its command line describes.
type sshdCandidate struct {
	proc proctab.Process
	inst sshdInstance
}

// sshdCandidates are the processes of ps that pass for the sshd
// listeners the options select, before their owners are known.
func sshdCandidates(ps []proctab.Process, o Options) []sshdCandidate {
	var out []sshdCandidate
	for _, p := range ps {
		if inst, ok := sshdFromProcess(p); ok && wanted(inst, o) {
			out = append(out, sshdCandidate{p, inst})
		}
	}
	return out
}

// sshdInstances finds the running sshd listeners (deduplicated by config
// and overrides), filtered by Options; with none running it returns the
// default config as a not-running instance when that file exists.
func sshdInstances(ctx context.Context, env *check.Env) ([]sshdInstance, []check.Evidence, error) {
	type found struct {
		insts []sshdInstance
		evs   []check.Evidence
	}
	v, err := env.Memo("verify.sshd.instances", func() (any, error) {
		ps, err := proctab.List(ctx, env)
		if err != nil {
			return nil, err
		}
		o := optionsOf(env)
		var out found
		seen := map[string]bool{}
		// Its binary runs under sudo (sshd -T): only root's processes.
		cands := sshdCandidates(ps, o)
		pids := make([]int, len(cands))
		for i, c := range cands {
			pids[i] = c.proc.PID
		}
		root, err := proctab.RootOwned(ctx, env, pids)
		if err != nil {
			return nil, err
		}
		for _, c := range cands {
			p, inst := c.proc, c.inst
			if !root[p.PID] {
				continue
			}
			key := inst.Binary + "\x00" + inst.Config + "\x00" + strings.Join(inst.Extra, "\x00")
			if seen[key] {
				continue
			}
			seen[key] = true
			out.insts = append(out.insts, inst)
			out.evs = append(out.evs, ev(fmt.Sprintf("/proc/%d/cmdline", inst.PID), p.Title))
		}
		if len(out.insts) == 0 && len(o.SSHDConfigs) > 0 && len(o.SSHDPIDs) == 0 {
			// --sshd-config FILE with no sshd running from it: the file
			// itself, as the next start would read it.
			for _, c := range o.SSHDConfigs {
				if _, err := env.Host.ReadFile(ctx, c); err == nil {
					out.insts = append(out.insts, sshdInstance{Binary: "sshd", Config: c, Origin: "no sshd running from " + c + "; evaluating the file"})
				}
			}
		}
		if len(out.insts) == 0 && len(o.SSHDConfigs) == 0 && len(o.SSHDPIDs) == 0 {
			if inst, evs, ok := socketActivated(ctx, env); ok {
				out.insts = append(out.insts, inst)
				out.evs = append(out.evs, evs...)
			} else if _, err := env.Host.ReadFile(ctx, DefaultSSHDConfig); err == nil {
				out.insts = append(out.insts, sshdInstance{Binary: "sshd", Config: DefaultSSHDConfig, Origin: "no sshd running; evaluating " + DefaultSSHDConfig})
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, nil, err
	}
	f := v.(found)
	return f.insts, f.evs, nil
}

func wanted(inst sshdInstance, o Options) bool {
	if len(o.SSHDPIDs) > 0 && !slices.Contains(o.SSHDPIDs, inst.PID) {
		return false
	}
	return len(o.SSHDConfigs) == 0 || slices.Contains(o.SSHDConfigs, inst.Config)
}

// sshdConfig is one `sshd -T` answer: lower-case keywords to their values
// (repeatable keywords such as listenaddress keep every value).
type sshdConfig map[string][]string

func (c sshdConfig) get(key string) (string, bool) {
	v, ok := c[key]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// parseSSHDT parses `sshd -T` output. Every line is "keyword value…";
// anything else is an error naming the line, since the output is the
// daemon's, not free text.
func parseSSHDT(out []byte) (sshdConfig, error) {
	cfg := sshdConfig{}
	for i, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, _ := strings.Cut(line, " ")
		if k == "" || strings.ToLower(k) != k {
			return nil, fmt.Errorf("sshd -T output line %d: expected \"keyword value\", got %q", i+1, host.Truncate(line, 80))
		}
		cfg[k] = append(cfg[k], strings.TrimSpace(v))
	}
	if len(cfg) == 0 {
		return nil, fmt.Errorf("sshd -T printed no settings")
	}
	return cfg, nil
}

// connSpec is one -C connection specification.
type connSpec struct {
	User, Addr, LAddr string
	LPort             int
}

func (c connSpec) String() string {
	s := fmt.Sprintf("user=%s,host=%s,addr=%s", c.User, c.Addr, c.Addr)
	if c.LAddr != "" {
		s += ",laddr=" + c.LAddr
	}
	if c.LPort != 0 {
		s += ",lport=" + strconv.Itoa(c.LPort)
	}
	return s
}

// sshdEval is the effective configuration of one instance for one spec.
type sshdEval struct {
	Inst sshdInstance
	Spec connSpec
	Cmd  string
	Cfg  sshdConfig
}

// sshdMatrix is every instance evaluated over the connection matrix.
type sshdMatrix struct {
	Instances []sshdInstance
	Found     []check.Evidence // the process-table entries
	Addrs     []string         // the client addresses of the matrix (matrixAddrs, then those Match lines name)
	Evals     []sshdEval
	Errors    []check.Evidence // instances whose -T failed
	Err       error            // the first such failure
}

func (m *sshdMatrix) running() int {
	n := 0
	for _, i := range m.Instances {
		if i.PID != 0 || i.Socket {
			n++
		}
	}
	return n
}

func sshdCmd(inst sshdInstance, spec *connSpec) host.Cmd {
	args := []string{"-T", "-f", inst.Config}
	args = append(args, inst.Extra...)
	if spec != nil {
		args = append(args, "-C", spec.String())
	}
	return host.Cmd{Name: inst.Binary, Args: args, Sudo: true}
}

func runSSHDT(ctx context.Context, h host.Host, c host.Cmd) (sshdConfig, error) {
	out, err := host.RunOK(ctx, h, c)
	if err != nil {
		return nil, err
	}
	return parseSSHDT(out)
}

// matrixUsers is root, the policy's admins, and one user who is neither.
func matrixUsers(env *check.Env) []string {
	users := []string{"root"}
	if env.Policy != nil {
		for _, u := range env.Policy.Admin.Users {
			if u.Name != "" && u.Name != "root" {
				users = append(users, u.Name)
			}
		}
	}
	return append(users, nonAdmin)
}

// matrixAddrs is a tailnet peer (from the policy's tailnet ranges when
// set) and a public address.
func matrixAddrs(env *check.Env) []string {
	peer := tailnetPeer
	if env.Policy != nil {
		for _, a := range env.Policy.Tailnet.Addresses {
			pfx, err := netip.ParsePrefix(a)
			if err != nil || !pfx.Addr().Is4() {
				continue
			}
			if !pfx.Contains(netip.MustParseAddr(tailnetPeer)) {
				peer = pfx.Masked().Addr().Next().String()
			}
			break
		}
	}
	addrs := []string{peer, publicPeer}
	// Networks the policy trusts (ban.ignore, e.g. the admin LAN) are
	// where Match Address blocks usually point: one address from each of
	// the first two non-loopback IPv4 ones.
	if env.Policy != nil {
		extra := 0
		for _, s := range env.Policy.Ban.Ignore {
			pfx, ok := toPrefix(s)
			if !ok || !pfx.Addr().Is4() || pfx.Addr().IsLoopback() || pfx.Bits() == 0 || extra == 2 {
				continue
			}
			a := pfx.Addr()
			if pfx.Bits() < 32 {
				a = a.Next()
			}
			addrs = append(addrs, a.String())
			extra++
		}
	}
	return addrs
}

// listens turns listenaddress values ("0.0.0.0:22", "[::]:2222",
// "127.0.0.1:22022") into (laddr, lport) pairs; a wildcard address gives
// no laddr.
func listens(cfg sshdConfig) []connSpec {
	var out []connSpec
	seen := map[connSpec]bool{}
	for _, la := range cfg["listenaddress"] {
		f := strings.Fields(la) // "127.0.0.1:22" or "0.0.0.0:22 rdomain X"
		if len(f) == 0 {
			continue
		}
		ap, err := netip.ParseAddrPort(f[0])
		if err != nil {
			continue
		}
		s := connSpec{LPort: int(ap.Port())}
		if !ap.Addr().IsUnspecified() {
			s.LAddr = ap.Addr().String()
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		for _, p := range cfg["port"] {
			if n, err := strconv.Atoi(p); err == nil {
				out = append(out, connSpec{LPort: n})
			}
		}
	}
	if len(out) == 0 {
		out = append(out, connSpec{})
	}
	return out
}

// sshdEffective runs the matrix once per verify run.
//
// Each -C run is a program start of its own (20 ms on a small machine, and
// a fleet run is bound by them), so the matrix runs only what can differ.
// A dimension no Match line looks at gives the same answer for each of its
// values: its first value stands for the rest. With no Match line at all,
// the plain sshd -T answers for every connection. When Match lines name
// neither the local address nor the local port, the listening addresses
// cannot change an answer either, and the plain run is not needed: the -C
// runs print the same listenaddress lines (ListenAddress is not allowed in
// a Match block), so the first of them lists them.
func sshdEffective(ctx context.Context, env *check.Env) (*sshdMatrix, error) {
	v, err := env.Memo("verify.sshd.matrix", func() (any, error) {
		insts, found, err := sshdInstances(ctx, env)
		if err != nil {
			return nil, err
		}
		users, addrs := matrixUsers(env), matrixAddrs(env)
		m := &sshdMatrix{Instances: insts, Found: found, Addrs: addrs}
		type job struct {
			inst sshdInstance
			spec connSpec
			// rep is the spec whose sshd -T answers for spec; run is set
			// on the one job that runs it.
			rep connSpec
			run bool
		}
		var jobs []job
		// add queues the matrix of one instance over the listen
		// addresses ls.
		add := func(inst sshdInstance, ls []connSpec, addrs []string, byUser, byAddr, byLocal bool) {
			for li, l := range ls {
				for ui, u := range users {
					for ai, a := range addrs {
						spec := connSpec{User: u, Addr: a, LAddr: l.LAddr, LPort: l.LPort}
						rep := spec
						if !byUser {
							rep.User = users[0]
						}
						if !byAddr {
							rep.Addr = addrs[0]
						}
						if !byLocal {
							rep.LAddr, rep.LPort = ls[0].LAddr, ls[0].LPort
						}
						run := (byUser || ui == 0) && (byAddr || ai == 0) && (byLocal || li == 0)
						jobs = append(jobs, job{inst: inst, spec: spec, rep: rep, run: run})
					}
				}
			}
		}
		noLocal := map[string]bool{} // instances whose listen addresses come from the -C runs
		for _, inst := range insts {
			ml, known := matchCriteria(ctx, env, inst)
			crit := ml.crit
			// Addresses its Match Address lines name that no matrix
			// address stands for join its matrix.
			iaddrs := addrs
			if known && crit["address"] {
				extra := matchAddrs(addrs, ml)
				iaddrs = append(slices.Clone(addrs), extra...)
				for _, a := range extra {
					if !slices.Contains(m.Addrs, a) {
						m.Addrs = append(m.Addrs, a)
					}
				}
			}
			byUser := !known || crit["user"] || crit["group"]
			byAddr := !known || crit["address"] || crit["host"]
			byLocal := !known || crit["localaddress"] || crit["localport"]
			if known && len(crit) > 0 && !byLocal {
				noLocal[inst.label()] = true
				add(inst, []connSpec{{}}, iaddrs, byUser, byAddr, false) // no listen address yet: the runs print them
				continue
			}
			base, err := runSSHDT(ctx, env.Host, sshdCmd(inst, nil))
			if err != nil {
				m.Errors = append(m.Errors, ev(sshdCmd(inst, nil).String(), err.Error()))
				if m.Err == nil {
					m.Err = fmt.Errorf("sshd %s: %w", inst.label(), err)
				}
				continue
			}
			if known && len(crit) == 0 {
				for _, l := range listens(base) {
					for _, u := range users {
						for _, a := range addrs {
							m.Evals = append(m.Evals, sshdEval{Inst: inst, Spec: connSpec{User: u, Addr: a, LAddr: l.LAddr, LPort: l.LPort}, Cfg: base,
								Cmd: sshdCmd(inst, nil).String() + " (no Match block in " + inst.Config + " or the files it includes: the same for every connection)"})
						}
					}
				}
				continue
			}
			add(inst, listens(base), iaddrs, byUser, byAddr, byLocal)
		}
		evals := make([]sshdEval, len(jobs))
		errs := make([]error, len(jobs))
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for i, j := range jobs {
			if !j.run {
				continue
			}
			wg.Add(1)
			go func(i int, j job) {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				c := sshdCmd(j.inst, &j.spec)
				cfg, err := runSSHDT(ctx, env.Host, c)
				evals[i] = sshdEval{Inst: j.inst, Spec: j.spec, Cmd: c.String(), Cfg: cfg}
				errs[i] = err
			}(i, j)
		}
		wg.Wait()
		type ran struct {
			inst string
			spec connSpec
		}
		runs := map[ran]int{}
		for i, j := range jobs {
			if j.run {
				runs[ran{j.inst.label(), j.spec}] = i
			}
		}
		for i, j := range jobs {
			k, ok := runs[ran{j.inst.label(), j.rep}]
			if !ok {
				continue
			}
			ls := []connSpec{{LAddr: j.spec.LAddr, LPort: j.spec.LPort}}
			if noLocal[j.inst.label()] && errs[k] == nil {
				ls = listens(evals[k].Cfg) // the listen addresses, from what the run printed
			}
			for _, l := range ls {
				spec := j.spec
				spec.LAddr, spec.LPort = l.LAddr, l.LPort
				e := sshdEval{Inst: j.inst, Spec: spec, Cfg: evals[k].Cfg, Cmd: evals[k].Cmd}
				if what := sameFor(spec, evals[k].Spec); what != "" {
					e.Cmd += " (no Match line in " + j.inst.Config + " or the files it includes names " + what + ": the same for " + spec.String() + ")"
				}
				switch {
				case errs[k] == nil:
					m.Evals = append(m.Evals, e)
				case i == k: // a failed run is told once
					m.Errors = append(m.Errors, ev(e.Cmd, errs[k].Error()))
					if m.Err == nil {
						m.Err = errs[k]
					}
				}
			}
		}
		return m, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*sshdMatrix), nil
}

// matchCriteria lists the criteria (lower case: user, group, host,
// address, localaddress, localport, rdomain, all) of every Match line in
// the instance's config and the files it includes. known is false when
// anything was not read (a denied file, an Include pattern that cannot be
// listed or is quoted, options on the command line, deeper nesting than
// sshd allows): then every criterion may matter. With no Match line at all
// sshd -T -C prints what the plain sshd -T printed for every connection,
// and a criterion no line names cannot make two connections differ, so
// the matrix of -C runs (20 ms of process start each) shrinks to what can.
func matchCriteria(ctx context.Context, env *check.Env, inst sshdInstance) (ml matchLines, known bool) {
	if len(inst.Extra) > 0 {
		return ml, false
	}
	crit := map[string]bool{}
	ml.crit = crit
	seen := map[string]bool{}
	var walk func(p string, depth int) bool
	walk = func(p string, depth int) bool {
		if depth > 16 {
			return false
		}
		if seen[p] {
			return true
		}
		seen[p] = true
		// Through the run's file cache: prefetch read the config.
		b, err := env.ReadFile(ctx, p)
		if err != nil {
			return false
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == '=' || r == '\r' })
			if len(f) == 0 || strings.HasPrefix(f[0], "#") {
				continue
			}
			switch strings.ToLower(f[0]) {
			case "match":
				// Criteria and patterns alternate (Match User a,b Address
				// c); quoting or a criterion sshd does not know leaves
				// the line unknown.
				for i := 1; i < len(f); i += 2 {
					c := strings.ToLower(f[i])
					if strings.HasPrefix(c, "#") {
						break
					}
					switch c {
					case "all":
						i-- // takes no pattern
					case "user", "group", "host", "address", "localaddress", "localport", "rdomain":
					default:
						return false // quoted, or not a criterion sshd knows
					}
					crit[c] = true
					if c == "address" || c == "host" {
						if i+1 >= len(f) || strings.ContainsAny(f[i+1], "\"'\\#") {
							return false
						}
						if c == "address" {
							ml.address = append(ml.address, f[i+1])
						} else {
							ml.host = append(ml.host, f[i+1])
						}
					}
				}
			case "include":
				for _, pat := range f[1:] {
					if strings.HasPrefix(pat, "#") {
						break
					}
					if strings.ContainsAny(pat, "\"'\\") {
						return false
					}
					if !strings.HasPrefix(pat, "/") {
						pat = "/etc/ssh/" + pat
					}
					files, err := env.Glob(ctx, pat)
					if err != nil {
						return false
					}
					for _, inc := range files {
						if !walk(inc, depth+1) {
							return false
						}
					}
				}
			}
		}
		return true
	}
	if !walk(inst.Config, 0) {
		return matchLines{}, false
	}
	return ml, true
}

// sameFor names what a connection spec shares with the one run for it
// ("" when it is that spec).
func sameFor(spec, rep connSpec) string {
	var parts []string
	if spec.User != rep.User {
		parts = append(parts, "User or Group")
	}
	if spec.Addr != rep.Addr {
		parts = append(parts, "Address or Host")
	}
	if spec.LAddr != rep.LAddr || spec.LPort != rep.LPort {
		parts = append(parts, "LocalAddress or LocalPort")
	}
	return strings.Join(parts, " nor ")
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
