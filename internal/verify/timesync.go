package verify

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/proctab"
)

// tracking is `chronyc -c tracking` parsed.
type tracking struct {
	RefID   string  // hex, e.g. 7F000001; 7F7F0101 is the local clock
	RefName string  // address or name of the reference
	Stratum int     // 0 = none, 16 = unsynchronised
	Offset  float64 // system time offset from NTP time, seconds
	Leap    string  // Normal, Insert second, Delete second, Not synchronised
}

// parseTracking parses chronyc's CSV tracking line (14 fields in chrony
// 3.x and 4.x).
func parseTracking(out []byte) (tracking, error) {
	line := strings.TrimSpace(string(out))
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	f := strings.Split(line, ",")
	if len(f) < 14 {
		return tracking{}, fmt.Errorf("chronyc -c tracking: expected 14 comma-separated fields, got %d in %q", len(f), host.Truncate(line, 80))
	}
	st, err := strconv.Atoi(f[2])
	if err != nil {
		return tracking{}, fmt.Errorf("chronyc -c tracking: field 3 (stratum): %q is not a number", host.Truncate(f[2], 20))
	}
	off, err := strconv.ParseFloat(f[4], 64)
	if err != nil || math.IsNaN(off) || math.IsInf(off, 0) {
		return tracking{}, fmt.Errorf("chronyc -c tracking: field 5 (system time offset): %q is not a number", host.Truncate(f[4], 20))
	}
	return tracking{RefID: strings.ToUpper(f[0]), RefName: f[1], Stratum: st, Offset: off, Leap: f[13]}, nil
}

func chronycCmd(env *check.Env) host.Cmd {
	args := []string{"-n", "-c", "tracking"}
	if s := optionsOf(env).ChronySocket; s != "" {
		args = append([]string{"-h", s}, args...)
	}
	return host.Cmd{Name: "chronyc", Args: args}
}

type trackingResult struct {
	t   tracking
	cmd string
	out *host.Output
}

// chronyTracking asks chronyd once per run. A daemon that does not answer
// is not an error here: it is what time.chrony-running reports.
func chronyTracking(ctx context.Context, env *check.Env) (*trackingResult, error) {
	v, err := env.Memo("verify.chrony.tracking", func() (any, error) {
		c := chronycCmd(env)
		out, err := env.Host.Run(ctx, c)
		if err != nil {
			return nil, err
		}
		r := &trackingResult{cmd: c.String(), out: out}
		if out.ExitCode == 0 {
			t, err := parseTracking(out.Stdout)
			if err != nil {
				return nil, err
			}
			r.t = t
		}
		return r, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*trackingResult), nil
}

func (r *trackingResult) evidence() check.Evidence {
	text := strings.TrimSpace(string(r.out.Stdout) + "\n" + string(r.out.Stderr))
	if r.out.ExitCode != 0 {
		text += fmt.Sprintf("\n(exit status %d)", r.out.ExitCode)
	}
	return ev(r.cmd, text)
}

func chronyApplies(p *policy.Policy) (bool, string) {
	return p.Time.Chrony, "the policy does not ask for chrony"
}

func init() {
	check.Register(
		&check.Check{ID: "time.chrony-running", Title: "chronyd is running and answering", Severity: check.High,
			Applies: chronyApplies, Eval: evalChronyRunning, Fix: fixChronyRunning},
		&check.Check{ID: "time.synchronised", Title: "The clock is synchronised to a real time source", Severity: check.High,
			Applies: chronyApplies, Eval: evalSynchronised, Fix: fixSynchronised},
		&check.Check{ID: "time.single-daemon", Title: "Only one time daemon adjusts the clock", Severity: check.Low,
			Applies: chronyApplies, Eval: evalSingleTimeDaemon, Fix: fixSingleTimeDaemon},
	)
}

func fixChronyRunning(env *check.Env) check.Remediation {
	return check.Remediation{NixOS: env.Nix("time.chrony"),
		Generic: "install chrony and start it: systemctl enable --now chrony"}
}

// defaultNTPServers are the NixOS module's default servers, named when the
// policy names none.
var defaultNTPServers = []string{"0.nixos.pool.ntp.org", "1.nixos.pool.ntp.org"}

func fixSynchronised(env *check.Env) check.Remediation {
	servers := policyOf(env).Time.Servers
	if len(servers) == 0 {
		servers = defaultNTPServers
	}
	return check.Remediation{NixOS: env.NixLine(nixexpr.Strs(servers...), "services", "chrony", "servers"),
		Generic: "give chrony reachable NTP servers (server … iburst), allow UDP 123 out, and check `chronyc sources`"}
}

func fixSingleTimeDaemon(env *check.Env) check.Remediation {
	nix := env.Nix("time.chrony")
	if nix != "" {
		nix += "\n# with chrony on, NixOS sets services.timesyncd.enable = false"
	}
	return check.Remediation{NixOS: nix,
		Generic: "disable the second time daemon: systemctl disable --now systemd-timesyncd"}
}

func evalChronyRunning(ctx context.Context, env *check.Env) check.Result {
	r, err := chronyTracking(ctx, env)
	if err != nil {
		return unknown("chronyd's tracking status", err)
	}
	if r.out.ExitCode != 0 {
		why, procs := chronyDown(ctx, env, r)
		res := fail(why, r.evidence())
		if procs != nil {
			res.Evidence = append(res.Evidence, *procs)
		}
		return res
	}
	return pass(fmt.Sprintf("chronyd answers (reference %s, stratum %d)", r.t.RefID, r.t.Stratum), r.evidence())
}

// chronyDown says why chronyc got no answer, from the process table when
// it can be read and chronyc asked the default socket: no chronyd process
// at all (the daemon is not running), or one whose command socket does
// not answer. procs is the process table's evidence, when it was read.
func chronyDown(ctx context.Context, env *check.Env, r *trackingResult) (why string, procs *check.Evidence) {
	why = "chronyd does not answer: " + firstLine(r.out)
	if optionsOf(env).ChronySocket != "" {
		return why, nil
	}
	ps, err := proctab.Running(ctx, env, "chronyd")
	switch {
	case err != nil:
		return why, nil
	case len(ps) == 0:
		e := ev("/proc/*/cmdline", "no chronyd process")
		return "chronyd is not running: no chronyd process (chronyc: " + firstLine(r.out) + ")", &e
	default:
		e := ev("/proc/*/cmdline", proctab.Describe(ps))
		return why + " (a chronyd process exists but its command socket does not answer)", &e
	}
}

func firstLine(o *host.Output) string {
	s := strings.TrimSpace(string(o.Stderr))
	if s == "" {
		s = strings.TrimSpace(string(o.Stdout))
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		s = fmt.Sprintf("exit status %d", o.ExitCode)
	}
	return host.Truncate(s, 120)
}

func evalSynchronised(ctx context.Context, env *check.Env) check.Result {
	r, err := chronyTracking(ctx, env)
	if err != nil {
		return unknown("chronyd's tracking status", err)
	}
	if r.out.ExitCode != 0 {
		why, _ := chronyDown(ctx, env, r)
		res := fail("no synchronisation: "+why, r.evidence())
		res.Remediation = fixChronyRunning(env)
		return res
	}
	t := r.t
	var problems []string
	switch t.RefID {
	case "00000000":
		problems = append(problems, "no reference source (refid 00000000)")
	case "7F7F0101":
		problems = append(problems, "the reference is chronyd's own local clock (refid 7F7F0101, LOCAL), not a time source")
	}
	if t.Leap == "Not synchronised" {
		problems = append(problems, "leap status is Not synchronised")
	}
	if t.Stratum < 1 || t.Stratum > 15 {
		problems = append(problems, fmt.Sprintf("stratum %d is outside 1..15", t.Stratum))
	}
	// In seconds: |offset| in nanoseconds overflows a Duration past 292
	// years, and the conversion's result is then undefined (negative on
	// amd64).
	maxOff := env.Policy.Time.MaxOffset.D
	if abs := math.Abs(t.Offset); maxOff > 0 && abs > maxOff.Seconds() {
		off := fmt.Sprintf("%gs", abs)
		if abs < 1e9 {
			off = time.Duration(abs * float64(time.Second)).String()
		}
		problems = append(problems, fmt.Sprintf("|offset| %s exceeds the policy's max_offset %s", off, env.Policy.Time.MaxOffset))
	}
	if len(problems) > 0 {
		return fail(strings.Join(problems, "; "), r.evidence())
	}
	return pass(fmt.Sprintf("synchronised to %s (%s), stratum %d, offset %s, leap %s",
		t.RefID, t.RefName, t.Stratum, time.Duration(t.Offset*float64(time.Second)), t.Leap), r.evidence())
}

// evalSingleTimeDaemon fails when systemd-timesyncd (or ntpd) runs beside
// chronyd: two daemons steering one clock fight each other.
func evalSingleTimeDaemon(ctx context.Context, env *check.Env) check.Result {
	ps, err := proctab.Running(ctx, env, "systemd-timesyncd", "ntpd", "openntpd")
	if err != nil {
		return unknown("the process table", err)
	}
	if len(ps) > 0 {
		return fail("another time daemon is running beside chrony", ev("/proc/*/cmdline", proctab.Describe(ps)))
	}
	all, _ := proctab.List(ctx, env)
	if len(all) == 0 {
		return result(check.Unknown, "the process table is empty or unreadable (/proc not mounted?)")
	}
	return pass("no systemd-timesyncd, ntpd or openntpd process", evf("/proc/*/cmdline", "%s read; none is systemd-timesyncd, ntpd or openntpd", plural(len(all), "process", "processes")))
}
