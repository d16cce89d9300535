package audit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/internal/host"
)

// Status is the kernel audit status as `auditctl -s` prints it.
type Status struct {
	// Enabled is 0 (off), 1 (on) or 2 (on and locked until reboot).
	Enabled int64 `json:"enabled"`
	Failure int64 `json:"failure"`
	// PID is the audit daemon's pid; 0 means no daemon receives records.
	PID          int64 `json:"pid"`
	RateLimit    int64 `json:"rate_limit"`
	BacklogLimit int64 `json:"backlog_limit"`
	Lost         int64 `json:"lost"`
	Backlog      int64 `json:"backlog"`
	// Raw holds every "name value" line as printed.
	Raw map[string]string `json:"-"`
}

// ParseStatus parses `auditctl -s` output. It needs at least the enabled
// and pid lines.
func ParseStatus(name string, data []byte) (*Status, error) {
	s := &Status{Raw: map[string]string{}}
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		s.Raw[f[0]] = f[1]
		dst := map[string]*int64{
			"enabled": &s.Enabled, "failure": &s.Failure, "pid": &s.PID, "rate_limit": &s.RateLimit,
			"backlog_limit": &s.BacklogLimit, "lost": &s.Lost, "backlog": &s.Backlog,
		}[f[0]]
		if dst == nil {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d:%d: %s: expected a whole number, found %q", name, i+1, strings.Index(line, f[1])+1, f[0], f[1])
		}
		*dst = n
	}
	if _, ok := s.Raw["enabled"]; !ok {
		return nil, fmt.Errorf("%s: no \"enabled\" line: is this auditctl -s output?", name)
	}
	if _, ok := s.Raw["pid"]; !ok {
		return nil, fmt.Errorf("%s: no \"pid\" line: is this auditctl -s output?", name)
	}
	return s, nil
}

// The commands rampart reads the kernel's audit state with.
var (
	CmdList   = host.Cmd{Name: "auditctl", Args: []string{"-l"}, Sudo: true}
	CmdStatus = host.Cmd{Name: "auditctl", Args: []string{"-s"}, Sudo: true}
)

// ErrImmutable reports that the kernel's audit configuration is locked
// (`auditctl -e 2`): no rule can be added or removed until reboot.
var ErrImmutable = errors.New("audit rules are locked (enabled 2, immutable): no rule can change until the next boot; change the boot-time rules and reboot")

// ReadStatus runs auditctl -s on h.
func ReadStatus(ctx context.Context, h host.Host) (*Status, error) {
	out, err := host.RunOK(ctx, h, CmdStatus)
	if err != nil {
		return nil, fmt.Errorf("read audit status: %w", err)
	}
	return ParseStatus(CmdStatus.String(), out)
}

// ReadRules runs auditctl -l on h and parses what the kernel has loaded.
func ReadRules(ctx context.Context, h host.Host) ([]Rule, []byte, error) {
	out, err := host.RunOK(ctx, h, CmdList)
	if err != nil {
		return nil, out, fmt.Errorf("list audit rules: %w", err)
	}
	rs, err := ParseRules(CmdList.String(), out)
	if err != nil {
		return nil, out, fmt.Errorf("parse loaded audit rules: %w", err)
	}
	if localKernel(ctx, h) {
		if heads, err := kernelHeads(); err == nil {
			correctHeads(rs.Rules, heads)
		}
	}
	return rs.Rules, out, nil
}

// Plan is what Apply does: add the missing rules, keep the present ones,
// and (with Exact) remove the extra ones.
type Plan struct {
	Add    []Rule `json:"add"`
	Remove []Rule `json:"remove"`
	Keep   []Rule `json:"keep"`
	// Foreign are loaded rules that are not from the policy and stay
	// because Exact is off.
	Foreign []Rule `json:"foreign"`
}

// Commands are the auditctl invocations that carry out the plan, adds
// first so that a watch is never absent while its replacement loads.
func (p *Plan) Commands() []host.Cmd {
	var out []host.Cmd
	for _, r := range p.Add {
		out = append(out, host.Cmd{Name: "auditctl", Args: r.FormatArgs(), Sudo: true})
	}
	for _, r := range p.Remove {
		out = append(out, host.Cmd{Name: "auditctl", Args: r.DeleteArgs(), Sudo: true})
	}
	return out
}

// deleteRule tries r's DeleteCandidates until one succeeds and returns
// the first failure otherwise.
func deleteRule(ctx context.Context, h host.Host, r Rule) error {
	var first error
	for _, args := range r.DeleteCandidates() {
		_, err := host.RunOK(ctx, h, host.Cmd{Name: "auditctl", Args: args, Sudo: true})
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// MakePlan compares want with the loaded rules.
func MakePlan(want, loaded []Rule, exact bool) *Plan {
	d := Compare(want, loaded)
	p := &Plan{Add: d.Missing, Keep: d.Present, Remove: []Rule{}, Foreign: []Rule{}}
	if exact {
		p.Remove = d.Extra
	} else {
		p.Foreign = d.Extra
	}
	return p
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// Exact removes loaded rules that are not in want.
	Exact bool
	// DryRun only plans.
	DryRun bool
}

// Apply makes the kernel's rules contain want, idempotently: present
// rules are kept, missing ones added, and foreign ones removed only with
// Exact. It refuses with ErrImmutable when the rules are locked. After
// the changes it lists the rules again and reports anything still
// missing, so a success means the kernel really holds the rules.
func Apply(ctx context.Context, h host.Host, want []Rule, opt ApplyOptions) (*Plan, error) {
	st, err := ReadStatus(ctx, h)
	if err != nil {
		return nil, err
	}
	loaded, _, err := ReadRules(ctx, h)
	if err != nil {
		return nil, err
	}
	plan := MakePlan(want, loaded, opt.Exact)
	if opt.DryRun {
		if st.Enabled == 2 && len(plan.Commands()) > 0 {
			return plan, ErrImmutable
		}
		return plan, nil
	}
	if len(plan.Commands()) == 0 {
		return plan, nil
	}
	if st.Enabled == 2 {
		return plan, ErrImmutable
	}
	var errs []error
	for _, r := range plan.Add {
		if _, err := host.RunOK(ctx, h, host.Cmd{Name: "auditctl", Args: r.FormatArgs(), Sudo: true}); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range plan.Remove {
		if err := deleteRule(ctx, h, r); err != nil {
			errs = append(errs, err)
		}
	}
	after, _, err := ReadRules(ctx, h)
	if err != nil {
		return plan, errors.Join(append(errs, err)...)
	}
	d := Compare(want, after)
	for _, r := range d.Missing {
		errs = append(errs, fmt.Errorf("rule still missing after apply: %s", r))
	}
	if opt.Exact {
		for _, r := range d.Extra {
			errs = append(errs, fmt.Errorf("foreign rule still loaded after apply: %s", r))
		}
	}
	return plan, errors.Join(errs...)
}
