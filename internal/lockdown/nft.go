package lockdown

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/lazyre"
	"github.com/rampart-sec/rampart/internal/policy"
)

// DefaultTable is the name of rampart's lockdown table (family inet).
const DefaultTable = "rampart-lockdown"

// Config is what the lockdown table enforces.
type Config struct {
	// Table is the inet table name.
	Table string `json:"table"`
	// Ports are the SSH ports closed outside the trusted interfaces.
	Ports []int `json:"ports"`
	// Tailnet is the tailnet interface (tailscale0); a confirm must arrive
	// through it.
	Tailnet string `json:"tailnet"`
	// Trusted are the interfaces that keep SSH: loopback, the tailnet
	// interface and the policy's other trusted interfaces.
	Trusted []string `json:"trusted"`
	// Ranges are the tailnet address ranges (policy tailnet.addresses).
	Ranges []string `json:"ranges"`
}

var ifnameRE = lazyre.New(`^[A-Za-z0-9_.:@-]{1,15}$`)
var tableRE = lazyre.New(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// ConfigFromPolicy derives the lockdown from a policy. It refuses a policy
// that would lock out the admin: no tailnet interface, or no SSH port.
func ConfigFromPolicy(p *policy.Policy) (Config, error) {
	c := Config{Table: DefaultTable, Tailnet: p.Tailnet.Interface, Ranges: p.Tailnet.Addresses}
	if c.Tailnet == "" {
		return c, errors.New("lockdown: policy field tailnet.interface is empty (expected the tailnet interface, e.g. \"tailscale0\")")
	}
	for _, port := range p.SSH.Ports {
		if port < 1 || port > 65535 {
			return c, fmt.Errorf("lockdown: policy field ssh.ports: %d is not a port (expected 1..65535)", port)
		}
		if !slices.Contains(c.Ports, port) {
			c.Ports = append(c.Ports, port)
		}
	}
	if len(c.Ports) == 0 {
		return c, errors.New("lockdown: policy field ssh.ports is empty (expected the SSH ports to close)")
	}
	c.Trusted = []string{"lo"}
	for _, ifc := range append([]string{c.Tailnet}, p.TrustedInterfaces()...) {
		if !ifnameRE.MatchString(ifc) {
			return c, fmt.Errorf("lockdown: interface name %q: expected 1-15 letters, digits or _.:@-", ifc)
		}
		if !slices.Contains(c.Trusted, ifc) {
			c.Trusted = append(c.Trusted, ifc)
		}
	}
	return c, nil
}

func (c Config) check() error {
	if !tableRE.MatchString(c.Table) {
		return fmt.Errorf("lockdown: table name %q: expected a letter then letters, digits, _ or -", c.Table)
	}
	if len(c.Ports) == 0 || len(c.Trusted) == 0 {
		return errors.New("lockdown: no SSH ports or no trusted interfaces")
	}
	for _, ifc := range c.Trusted {
		if !ifnameRE.MatchString(ifc) {
			return fmt.Errorf("lockdown: interface name %q: expected 1-15 letters, digits or _.:@-", ifc)
		}
	}
	return nil
}

func (c Config) portSet() string {
	ps := make([]string, len(c.Ports))
	for i, p := range c.Ports {
		ps[i] = strconv.Itoa(p)
	}
	return "{ " + strings.Join(ps, ", ") + " }"
}

// Script is the nft script that installs (or atomically replaces) the
// lockdown table: one transaction, so the host never runs with half of it.
//
// The drop matches only a bare SYN (a new connection attempt) rather than
// conntrack's "new" state: a session that was open before conntrack saw it
// is picked up mid-stream as "new" by conntrack, and an admin's running
// session must survive the change.
func (c Config) Script() (string, error) {
	if err := c.check(); err != nil {
		return "", err
	}
	ifs := make([]string, len(c.Trusted))
	for i, s := range c.Trusted {
		ifs[i] = strconv.Quote(s)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# rampart lockdown: new SSH connections (tcp %s) only on %s\n", c.portSet(), strings.Join(c.Trusted, ", "))
	fmt.Fprintf(&b, "table inet %s\n", c.Table)
	fmt.Fprintf(&b, "delete table inet %s\n", c.Table)
	fmt.Fprintf(&b, "table inet %s {\n", c.Table)
	b.WriteString("\tchain input {\n")
	b.WriteString("\t\ttype filter hook input priority filter - 10; policy accept;\n")
	fmt.Fprintf(&b, "\t\tiifname { %s } tcp dport %s accept\n", strings.Join(ifs, ", "), c.portSet())
	fmt.Fprintf(&b, "\t\ttcp dport %s tcp flags & (fin | syn | rst | ack) == syn counter drop\n", c.portSet())
	b.WriteString("\t}\n}\n")
	return b.String(), nil
}

// RemoveScript deletes the table; it succeeds whether or not the table
// exists, so a rollback can be repeated.
func RemoveScript(table string) string {
	return fmt.Sprintf("table inet %s\ndelete table inet %s\n", table, table)
}

// Install loads the table through `nft -f -` on h.
func Install(ctx context.Context, h host.Host, c Config) error {
	s, err := c.Script()
	if err != nil {
		return err
	}
	if _, err := host.RunOK(ctx, h, host.Cmd{Name: "nft", Args: []string{"-f", "-"}, Stdin: []byte(s), Sudo: true}); err != nil {
		return fmt.Errorf("lockdown: install table inet %s: %w", c.Table, err)
	}
	return nil
}

// Remove deletes the table through `nft -f -` on h.
func Remove(ctx context.Context, h host.Host, table string) error {
	if !tableRE.MatchString(table) {
		return fmt.Errorf("lockdown: table name %q: expected a letter then letters, digits, _ or -", table)
	}
	if _, err := host.RunOK(ctx, h, host.Cmd{Name: "nft", Args: []string{"-f", "-"}, Stdin: []byte(RemoveScript(table)), Sudo: true}); err != nil {
		return fmt.Errorf("lockdown: remove table inet %s: %w", table, err)
	}
	return nil
}

// TablePresent reports whether the table exists, with the listing.
func TablePresent(ctx context.Context, h host.Host, table string) (bool, string, error) {
	c := host.Cmd{Name: "nft", Args: []string{"list", "table", "inet", table}, Sudo: true}
	out, err := h.Run(ctx, c)
	if err != nil {
		return false, "", err
	}
	if out.ExitCode != 0 {
		msg := string(out.Stderr)
		if strings.Contains(msg, "No such file or directory") {
			return false, "", nil
		}
		return false, "", fmt.Errorf("%s: exit status %d: %s", c.String(), out.ExitCode, strings.TrimSpace(msg))
	}
	return true, string(out.Stdout), nil
}
