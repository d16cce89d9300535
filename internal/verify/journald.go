package verify

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/policy"
	"github.com/rampart-sec/rampart/internal/proctab"
)

// journaldMainDirs are searched for journald.conf (the first one found is
// used) and journaldDropinDirs for journald.conf.d/*.conf (a name in an
// earlier directory hides it in later ones; the survivors apply in
// file-name order after the main file, last assignment wins).
var (
	// systemd's CONF_PATHS: /lib is not searched on merged-/usr builds
	// (checked against systemd-analyze cat-config in overlay_test.go).
	journaldMainDirs   = []string{"/etc/systemd", "/run/systemd", "/usr/local/lib/systemd", "/usr/lib/systemd"}
	journaldDropinDirs = journaldMainDirs
)

// journaldDropins is the drop-in pattern in each of journaldDropinDirs,
// and journalDir the persistent journal's directory.
const (
	journaldDropins = "journald.conf.d/*.conf"
	journalDir      = "/var/log/journal"
)

func journaldDropinPatterns() []string { return overlayPatterns(journaldDropinDirs, journaldDropins) }

// journaldSetting is the effective value of one key and where it was set.
type journaldSetting struct {
	Value string
	Where string // file:line, or "(built-in default)"
}

type journaldConf struct {
	settings map[string]journaldSetting
	files    []check.Evidence
}

// journaldFiles are the candidates for journald.conf (one per main
// directory, in order) followed by the drop-ins that apply.
func journaldFiles(ctx context.Context, env *check.Env) ([]string, error) {
	dropins, err := overlay(ctx, env, journaldDropinDirs, journaldDropins)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range journaldMainDirs {
		out = append(out, d+"/journald.conf")
	}
	return append(out, dropins...), nil
}

// journaldEffective merges journald.conf and its drop-ins once per run.
// Only the [Journal] section counts; keys are case-sensitive as in systemd.
func journaldEffective(ctx context.Context, env *check.Env) (*journaldConf, error) {
	v, err := env.Memo("verify.journald.conf", func() (any, error) {
		// The main file is the first of the candidates that exists; every
		// candidate and drop-in is read in one batch.
		all, err := journaldFiles(ctx, env)
		if err != nil {
			return nil, err
		}
		read, err := env.ReadFiles(ctx, all)
		if err != nil {
			return nil, err
		}
		var files []string
		var data [][]byte
		for i, r := range read {
			if i < len(journaldMainDirs) && (errorsIsNotExist(r.Err) || len(files) > 0) {
				continue // not there, or after the one that is used
			}
			if r.Err != nil {
				return nil, fmt.Errorf("read %s: %w", all[i], r.Err)
			}
			files = append(files, all[i])
			data = append(data, r.Data)
		}
		c := &journaldConf{settings: map[string]journaldSetting{}}
		for fi, f := range files {
			b := data[fi]
			section := ""
			var kept []string
			for i, line := range strings.Split(string(b), "\n") {
				line = strings.TrimSpace(line)
				if line == "" || line[0] == '#' || line[0] == ';' {
					continue
				}
				if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
					section = line[1 : len(line)-1]
					continue
				}
				k, val, ok := strings.Cut(line, "=")
				if !ok || section != "Journal" {
					continue
				}
				k = strings.TrimSpace(k)
				c.settings[k] = journaldSetting{Value: strings.TrimSpace(val), Where: fmt.Sprintf("%s:%d", f, i+1)}
				kept = append(kept, fmt.Sprintf("%d: %s", i+1, line))
			}
			text := strings.Join(kept, "\n")
			if text == "" {
				text = "(no [Journal] assignments)"
			}
			c.files = append(c.files, ev(f, text))
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*journaldConf), nil
}

const defaultWhere = "(built-in default)"

// journaldDefaults are systemd's built-in values for the keys we check.
var journaldDefaults = map[string]string{
	"Storage":           "auto",
	"MaxRetentionSec":   "0",
	"SystemMaxFileSize": "",
	"SystemMaxFiles":    "100",
}

func (c *journaldConf) get(key string) journaldSetting {
	if s, ok := c.settings[key]; ok {
		return s
	}
	return journaldSetting{Value: journaldDefaults[key], Where: defaultWhere}
}

type journaldRule struct {
	// topic is the nixfacts topic that sets key on NixOS.
	id, title, key, topic string
	sev                   check.Severity
	applies               func(p policy.Journald) bool
	want                  func(p policy.Journald) string
	// compare returns "" when the effective value complies, else why not.
	compare func(ctx context.Context, env *check.Env, s journaldSetting) (string, error)
}

var journaldRules = []journaldRule{
	{id: "journald.max-retention", topic: "journald.max_retention", title: "journald drops entries older than the policy's retention", key: "MaxRetentionSec", sev: check.Low,
		applies: func(p policy.Journald) bool { return p.MaxRetention.D > 0 },
		want:    func(p policy.Journald) string { return p.MaxRetention.String() },
		compare: func(_ context.Context, env *check.Env, s journaldSetting) (string, error) {
			want := env.Policy.Journald.MaxRetention
			if s.Value == "" || s.Value == "0" {
				return "MaxRetentionSec is unset (no time limit)", nil
			}
			d, err := policy.ParseDuration(s.Value)
			if err != nil {
				return "", fmt.Errorf("%s: MaxRetentionSec=%q: %w", s.Where, s.Value, err)
			}
			if d.D != want.D {
				return fmt.Sprintf("MaxRetentionSec=%s (%s) is not %s", s.Value, policy.FormatDuration(d.D), want), nil
			}
			return "", nil
		}},
	{id: "journald.system-max-file-size", topic: "journald.system_max_file_size", title: "journald's file size limit is the policy's", key: "SystemMaxFileSize", sev: check.Low,
		applies: func(p policy.Journald) bool { return p.SystemMaxFileSize.Bytes > 0 },
		want:    func(p policy.Journald) string { return p.SystemMaxFileSize.String() },
		compare: func(_ context.Context, env *check.Env, s journaldSetting) (string, error) {
			want := env.Policy.Journald.SystemMaxFileSize
			if s.Value == "" {
				return "SystemMaxFileSize is unset (1/8 of SystemMaxUse)", nil
			}
			n, err := policy.ParseSize(s.Value)
			if err != nil {
				return "", fmt.Errorf("%s: SystemMaxFileSize=%q: %w", s.Where, s.Value, err)
			}
			if n.Bytes != want.Bytes {
				return fmt.Sprintf("SystemMaxFileSize=%s (%d bytes) is not %s (%d bytes)", s.Value, n.Bytes, want, want.Bytes), nil
			}
			return "", nil
		}},
	{id: "journald.system-max-files", topic: "journald.system_max_files", title: "journald keeps the policy's number of files", key: "SystemMaxFiles", sev: check.Low,
		applies: func(p policy.Journald) bool { return p.SystemMaxFiles > 0 },
		want:    func(p policy.Journald) string { return strconv.Itoa(p.SystemMaxFiles) },
		compare: func(_ context.Context, env *check.Env, s journaldSetting) (string, error) {
			n, err := strconv.Atoi(s.Value)
			if err != nil {
				return "", fmt.Errorf("%s: SystemMaxFiles=%q: expected a whole number", s.Where, s.Value)
			}
			if n != env.Policy.Journald.SystemMaxFiles {
				return fmt.Sprintf("SystemMaxFiles=%d is not %d", n, env.Policy.Journald.SystemMaxFiles), nil
			}
			return "", nil
		}},
	{id: "journald.storage", topic: "journald.storage", title: "journald stores the journal as the policy says", key: "Storage", sev: check.Medium,
		applies: func(p policy.Journald) bool { return p.Storage != "" },
		want:    func(p policy.Journald) string { return p.Storage },
		compare: func(ctx context.Context, env *check.Env, s journaldSetting) (string, error) {
			want := env.Policy.Journald.Storage
			got := s.Value
			switch got {
			case "persistent", "volatile", "auto", "none":
			default:
				return "", fmt.Errorf("%s: Storage=%q: expected persistent, volatile, auto or none", s.Where, got)
			}
			if got == "auto" && want == "persistent" {
				// auto is persistent exactly when /var/log/journal exists.
				if ms, err := env.Glob(ctx, journalDir); err == nil && len(ms) == 1 {
					return "", nil
				}
				return "Storage=auto without /var/log/journal keeps the journal in /run only (lost at reboot)", nil
			}
			if got != want {
				return fmt.Sprintf("Storage=%s is not %s", got, want), nil
			}
			return "", nil
		}},
}

func init() {
	check.Register(&check.Check{ID: "journald.running", Title: "systemd-journald is running", Severity: check.Medium, Eval: evalJournaldRunning,
		Fix: func(*check.Env) check.Remediation {
			return check.Remediation{NixOS: "systemd-journald is always part of NixOS; check `systemctl status systemd-journald`",
				Generic: "systemctl start systemd-journald"}
		}})
	for i := range journaldRules {
		r := &journaldRules[i]
		check.Register(&check.Check{ID: r.id, Title: r.title, Severity: r.sev,
			Applies: func(p *policy.Policy) (bool, string) {
				return r.applies(p.Journald), "the policy does not set " + r.key
			},
			Eval: func(ctx context.Context, env *check.Env) check.Result { return evalJournaldRule(ctx, env, r) },
			Fix: func(env *check.Env) check.Remediation {
				return check.Remediation{NixOS: env.Nix(r.topic),
					Generic: fmt.Sprintf("in /etc/systemd/journald.conf.d/90-rampart.conf: [Journal] %s=%s; then systemctl restart systemd-journald", r.key, r.want(policyOf(env).Journald))}
			}})
	}
}

func evalJournaldRule(ctx context.Context, env *check.Env, r *journaldRule) check.Result {
	c, err := journaldEffective(ctx, env)
	if err != nil {
		return unknown("journald.conf", err)
	}
	s := c.get(r.key)
	evs := append([]check.Evidence{evf("effective "+r.key, "%s=%s (%s)", r.key, s.Value, where(s))}, c.files...)
	why, err := r.compare(ctx, env, s)
	if err != nil {
		return fail("cannot parse the effective value: "+err.Error(), evs...)
	}
	if why != "" {
		return fail(fmt.Sprintf("%s (%s); the policy wants %s", why, where(s), r.want(env.Policy.Journald)), evs...)
	}
	return pass(fmt.Sprintf("%s=%s (%s)", r.key, s.Value, where(s)), evs...)
}

func where(s journaldSetting) string {
	if s.Where == defaultWhere {
		return "systemd's built-in default; no file sets it"
	}
	return "set at " + s.Where
}

func evalJournaldRunning(ctx context.Context, env *check.Env) check.Result {
	// journald runs as root; any user can name a process systemd-journald.
	ps, err := proctab.RunningAsRoot(ctx, env, "systemd-journald")
	if err != nil {
		return unknown("the process table", err)
	}
	if len(ps) == 0 {
		if others, _ := proctab.Running(ctx, env, "systemd-journald"); len(others) > 0 {
			return fail("no systemd-journald process of root's (only another user's process of that name): nothing collects the logs the ban daemon and audit rely on",
				ev("/proc/*/cmdline", proctab.Describe(others)), ev(proctab.StatusPath(others[0].PID), "Uid: not 0 0 0 0"))
		}
		return fail("no systemd-journald process: nothing collects the logs the ban daemon and audit rely on",
			ev("/proc/*/cmdline", "no systemd-journald"))
	}
	return pass(fmt.Sprintf("systemd-journald runs (pid %d)", ps[0].PID), ev("/proc/*/cmdline", proctab.Describe(ps)))
}
