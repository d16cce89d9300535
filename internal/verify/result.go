package verify

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/policy"
)

// ev is one piece of evidence; the runner bounds and sanitises it
// (check.MaxEvidence).
func ev(source, text string) check.Evidence {
	return check.Evidence{Source: source, Text: strings.TrimRight(text, "\n")}
}

func evf(source, format string, args ...any) check.Evidence {
	return ev(source, fmt.Sprintf(format, args...))
}

func result(s check.Status, msg string, evidence ...check.Evidence) check.Result {
	return check.Result{Status: s, Message: msg, Evidence: evidence}
}

func pass(msg string, evidence ...check.Evidence) check.Result {
	return result(check.Pass, msg, evidence...)
}

func fail(msg string, evidence ...check.Evidence) check.Result {
	return result(check.Fail, msg, evidence...)
}

func skip(msg string) check.Result { return result(check.Skip, msg) }

// unknown turns a collector error into an unknown result that says why the
// evidence could not be read and what would help.
func unknown(what string, err error, evidence ...check.Evidence) check.Result {
	msg := fmt.Sprintf("could not read %s: %v", what, err)
	switch {
	case errors.Is(err, host.ErrNotFound):
		msg += " (install it, or run where it is on PATH)"
	case errors.Is(err, fs.ErrPermission), strings.Contains(err.Error(), "ermission denied"),
		strings.Contains(err.Error(), "password is required"), strings.Contains(err.Error(), "Unable to load host key"):
		msg += " (run as root, or give the remote user passwordless sudo)"
	case strings.Contains(err.Error(), privsepMissing):
		msg += privsepHint(err.Error())
	}
	return result(check.Unknown, msg, evidence...)
}

// privsepMissing is how sshd -T refuses to run when its privilege
// separation directory is missing (OpenSSH 9.x, sshd.c).
const privsepMissing = "Missing privilege separation directory: "

// privsepHint explains the refusal: the directory lives on /run, a tmpfs,
// and is created by the ssh service when it starts (Debian's ssh.service:
// RuntimeDirectory=sshd), so on a host whose ssh service has not started
// since boot sshd -T cannot print its configuration. verify stays read-only
// and says what to do instead of creating it.
func privsepHint(text string) string {
	dir := "/run/sshd"
	if _, rest, ok := strings.Cut(text, privsepMissing); ok {
		if f := strings.Fields(rest); len(f) > 0 && path.IsAbs(f[0]) && path.Clean(f[0]) == f[0] && len(f[0]) < 256 &&
			strings.IndexFunc(f[0], func(r rune) bool { return r < 0x21 || r > 0x7e }) < 0 {
			dir = f[0]
		}
	}
	return fmt.Sprintf(". sshd -T needs %s, which the ssh service creates when it starts (it lives on /run, emptied at boot); "+
		"start the service (systemctl start ssh) or create it (mkdir -p -m0755 %s), then run verify again "+
		"(verify changes nothing on the host)", dir, dir)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func errorsIsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// policyOf is the env's policy, or the default one for remediation text
// asked for without a policy.
func policyOf(env *check.Env) *policy.Policy {
	if env.Policy == nil {
		return policy.MustDefault("")
	}
	return env.Policy
}

func yesno(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
