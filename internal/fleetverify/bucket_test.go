package fleetverify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/rampart-sec/rampart/internal/check"
)

// bucketEntries reads testdata/bucket.txtar (one file per key) as bucket
// entries stored at now minus ages[key] (one hour when not listed).
func bucketEntries(t *testing.T, now time.Time, ages map[string]time.Duration) []Entry {
	t.Helper()
	ar, err := txtar.ParseFile(filepath.Join("testdata", "bucket.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	var out []Entry
	for i, f := range ar.Files {
		age, ok := ages[f.Name]
		if !ok {
			age = time.Hour
		}
		out = append(out, Entry{Key: f.Name, Value: f.Data, Created: now.Add(-age), Revision: uint64(i + 1)})
	}
	return out
}

func hostsByName(f *Fleet) map[string]*HostRun {
	m := map[string]*HostRun{}
	for _, h := range f.Hosts {
		m[h.Target.Name] = h
	}
	return m
}

func TestFromBucket(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ages := map[string]time.Duration{"web1": 2*time.Hour + 3*time.Minute, "web2": 30 * time.Hour, "web3": 42 * time.Second}
	entries := bucketEntries(t, now, ages)
	entries = append(entries,
		Entry{Key: "huge", Value: bytes.Repeat([]byte(" "), MaxValue+1), Created: now},
		Entry{Key: "bad.key", Value: []byte(`{}`), Created: now},
		Entry{Key: "future", Value: []byte(`{}`), Created: now.Add(time.Hour)})
	f := FromBucket(entries, now, 25*time.Hour, "rampart fleet status", "test")
	if len(f.Hosts) != len(entries) {
		t.Fatalf("%d hosts from %d entries", len(f.Hosts), len(entries))
	}
	hosts := hostsByName(f)
	src := hostsByName(readFixture(t, "fleet-e2e.json"))

	// Good reports: the same checks and statuses as the host's own run,
	// with the entry's age.
	for _, name := range []string{"web1", "web3"} {
		h := hosts[name]
		if h == nil || h.Error != "" || h.Stale {
			t.Fatalf("%s: %+v", name, h)
		}
		if h.Age != ages[name] || !h.Published.Equal(now.Add(-ages[name])) {
			t.Errorf("%s: age %s published %s, want %s", name, h.Age, h.Published, ages[name])
		}
		if len(h.Results) != len(src[name].Results) || len(h.Results) == 0 {
			t.Fatalf("%s: %d results, want %d", name, len(h.Results), len(src[name].Results))
		}
		for i, r := range h.Results {
			if w := src[name].Results[i]; r.ID != w.ID || r.Status != w.Status || r.Host != name {
				t.Errorf("%s: result %d = %s %s (host %q), want %s %s", name, i, r.ID, r.Status, r.Host, w.ID, w.Status)
			}
		}
	}
	if hosts["web1"].PolicyHash != src["web1"].PolicyHash || hosts["web1"].Reported != src["web1"].Reported {
		t.Errorf("web1: policy hash / reported name not kept: %+v", hosts["web1"])
	}

	// Stale: not verified, every check unknown saying what it was.
	web2 := hosts["web2"]
	if !web2.Stale || !strings.Contains(web2.Error, "stale: published 30h0m ago, more than --max-age 25h0m") {
		t.Errorf("web2: stale %v, error %q", web2.Stale, web2.Error)
	}
	for i, r := range web2.Results {
		if w := src["web2"].Results[i]; r.Status != check.Unknown || !strings.Contains(r.Message, "said "+string(w.Status)+": ") {
			t.Errorf("web2 %s: %s %q, want unknown saying %s", r.ID, r.Status, r.Message, w.Status)
		}
	}
	if s := f.Summarize(); s.HostsUnverified < 1 || s.HostsPassing+s.HostsFailing+s.HostsUnverified != len(f.Hosts) {
		t.Errorf("summary %+v", s)
	}

	// Malformed or hostile values: an error for that host, no checks.
	for name, want := range map[string]string{
		"badjson":     "not a rampart report",
		"otherschema": `schema "rampart.verify/v9"`,
		"twohosts":    "2 hosts in the report, want 1",
		"impostor":    `the report names host "web2", not its key`,
		"badid":       `is not a check name`,
		"badstatus":   `status "passed"`,
		"badsev":      `severity "\x1b[5mcritical"`,
		"huge":        "bytes, more than 1048576",
		"bad.key":     "key: invalid node name",
		"future":      `schema ""`,
	} {
		h := hosts[name]
		if h == nil {
			t.Errorf("%s: missing", name)
			continue
		}
		if len(h.Results) != 0 || !strings.Contains(h.Error, "published value: ") {
			t.Errorf("%s: %d results, error %q", name, len(h.Results), h.Error)
		}
		// The error quotes the value escaped: no control character survives.
		if want = strings.ReplaceAll(want, "\x1b", `\x1b`); !strings.Contains(h.Error, want) {
			t.Errorf("%s: error %q lacks %q", name, h.Error, want)
		}
	}
	if hosts["future"].Age != 0 {
		t.Errorf("an entry stored in the future has age %s, want 0", hosts["future"].Age)
	}

	// Nothing a node wrote reaches a terminal raw.
	var text bytes.Buffer
	if err := f.Text(&text); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"\x1b", "\x07", "\r"} {
		if strings.Contains(text.String(), c) {
			t.Errorf("text output holds %q", c)
		}
	}
	evil := hosts["evil"]
	if evil == nil || evil.Error != "" || !strings.Contains(evil.Reported, `evil\x1b]0;owned\x07`) {
		t.Fatalf("evil: %+v", evil)
	}
	if m := evil.Results[1].Message; !strings.Contains(m, `\x1b[2J`) || !strings.Contains(m, `\x0d`) {
		t.Errorf("evil message not escaped: %q", m)
	}
	golden(t, "bucket.txt", text.Bytes())

	// The JSON keeps each host's age and staleness, and reads back.
	var doc bytes.Buffer
	if err := f.JSON(&doc); err != nil {
		t.Fatal(err)
	}
	back, err := Read(&doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range back.Hosts {
		o := hosts[h.Target.Name]
		if h.Age != o.Age.Truncate(time.Second) || h.Stale != o.Stale || !h.Published.Equal(o.Published) {
			t.Errorf("%s: read back age %s stale %v published %s, want %s %v %s", h.Target.Name, h.Age, h.Stale, h.Published, o.Age, o.Stale, o.Published)
		}
	}
}

func TestFromBucketNoMaxAge(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	f := FromBucket(bucketEntries(t, now, map[string]time.Duration{"web2": 400 * 24 * time.Hour}), now, 0, "", "")
	if h := hostsByName(f)["web2"]; h.Stale || h.Error != "" || h.Age != 400*24*time.Hour {
		t.Errorf("web2 with no --max-age: %+v", h)
	}
}

func TestFormatAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                     "0s",
		42*time.Second + 400*time.Millisecond: "42s",
		12*time.Minute + 5*time.Second:        "12m5s",
		26*time.Hour + 3*time.Minute + 31*time.Second: "26h4m",
	} {
		if got := FormatAge(d); got != want {
			t.Errorf("FormatAge(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestBucketReplicas(t *testing.T) {
	for servers, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 3, 7: 3} {
		if got := BucketConfig(servers).Replicas; got != want {
			t.Errorf("%d servers: %d replicas, want %d (like the ban stream: min(3, servers))", servers, got, want)
		}
	}
}

// A request JetStream does not answer (no responders, while its leader is
// elected) is made again until it is answered or the deadline passes;
// any other answer stands at once.
func TestUntilAnswered(t *testing.T) {
	calls := 0
	err := untilAnswered(context.Background(), func() error {
		calls++
		if calls < 3 {
			return fmt.Errorf("bucket x: %w", nats.ErrNoResponders)
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("answered on the third: %v after %d calls", err, calls)
	}
	calls = 0
	other := errors.New("permissions violation")
	if err := untilAnswered(context.Background(), func() error { calls++; return other }); err != other || calls != 1 {
		t.Errorf("another error: %v after %d calls", err, calls)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := untilAnswered(ctx, func() error { return jetstream.ErrNoStreamResponse }); !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Errorf("never answered: %v", err)
	}
}
