package hosttest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/host"
)

// recorder is a testing.TB that keeps what the fixture reports instead of
// failing the enclosing test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestUnknownCommandFailsTheTest(t *testing.T) {
	rec := &recorder{TB: t}
	f, err := Parse(rec, []byte("-- exec sshd -T --\nport 22\n-- missing chronyc --\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// A command with its section answers, and reports nothing.
	if out, err := f.Run(ctx, host.C("sshd", "-T")); err != nil || string(out.Stdout) != "port 22\n" {
		t.Fatalf("Run(sshd -T) = %v, %v", out, err)
	}
	// A missing section is the one way to say "not installed".
	_, err = f.Run(ctx, host.C("chronyc", "tracking"))
	var nf *host.NotFoundError
	if !errors.As(err, &nf) || nf.Name != "chronyc" {
		t.Errorf("missing chronyc: error %v, want a NotFoundError", err)
	}
	if len(rec.errs) != 0 {
		t.Fatalf("known commands reported %q", rec.errs)
	}

	// A typo (-t for -T) fails the test, names the line and the sections to
	// add, and is never read as "not installed".
	_, err = f.Run(ctx, host.C("sshd", "-t"))
	if err == nil || errors.Is(err, host.ErrNotFound) {
		t.Errorf("unknown command: error %v; want an error that is not ErrNotFound", err)
	}
	if len(rec.errs) != 1 {
		t.Fatalf("unknown command reported %d errors %q, want 1", len(rec.errs), rec.errs)
	}
	for _, want := range []string{`"sshd -t"`, `-- exec sshd -t --`, `-- missing sshd --`} {
		if !strings.Contains(rec.errs[0], want) {
			t.Errorf("report %q does not contain %q", rec.errs[0], want)
		}
	}
}
