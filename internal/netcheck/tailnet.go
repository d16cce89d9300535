package netcheck

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/tailscale"
)

func statusEvidence(s *status) check.Evidence {
	st := s.st
	var b strings.Builder
	fmt.Fprintf(&b, "BackendState %s", st.BackendState)
	if st.Self != nil {
		fmt.Fprintf(&b, "; Self %s online=%v tags=%v", st.Self.HostName, st.Self.Online, st.Self.Tags)
		if st.Self.KeyExpiry != nil {
			fmt.Fprintf(&b, " KeyExpiry=%s", st.Self.KeyExpiry.UTC().Format(time.RFC3339))
		} else {
			b.WriteString(" KeyExpiry absent (expiry disabled)")
		}
		if st.Self.Expired {
			b.WriteString(" Expired=true")
		}
	}
	if ips := st.SelfIPs(); len(ips) > 0 {
		fmt.Fprintf(&b, "; TailscaleIPs %v", ips)
	}
	if len(st.Health) > 0 {
		fmt.Fprintf(&b, "; Health %q", st.Health)
	}
	return ev(tailscale.StatusCmd.String(), b.String())
}

func fixRunning(env *check.Env) check.Remediation {
	return check.Remediation{
		NixOS:   env.Nix("tailnet.enabled", "tailnet.auth_key_file"),
		Generic: "install tailscale, start tailscaled (systemctl enable --now tailscaled) and join with a tagged auth key: tailscale up --auth-key file:/run/secrets/tailscale-authkey",
	}
}

func evalRunning(ctx context.Context, env *check.Env) check.Result {
	fix := fixRunning(env)
	s, err := readStatus(ctx, env)
	switch {
	case errors.Is(err, host.ErrNotFound):
		return check.Result{Status: check.Fail, Message: "tailscale is not installed",
			Evidence: []check.Evidence{ev(tailscale.StatusCmd.String(), err.Error())}, Remediation: fix}
	case err != nil && strings.Contains(err.Error(), "exit status"):
		// The client ran but could not reach tailscaled: it is down.
		return check.Result{Status: check.Fail, Message: "tailscaled does not answer: " + err.Error(),
			Evidence: []check.Evidence{ev(tailscale.StatusCmd.String(), err.Error())}, Remediation: fix}
	case err != nil:
		return unknown("tailscale status", err, fix)
	}
	res := check.Result{Evidence: []check.Evidence{statusEvidence(s)}, Remediation: fix}
	switch {
	case !s.st.Running():
		res.Status, res.Message = check.Fail, "tailscale is "+s.st.BackendState+", not Running"
		if s.st.Self != nil && s.st.Self.Expired {
			res.Message += ": the node key has expired (re-authenticate, then disable key expiry)"
		} else if s.st.AuthURL != "" || s.st.BackendState == tailscale.StateNeedsLogin {
			res.Message += " (it waits for a login)"
		}
	case s.st.Self != nil && s.st.Self.Expired:
		res.Status, res.Message = check.Fail, "tailscale runs but this node's key has expired: the tailnet path is down"
	default:
		res.Status, res.Message = check.Pass, "tailscale is Running"
		if s.st.Self != nil && !s.st.Self.Online {
			res.Status, res.Message = check.Warn, "tailscale is Running but the coordination server reports this node offline"
		}
	}
	return res
}

func fixKeyExpiry(env *check.Env) check.Remediation {
	return check.Remediation{
		NixOS: strings.TrimSpace(env.Nix("tailnet.auth_key_file") +
			"\n# key expiry is not a NixOS option: authenticate with a tagged auth key, or disable key expiry for this machine in the admin console"),
		Generic: "disable key expiry for this node (admin console: Machines → … → Disable key expiry; or API POST /api/v2/device/{id}/key {\"keyExpiryDisabled\": true}), or re-join with a tagged auth key",
	}
}

func evalKeyExpiry(ctx context.Context, env *check.Env) check.Result {
	fix := fixKeyExpiry(env)
	s, err := readStatus(ctx, env)
	if err != nil {
		return unknown("tailscale status", err, fix)
	}
	res := check.Result{Evidence: []check.Evidence{statusEvidence(s)}, Remediation: fix, Status: check.Fail}
	self := s.st.Self
	// The status was read: every verdict below rests on it. A node that is
	// not logged in (no Self, or not Running) has no node key in force, so
	// the policy's non-expiring key does not hold: fail, not unknown
	// (unknown is for evidence that could not be read). lockdown's
	// pre-flight runs this same check.
	switch {
	case self == nil:
		res.Message = "tailscale status has no Self node: not logged in, so this node has no key"
	case self.Expired:
		res.Message = "this node's key has expired: the tailnet path is down until someone re-authenticates"
	case !s.st.Running():
		res.Message = "tailscale is " + s.st.BackendState + ", not Running: this node is not on the tailnet with a key in force (see tailnet.running)"
	case self.KeyExpiryDisabled():
		res.Status, res.Message = check.Pass, "key expiry is disabled for this node"
		if self.Tagged() {
			res.Message += " (tagged: " + strings.Join(self.Tags, ", ") + ")"
		}
	default:
		res.Message = "the node key expires on " + self.KeyExpiry.UTC().Format(time.RFC3339) + "; after that the tailnet path, and with ssh.tailnet_only all SSH, is gone"
	}
	return res
}

func fixInterface(env *check.Env) check.Remediation {
	return check.Remediation{
		NixOS:   env.Nix("tailnet.enabled", "tailnet.interface"),
		Generic: "bring tailscale up (tailscale up) so that " + env.Policy.Tailnet.Interface + " exists with its 100.x address",
	}
}

func evalInterface(ctx context.Context, env *check.Env) check.Result {
	p := env.Policy
	fix := fixInterface(env)
	ranges, err := tailscale.ParseRanges(p.Tailnet.Addresses)
	if err != nil {
		return unknown("the policy's tailnet.addresses", err, fix)
	}
	ifc, src, raw, err := ReadInterface(ctx, env, p.Tailnet.Interface)
	if errors.Is(err, tailscale.ErrNoInterface) {
		return check.Result{Status: check.Fail, Message: "interface " + p.Tailnet.Interface + " does not exist",
			Evidence: []check.Evidence{ev(src, string(raw))}, Remediation: fix}
	}
	if err != nil {
		return unknown("interface "+p.Tailnet.Interface, err, fix)
	}
	addrs := ifc.TailnetAddrs(ranges)
	var all []string
	for _, a := range ifc.Addrs {
		all = append(all, a.String())
	}
	res := check.Result{Remediation: fix, Evidence: []check.Evidence{ev(src,
		fmt.Sprintf("%s flags %v operstate %s addresses %v", ifc.Name, ifc.Flags, ifc.OperState, all))}}
	switch {
	case !ifc.Up():
		res.Status, res.Message = check.Fail, ifc.Name+" is down"
	case len(addrs) == 0:
		res.Status, res.Message = check.Fail, fmt.Sprintf("%s has no address in %s", ifc.Name, strings.Join(p.Tailnet.Addresses, ", "))
	default:
		res.Status, res.Message = check.Pass, fmt.Sprintf("%s is up with %v", ifc.Name, addrs)
		// Cross-check with what tailscale says its addresses are.
		if st, err := readStatus(ctx, env); err == nil && len(st.st.SelfIPs()) > 0 {
			res.Evidence = append(res.Evidence, statusEvidence(st))
			match := false
			for _, a := range st.st.SelfIPs() {
				match = match || slices.Contains(addrs, a)
			}
			if !match {
				res.Status = check.Warn
				res.Message += fmt.Sprintf(", but tailscale reports its addresses as %v", st.st.SelfIPs())
			}
		}
	}
	return res
}

func fixRouting(env *check.Env) check.Remediation {
	return check.Remediation{
		NixOS: strings.TrimSpace(env.Nix("tailnet.use_routing_features") +
			"\n# routes and exit nodes are tailscale preferences, not NixOS options: tailscale set (below), or services.tailscale.extraSetFlags"),
		Generic: "tailscale set --advertise-exit-node=false --advertise-routes= (stop offering routes), " +
			"tailscale set --exit-node= --accept-routes=false (stop using them); or change tailnet.use_routing_features in the policy",
	}
}

// evalRouting compares what this node routes over the tailnet with the
// policy's use_routing_features: a node that offers itself as an exit
// node or subnet router while the policy says none or client forwards
// (or, with ip_forward = 0, silently drops) other nodes' traffic; one
// that sends its own traffic through an exit node or accepts others'
// routes while the policy says none or server breaks strict rp_filter.
func evalRouting(ctx context.Context, env *check.Env) check.Result {
	want := env.Policy.Tailnet.UseRoutingFeatures
	fix := fixRouting(env)
	p, _, err := tailscale.ReadPrefs(ctx, env.Host)
	if err != nil {
		return unknown("tailscale debug prefs", err, fix)
	}
	var offers, uses []string
	if p.AdvertisesExitNode() {
		offers = append(offers, "offers to be an exit node")
	}
	if s := p.Subnets(); len(s) > 0 {
		offers = append(offers, fmt.Sprintf("advertises subnet routes %v", s))
	}
	if p.UsesExitNode() {
		n := p.ExitNodeIP
		if n == "" {
			n = p.ExitNodeID
		}
		uses = append(uses, "sends its traffic through exit node "+n)
	}
	if p.RouteAll {
		uses = append(uses, "accepts other nodes' subnet routes")
	}
	evidence := fmt.Sprintf("AdvertiseRoutes %v; ExitNodeID %q ExitNodeIP %q; RouteAll %v", p.AdvertiseRoutes, p.ExitNodeID, p.ExitNodeIP, p.RouteAll)
	res := check.Result{Evidence: []check.Evidence{ev(tailscale.PrefsCmd.String(), evidence)}, Remediation: fix}
	server := want == "server" || want == "both"
	client := want == "client" || want == "both"
	var bad []string
	if len(offers) > 0 && !server {
		bad = append(bad, offers...)
	}
	if len(uses) > 0 && !client {
		bad = append(bad, uses...)
	}
	switch {
	case len(bad) > 0:
		res.Status = check.Fail
		res.Message = fmt.Sprintf("this node %s, but the policy's tailnet.use_routing_features is %q", strings.Join(bad, " and "), want)
	case len(offers)+len(uses) == 0:
		res.Status, res.Message = check.Pass, fmt.Sprintf("this node offers no routes and uses no exit node (use_routing_features %q)", want)
	default:
		res.Status = check.Pass
		res.Message = fmt.Sprintf("this node %s, as use_routing_features %q allows", strings.Join(append(offers, uses...), " and "), want)
	}
	return res
}
