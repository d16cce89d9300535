package verify

import (
	"context"
	"testing"

	"github.com/rampart-sec/rampart/internal/check"
)

// BenchmarkRunFixtures evaluates every ssh, sysctl, time, journald and ban
// check against one host made of the captured fixtures: the cost of the
// checks themselves, without the programs they run.
func BenchmarkRunFixtures(b *testing.B) {
	h := fixture(b, []string{"ssh_hardened", "sysctl_hardened", "time_synced", "journald_dropins", "ban_running"}, nil)
	checks, err := check.Select(check.All(), []string{"ssh", "sysctl", "time", "journald", "ban"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	p := fail2banDefault("")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		rs := Run(context.Background(), check.NewEnv(h, p, ""), Options{}, checks)
		if len(rs) != len(checks) {
			b.Fatal("missing results")
		}
	}
}
