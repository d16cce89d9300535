package policy

import "sort"

// SysctlRange is the range of values rampart accepts for a kernel parameter.
type SysctlRange struct {
	Min, Max int64
	// Doc says in a few words what the parameter does.
	Doc string
}

// KnownSysctls are the kernel parameters a policy may set: the baseline's seven
// plus common hardening keys, each with the range the kernel accepts (from
// Documentation/networking/ip-sysctl.rst and admin-guide/sysctl/*.rst).
// A name outside this table is an error with a did-you-mean, since a typo
// would otherwise render a setting that silently does nothing.
var KnownSysctls = map[string]SysctlRange{
	// The baseline's seven.
	"net.ipv4.ip_forward":                {0, 1, "route IPv4 packets between interfaces"},
	"net.ipv4.conf.all.accept_redirects": {0, 1, "accept ICMP redirects"},
	"net.ipv4.conf.all.send_redirects":   {0, 1, "send ICMP redirects"},
	"net.ipv4.conf.all.rp_filter":        {0, 2, "reverse-path filter: 0 off, 1 strict, 2 loose"},
	"net.ipv4.tcp_syncookies":            {0, 2, "SYN cookies: 0 off, 1 on overflow, 2 always"},
	"net.ipv4.tcp_max_syn_backlog":       {1, 1 << 31, "half-open connections remembered"},
	"net.ipv4.tcp_synack_retries":        {0, 255, "SYN-ACK retransmissions"},

	// IPv4 hardening.
	"net.ipv4.conf.default.accept_redirects":     {0, 1, "accept ICMP redirects (new interfaces)"},
	"net.ipv4.conf.default.send_redirects":       {0, 1, "send ICMP redirects (new interfaces)"},
	"net.ipv4.conf.default.rp_filter":            {0, 2, "reverse-path filter (new interfaces)"},
	"net.ipv4.conf.all.secure_redirects":         {0, 1, "accept redirects from default gateways"},
	"net.ipv4.conf.default.secure_redirects":     {0, 1, "accept redirects from default gateways (new interfaces)"},
	"net.ipv4.conf.all.accept_source_route":      {0, 1, "accept source-routed packets"},
	"net.ipv4.conf.default.accept_source_route":  {0, 1, "accept source-routed packets (new interfaces)"},
	"net.ipv4.conf.all.log_martians":             {0, 1, "log packets with impossible addresses"},
	"net.ipv4.conf.default.log_martians":         {0, 1, "log packets with impossible addresses (new interfaces)"},
	"net.ipv4.conf.all.forwarding":               {0, 1, "forward IPv4 on all interfaces"},
	"net.ipv4.icmp_echo_ignore_broadcasts":       {0, 1, "ignore broadcast pings (smurf)"},
	"net.ipv4.icmp_echo_ignore_all":              {0, 1, "ignore all pings"},
	"net.ipv4.icmp_ignore_bogus_error_responses": {0, 1, "ignore bogus ICMP errors"},
	"net.ipv4.tcp_rfc1337":                       {0, 1, "drop RST in TIME-WAIT (RFC 1337)"},
	"net.ipv4.tcp_syn_retries":                   {1, 127, "SYN retransmissions"},
	"net.ipv4.tcp_timestamps":                    {0, 2, "TCP timestamps"},
	"net.ipv4.tcp_fin_timeout":                   {1, 1 << 31, "FIN-WAIT-2 timeout in seconds"},

	// IPv6 hardening.
	"net.ipv6.conf.all.accept_redirects":        {0, 1, "accept ICMPv6 redirects"},
	"net.ipv6.conf.default.accept_redirects":    {0, 1, "accept ICMPv6 redirects (new interfaces)"},
	"net.ipv6.conf.all.accept_source_route":     {-1, 1, "accept IPv6 source routing"},
	"net.ipv6.conf.default.accept_source_route": {-1, 1, "accept IPv6 source routing (new interfaces)"},
	"net.ipv6.conf.all.accept_ra":               {0, 2, "accept router advertisements"},
	"net.ipv6.conf.default.accept_ra":           {0, 2, "accept router advertisements (new interfaces)"},
	"net.ipv6.conf.all.forwarding":              {0, 1, "forward IPv6"},
	"net.ipv6.conf.all.disable_ipv6":            {0, 1, "disable IPv6"},
	"net.ipv6.conf.default.disable_ipv6":        {0, 1, "disable IPv6 (new interfaces)"},

	// Core networking.
	"net.core.bpf_jit_enable": {0, 2, "BPF JIT compiler"},
	"net.core.bpf_jit_harden": {0, 2, "harden the BPF JIT"},
	"net.core.somaxconn":      {1, 1 << 31, "listen backlog limit"},

	// Kernel.
	"kernel.kptr_restrict":             {0, 2, "hide kernel pointers"},
	"kernel.dmesg_restrict":            {0, 1, "dmesg for root only"},
	"kernel.yama.ptrace_scope":         {0, 3, "ptrace restrictions"},
	"kernel.unprivileged_bpf_disabled": {0, 2, "forbid bpf() for unprivileged users"},
	"kernel.randomize_va_space":        {0, 2, "address space layout randomisation"},
	"kernel.sysrq":                     {0, 511, "magic SysRq functions (bitmask)"},
	"kernel.kexec_load_disabled":       {0, 1, "forbid kexec_load"},
	"kernel.perf_event_paranoid":       {-1, 4, "perf events restrictions"},
	"kernel.core_uses_pid":             {0, 1, "append the PID to core file names"},
	"kernel.unprivileged_userns_clone": {0, 1, "user namespaces for unprivileged users (Debian)"},
	"kernel.ftrace_enabled":            {0, 1, "function tracer"},

	// File systems and memory.
	"fs.protected_hardlinks":      {0, 1, "hard-link protection"},
	"fs.protected_symlinks":       {0, 1, "symlink protection"},
	"fs.protected_fifos":          {0, 2, "FIFO protection in sticky directories"},
	"fs.protected_regular":        {0, 2, "regular-file protection in sticky directories"},
	"fs.suid_dumpable":            {0, 2, "core dumps of setuid programs"},
	"vm.mmap_min_addr":            {0, 1 << 32, "lowest mmap address"},
	"vm.unprivileged_userfaultfd": {0, 1, "userfaultfd for unprivileged users"},
	"vm.swappiness":               {0, 200, "swap tendency"},
}

func knownSysctlNames() []string {
	out := make([]string, 0, len(KnownSysctls))
	for k := range KnownSysctls {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
