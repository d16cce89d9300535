package audit

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/rampart-sec/rampart/internal/policy"
)

// Rule is one audit rule in normal form. Two spellings of the same rule
// (`-w P -p wa -k K` and `-a always,exit -F path=P -F perm=aw -F key=K`)
// parse to Rules with the same Canon.
type Rule struct {
	// List is exit, task, user, exclude, filesystem or io_uring.
	List string `json:"list"`
	// Action is always or never.
	Action string `json:"action"`
	// Syscalls is sorted and unique; empty means all system calls.
	Syscalls []string `json:"syscalls,omitempty"`
	// Fields are the -F and -C conditions other than path, dir, perm and
	// key, in the order written.
	Fields []Field `json:"fields,omitempty"`
	// Watch is the watched path (cleaned, no trailing slash).
	Watch string `json:"watch,omitempty"`
	// Dir is set when the rule was written with -F dir= (a subtree).
	// It does not take part in comparison: the kernel lists a directory
	// watch either way.
	Dir bool `json:"dir,omitempty"`
	// Perm is a subset of "rwxa" in that order.
	Perm string `json:"perm,omitempty"`
	// Keys are sorted and unique.
	Keys []string `json:"keys,omitempty"`
	// Args is the rule as written, token by token. The kernel matches a
	// rule to delete field by field in its stored order, so deletion
	// reuses the listed spelling.
	Args []string `json:"-"`
	// relisted is set when the kernel's netlink listing corrected the
	// list or action auditctl -l printed (see netlink.go): Args then no
	// longer describe the rule.
	relisted bool
}

// Field is one -F NAME OP VALUE (or -C NAME OP NAME, with Name "C:NAME").
type Field struct {
	Name  string `json:"name"`
	Op    string `json:"op"`
	Value string `json:"value"`
}

func (f Field) String() string { return f.Name + f.Op + f.Value }

// IsWatch reports whether r is a plain file watch (what `-w` writes):
// the exit list, always, every system call, a perm, no conditions but
// the path.
func (r Rule) IsWatch() bool {
	return r.Watch != "" && r.Perm != "" && r.List == "exit" && r.Action == "always" && len(r.Syscalls) == 0 && len(r.Fields) == 0
}

// FormatArgs returns the rule as auditctl arguments in rampart's
// canonical spelling: `-w P -p PERM -k K` for plain watches, otherwise
// `-a always,exit [-S …] -F … -F key=K`.
func (r Rule) FormatArgs() []string {
	if r.IsWatch() {
		a := []string{"-w", r.Watch}
		if r.Perm != "" {
			a = append(a, "-p", r.Perm)
		}
		for _, k := range r.Keys {
			a = append(a, "-k", k)
		}
		return a
	}
	a := []string{"-a", r.Action + "," + r.List}
	var rest []Field
	for _, f := range r.Fields {
		if f.Name == "arch" { // auditctl needs the arch before -S
			a = append(a, "-F", f.String())
		} else {
			rest = append(rest, f)
		}
	}
	if len(r.Syscalls) > 0 {
		a = append(a, "-S", strings.Join(r.Syscalls, ","))
	}
	for _, f := range rest {
		if name, ok := strings.CutPrefix(f.Name, "C:"); ok {
			a = append(a, "-C", name+f.Op+f.Value)
		} else {
			a = append(a, "-F", f.String())
		}
	}
	if r.Watch != "" {
		kind := "path"
		if r.Dir {
			kind = "dir"
		}
		a = append(a, "-F", kind+"="+r.Watch)
	}
	if r.Perm != "" {
		a = append(a, "-F", "perm="+r.Perm)
	}
	for _, k := range r.Keys {
		a = append(a, "-F", "key="+k)
	}
	return a
}

// String is the canonical spelling as one line.
func (r Rule) String() string { return strings.Join(r.FormatArgs(), " ") }

// Listed is the rule as auditctl -l printed it, or, when the kernel's
// netlink listing corrected it, the corrected rule with a note.
func (r Rule) Listed() string {
	if len(r.Args) == 0 {
		return r.String()
	}
	if r.relisted {
		return r.String() + "  (auditctl -l prints: " + strings.Join(r.Args, " ") + ")"
	}
	return strings.Join(r.Args, " ")
}

// Canon is the rule's identity for comparison: field order, perm order,
// key order, -S order, -k vs -F key=, -w vs -F path= and path vs dir do
// not matter.
func (r Rule) Canon() string {
	c := r
	c.Dir = false
	c.Fields = append([]Field(nil), r.Fields...)
	sort.SliceStable(c.Fields, func(i, j int) bool { return c.Fields[i].String() < c.Fields[j].String() })
	return strings.Join(c.FormatArgs(), "\x00")
}

// DeleteArgs returns auditctl arguments that remove r: the listed
// spelling with -a turned into -d and -w into -W. The kernel matches a
// rule to delete field by field in its stored order (auditctl always
// stores the key last), so the listed order is kept.
func (r Rule) DeleteArgs() []string {
	a := append([]string(nil), r.Args...)
	if len(a) == 0 || r.relisted {
		a = r.FormatArgs()
	}
	switch a[0] {
	case "-a", "-A":
		a[0] = "-d"
	case "-w":
		a[0] = "-W"
	}
	return a
}

// DeleteCandidates are argument lists that may delete r, most likely
// first. The listing does not say whether a watch was loaded as a file
// (-F path=) or a directory (-F dir=), and a rule loaded with perm before
// path is listed in a garbled form, so the other field type is tried too.
func (r Rule) DeleteCandidates() [][]string {
	first := r.DeleteArgs()
	out := [][]string{first}
	alt := append([]string(nil), first...)
	changed := false
	for i := 1; i < len(alt); i++ {
		if alt[i-1] != "-F" {
			continue
		}
		if v, ok := strings.CutPrefix(alt[i], "path="); ok {
			alt[i], changed = "dir="+v, true
		} else if v, ok := strings.CutPrefix(alt[i], "dir="); ok {
			alt[i], changed = "path="+v, true
		}
	}
	if changed {
		out = append(out, alt)
	}
	if first[0] == "-W" && r.IsWatch() {
		// -W decides file or directory by stat; if the directory is
		// gone, only the explicit dir= form matches.
		args := []string{"-d", "always,exit", "-F", "dir=" + r.Watch}
		if r.Perm != "" {
			args = append(args, "-F", "perm="+r.Perm)
		}
		for _, k := range r.Keys {
			args = append(args, "-F", "key="+k)
		}
		out = append(out, args)
	}
	return out
}

// Covers reports whether the loaded rule have records at least what want
// asks for: both plain watches of the same path, have's perms a superset
// and have's keys including want's.
func (have Rule) Covers(want Rule) bool {
	if !have.IsWatch() || !want.IsWatch() || have.Watch != want.Watch {
		return false
	}
	for _, p := range want.Perm {
		if !strings.ContainsRune(have.Perm, p) {
			return false
		}
	}
	for _, k := range want.Keys {
		if !contains(have.Keys, k) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// RuleSet is a parsed rules listing or rules file.
type RuleSet struct {
	Rules []Rule
	// Controls are lines such as -D, -b 8192 or -e 1, kept as written.
	Controls []string
}

// PosError is a parse error at a 1-based line and column of a named input.
type PosError struct {
	Name      string
	Line, Col int
	Msg       string
}

func (e *PosError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.Name, e.Line, e.Col, e.Msg)
}

// ParseRules parses `auditctl -l` output or an audit rules file. Blank
// lines, comments and "No rules" are skipped; control lines are returned
// in Controls. Every bad line is reported (joined) as NAME:LINE:COL, and
// the good lines are still returned.
func ParseRules(name string, data []byte) (*RuleSet, error) {
	rs := &RuleSet{}
	var errs []error
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") || trimmed == "No rules" {
			continue
		}
		r, err := ParseRule(ungarble(line))
		var pe *PosError
		switch {
		case errors.Is(err, errControl):
			rs.Controls = append(rs.Controls, trimmed)
		case errors.As(err, &pe):
			pe.Name, pe.Line = name, i+1
			errs = append(errs, pe)
		case err != nil:
			errs = append(errs, fmt.Errorf("%s:%d: %w", name, i+1, err))
		default:
			rs.Rules = append(rs.Rules, r)
		}
	}
	return rs, errors.Join(errs...)
}

var errControl = errors.New("control line")

// garbledRE matches how auditctl -l (audit 3.0.9) prints a watch whose
// perm field was loaded before its path ("-a always,exit -F perm=wa
// -F path=/x -F key=k"): " -p wa-w /x -k k".
var garbledRE = regexp.MustCompile(`^\s*-p ([rwxa]+)-w (/.*)$`)

// ungarble rewrites such a line into the -a form with the fields in the
// kernel's order (perm, then path), so that it parses and can be deleted.
func ungarble(line string) string {
	m := garbledRE.FindStringSubmatch(line)
	if m == nil {
		return line
	}
	return "-a always,exit -F perm=" + m[1] + " -F path=" + m[2]
}

type token struct {
	s   string
	col int
}

// tokenize splits on single spaces and records 1-based columns. Empty
// tokens stand for runs of spaces, so a path printed with spaces inside
// (auditctl -l prints paths raw) can be joined back exactly.
func tokenize(line string) []token {
	var out []token
	col := 1
	for _, s := range strings.Split(line, " ") {
		out = append(out, token{s, col})
		col += len(s) + 1
	}
	return out
}

// options that take a value, and the ones whose value may contain spaces.
var (
	valueOpts  = map[string]bool{"-w": true, "-p": true, "-k": true, "-a": true, "-A": true, "-S": true, "-F": true, "-C": true}
	spacedOpts = map[string]bool{"-w": true, "-k": true, "-F": true}
	controlOps = map[string]bool{"-D": true, "-b": true, "-e": true, "-f": true, "-r": true, "-i": true, "-c": true, "--backlog_wait_time": true, "--loginuid-immutable": true, "--reset-lost": true, "--reset_backlog_wait_time_actual": true}
	lists      = map[string]bool{"exit": true, "task": true, "user": true, "exclude": true, "filesystem": true, "io_uring": true}
	actions    = map[string]bool{"always": true, "never": true}
	// fields whose value is a user or group id, where -1, 4294967295
	// and "unset" all mean "not set".
	idFields = map[string]bool{"auid": true, "loginuid": true, "uid": true, "euid": true, "suid": true, "fsuid": true, "obj_uid": true, "gid": true, "egid": true, "sgid": true, "fsgid": true, "obj_gid": true}
	archs    = map[string]string{"b64": "b64", "b32": "b32", "x86_64": "b64", "aarch64": "b64", "ppc64": "b64", "ppc64le": "b64", "s390x": "b64", "riscv64": "b64", "i386": "b32", "i686": "b32", "arm": "b32", "armv7l": "b32", "s390": "b32", "ppc": "b32"}
	fieldOps = []string{"!=", "<=", ">=", "&=", "=", "<", ">", "&"}
)

// isOpt reports whether a token is an auditctl option, which ends a
// value that may contain spaces. Only known options count, so a path
// such as "/srv/a -b" is not cut at "-b".
func isOpt(s string) bool {
	return valueOpts[s] || controlOps[s] || s == "-W" || s == "-d"
}

// ParseRule parses one rule line in auditctl syntax. A control line (-D,
// -e 1, -b 8192 …) returns an error wrapping errControl. Errors are
// *PosError with the column filled in.
func ParseRule(line string) (Rule, error) {
	toks := tokenize(line)
	r := Rule{}
	bad := func(col int, format string, args ...any) (Rule, error) {
		return Rule{}, &PosError{Col: col, Msg: fmt.Sprintf(format, args...)}
	}
	var (
		watchForm, ruleForm bool
		sawSyscallAll       bool
		perm                string
	)
	keys := map[string]bool{}
	first := true
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.s == "" {
			continue
		}
		if first && controlOps[t.s] {
			return Rule{}, fmt.Errorf("%s: %w", t.s, errControl)
		}
		first = false
		if !valueOpts[t.s] {
			if controlOps[t.s] {
				return bad(t.col, "control option %s must be on a line of its own", t.s)
			}
			if t.s == "-W" || t.s == "-d" {
				return bad(t.col, "%s deletes a rule; expected a rule to load (-w or -a)", t.s)
			}
			return bad(t.col, "unexpected %q: expected -w, -p, -k, -a, -S, -F or -C", t.s)
		}
		// Collect the value.
		j := i + 1
		for j < len(toks) && toks[j].s == "" {
			j++
		}
		if j >= len(toks) {
			return bad(t.col, "%s needs a value", t.s)
		}
		valCol := toks[j].col
		val := toks[j].s
		end := j
		if spacedOpts[t.s] {
			for k := j + 1; k < len(toks); k++ {
				if isOpt(toks[k].s) {
					break
				}
				end = k
			}
			parts := make([]string, 0, end-j+1)
			for k := j; k <= end; k++ {
				parts = append(parts, toks[k].s)
			}
			val = strings.TrimRight(strings.Join(parts, " "), " ")
		} else if isOpt(val) {
			return bad(valCol, "%s needs a value, found option %s", t.s, val)
		}
		i = end
		r.Args = append(r.Args, t.s, val)
		switch t.s {
		case "-w":
			if watchForm || r.Watch != "" {
				return bad(t.col, "more than one path in one rule")
			}
			watchForm = true
			w, err := cleanWatch(val)
			if err != nil {
				return bad(valCol, "%v", err)
			}
			r.Watch, r.List, r.Action = w, "exit", "always"
		case "-p":
			p, err := canonPerm(val)
			if err != nil {
				return bad(valCol, "%v", err)
			}
			perm = p
		case "-k":
			if err := checkKey(val); err != nil {
				return bad(valCol, "%v", err)
			}
			keys[val] = true
		case "-a", "-A":
			if ruleForm {
				return bad(t.col, "more than one -a in one rule")
			}
			ruleForm = true
			l, a, err := listAction(val)
			if err != nil {
				return bad(valCol, "%v", err)
			}
			r.List, r.Action = l, a
		case "-S":
			for _, s := range strings.Split(val, ",") {
				switch {
				case s == "":
					return bad(valCol, "empty system call name in %q", val)
				case s == "all":
					sawSyscallAll = true
				case !isWord(s):
					return bad(valCol, "invalid system call %q: expected a name or number", s)
				default:
					if !contains(r.Syscalls, s) {
						r.Syscalls = append(r.Syscalls, s)
					}
				}
			}
		case "-F", "-C":
			f, err := parseField(val)
			if err != nil {
				return bad(valCol, "%v", err)
			}
			if t.s == "-C" {
				f.Name = "C:" + f.Name
				r.Fields = append(r.Fields, f)
				continue
			}
			switch f.Name {
			case "key":
				if f.Op != "=" {
					return bad(valCol, "key takes =, not %s", f.Op)
				}
				if err := checkKey(f.Value); err != nil {
					return bad(valCol, "%v", err)
				}
				keys[f.Value] = true
			case "perm":
				if f.Op != "=" {
					return bad(valCol, "perm takes =, not %s", f.Op)
				}
				p, err := canonPerm(f.Value)
				if err != nil {
					return bad(valCol, "%v", err)
				}
				perm = p
			case "path", "dir":
				if f.Op != "=" {
					return bad(valCol, "%s takes =, not %s", f.Name, f.Op)
				}
				if r.Watch != "" {
					return bad(valCol, "more than one path in one rule")
				}
				w, err := cleanWatch(f.Value)
				if err != nil {
					return bad(valCol, "%v", err)
				}
				r.Watch, r.Dir = w, f.Name == "dir"
			default:
				r.Fields = append(r.Fields, f)
			}
		}
	}
	switch {
	case watchForm && ruleForm:
		return bad(1, "-w and -a in one rule: write either -w PATH or -a LIST,ACTION -F path=PATH")
	case !watchForm && !ruleForm:
		return bad(1, "expected a rule starting with -w or -a")
	case watchForm && (len(r.Syscalls) > 0 || len(r.Fields) > 0):
		return bad(1, "-w rules take only -p and -k; use -a always,exit for system call filters")
	}
	if watchForm && perm == "" {
		perm = "rwxa" // auditctl's default for -w
	}
	r.Perm = perm
	for k := range keys {
		r.Keys = append(r.Keys, k)
	}
	sort.Strings(r.Keys)
	sort.Strings(r.Syscalls)
	if sawSyscallAll {
		r.Syscalls = nil
	}
	return r, nil
}

func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}

func parseField(s string) (Field, error) {
	for i := 0; i < len(s); i++ {
		for _, op := range fieldOps {
			if strings.HasPrefix(s[i:], op) {
				f := Field{Name: s[:i], Op: op, Value: s[i+len(op):]}
				if !isWord(f.Name) {
					return Field{}, fmt.Errorf("invalid field name %q in %q: expected NAME OP VALUE, e.g. auid>=1000", f.Name, s)
				}
				if f.Value == "" {
					return Field{}, fmt.Errorf("field %q has no value", s)
				}
				f.Name = strings.ToLower(f.Name)
				if idFields[f.Name] && (f.Value == "4294967295" || f.Value == "unset") {
					f.Value = "-1"
				}
				if f.Name == "arch" {
					a, ok := archs[f.Value]
					if !ok {
						return Field{}, fmt.Errorf("unknown arch %q: expected b64 or b32", f.Value)
					}
					f.Value = a
				}
				return f, nil
			}
		}
	}
	return Field{}, fmt.Errorf("field %q has no operator: expected NAME OP VALUE with OP one of = != < > <= >= & &=", s)
}

func listAction(v string) (list, action string, err error) {
	a, b, ok := strings.Cut(v, ",")
	if !ok {
		return "", "", fmt.Errorf("-a %q: expected LIST,ACTION such as always,exit", v)
	}
	switch {
	case actions[a] && lists[b]:
		return b, a, nil
	case lists[a] && actions[b]:
		return a, b, nil
	}
	return "", "", fmt.Errorf("-a %q: expected a list (exit, task, user, exclude, filesystem, io_uring) and an action (always, never)", v)
}

// canonPerm turns "aw" or "wa" into "wa": the letters of rwxa in that
// order, each at most once.
func canonPerm(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("empty permission: expected letters from rwxa")
	}
	var have [4]bool
	for _, c := range p {
		i := strings.IndexRune("rwxa", c)
		if i < 0 {
			return "", fmt.Errorf("invalid permission %q: expected letters from rwxa (read, write, execute, attribute change)", p)
		}
		have[i] = true
	}
	var b strings.Builder
	for i, ok := range have {
		if ok {
			b.WriteByte("rwxa"[i])
		}
	}
	return b.String(), nil
}

func cleanWatch(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("watch path %q is not absolute", p)
	}
	if strings.ContainsAny(p, "\x00\n") {
		return "", fmt.Errorf("watch path %q contains a NUL or newline", p)
	}
	c := path.Clean(p)
	if strings.HasSuffix(c, " ") || ambiguous(c) {
		return "", fmt.Errorf("watch path %q ends with a space or contains an auditctl option as a word, which auditctl syntax cannot express", p)
	}
	return c, nil
}

// ambiguous reports whether a value with spaces has a word that reads
// as an auditctl option ("/srv/a -k b"): printed in a rule it would
// split into two options.
func ambiguous(s string) bool {
	if !strings.Contains(s, " ") {
		return false
	}
	for _, w := range strings.Split(s, " ") {
		if isOpt(w) {
			return true
		}
	}
	return false
}

// maxKeyLen is the kernel's AUDIT_MAX_KEY_LEN.
const maxKeyLen = 256

func checkKey(k string) error {
	switch {
	case k == "":
		return fmt.Errorf("empty key")
	case len(k) > maxKeyLen:
		return fmt.Errorf("key is %d bytes long; the kernel allows at most %d", len(k), maxKeyLen)
	case strings.ContainsAny(k, "\x00\x01\n"):
		return fmt.Errorf("key %q contains a control character", k)
	case strings.HasSuffix(k, " ") || ambiguous(k):
		return fmt.Errorf("key %q ends with a space or contains an auditctl option as a word", k)
	}
	return nil
}

// FromPolicy returns the rules the policy's watches imply, in policy order.
func FromPolicy(a policy.Audit) ([]Rule, error) {
	var out []Rule
	for i, w := range a.Watches {
		r, err := WatchRule(w)
		if err != nil {
			return nil, fmt.Errorf("audit.watches[%d]: %w", i, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// WatchRule is the rule for one policy watch.
func WatchRule(w policy.Watch) (Rule, error) {
	p, err := cleanWatch(w.Path)
	if err != nil {
		return Rule{}, fmt.Errorf("path: %w", err)
	}
	perm := w.Perms
	if perm == "" {
		perm = "rwxa"
	}
	if perm, err = canonPerm(perm); err != nil {
		return Rule{}, fmt.Errorf("perms: %w", err)
	}
	r := Rule{List: "exit", Action: "always", Watch: p, Perm: perm}
	if w.Key != "" {
		if err := checkKey(w.Key); err != nil {
			return Rule{}, fmt.Errorf("key: %w", err)
		}
		r.Keys = []string{w.Key}
	}
	r.Args = r.FormatArgs()
	return r, nil
}

// Diff is the semantic difference between wanted and loaded rules.
type Diff struct {
	// Missing are wanted rules with no semantically equal loaded rule.
	Missing []Rule `json:"missing"`
	// Extra are loaded rules that no wanted rule accounts for.
	Extra []Rule `json:"extra"`
	// Present are the loaded rules that match wanted ones.
	Present []Rule `json:"present"`
}

// Empty reports whether nothing is missing or extra.
func (d Diff) Empty() bool { return len(d.Missing) == 0 && len(d.Extra) == 0 }

// Compare matches want against have by Canon, each loaded rule at most
// once, so a rule wanted twice but loaded once is missing once.
func Compare(want, have []Rule) Diff {
	avail := map[string][]int{}
	for i, h := range have {
		c := h.Canon()
		avail[c] = append(avail[c], i)
	}
	used := make([]bool, len(have))
	d := Diff{Missing: []Rule{}, Extra: []Rule{}, Present: []Rule{}}
	seen := map[string]bool{}
	for _, w := range want {
		c := w.Canon()
		if seen[c] {
			continue // a duplicate in the policy is one rule in the kernel
		}
		seen[c] = true
		if idx := avail[c]; len(idx) > 0 {
			used[idx[0]] = true
			avail[c] = idx[1:]
			d.Present = append(d.Present, have[idx[0]])
			continue
		}
		d.Missing = append(d.Missing, w)
	}
	for i, h := range have {
		if !used[i] {
			d.Extra = append(d.Extra, h)
		}
	}
	return d
}
