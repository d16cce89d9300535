package verify

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
)

// maxEvidence bounds the evidence excerpt kept from one source, so a huge
// or hostile output cannot bloat the report.
const maxEvidence = 2000

func ev(source, text string) check.Evidence {
	text = strings.TrimRight(text, "\n")
	if len(text) > maxEvidence {
		text = text[:maxEvidence] + "\n… (truncated)"
	}
	return check.Evidence{Source: source, Text: text}
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
	}
	return result(check.Unknown, msg, evidence...)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func errorsIsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
