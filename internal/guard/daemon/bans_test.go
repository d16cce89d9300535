package daemon

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/store"
)

// A ban packed into the loop's record and back is the same ban, down to
// the text of its times in the store (zone name and offset).
func TestPackRoundTrip(t *testing.T) {
	var k packer
	berlin := time.FixedZone("CEST", 2*3600)
	t0 := time.Date(2026, 12, 7, 11, 0, 0, 123456789, time.UTC)
	var parsed time.Time
	if err := json.Unmarshal([]byte(`"2026-12-07T12:00:00.5-03:30"`), &parsed); err != nil {
		t.Fatal(err)
	}
	cases := []store.Ban{
		{Prefix: pfx("192.0.2.1/32"), Jail: "sshd", At: t0, Until: t0.Add(time.Hour), Failures: 5, Count: 2},
		{Prefix: pfx("2001:db8::/64"), Jail: "sshd", Origin: "web2", At: t0.In(berlin), Until: t0.Local().Add(time.Minute), Failures: 1_000_000},
		{Prefix: pfx("198.51.100.0/24"), Jail: "manual", At: time.Time{}, Until: parsed},
		{Prefix: pfx("203.0.113.9/32"), Jail: "recidive", At: time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(3000, 1, 1, 0, 0, 0, 1, time.Local)},
	}
	for _, b := range cases {
		r := k.pack(&b)
		got := k.unpack(b.Prefix, &r)
		want, _ := json.Marshal(b)
		have, _ := json.Marshal(got)
		if string(want) != string(have) || !got.At.Equal(b.At) || !got.Until.Equal(b.Until) || got.At.IsZero() != b.At.IsZero() {
			t.Errorf("round trip:\n got %s\nwant %s", have, want)
		}
		if !r.until().Equal(b.Until) {
			t.Errorf("until %v, want %v", r.until(), b.Until)
		}
	}
	// Labels are shared, up to maxLabels.
	a, b := k.label("sshd", string([]byte("web2"))), k.label("sshd", string([]byte("web2")))
	if a != b || a.jail != "sshd" || a.origin != "web2" {
		t.Fatalf("the second label %p %+v is not the first one %p %+v", b, b, a, a)
	}
	for i := range 2 * maxLabels {
		if l := k.label(fmt.Sprint("jail", i), "web2"); l.jail != fmt.Sprint("jail", i) {
			t.Fatalf("label %d: %+v", i, l)
		}
	}
	if len(k.labels) != maxLabels {
		t.Errorf("%d labels interned, want at most %d", len(k.labels), maxLabels)
	}
	// Past 256 zones, times keep their instant (shown in UTC).
	for i := range 300 {
		b := store.Ban{Prefix: pfx("192.0.2.1/32"), At: t0.In(time.FixedZone(fmt.Sprint("Z", i), i*60)), Until: t0}
		r := k.pack(&b)
		if got := k.unpack(b.Prefix, &r); !got.At.Equal(b.At) || !got.Until.Equal(b.Until) {
			t.Fatalf("zone %d: %v, want %v", i, got.At, b.At)
		}
	}
	if len(k.zones) > 256 {
		t.Errorf("%d zones", len(k.zones))
	}
}
