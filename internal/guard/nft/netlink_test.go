package nft_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/rampart-sec/rampart/internal/guard/nft"
	"github.com/rampart-sec/rampart/internal/guard/nft/nfttest"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// nftIn runs the nft CLI inside the namespace behind f (the oracle).
func nftIn(t testing.TB, f *os.File, args ...string) string {
	t.Helper()
	nftPath := testenv.RequireCommands(t, "nft", "nsenter")[0]
	cmd := exec.Command("nsenter", append([]string{"--net=/proc/self/fd/3", nftPath}, args...)...)
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nft %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestNetlinkInNamespace(t *testing.T) {
	ns := nfttest.NewNetNS(t)
	ctx := context.Background()
	b, err := nft.NewNetlink("rampart_t", nftables.WithNetNSFd(int(ns.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()

	// Nothing there yet.
	if _, err := b.Check(ctx); !errors.Is(err, nft.ErrIncomplete) {
		t.Fatalf("Check on empty namespace: %v, want ErrIncomplete", err)
	}

	bans := []nft.Ban{
		{Prefix: pfx("192.0.2.7/32"), Until: now.Add(90 * time.Second), Jail: "sshd"},
		{Prefix: pfx("198.51.100.0/24"), Until: now.Add(time.Hour), Jail: "manual"},
		{Prefix: pfx("2001:db8:1::/64"), Until: now.Add(10 * time.Minute), Jail: "sshd"},
		{Prefix: pfx("2001:db8:2::5/128"), Until: now.Add(time.Minute), Jail: "sshd"},
	}
	// Sync twice: the second must replace, not duplicate.
	for range 2 {
		if err := b.Sync(ctx, bans, now); err != nil {
			t.Fatal(err)
		}
	}
	rs := nftIn(t, ns, "list", "ruleset")
	for _, want := range []string{
		"table inet rampart_t",
		"set banned4", "set banned6", "flags interval,timeout",
		"hook input priority filter - 10; policy accept;",
		"hook forward priority filter - 10; policy accept;",
		"ip saddr @banned4 counter packets 0 bytes 0 drop",
		"ip6 saddr @banned6 counter packets 0 bytes 0 drop",
		`192.0.2.7 timeout 1m30s expires`, `comment "sshd"`,
		"198.51.100.0/24 timeout 1h",
		"2001:db8:1::/64 timeout 10m",
		"2001:db8:2::5 timeout 1m",
	} {
		if !strings.Contains(rs, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, rs)
		}
	}
	if n := strings.Count(rs, "192.0.2.7"); n != 1 {
		t.Errorf("192.0.2.7 appears %d times after two syncs:\n%s", n, rs)
	}

	els, err := b.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range els {
		got[e.Prefix.String()] = e.Comment
		if e.Expires <= 0 || e.Expires > time.Hour {
			t.Errorf("%v expires in %v", e.Prefix, e.Expires)
		}
	}
	want := map[string]string{"192.0.2.7/32": "sshd", "198.51.100.0/24": "manual", "2001:db8:1::/64": "sshd", "2001:db8:2::5/128": "sshd"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Check = %v, want %v", got, want)
	}

	// One transaction: remove one, add one, and re-add (extend) one.
	err = b.Apply(ctx,
		[]nft.Ban{{Prefix: pfx("203.0.113.9/32"), Until: now.Add(time.Hour), Jail: "sshd"}, {Prefix: pfx("192.0.2.7/32"), Until: now.Add(2 * time.Hour), Jail: "sshd"}},
		[]netip.Prefix{pfx("198.51.100.0/24"), pfx("192.0.2.7/32")}, now)
	if err != nil {
		t.Fatal(err)
	}
	rs = nftIn(t, ns, "list", "set", "inet", "rampart_t", "banned4")
	if strings.Contains(rs, "198.51.100.0/24") || !strings.Contains(rs, "203.0.113.9") || !strings.Contains(rs, "192.0.2.7 timeout 2h") {
		t.Errorf("after Apply:\n%s", rs)
	}
	// Deleting what is not there fails the batch (the daemon then syncs).
	if err := b.Apply(ctx, nil, []netip.Prefix{pfx("198.51.100.0/24")}, now); err == nil {
		t.Error("Apply deleting a missing element succeeded")
	}

	// A flushed table is detected, and Sync restores it.
	nftIn(t, ns, "flush", "table", "inet", "rampart_t")
	if _, err := b.Check(ctx); !errors.Is(err, nft.ErrIncomplete) {
		t.Fatalf("Check after flush: %v, want ErrIncomplete", err)
	}
	nftIn(t, ns, "delete", "table", "inet", "rampart_t")
	if _, err := b.Check(ctx); !errors.Is(err, nft.ErrIncomplete) {
		t.Fatalf("Check after delete: %v, want ErrIncomplete", err)
	}
	if err := b.Sync(ctx, bans, now); err != nil {
		t.Fatal(err)
	}
	if els, err := b.Check(ctx); err != nil || len(els) != len(bans) {
		t.Fatalf("after re-sync: %v, %v", els, err)
	}
	if err := b.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if rs := nftIn(t, ns, "list", "ruleset"); strings.TrimSpace(rs) != "" {
		t.Errorf("ruleset after Delete:\n%s", rs)
	}
}

func TestNetlinkManyBans(t *testing.T) {
	ns := nfttest.NewNetNS(t)
	ctx := context.Background()
	b, _ := nft.NewNetlink("rampart", nftables.WithNetNSFd(int(ns.Fd())))
	now := time.Now()
	bans := manyBans(10000, now)
	if err := b.Sync(ctx, bans, now); err != nil {
		t.Fatal(err)
	}
	els, err := b.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(els) != len(bans) {
		t.Fatalf("Check found %d elements, want %d", len(els), len(bans))
	}
}

// manyBans returns n distinct bans, three quarters IPv4 and a quarter
// IPv6 /64s.
func manyBans(n int, now time.Time) []nft.Ban {
	out := make([]nft.Ban, 0, n)
	for i := range n {
		var p netip.Prefix
		if i%4 == 3 {
			p = netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 16), byte(i >> 8), byte(i), 0}), 64)
		} else {
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
		}
		out = append(out, nft.Ban{Prefix: p, Until: now.Add(time.Hour + time.Duration(i)*time.Second), Jail: "sshd"})
	}
	return out
}

// BenchmarkRestore10k measures restoring 10k stored bans into an empty
// namespace in one transaction (issue 4 goal: <= 100 ms).
func BenchmarkRestore10k(b *testing.B) {
	ns := nfttest.NewNetNS(b)
	ctx := context.Background()
	be, _ := nft.NewNetlink("rampart", nftables.WithNetNSFd(int(ns.Fd())))
	now := time.Now()
	bans := manyBans(10000, now)
	for b.Loop() {
		b.StopTimer()
		_ = be.Delete(ctx)
		b.StartTimer()
		if err := be.Sync(ctx, bans, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheck10k measures reading back a table of 10k bans (what a
// restart does to adopt elements the store does not know).
func BenchmarkCheck10k(b *testing.B) {
	ns := nfttest.NewNetNS(b)
	ctx := context.Background()
	be, _ := nft.NewNetlink("rampart", nftables.WithNetNSFd(int(ns.Fd())))
	now := time.Now()
	if err := be.Sync(ctx, manyBans(10000, now), now); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		els, err := be.Check(ctx)
		if err != nil || len(els) != 10000 {
			b.Fatalf("%d elements, %v", len(els), err)
		}
	}
}
