package htmlreport

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/audit"
	"github.com/rampart-sec/rampart/internal/guard/store"
	"github.com/rampart-sec/rampart/internal/host"
)

// auditReport builds the report of a log captured from a real auditd.
func auditReport(t *testing.T, name string) *audit.Report {
	t.Helper()
	rep, err := audit.Build(context.Background(), &host.Local{},
		audit.ReportOptions{Files: []string{filepath.Join("..", "..", "audit", "testdata", name)}}, audit.Users{})
	if err != nil && rep == nil {
		t.Fatal(err)
	}
	if len(rep.Keys) == 0 {
		t.Fatalf("%s: no keyed events", name)
	}
	return rep
}

// guardState is a state as the daemon saves it: sshd bans from one /24
// and a repeat offender, an nginx-noscript ban and an IPv6 /64.
func guardState(now time.Time) store.State {
	st := store.State{Version: store.Version}
	add := func(p, jail string, ago time.Duration, count, failures int) {
		at := now.Add(-ago)
		st.Bans = append(st.Bans, store.Ban{Prefix: netip.MustParsePrefix(p), Jail: jail, At: at, Until: at.Add(time.Hour * time.Duration(count)),
			Failures: failures, Count: count})
	}
	for i := 1; i <= 6; i++ {
		add(fmt.Sprintf("203.0.113.%d/32", i), "sshd", time.Duration(i)*7*time.Minute, 1, 3)
	}
	add("198.51.100.23/32", "sshd", 3*time.Minute, 4, 5)
	add("192.0.2.80/32", "nginx-noscript", 40*time.Minute, 1, 6)
	add("2001:db8:bad:1::/64", "sshd", 15*time.Minute, 2, 3)
	store.SortBans(st.Bans)
	return st
}

func TestAuditPage(t *testing.T) {
	for _, name := range []string{"enriched.log", "hostile.log"} {
		rep := auditReport(t, name)
		var b bytes.Buffer
		if err := Audit(&b, rep, time.UTC); err != nil {
			t.Fatal(err)
		}
		page := b.String()
		if strings.Contains(page, "<script") || strings.Contains(page, "http:") || strings.Contains(page, "https:") || strings.Contains(page, "src=") {
			t.Errorf("%s: the page has a script or a link", name)
		}
		for _, k := range rep.Keys {
			if !strings.Contains(page, `id="key-`+k.Key+`"`) || !strings.Contains(page, fmt.Sprintf(`data-label="%s" data-value="%d"`, k.Key, k.Count)) {
				t.Errorf("%s: key %s (%d events) not on the page", name, k.Key, k.Count)
			}
		}
	}
}

func TestGuardPage(t *testing.T) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	if err := Guard(&b, "/var/lib/rampart/guard-state.json", guardState(now), now, time.UTC); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`data-label="sshd" data-value="8"`, `data-label="nginx-noscript" data-value="1"`,
		`data-label="203.0.113.0/24" data-value="6"`, `data-label="2001:db8:bad::/48" data-value="1"`, `<b id="n-repeat">2</b>`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}
