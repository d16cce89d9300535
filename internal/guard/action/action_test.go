package action_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/action"
)

// TestExpand: a placeholder's value stays inside its one argument.
func TestExpand(t *testing.T) {
	e := action.Event{Action: "ban", Prefix: netip.MustParsePrefix("2001:db8::/64"), Jail: "sshd", Until: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Failures: 5, Bantime: time.Hour}
	got := action.Expand([]string{"/usr/bin/x", "--ip={ip} {prefix}", "{jail}{jail}", "{until}", "{bantime}s", "{nope}", "{{ip}}"}, e)
	want := []string{"/usr/bin/x", "--ip=2001:db8:: 2001:db8::/64", "sshdsshd", "2026-01-02T03:04:05Z", "3600s", "{nope}", "{2001:db8::}"}
	if !slices.Equal(got, want) {
		t.Errorf("Expand:\n got %q\nwant %q", got, want)
	}
}
