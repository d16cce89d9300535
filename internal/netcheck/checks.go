package netcheck

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/nftrules"
	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/tailscale"
)

// IDs of the tailnet checks lockdown's pre-flight runs too: the one
// verdict on the tailnet path, whether verify or lockdown asks.
const (
	IDRunning   = "tailnet.running"
	IDKeyExpiry = "tailnet.key-expiry-disabled"
	IDInterface = "tailnet.interface-address"
)

func init() {
	check.Register(
		&check.Check{ID: "firewall.active", Title: "A default-deny firewall filters incoming traffic (IPv4 and IPv6)",
			Severity: check.High, Applies: firewallEnabled, Eval: evalActive, Fix: fixActive},
		&check.Check{ID: "firewall.tailnet-trusted", Title: "The tailnet interface is trusted by the firewall",
			Severity: check.High, Applies: tailnetEnabled, Eval: evalTrusted, Fix: fixTrusted},
		&check.Check{ID: "firewall.ssh-exposure", Title: "SSH is closed on untrusted interfaces when ssh.tailnet_only says so",
			TitleFor: exposureTitle, Severity: check.Critical, Applies: sshEnabled, Eval: evalExposure, Fix: fixExposure},
		&check.Check{ID: "firewall.sshd-bindings", Title: "sshd listens where the policy needs it",
			Severity: check.Medium, Applies: sshEnabled, Eval: evalBindings, Fix: fixBindings},
		&check.Check{ID: IDRunning, Title: "Tailscale is running and logged in",
			Severity: check.Critical, Applies: tailnetEnabled, Eval: evalRunning, Fix: fixRunning},
		&check.Check{ID: IDKeyExpiry, Title: "This node's tailnet key never expires",
			Severity: check.High, Applies: tailnetEnabled, Eval: evalKeyExpiry, Fix: fixKeyExpiry},
		&check.Check{ID: IDInterface, Title: "The tailnet interface is up with a tailnet address",
			Severity: check.High, Applies: tailnetEnabled, Eval: evalInterface, Fix: fixInterface},
		&check.Check{ID: "tailnet.routing", Title: "This node offers and uses tailnet routes only as the policy allows",
			Severity: check.Medium, Applies: tailnetEnabled, Eval: evalRouting, Fix: fixRouting},
	)
}

func firewallEnabled(p *policy.Policy) (bool, string) {
	return p.Firewall.Enabled, "firewall.enabled is false in the policy"
}

func tailnetEnabled(p *policy.Policy) (bool, string) {
	return p.Tailnet.Enabled, "tailnet.enabled is false in the policy (profile " + p.Profile + ")"
}

func sshEnabled(p *policy.Policy) (bool, string) {
	return p.SSH.Enabled, "ssh.enabled is false in the policy"
}

// ev is one piece of evidence; the runner bounds and sanitises it
// (check.MaxEvidence).
func ev(source string, text string) check.Evidence {
	return check.Evidence{Source: source, Text: strings.TrimSpace(text)}
}

// unknown turns a collector error into an unknown result.
func unknown(what string, err error, fix check.Remediation) check.Result {
	msg := fmt.Sprintf("could not read %s: %v", what, err)
	if errors.Is(err, host.ErrNotFound) {
		msg = fmt.Sprintf("could not read %s: %v (is it installed?)", what, err)
	}
	return check.Result{Status: check.Unknown, Message: msg, Remediation: fix}
}

func fixActive(env *check.Env) check.Remediation {
	return check.Remediation{
		NixOS: strings.TrimSpace(env.Nix("firewall.enabled") + "\n" + env.NixLine(nixexpr.Bool(true), "networking", "nftables", "enable")),
		Generic: "load a default-deny input chain for both families, e.g. in /etc/nftables.conf: " +
			"table inet filter { chain input { type filter hook input priority 0; policy drop; " +
			"iifname \"lo\" accept; ct state established,related accept; } } and enable nftables.service",
	}
}

func evalActive(ctx context.Context, env *check.Env) check.Result {
	fix := fixActive(env)
	r, err := readRuleset(ctx, env)
	if err != nil {
		return unknown("the nftables ruleset", err, fix)
	}
	f := r.Ruleset.InputFiltering()
	res := check.Result{Evidence: []check.Evidence{ev(r.Source(), f.Summary())}, Remediation: fix}
	if f.Active() {
		res.Status = check.Pass
		res.Message = "default deny on input: " + strings.Join(dedupe(append(f.IPv4, f.IPv6...)), "; ")
		return res
	}
	res.Status = check.Fail
	switch {
	case len(f.Chains) == 0:
		res.Message = fmt.Sprintf("no nftables chain filters incoming traffic (%d rules loaded in total)", r.Ruleset.NumRules())
	case len(f.IPv4) == 0 && len(f.IPv6) == 0:
		res.Message = "incoming traffic is filtered, but nothing is dropped by default (every input chain has policy accept)"
	case len(f.IPv4) == 0:
		res.Message = "IPv4 has no default-deny input chain"
	default:
		res.Message = "IPv6 has no default-deny input chain (an ip-family table does not cover IPv6)"
	}
	return res
}

func fixTrusted(env *check.Env) check.Remediation {
	ifc := "tailscale0"
	if env.Policy != nil && env.Policy.Tailnet.Interface != "" {
		ifc = env.Policy.Tailnet.Interface
	}
	return check.Remediation{
		NixOS:   env.Nix("firewall.trusted_interfaces"),
		Generic: fmt.Sprintf("accept everything arriving on %s before any drop: nft insert rule inet filter input iifname %q accept", ifc, ifc),
	}
}

func evalTrusted(ctx context.Context, env *check.Env) check.Result {
	fix := fixTrusted(env)
	r, err := readRuleset(ctx, env)
	if err != nil {
		return unknown("the nftables ruleset", err, fix)
	}
	ifc := env.Policy.Tailnet.Interface
	ok, d := r.Ruleset.Trusted(ifc)
	res := check.Result{Evidence: []check.Evidence{ev(r.Source(), d.Reason+"\n"+strings.Join(d.Rules, "\n"))}, Remediation: fix}
	f := r.Ruleset.InputFiltering()
	switch {
	case ok && !f.Active():
		res.Status = check.Fail
		res.Message = ifc + " accepts everything only because no default-deny firewall is loaded (see firewall.active); trust it explicitly"
		res.Evidence = append(res.Evidence, ev(r.Source(), f.Summary()))
	case ok:
		res.Status, res.Message = check.Pass, ifc+" is trusted: "+d.Reason
	case d.State == nftrules.Unknown:
		res.Status, res.Message = check.Unknown, "cannot tell whether "+ifc+" is trusted: "+d.Reason
	default:
		res.Status, res.Message = check.Fail, ifc+" is not trusted: "+d.Reason
	}
	return res
}

func sshPorts(p *policy.Policy) []int {
	if len(p.SSH.Ports) == 0 {
		return []int{22}
	}
	return p.SSH.Ports
}

func fixExposure(env *check.Env) check.Remediation {
	return check.Remediation{
		NixOS: strings.TrimSpace(env.Nix("ssh.tailnet_only") + "\n# and no SSH port in networking.firewall.allowedTCPPorts or networking.firewall.interfaces.<if>.allowedTCPPorts"),
		Generic: "drop new connections to the SSH port(s) on every interface except lo and the tailnet's " +
			"(rampart lockdown apply does this with an automatic rollback)",
	}
}

// exposureTitle states the rule firewall.ssh-exposure holds the host to:
// with ssh.tailnet_only, SSH closed everywhere but the trusted interfaces;
// without it (the baseline profile) public SSH is allowed, so the check
// only reports where SSH is reachable and a pass claims nothing more.
func exposureTitle(p *policy.Policy) string {
	if p.SSH.TailnetOnly {
		return "SSH accepts no new connections on interfaces that are not trusted"
	}
	return "SSH may be reachable on untrusted interfaces (public SSH is allowed: ssh.tailnet_only is off)"
}

func evalExposure(ctx context.Context, env *check.Env) check.Result {
	p := env.Policy
	fix := fixExposure(env)
	r, err := readRuleset(ctx, env)
	if err != nil {
		return unknown("the nftables ruleset", err, fix)
	}
	ls, err := readLinks(ctx, env)
	if err != nil {
		return unknown("the network interfaces", err, fix)
	}
	trusted := map[string]bool{"lo": true}
	for _, t := range p.TrustedInterfaces() {
		trusted[t] = true
	}
	ports := sshPorts(p)
	portNote := "ports from the policy"
	if lst, _, _, err := readListeners(ctx, env); err == nil {
		for _, l := range lst {
			if l.Process == "sshd" && !slices.Contains(ports, l.Port) {
				ports = append(ports, l.Port)
				portNote = "ports from the policy and from sshd's listening sockets"
			}
		}
	}
	var lines, open, unk, closedTailnet []string
	checked := 0
	for _, name := range ls.names {
		for _, port := range ports {
			x := r.Ruleset.Exposure("tcp", port, name)
			if trusted[name] {
				if p.Tailnet.Enabled && name == p.Tailnet.Interface && x.State == nftrules.Closed {
					closedTailnet = append(closedTailnet, fmt.Sprintf("%s tcp/%d", name, port))
				}
				continue
			}
			checked++
			lines = append(lines, fmt.Sprintf("%s tcp/%d: %s — %s", name, port, x.State, x.Reason()))
			switch x.State {
			case nftrules.Open, nftrules.Limited:
				open = append(open, fmt.Sprintf("%s tcp/%d (%s)", name, port, x.State))
			case nftrules.Unknown:
				unk = append(unk, fmt.Sprintf("%s tcp/%d", name, port))
			}
		}
	}
	res := check.Result{Remediation: fix, Evidence: []check.Evidence{
		ev(r.Source(), strings.Join(lines, "\n")),
		ev(netDevPath, "interfaces: "+strings.Join(ls.names, ", ")+"; trusted: "+strings.Join(sortedKeys(trusted), ", ")+
			"; SSH ports "+joinInts(ports)+" ("+portNote+")"),
	}}
	if checked == 0 {
		res.Evidence[0] = ev(r.Source(), "no interface besides the trusted ones")
	}
	switch {
	case !p.SSH.TailnetOnly:
		// The policy allows public SSH: whatever the firewall does holds
		// it, so this passes and says what it found.
		res.Status = check.Pass
		switch {
		case len(open) > 0:
			res.Message = "SSH is reachable on " + strings.Join(open, ", ") + ", as the policy allows (ssh.tailnet_only is off)"
		case len(unk) > 0:
			res.Message = "cannot tell whether SSH is reachable on " + strings.Join(unk, ", ") +
				" (rules the analysis does not understand); the policy allows it either way (ssh.tailnet_only is off)"
		default:
			res.Message = fmt.Sprintf("SSH is not reachable on any untrusted interface (%d interface/port pairs); "+
				"the policy would allow it (ssh.tailnet_only is off)", checked)
		}
	case len(open) > 0:
		res.Status = check.Fail
		res.Message = "SSH accepts new connections on " + strings.Join(open, ", ") + " although ssh.tailnet_only is set"
	case len(unk) > 0:
		res.Status = check.Unknown
		res.Message = "cannot show SSH closed on " + strings.Join(unk, ", ") + " (rules the analysis does not understand)"
	case len(closedTailnet) > 0:
		res.Status = check.Fail
		res.Message = "SSH is closed on the tailnet too (" + strings.Join(closedTailnet, ", ") + "): nobody could log in"
	default:
		res.Status = check.Pass
		res.Message = fmt.Sprintf("SSH is closed on every untrusted interface (%d interface/port pairs)", checked)
	}
	return res
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func dedupe(l []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range l {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func fixBindings(env *check.Env) check.Remediation {
	nix := env.NixLine(nixexpr.Bool(true), "services", "openssh", "enable")
	if nix != "" {
		nix += " # sshd listens on all addresses by default; services.openssh.listenAddresses pins them (mind boot order with tailscale0)"
	}
	return check.Remediation{NixOS: nix,
		Generic: "start sshd with ListenAddress covering the tailnet address (or all addresses behind the firewall)"}
}

func evalBindings(ctx context.Context, env *check.Env) check.Result {
	p := env.Policy
	fix := fixBindings(env)
	ls, src, out, err := readListeners(ctx, env)
	if err != nil {
		return unknown("the listening sockets", err, fix)
	}
	ports := map[int]bool{}
	for _, port := range sshPorts(p) {
		ports[port] = true
	}
	var ssh []listener
	for _, l := range ls {
		if l.Process == "sshd" || (l.Process == "" && ports[l.Port]) {
			ssh = append(ssh, l)
		}
	}
	var lines []string
	for _, l := range ssh {
		lines = append(lines, l.Line)
	}
	res := check.Result{Remediation: fix, Evidence: []check.Evidence{ev(src, strings.Join(lines, "\n"))}}
	if len(ssh) == 0 {
		res.Evidence = []check.Evidence{ev(src, string(out))}
		res.Status, res.Message = check.Fail, "no sshd is listening (ports "+joinInts(sshPorts(p))+")"
		return res
	}
	var where []string
	wildcard, tailnetBound, publicBound := false, false, false
	ranges, _ := tailscale.ParseRanges(p.Tailnet.Addresses)
	for _, l := range ssh {
		switch {
		case l.Any:
			wildcard = true
			where = append(where, "all addresses:"+strconv.Itoa(l.Port))
		case l.Addr.IsLoopback():
			where = append(where, netip.AddrPortFrom(l.Addr, uint16(l.Port)).String())
		case tailscale.IsTailnetAddr(l.Addr, ranges):
			tailnetBound = true
			where = append(where, netip.AddrPortFrom(l.Addr, uint16(l.Port)).String()+" (tailnet)")
		default:
			publicBound = true
			where = append(where, netip.AddrPortFrom(l.Addr, uint16(l.Port)).String())
		}
	}
	res.Status = check.Pass
	res.Message = "sshd listens on " + strings.Join(where, ", ")
	switch {
	case p.SSH.TailnetOnly && !wildcard && !tailnetBound:
		res.Status = check.Fail
		res.Message += ": not on the tailnet, so SSH only over the tailnet cannot work"
	case p.SSH.TailnetOnly && (wildcard || publicBound):
		res.Message += "; only the firewall keeps it off the public interfaces (see firewall.ssh-exposure)"
	}
	return res
}

func joinInts(l []int) string {
	var s []string
	for _, n := range l {
		s = append(s, strconv.Itoa(n))
	}
	return strings.Join(s, ", ")
}
