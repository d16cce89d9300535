package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rampart-sec/rampart/internal/policy"
)

// PolicyFlags are the policy options every command that reads a policy
// takes: -p FILE / --policy FILE and --profile baseline|tailnet (the base
// profile when there is no file, or when the file has no "profile" key).
type PolicyFlags struct {
	Path    string
	Profile string
}

// AddPolicyFlags registers -p, --policy and --profile on fs.
func AddPolicyFlags(fs *flag.FlagSet) *PolicyFlags {
	pf := &PolicyFlags{}
	fs.StringVar(&pf.Path, "p", "", "policy `FILE` (default: the embedded default policy)")
	fs.StringVar(&pf.Path, "policy", "", "policy `FILE` (same as -p)")
	fs.StringVar(&pf.Profile, "profile", "", "profile `P`: baseline or tailnet, for the embedded policy (or a file without \"profile\")")
	return pf
}

// Load is LoadPolicy with the flags' path and profile.
func (pf *PolicyFlags) Load(env *Env) (*policy.Policy, int) {
	return LoadPolicy(env, pf.Path, pf.Profile)
}

// LoadPolicy loads the policy file at path ("-" reads standard input), or
// the embedded default of profile when path is "". On failure it prints every problem to
// env.Stderr (one "FILE:LINE:COL: field: message" line each) and returns a
// nil policy with the exit code to return: ExitProblem for an invalid
// policy, ExitUsage for an unreadable file or an unknown profile. Lock-out
// risks are not failures here; see policy.Policy.LockoutRisks.
//
//	p, code := cli.LoadPolicy(env, pf.Path, pf.Profile)
//	if p == nil {
//		return code
//	}
func LoadPolicy(env *Env, path, profile string) (*policy.Policy, int) {
	return loadPolicy(env, path, policy.Options{Profile: profile})
}

// stdinName names a policy read from standard input (-p -) in messages.
const stdinName = "<stdin>"

// maxPolicySize bounds a policy read from standard input.
const maxPolicySize = 4 << 20

// maxPrinted bounds the problems printed for one file; a mangled file can
// have thousands and the first ones say what is wrong.
const maxPrinted = 100

func loadPolicy(env *Env, path string, o policy.Options) (*policy.Policy, int) {
	if o.Profile != "" && o.Profile != policy.ProfileBaseline && o.Profile != policy.ProfileTailnet {
		fmt.Fprintf(env.Stderr, "rampart: unknown profile %q (expected %q or %q)\n", o.Profile, policy.ProfileBaseline, policy.ProfileTailnet)
		return nil, ExitUsage
	}
	var p *policy.Policy
	var err error
	if path == "-" {
		in := env.Stdin
		if in == nil {
			in = strings.NewReader("")
		}
		var data []byte
		if data, err = io.ReadAll(io.LimitReader(in, maxPolicySize)); err == nil {
			p, err = policy.ParseOptions(stdinName, data, o)
		} else {
			err = fmt.Errorf("read policy from stdin: %w", err)
		}
	} else {
		p, err = policy.LoadOptions(path, o)
	}
	if err == nil {
		return p, ExitOK
	}
	var errs policy.Errors
	if errors.As(err, &errs) {
		for i, e := range errs {
			if i == maxPrinted {
				fmt.Fprintf(env.Stderr, "%s: ... and %d more\n", e.File, len(errs)-i)
				break
			}
			fmt.Fprintln(env.Stderr, e.Error())
		}
		n := "1 problem"
		if len(errs) != 1 {
			n = fmt.Sprintf("%d problems", len(errs))
		}
		fmt.Fprintf(env.Stderr, "rampart: %s: invalid policy (%s)\n", errs[0].File, n)
		return nil, ExitProblem
	}
	fmt.Fprintf(env.Stderr, "rampart: %v\n", err)
	return nil, ExitUsage
}

var policyCmd = &Command{
	Name:    "policy",
	Summary: "write, check and show the policy file",
	Usage:   "policy <init|check|show> [arguments]",
	Help: `One TOML policy file drives every rampart command. With no file (no -p),
commands use the embedded default: the hardened server ("baseline"), or with
--profile tailnet the same plus Tailscale with SSH only over the tailnet.

Examples:
  rampart policy init --admin alice --key alice.pub > rampart.toml
  rampart policy init --profile tailnet > rampart.toml
  rampart policy check rampart.toml
  rampart policy show rampart.toml --format json`,
}

var policyInitCmd = &Command{
	Name:    "init",
	Summary: "print a commented policy equal to the built-in default, with your admin key",
	Usage:   "policy init [--profile baseline|tailnet] [--admin NAME] [--key FILE|- ...]",
	Help: `Prints a policy file in which every key is set to the default of the profile
and explained in a comment. Site-specific values (your LAN in ban.ignore, the
Tailscale auth-key file) are shown as commented examples to fill in.

Password logins are off by default, so 'policy check' refuses a file without
an admin key: --admin NAME --key FILE writes [[admin.users]] with the public
keys in FILE (authorized_keys format: one key a line, # comments; "-" reads
standard input; --key may be repeated). Every key is checked; a bad one is
reported as FILE:LINE. Under sudo, --admin defaults to the invoking user
(SUDO_USER) and --key to that user's ~/.ssh/authorized_keys when it exists
(said on stderr). Without a key the admin table is a commented example.

Examples:
  rampart policy init --admin alice --key ~/.ssh/id_ed25519.pub > policy.toml
  sudo rampart policy init > /etc/rampart/policy.toml     # your own keys, as SUDO_USER
  ssh-add -L | rampart policy init --admin alice --key - > policy.toml
  rampart policy init --profile tailnet --admin alice --key alice.pub > policy.toml

Exit codes: 0 printed, 2 unknown profile, bad user name, unreadable or invalid
key file, or bad arguments.`,
}

var policyCheckCmd = &Command{
	Name:    "check",
	Summary: "validate a policy file and report every problem",
	Usage:   "policy check [FILE] [--profile baseline|tailnet]",
	Help: `Validates FILE (or -p FILE) and prints every problem as FILE:LINE:COL: field:
message: syntax errors, unknown keys (with a did-you-mean), wrong types, bad
durations, addresses, CIDRs, ports, enum values, sysctl names and ranges,
audit watches, and cross-field rules. For a file, lock-out risks are errors
too: password and keyboard-interactive logins off without any admin
authorized key, or SSH only over the tailnet without an auth-key file.

With no file the embedded default is checked; it prints "(default): ok" and
its lock-out risks as warnings (the default has no admin keys: they are
site-specific). Warnings about conflicting settings are printed in both cases.

Examples:
  rampart policy check rampart.toml
  rampart policy check -p rampart.toml
  rampart policy init --admin alice --key alice.pub | rampart policy check -   # "-" reads stdin
  rampart policy check --profile tailnet

Exit codes: 0 valid, 1 problems found, 2 file unreadable or bad arguments.`,
}

var policyShowCmd = &Command{
	Name:    "show",
	Summary: "print the effective policy with defaults filled in",
	Usage:   "policy show [FILE] [--format toml|json] [--profile baseline|tailnet]",
	Help: `Prints the policy that commands will use: FILE (or -p FILE) merged onto the
default of its profile, every key explicit. The TOML output is itself a
valid policy file that parses to the same policy.

Examples:
  rampart policy show
  rampart policy show rampart.toml
  rampart policy show --profile tailnet --format json | jq .ssh

Exit codes: 0 printed, 1 invalid policy, 2 file unreadable or bad arguments.`,
}

func init() {
	policyInitCmd.Run = runPolicyInit
	policyCheckCmd.Run = runPolicyCheck
	policyShowCmd.Run = runPolicyShow
	policyCmd.Subcommands = []*Command{policyInitCmd, policyCheckCmd, policyShowCmd}
	Register(policyCmd)
}

func runPolicyInit(env *Env, args []string) int {
	const path = "policy init"
	fs := NewFlags(path)
	profile := fs.String("profile", policy.ProfileBaseline, "profile: baseline or tailnet")
	admin := fs.String("admin", "", "admin user `NAME` (default under sudo: SUDO_USER)")
	var keyFiles stringList
	fs.Var(&keyFiles, "key", "authorized keys `FILE` of the admin (- = stdin; repeatable)")
	if code, ok := ParseNoArgs(env, fs, policyInitCmd, path, args); !ok {
		return code
	}
	p, err := policy.Default(*profile)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return ExitUsage
	}
	admins, code := initAdmins(env, path, *admin, keyFiles)
	if code != ExitOK {
		return code
	}
	src, err := policy.InitTOML(*profile, admins...)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return ExitUsage
	}
	_, _ = env.Stdout.Write(src)
	p.Admin.Users = admins
	for _, r := range p.LockoutRisks() {
		fmt.Fprintf(env.Stderr, "rampart %s: note: 'rampart policy check' refuses this file until you fix: %s\n", path, r)
	}
	return ExitOK
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// initAdmins works out policy init's admin user from --admin and --key, or
// under sudo from the invoking user and their ~/.ssh/authorized_keys. It
// returns no admin when none was asked for, and a non-zero exit code after
// printing the problem.
func initAdmins(env *Env, path, name string, keyFiles []string) ([]policy.AdminUser, int) {
	sudoUser := env.Getenv("SUDO_USER")
	if sudoUser == "root" {
		sudoUser = ""
	}
	if name == "" && sudoUser == "" && len(keyFiles) == 0 {
		return nil, ExitOK
	}
	nameGiven := name != ""
	if !nameGiven {
		if sudoUser == "" {
			return nil, usageErr(env, policyInitCmd, path, "--key needs --admin NAME (the user the keys log in as)")
		}
		name = sudoUser
	}
	if err := policy.CheckUserName(name); err != nil {
		return nil, usageErr(env, policyInitCmd, path, "--admin: %v", err)
	}
	if len(keyFiles) == 0 && sudoUser != "" {
		f := sudoKeysFile(env, sudoUser)
		switch {
		case f != "":
			keyFiles = []string{f}
			fmt.Fprintf(env.Stderr, "rampart %s: under sudo: admin %s gets the keys of %s (SUDO_USER %s); use --admin/--key for others\n", path, name, f, sudoUser)
		case !nameGiven:
			// Only sudo asked for an admin, and its user has no keys:
			// the plain template, as without sudo.
			return nil, ExitOK
		}
	}
	if len(keyFiles) == 0 {
		return nil, usageErr(env, policyInitCmd, path, "--admin %s needs --key FILE (the public keys %s logs in with)", name, name)
	}
	var keys []string
	seen := map[string]bool{}
	stdinUsed := false
	for _, f := range keyFiles {
		var data []byte
		var err error
		shown := f
		if f == "-" {
			if stdinUsed {
				return nil, usageErr(env, policyInitCmd, path, "--key - given twice (standard input can be read once)")
			}
			stdinUsed, shown = true, stdinName
			data, err = io.ReadAll(io.LimitReader(env.Stdin, maxPolicySize))
		} else {
			data, err = readLimited(f, maxPolicySize)
		}
		if err == nil {
			var got []string
			if got, err = parseKeyFile(shown, data); err == nil {
				for _, k := range got {
					if !seen[k] {
						seen[k] = true
						keys = append(keys, k)
					}
				}
			}
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "rampart %s: --key: %v\n", path, err)
			return nil, ExitUsage
		}
	}
	return []policy.AdminUser{{Name: name, AuthorizedKeys: keys, Sudo: true}}, ExitOK
}

// sudoKeysFile is the authorized_keys file of user when it exists, or "".
func sudoKeysFile(env *Env, user string) string {
	home, err := env.HomeDir(user)
	if err != nil || home == "" {
		return ""
	}
	f := filepath.Join(home, ".ssh", "authorized_keys")
	if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
		return ""
	}
	return f
}

// readLimited reads at most limit bytes of the file at path; a larger file
// is an error (a key file is small; this is not one).
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = fmt.Errorf("%s: larger than %d bytes: not a public key file", path, limit)
	}
	return data, err
}

// parseKeyFile returns the keys of an authorized_keys-format file (one key
// a line, blank lines and # comments skipped), each checked as an admin
// key; the first bad line is an error naming name:LINE.
func parseKeyFile(name string, data []byte) ([]string, error) {
	var keys []string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.Contains(line, "PRIVATE KEY") {
			return nil, fmt.Errorf("%s:%d: this is a private key: give the public one (the .pub file)", name, i+1)
		}
		if err := policy.CheckAuthorizedKey(line); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, i+1, err)
		}
		keys = append(keys, line)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no public key in it (expected lines like \"ssh-ed25519 AAAAC3Nz... alice@laptop\")", name)
	}
	return keys, nil
}

// policyFile parses the flags of check/show and returns the file named by
// the positional argument or -p.
func policyFile(env *Env, c *Command, path string, args []string, extra func(*flag.FlagSet)) (*PolicyFlags, int, bool) {
	fs := NewFlags(path)
	pf := AddPolicyFlags(fs)
	if extra != nil {
		extra(fs)
	}
	pos, code, ok := ParseFlags(env, fs, c, path, args)
	if !ok {
		return nil, code, false
	}
	switch {
	case len(pos) > 1:
		return nil, usageErr(env, c, path, "too many arguments"), false
	case len(pos) == 1 && pf.Path != "" && pos[0] != pf.Path:
		return nil, usageErr(env, c, path, "two policy files given (%q and -p %q)", pos[0], pf.Path), false
	case len(pos) == 1:
		pf.Path = pos[0]
	}
	return pf, ExitOK, true
}

func usageErr(env *Env, c *Command, path, format string, args ...any) int {
	fmt.Fprintf(env.Stderr, "rampart %s: %s\n", path, fmt.Sprintf(format, args...))
	fmt.Fprintf(env.Stderr, "Usage: rampart %s\nRun 'rampart help %s' for details.\n", c.Usage, path)
	return ExitUsage
}

func runPolicyCheck(env *Env, args []string) int {
	pf, code, ok := policyFile(env, policyCheckCmd, "policy check", args, nil)
	if !ok {
		return code
	}
	p, code := loadPolicy(env, pf.Path, policy.Options{Profile: pf.Profile, Strict: true})
	if p == nil {
		return code
	}
	name := p.Source
	if pf.Path == "" {
		name = "(default)"
	}
	fmt.Fprintf(env.Stdout, "%s: ok\n", name)
	if pf.Path == "" {
		for _, r := range p.LockoutRisks() {
			fmt.Fprintf(env.Stderr, "%s: warning: lock-out risk: %s\n", name, r)
		}
	}
	for _, c := range p.Conflicts() {
		fmt.Fprintf(env.Stderr, "%s: warning: %s\n", name, c)
	}
	return ExitOK
}

func runPolicyShow(env *Env, args []string) int {
	var format string
	pf, code, ok := policyFile(env, policyShowCmd, "policy show", args, func(fs *flag.FlagSet) {
		fs.StringVar(&format, "format", "toml", "output `FORMAT`: toml or json")
	})
	if !ok {
		return code
	}
	if format != "toml" && format != "json" {
		return usageErr(env, policyShowCmd, "policy show", "unknown format %q (expected toml or json)", format)
	}
	p, code := LoadPolicy(env, pf.Path, pf.Profile)
	if p == nil {
		return code
	}
	if format == "json" {
		b, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			fmt.Fprintf(env.Stderr, "rampart policy show: %v\n", err)
			return ExitUsage
		}
		_, _ = env.Stdout.Write(append(b, '\n'))
		return ExitOK
	}
	_, _ = env.Stdout.Write(policy.MarshalTOML(p))
	return ExitOK
}
