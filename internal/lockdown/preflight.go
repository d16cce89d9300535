package lockdown

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/netcheck"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/proctab"
	"github.com/rampart-sec/rampart/internal/tailscale"
)

// PreflightOptions are the facts about the invocation the checks need.
type PreflightOptions struct {
	// SSHConnection is $SSH_CONNECTION of the session running rampart.
	SSHConnection string
	// Users are accounts to look for an authorized key when the policy
	// names no admin (typically root and $SUDO_USER).
	FallbackUsers []string
	// NixOS skips the nftables check (the change goes through
	// nixos-rebuild).
	NixOS bool
	// SSHDConfig is sshd's configuration file when not the default; the
	// authorized-key files are taken from `sshd -T` with it.
	SSHDConfig string
}

// Check IDs of the pre-flight. The first three are verify's tailnet checks
// (internal/netcheck), run from the check registry: verify and lockdown
// give one verdict on the tailnet path.
const (
	IDTailscaleRunning = netcheck.IDRunning
	IDKeyExpiry        = netcheck.IDKeyExpiry
	IDInterface        = netcheck.IDInterface
	IDSSHDListen       = "lockdown.sshd-tailnet-listen"
	IDAdminKey         = "lockdown.admin-key"
	IDSession          = "lockdown.session-via-tailnet"
	IDNftables         = "lockdown.nftables"
)

// Preflight runs the checks that must pass before SSH is closed outside
// the tailnet. The results are in a fixed order.
func Preflight(ctx context.Context, h host.Host, p *policy.Policy, cfg Config, o PreflightOptions) []check.Result {
	return check.Run(ctx, check.NewEnv(h, p, ""), preflightChecks(cfg, o))
}

// preflightChecks are the checks of the pre-flight, in order.
func preflightChecks(cfg Config, o PreflightOptions) []*check.Check {
	pf := &preflight{cfg: cfg, opts: o}
	var checks []*check.Check
	for _, id := range tailnetChecks {
		checks = append(checks, registered(id))
	}
	checks = append(checks, []*check.Check{
		{ID: IDSSHDListen, Title: "sshd listens where the tailnet reaches it", Severity: check.Critical, Eval: pf.sshdListen, Fix: fixSSHDListen},
		{ID: IDAdminKey, Title: "an admin has an authorized SSH key", Severity: check.Critical, Eval: pf.adminKey, Fix: fixAdminKey},
		{ID: IDSession, Title: "this SSH session arrives over the tailnet", Severity: check.High, Eval: pf.session, Fix: fixSession},
	}...)
	if !o.NixOS {
		checks = append(checks, &check.Check{ID: IDNftables, Title: "nftables can be changed", Severity: check.Critical, Eval: pf.nftables, Fix: fixNftables})
	}
	return checks
}

func fixSSHDListen(*check.Env) check.Remediation {
	return check.Remediation{NixOS: "leave services.openssh.listenAddresses empty (all addresses) or include the tailnet address",
		Generic: "let sshd listen on 0.0.0.0/:: or on the tailnet address (ListenAddress)"}
}

func fixAdminKey(*check.Env) check.Remediation {
	return check.Remediation{NixOS: "users.users.<admin>.openssh.authorizedKeys.keys = [ \"ssh-ed25519 …\" ]; and list the admin under [admin] in the policy",
		Generic: "add the admin's public key to ~/.ssh/authorized_keys and to [admin] users in the policy"}
}

func fixSession(*check.Env) check.Remediation {
	return check.Remediation{Generic: "ssh in over the tailnet (to this host's tailnet address) and run again"}
}

func fixNftables(*check.Env) check.Remediation {
	return check.Remediation{Generic: "install nftables (apt-get install nftables)"}
}

// tailnetChecks are the registered checks the pre-flight runs first; each
// must pass for the lockdown to go ahead.
var tailnetChecks = []string{IDTailscaleRunning, IDKeyExpiry, IDInterface}

// registered returns the registered check id, or one that reports unknown
// (and so blocks the lockdown) if it is missing from the registry.
func registered(id string) *check.Check {
	if c, ok := check.Lookup(id); ok {
		return c
	}
	return &check.Check{ID: id, Title: id, Severity: check.Critical, Eval: func(context.Context, *check.Env) check.Result {
		return check.Result{Status: check.Unknown, Message: "check " + id + " is not registered"}
	}}
}

// Ready reports whether the results prove the tailnet path: every tailnet
// check passed (a warning, or a skip under a policy without [tailnet], is
// no proof), no other check failed and none could not be read. It returns
// the reasons otherwise.
func Ready(rs []check.Result) (bool, []string) {
	var why []string
	for _, r := range rs {
		required := slices.Contains(tailnetChecks, r.ID)
		if r.Status == check.Fail || r.Status == check.Unknown || required && r.Status != check.Pass {
			why = append(why, fmt.Sprintf("%s: %s", r.ID, r.Message))
		}
	}
	return len(why) == 0, why
}

type preflight struct {
	cfg  Config
	opts PreflightOptions
}

// evidence is one piece of evidence; the runner bounds and sanitises it
// (check.MaxEvidence).
func evidence(src, text string) []check.Evidence {
	return []check.Evidence{{Source: src, Text: strings.TrimSpace(text)}}
}

func unknown(msg string, err error) check.Result {
	return check.Result{Status: check.Unknown, Message: fmt.Sprintf("%s: %v", msg, err)}
}

func (pf *preflight) ranges() []netip.Prefix {
	r, err := tailscale.ParseRanges(pf.cfg.Ranges)
	if err != nil || len(r) == 0 {
		return tailscale.DefaultRanges
	}
	return r
}

// ListenCmd lists listening TCP sockets with their processes.
var ListenCmd = host.Cmd{Name: "ss", Args: []string{"-Htlnp"}, Sudo: true}

func (pf *preflight) sshdListen(ctx context.Context, env *check.Env) check.Result {
	out, err := host.RunOK(ctx, env.Host, ListenCmd)
	if err != nil {
		return unknown("cannot list listening sockets", err)
	}
	ls, err := ParseListeners(out)
	if err != nil {
		return unknown("cannot read the socket list", err)
	}
	// Any user may name a program sshd: a socket is sshd's only when one
	// of the processes ss names sshd holding it is root's.
	var pids []int
	for _, l := range ls {
		if l.Process != "" && l.IsSSHD() {
			pids = append(pids, l.PIDs...)
		}
	}
	root, err := proctab.RootOwned(ctx, env, pids)
	if err != nil {
		return unknown("cannot read the owners of the listening processes", err)
	}
	var addrs []netip.Addr
	if ifc, _, _, err := netcheck.ReadInterface(ctx, env, pf.cfg.Tailnet); err == nil {
		addrs = ifc.TailnetAddrs(pf.ranges())
	}
	var lines, ok []string
	for _, l := range ls {
		if !slices.Contains(pf.cfg.Ports, l.Port) || !l.IsSSHD() ||
			l.Process != "" && !slices.ContainsFunc(l.PIDs, func(pid int) bool { return root[pid] }) {
			continue
		}
		lines = append(lines, l.Line)
		if l.ReachableOn(pf.cfg.Tailnet, addrs) {
			where := l.Addr.String()
			if l.Wildcard {
				where = "all addresses"
			}
			ok = append(ok, fmt.Sprintf("%s port %d", where, l.Port))
		}
	}
	ev := evidence(ListenCmd.String(), strings.Join(lines, "\n"))
	switch {
	case len(lines) == 0:
		return check.Result{Status: check.Fail, Evidence: evidence(ListenCmd.String(), string(out)),
			Message: fmt.Sprintf("no sshd listens on port(s) %v", pf.cfg.Ports)}
	case len(ok) == 0:
		return check.Result{Status: check.Fail, Evidence: ev,
			Message: fmt.Sprintf("sshd listens on port(s) %v, but not on a wildcard or on %s's tailnet address %v", pf.cfg.Ports, pf.cfg.Tailnet, addrs)}
	}
	return check.Result{Status: check.Pass, Evidence: ev, Message: "sshd reachable over the tailnet on " + strings.Join(ok, ", ")}
}

func (pf *preflight) adminKey(ctx context.Context, env *check.Env) check.Result {
	passwd, err := env.Host.ReadFile(ctx, "/etc/passwd")
	if err != nil {
		return unknown("cannot read /etc/passwd", err)
	}
	homes := parsePasswd(passwd)
	users := env.Policy.Admin.Users
	fromPolicy := len(users) > 0
	if !fromPolicy {
		for _, u := range pf.opts.FallbackUsers {
			if u != "" && !slices.ContainsFunc(users, func(x policy.AdminUser) bool { return x.Name == u }) {
				users = append(users, policy.AdminUser{Name: u})
			}
		}
	}
	var ev []check.Evidence
	var found, mismatch []string
	for _, u := range users {
		home, ok := homes[u.Name]
		if !ok {
			ev = append(ev, check.Evidence{Source: "/etc/passwd", Text: fmt.Sprintf("no account %q", u.Name)})
			continue
		}
		files, src := pf.keyFiles(ctx, env, u.Name, home)
		ev = append(ev, check.Evidence{Source: src, Text: "authorized keys files for " + u.Name + ": " + strings.Join(files, " ")})
		for _, f := range files {
			data, err := env.Host.ReadFile(ctx, f)
			if err != nil {
				if !host.IsNotExist(err) {
					ev = append(ev, check.Evidence{Source: f, Text: "unreadable: " + err.Error()})
				}
				continue
			}
			keys := authorizedKeys(data)
			ev = append(ev, check.Evidence{Source: f, Text: fmt.Sprintf("%d key(s): %s", len(keys), strings.Join(keyTypes(keys), ", "))})
			if len(keys) == 0 {
				continue
			}
			if len(u.AuthorizedKeys) > 0 && !anyKeyIn(u.AuthorizedKeys, keys) {
				mismatch = append(mismatch, u.Name)
				continue
			}
			found = append(found, u.Name)
		}
	}
	remedy := fixAdminKey(env)
	switch {
	case len(users) == 0:
		return check.Result{Status: check.Fail, Evidence: ev, Remediation: remedy, Message: "the policy names no admin user and no fallback account was given"}
	case len(found) == 0 && len(mismatch) > 0:
		return check.Result{Status: check.Fail, Evidence: ev, Remediation: remedy,
			Message: fmt.Sprintf("the keys on disk for %v are not the policy's authorized_keys", mismatch)}
	case len(found) == 0:
		return check.Result{Status: check.Fail, Evidence: ev, Remediation: remedy, Message: "no admin account has an authorized SSH key on disk"}
	case !fromPolicy:
		return check.Result{Status: check.Warn, Evidence: ev, Remediation: remedy,
			Message: fmt.Sprintf("the policy names no admin; account(s) %v have authorized keys on disk", dedupe(found))}
	}
	return check.Result{Status: check.Pass, Evidence: ev, Message: fmt.Sprintf("admin(s) %v have an authorized key on disk", dedupe(found))}
}

func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// defaultKeyFiles are where OpenSSH (and NixOS, which adds
// /etc/ssh/authorized_keys.d/%u) look when sshd -T cannot be asked.
var defaultKeyFiles = []string{"%h/.ssh/authorized_keys", "/etc/ssh/authorized_keys.d/%u"}

// keyFiles returns the authorized-keys files sshd reads for user: its
// effective AuthorizedKeysFile (`sshd -T -C user=…`), with %h, %u and %%
// expanded and relative paths taken from the home directory. It returns
// the source of the list for evidence.
func (pf *preflight) keyFiles(ctx context.Context, env *check.Env, user, home string) ([]string, string) {
	args := []string{"-T"}
	if pf.opts.SSHDConfig != "" {
		args = append(args, "-f", pf.opts.SSHDConfig)
	}
	args = append(args, "-C", "user="+user+",host=localhost,addr=127.0.0.1")
	c := host.Cmd{Name: "sshd", Args: args, Sudo: true}
	patterns := defaultKeyFiles
	src := "(OpenSSH and NixOS defaults; " + c.String() + " failed)"
	if out, err := host.RunOK(ctx, env.Host, c); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "authorizedkeysfile "); ok {
				patterns, src = strings.Fields(v), c.String()
			}
		}
	}
	var files []string
	for _, p := range patterns {
		if p == "none" {
			continue
		}
		p = strings.NewReplacer("%%", "%", "%h", home, "%u", user).Replace(p)
		if !strings.HasPrefix(p, "/") {
			p = path.Join(home, p)
		}
		if !slices.Contains(files, p) {
			files = append(files, p)
		}
	}
	return files, src
}

// parsePasswd maps user names to home directories.
func parsePasswd(data []byte) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 7 && f[0] != "" && strings.HasPrefix(f[5], "/") {
			m[f[0]] = f[5]
		}
	}
	return m
}

var keyTypePrefixes = []string{"ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-sha2-"}

// authorizedKeys returns "type base64" of each key line, skipping options.
func authorizedKeys(data []byte) []string {
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if slices.ContainsFunc(keyTypePrefixes, func(p string) bool { return strings.HasPrefix(f[i], p) }) {
				out = append(out, f[i]+" "+f[i+1])
				break
			}
		}
	}
	return out
}

func keyTypes(keys []string) []string {
	var out []string
	for _, k := range keys {
		t, _, _ := strings.Cut(k, " ")
		out = append(out, t)
	}
	return out
}

func anyKeyIn(policyKeys, disk []string) bool {
	for _, pk := range policyKeys {
		for _, k := range authorizedKeys([]byte(pk)) {
			if slices.Contains(disk, k) {
				return true
			}
		}
	}
	return false
}

// SessionVia says through which interface the SSH session described by
// sshConn reaches this host, by asking the kernel for the route back to
// the client (`ip route get CLIENT`): the kernel's answer, not a guess from
// the address range.
func SessionVia(ctx context.Context, h host.Host, sshConn string) (*tailscale.SSHConn, *tailscale.Route, []check.Evidence, error) {
	c, err := tailscale.ParseSSHConnection(sshConn)
	if err != nil {
		return nil, nil, nil, err
	}
	r, src, raw, err := tailscale.RouteGet(ctx, h, c.Client.Addr())
	ev := []check.Evidence{{Source: "$SSH_CONNECTION", Text: c.Raw}}
	if len(raw) > 0 {
		ev = append(ev, check.Evidence{Source: src, Text: strings.TrimSpace(string(raw))})
	}
	return c, r, ev, err
}

func (pf *preflight) session(ctx context.Context, env *check.Env) check.Result {
	if strings.TrimSpace(pf.opts.SSHConnection) == "" {
		return check.Result{Status: check.Skip, Message: "not run from an SSH session ($SSH_CONNECTION unset): a console session keeps working"}
	}
	c, r, ev, err := SessionVia(ctx, env.Host, pf.opts.SSHConnection)
	if c == nil {
		return check.Result{Status: check.Fail, Message: err.Error()}
	}
	if err != nil {
		return check.Result{Status: check.Unknown, Evidence: ev, Message: fmt.Sprintf("cannot tell the route to %s: %v", c.Client.Addr(), err)}
	}
	switch {
	case r.Dev == pf.cfg.Tailnet:
		return check.Result{Status: check.Pass, Evidence: ev,
			Message: fmt.Sprintf("this session comes from %s through %s", c.Client.Addr(), r.Dev)}
	case r.Dev == "lo":
		return check.Result{Status: check.Fail, Evidence: ev,
			Message: fmt.Sprintf("this session comes from this host itself (%s via lo): it proves nothing about the tailnet path; ssh in over the tailnet and run again", c.Client.Addr())}
	}
	return check.Result{Status: check.Fail, Evidence: ev,
		Message: fmt.Sprintf("this session comes from %s through %s, not %s: after lockdown new sessions must use the tailnet; reconnect to this host's tailnet address and run again",
			c.Client.Addr(), r.Dev, pf.cfg.Tailnet)}
}

func (pf *preflight) nftables(ctx context.Context, env *check.Env) check.Result {
	c := host.Cmd{Name: "nft", Args: []string{"--version"}, Sudo: true}
	out, err := host.RunOK(ctx, env.Host, c)
	if err != nil {
		st := check.Unknown
		if errors.Is(err, host.ErrNotFound) {
			st = check.Fail
		}
		return check.Result{Status: st, Message: "cannot run nft: " + err.Error(), Remediation: fixNftables(env)}
	}
	if !env.Host.IsRoot(ctx) {
		return check.Result{Status: check.Warn, Evidence: evidence(c.String(), string(out)),
			Message: "not running as root: apply will use sudo -n for nft"}
	}
	return check.Result{Status: check.Pass, Evidence: evidence(c.String(), string(out)), Message: strings.TrimSpace(string(out))}
}
