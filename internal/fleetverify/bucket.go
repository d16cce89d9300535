package fleetverify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/lazyre"
	"github.com/rampart-sec/rampart/internal/policy"
)

// Bucket is the JetStream key-value bucket `rampart verify --publish`
// writes each node's last report to (key = node name) and `rampart fleet
// status` reads. Its stream is KV_rampart-verify; a node puts its key
// with a publish to $KV.rampart-verify.NODE.
const Bucket = "rampart-verify"

// MaxValue bounds one published report (a full report of the 51 checks
// is about 60 kB; each evidence text is bounded by check.MaxEvidence). The bucket refuses larger values, and the reader
// reports a larger one (from a bucket made by someone else) as an error.
const MaxValue = 1 << 20

// BucketConfig is the bucket `verify --publish` creates when it is
// missing: file storage, min(3, servers) replicas like the ban stream,
// only the last report of each node kept.
func BucketConfig(servers int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:       Bucket,
		Description:  "rampart verify: each node's last report (rampart.fleet/v1 with one host), key = node",
		History:      1,
		MaxValueSize: MaxValue,
		Storage:      jetstream.FileStorage,
		Replicas:     min(3, max(1, servers)),
	}
}

// Publish puts doc under node's key, creating the bucket when it is
// missing (that needs $JS.API.STREAM.CREATE.KV_rampart-verify; an
// existing bucket only needs $JS.API.STREAM.INFO.KV_rampart-verify and
// publishing $KV.rampart-verify.NODE). It returns the entry's revision.
func Publish(ctx context.Context, js jetstream.JetStream, servers int, node string, doc []byte) (uint64, error) {
	if err := policy.ValidNode(node); err != nil {
		return 0, err
	}
	if len(doc) > MaxValue {
		return 0, fmt.Errorf("the report is %d bytes, more than the bucket's %d", len(doc), MaxValue)
	}
	var rev uint64
	err := untilAnswered(ctx, func() error {
		kv, err := js.KeyValue(ctx, Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			kv, err = js.CreateKeyValue(ctx, BucketConfig(servers))
			if errors.Is(err, jetstream.ErrBucketExists) {
				kv, err = js.KeyValue(ctx, Bucket)
			}
		}
		if err != nil {
			return fmt.Errorf("bucket %s: %w", Bucket, err)
		}
		if rev, err = kv.Put(ctx, node, doc); err != nil {
			return fmt.Errorf("bucket %s: put %s: %w", Bucket, node, err)
		}
		return nil
	})
	return rev, err
}

// untilAnswered runs f again, every quarter second until ctx ends, while
// JetStream does not answer it: right after a server restart, or while the
// cluster elects its JetStream leader, requests find no responders. A
// put is idempotent (the key's value is the report), so trying again is
// safe.
func untilAnswered(ctx context.Context, f func() error) error {
	for {
		err := f()
		if !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, jetstream.ErrNoStreamResponse) {
			return err
		}
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
}

// Entry is one node's current value in the bucket.
type Entry struct {
	Key      string
	Value    []byte
	Created  time.Time // when the server stored it
	Revision uint64
}

// ErrNoBucket is returned by ReadBucket when no node has published yet.
var ErrNoBucket = errors.New("bucket " + Bucket + " does not exist (no node has published with verify --publish)")

// ReadBucket returns every key's current value (deleted keys left out),
// sorted by key.
func ReadBucket(ctx context.Context, js jetstream.JetStream) ([]Entry, error) {
	var kv jetstream.KeyValue
	err := untilAnswered(ctx, func() (err error) {
		kv, err = js.KeyValue(ctx, Bucket)
		return err
	})
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, ErrNoBucket
	}
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", Bucket, err)
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", Bucket, err)
	}
	defer w.Stop()
	var out []Entry
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("bucket %s: the watch ended early", Bucket)
			}
			if e == nil { // every current value delivered
				sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
				return out, nil
			}
			out = append(out, Entry{Key: e.Key(), Value: e.Value(), Created: e.Created(), Revision: e.Revision()})
		case <-ctx.Done():
			return nil, fmt.Errorf("bucket %s: %w", Bucket, ctx.Err())
		}
	}
}

// FromBucket builds the fleet view of the bucket's entries at now: one
// host per key, named by the key (the servers' permissions let a node
// write only its own key, so the key, not the value, says who spoke),
// with its age (now minus the time the server stored the entry).
//
// A value that is not one host's report named after its key, is larger
// than MaxValue, or has a check whose ID, area or severity is not
// well-formed, becomes an error for that host and no checks; text fields
// have control characters escaped. A report older than maxAge (0 = no
// limit) is stale: the host is not verified, and each of its checks is
// unknown with what the old report said in its message.
func FromBucket(entries []Entry, now time.Time, maxAge time.Duration, tool, version string) *Fleet {
	f := &Fleet{Tool: tool, Version: version, Started: now}
	for _, e := range entries {
		age := max(0, now.Sub(e.Created))
		h, err := decodeEntry(e)
		if err != nil {
			h = &HostRun{Target: &Target{Name: shorten(host.SafeText(e.Key), 64)},
				Error: "published value: " + shorten(host.SafeText(err.Error()), 300)}
		}
		h.Published, h.Age = e.Created, age
		if err == nil && maxAge > 0 && age > maxAge {
			h.Stale = true
			h.Error = fmt.Sprintf("stale: published %s ago, more than --max-age %s", FormatAge(age), FormatAge(maxAge))
			for i := range h.Results {
				r := &h.Results[i]
				r.Message = fmt.Sprintf("stale report (%s old) said %s: %s", FormatAge(age), r.Status, r.Message)
				r.Status = check.Unknown
			}
		}
		f.Hosts = append(f.Hosts, h)
	}
	return f
}

var tokenRe = lazyre.New(`^[a-z0-9][a-z0-9._-]{0,127}$`)

func decodeEntry(e Entry) (*HostRun, error) {
	if err := policy.ValidNode(e.Key); err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	if len(e.Value) > MaxValue {
		return nil, fmt.Errorf("%d bytes, more than %d", len(e.Value), MaxValue)
	}
	f, err := Read(bytes.NewReader(e.Value))
	if err != nil {
		return nil, err
	}
	if len(f.Hosts) != 1 {
		return nil, fmt.Errorf("%d hosts in the report, want 1", len(f.Hosts))
	}
	h := f.Hosts[0]
	if h.Target.Name != e.Key {
		return nil, fmt.Errorf("the report names host %q, not its key", h.Target.Name)
	}
	h.Target = &Target{Name: e.Key}
	for i := range h.Results {
		r := &h.Results[i]
		if !tokenRe.MatchString(r.ID) || !tokenRe.MatchString(r.Area) {
			return nil, fmt.Errorf("checks[%d]: id %q or area %q is not a check name", i, r.ID, r.Area)
		}
		switch r.Severity {
		case check.Critical, check.High, check.Medium, check.Low, check.Info, "":
		default:
			return nil, fmt.Errorf("checks[%d]: severity %q", i, r.Severity)
		}
		r.Host = e.Key
		check.Clean(r)
	}
	for _, s := range []*string{&h.Reported, &h.OS, &h.Policy, &h.PolicyHash, &h.Version, &h.Release, &h.Error} {
		*s = shorten(host.SafeText(*s), 300)
	}
	return h, nil
}

// FormatAge writes an age for people: to the second under an hour
// ("42s", "12m5s"), then hours and minutes ("26h3m").
func FormatAge(d time.Duration) string {
	if d < time.Hour {
		return d.Round(time.Second).String()
	}
	s := d.Round(time.Minute).String()
	return s[:len(s)-2] // "26h3m0s" -> "26h3m"
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
