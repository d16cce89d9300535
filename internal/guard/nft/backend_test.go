package nft

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
)

func TestValidPrefix(t *testing.T) {
	for _, tc := range []struct {
		in, wantErr string
	}{
		{"192.0.2.7/32", ""},
		{"198.51.100.0/24", ""},
		{"2001:db8::/64", ""},
		{"2001:db8::1/128", ""},
		{"192.0.2.7/24", "host bits set"},
		{"10.0.0.0/7", "wider than /8"},
		{"2000::/15", "wider than /16"},
		{"255.255.255.255/32", "last address"},
		{"::ffff:192.0.2.1/128", "plain IPv4"},
	} {
		err := ValidPrefix(netip.MustParsePrefix(tc.in))
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("ValidPrefix(%s) = %v, want %q", tc.in, err, tc.wantErr)
		}
	}
	if err := ValidPrefix(netip.Prefix{}); err == nil {
		t.Error("zero prefix accepted")
	}
}

func TestRangeRoundTrip(t *testing.T) {
	for _, s := range []string{"192.0.2.7/32", "198.51.100.0/24", "10.0.0.0/8", "2001:db8::/64", "2001:db8::5/128", "2001:db8::/32"} {
		p := netip.MustParsePrefix(s)
		got, ok := rangeToPrefix(p.Addr(), next(lastAddr(p)))
		if !ok || got != p {
			t.Errorf("%s -> %v %v", s, got, ok)
		}
	}
	if _, ok := rangeToPrefix(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.4")); ok {
		t.Error("3-address range became a prefix")
	}
	if _, ok := rangeToPrefix(netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.6")); ok {
		t.Error("unaligned range became a prefix")
	}
}

func TestTimeout(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		until time.Time
		want  time.Duration
	}{
		{now.Add(time.Hour), time.Hour},
		{now.Add(1500*time.Millisecond + time.Microsecond), 1501 * time.Millisecond},
		{now.Add(10 * time.Millisecond), MinTimeout},
		{now.Add(-time.Hour), MinTimeout},
	} {
		if got := Timeout(Ban{Until: tc.until}, now); got != tc.want {
			t.Errorf("Timeout(until %v) = %v, want %v", tc.until.Sub(now), got, tc.want)
		}
	}
}

func TestDecodeIntervals(t *testing.T) {
	el := func(a string, end bool, exp time.Duration) nftables.SetElement {
		return nftables.SetElement{Key: netip.MustParseAddr(a).AsSlice(), IntervalEnd: end, Expires: exp, Comment: map[bool]string{false: "sshd"}[end]}
	}
	// Order as the kernel dumps an rbtree set: descending, with the
	// leading "0.0.0.0 end" nft adds.
	got, err := decodeIntervals([]nftables.SetElement{
		el("198.51.101.0", true, 0), el("198.51.100.0", false, time.Hour),
		el("192.0.2.8", true, 0), el("192.0.2.7", false, time.Minute),
		el("0.0.0.0", true, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Prefix.String() != "192.0.2.7/32" || got[0].Expires != time.Minute || got[1].Prefix.String() != "198.51.100.0/24" || got[1].Comment != "sshd" {
		t.Errorf("decodeIntervals = %+v", got)
	}
	if _, err := decodeIntervals([]nftables.SetElement{el("192.0.2.7", false, 0)}); err == nil {
		t.Error("start without end accepted")
	}
}

func TestValidTableName(t *testing.T) {
	for s, ok := range map[string]bool{"rampart": true, "ramp_art-2.x": true, "": false, "2abc": false, "a b": false, "a;b": false, strings.Repeat("a", 256): false} {
		if err := ValidTableName(s); (err == nil) != ok {
			t.Errorf("ValidTableName(%q) = %v", s, err)
		}
	}
}

func TestFake(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := now
	f := NewFake(func() time.Time { return clock })
	ctx := context.Background()
	p := netip.MustParsePrefix("192.0.2.7/32")
	if err := f.Apply(ctx, []Ban{{Prefix: p, Until: now.Add(time.Minute)}}, nil, now); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("Apply without table: %v", err)
	}
	if err := f.Sync(ctx, []Ban{{Prefix: p, Until: now.Add(time.Minute)}}, now); err != nil {
		t.Fatal(err)
	}
	if !f.Has(p) {
		t.Fatal("not banned after Sync")
	}
	clock = now.Add(61 * time.Second)
	if f.Has(p) {
		t.Fatal("still banned after expiry")
	}
	if err := f.Apply(ctx, nil, []netip.Prefix{p}, clock); err == nil {
		t.Fatal("deleting an expired element succeeded")
	}
	f.Drop()
	if _, err := f.Check(ctx); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("Check after Drop: %v", err)
	}
}
