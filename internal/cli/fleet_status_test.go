package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-sec/rampart/internal/fleetverify"
	"github.com/rampart-sec/rampart/internal/fleetverify/fleettest"
)

// natsWithNodes starts a real JetStream server on loopback whose users
// a and b may each put only their own key of the verify bucket, as the
// README's Fleet section configures it, and an admin who may do
// anything. It returns the client URL.
func natsWithNodes(t testing.TB, dir string) string {
	t.Helper()
	node := func(n string) string {
		return fmt.Sprintf(`{user: %q, password: "pw-%s", permissions: {
      publish: {allow: ["$KV.rampart-verify.%s", "$JS.API.INFO", "$JS.API.STREAM.INFO.KV_rampart-verify", "$JS.API.STREAM.CREATE.KV_rampart-verify"]},
      subscribe: {allow: ["_INBOX.>"]}}}`, n, n, n)
	}
	conf := filepath.Join(dir, "nats.conf")
	cfg := fmt.Sprintf(`server_name: s1
listen: "127.0.0.1:-1"
jetstream { store_dir: %q, max_memory_store: 64MB, max_file_store: 256MB }
authorization { users: [ %s, %s, {user: "admin", password: "pw-admin"} ] }
`, filepath.Join(dir, "js"), node("a"), node("b"))
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	opts.NoSigs = true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	return s.ClientURL()
}

// run runs the rampart CLI in this process with clock now (nil: the
// real clock).
func run(t testing.TB, now func() time.Time, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(&Env{Ctx: context.Background(), Stdout: &out, Stderr: &errb, Now: now}, args)
	return out.String(), errb.String(), code
}

// TestE2EPublishAndStatus: two nodes publish their verify reports with
// `rampart verify --publish`, `rampart fleet status` shows both with
// their checks and ages, one of them stale when the clock moves on, and
// a node cannot overwrite the other's key.
func TestE2EPublishAndStatus(t *testing.T) {
	dir := t.TempDir()
	url := natsWithNodes(t, dir)
	policyFor := func(user string) string {
		pw := filepath.Join(dir, "pw-"+user)
		os.WriteFile(pw, []byte("pw-"+user+"\n"), 0o600)
		p := filepath.Join(dir, user+".toml")
		node := ""
		if user != "admin" {
			node = fmt.Sprintf("node = %q\n", user)
		}
		os.WriteFile(p, []byte(fmt.Sprintf("[fleet]\nservers = [%q]\nuser = %q\npassword_file = %q\n%s", url, user, pw, node)), 0o600)
		return p
	}
	polA, polB, admin := policyFor("a"), policyFor("b"), policyFor("admin")
	only := "ssh,sysctl.ip-forward,time"

	// Node a publishes first: it creates the bucket. Each run writes its
	// report as usual (-o) and keeps verify's own exit status.
	reports := map[string]map[string]any{}
	for _, n := range []struct{ name, policy string }{{"a", polA}, {"b", polB}} {
		file := filepath.Join(dir, n.name+".json")
		_, stderr, code := run(t, nil, "verify", "-p", n.policy, "--only", only, "--format", "json", "-o", file, "--publish")
		if code != ExitOK && code != ExitProblem && code != ExitUsage {
			t.Fatalf("verify --publish on %s: exit %d\n%s", n.name, code, stderr)
		}
		if !strings.Contains(stderr, "published the report as "+n.name+" in bucket rampart-verify") {
			t.Fatalf("verify --publish on %s: %s", n.name, stderr)
		}
		var rep map[string]any
		b, _ := os.ReadFile(file)
		if err := json.Unmarshal(b, &rep); err != nil || rep["schema"] != "rampart.verify/v1" {
			t.Fatalf("%s: the report written with -o is not rampart.verify/v1: %v\n%s", n.name, err, b)
		}
		reports[n.name] = rep
	}

	// Node a speaking for b: refused by the server, b's entry unchanged.
	nc, err := nats.Connect(url, nats.UserInfo("admin", "pw-admin"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, fleetverify.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	// The bucket node a created: one value per key, file storage, one
	// replica for one server, values up to fleetverify.MaxValue.
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config; st.History() != 1 || cfg.Storage != jetstream.FileStorage ||
		cfg.Replicas != 1 || cfg.MaxMsgSize != fleetverify.MaxValue || st.Values() != 2 {
		t.Errorf("bucket: history %d, storage %s, replicas %d, max value %d, %d values", st.History(), cfg.Storage, cfg.Replicas, cfg.MaxMsgSize, st.Values())
	}
	before, err := kv.Get(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, code := run(t, nil, "verify", "-p", polA, "--only", "time", "--publish", "--node", "b")
	if code != ExitPublish || !strings.Contains(stderr, "permissions violation") || !strings.Contains(stderr, "$KV.rampart-verify.b") {
		t.Fatalf("a publishing as b: exit %d, want %d and a permissions violation:\n%s", code, ExitPublish, stderr)
	}
	after, err := kv.Get(ctx, "b")
	if err != nil || after.Revision() != before.Revision() || !bytes.Equal(after.Value(), before.Value()) {
		t.Fatalf("b's entry changed: revision %d -> %d (%v)", before.Revision(), after.Revision(), err)
	}

	// fleet status from the bucket: both hosts, their checks as their own
	// reports say, fresh ages.
	out, stderr, code := run(t, nil, "fleet", "status", "-p", admin, "--format", "json")
	var doc struct {
		Schema string `json:"schema"`
		Hosts  []struct {
			Name      string `json:"name"`
			Published string `json:"published"`
			AgeS      *int64 `json:"age_s"`
			Stale     bool   `json:"stale"`
			Error     string `json:"error"`
			Report    struct {
				Checks []struct {
					ID     string `json:"id"`
					Status string `json:"status"`
				} `json:"checks"`
			} `json:"report"`
		} `json:"hosts"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Schema != fleetverify.Schema || len(doc.Hosts) != 2 {
		t.Fatalf("fleet status --format json (exit %d): %v\n%s\n%s", code, err, out, stderr)
	}
	published := map[string]time.Time{}
	for _, h := range doc.Hosts {
		want := reports[h.Name]["checks"].([]any)
		if h.Error != "" || h.Stale || h.AgeS == nil || *h.AgeS < 0 || len(h.Report.Checks) != len(want) || len(want) == 0 {
			t.Fatalf("host %s: error %q stale %v age %v, %d checks (want %d)", h.Name, h.Error, h.Stale, h.AgeS, len(h.Report.Checks), len(want))
		}
		for i, c := range h.Report.Checks {
			w := want[i].(map[string]any)
			if c.ID != w["id"] || c.Status != w["status"] {
				t.Errorf("%s: check %d = %s %s, the node's report says %s %s", h.Name, i, c.ID, c.Status, w["id"], w["status"])
			}
		}
		if published[h.Name], err = time.Parse(time.RFC3339Nano, h.Published); err != nil {
			t.Fatal(err)
		}
	}
	if !published["b"].After(published["a"]) {
		t.Fatalf("b was published after a, but the bucket says %s and %s", published["b"], published["a"])
	}

	// A day later, a's report is past --max-age and b's is not: a is
	// stale (not verified, its checks unknown), exit 2 unless a check fails.
	gap := published["b"].Sub(published["a"])
	later := published["a"].Add(25*time.Hour + gap/2)
	out, stderr, code = run(t, func() time.Time { return later }, "fleet", "status", "-p", admin)
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			lines[f[0]] = l
		}
	}
	ageA, ageB := fleetverify.FormatAge(later.Sub(published["a"])), fleetverify.FormatAge(later.Sub(published["b"]))
	if !strings.Contains(lines["a"], ageA+" (stale)") || !strings.Contains(lines["b"], ageB) || strings.Contains(lines["b"], "stale") {
		t.Errorf("matrix rows: a %q (want age %s, stale), b %q (want age %s)\n%s", lines["a"], ageA, lines["b"], ageB, out)
	}
	if !strings.Contains(out, "a: stale: published "+ageA+" ago, more than --max-age 25h0m") {
		t.Errorf("text lacks a's staleness:\n%s", out)
	}
	if !strings.Contains(stderr, "1 of 2 hosts not verified: 1 stale") || (code != ExitUsage && code != ExitProblem) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}

	// A value that is not a report (written here with the admin's
	// credential; a node could write its own key so): that host's error,
	// escaped; the others are unaffected. Deleting the key drops the host.
	if _, err := kv.Put(ctx, "junk", []byte("\x1b[2J{not json")); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = run(t, nil, "fleet", "status", "-p", admin)
	if !strings.Contains(out, "junk: published value: not a rampart report") || strings.Contains(out, "\x1b") ||
		!strings.Contains(stderr, "1 of 3 hosts not verified: 0 stale (older than --max-age 25h0m0s), 1 unreadable") || code == ExitOK {
		t.Errorf("junk value: exit %d\n%s\n%s", code, out, stderr)
	}
	if err := kv.Delete(ctx, "junk"); err != nil {
		t.Fatal(err)
	}
	if out, _, _ = run(t, nil, "fleet", "status", "-p", admin); strings.Contains(out, "junk") || !strings.Contains(out, ": 2 hosts") {
		t.Errorf("after deleting junk:\n%s", out)
	}

	// The same view as a page.
	page := filepath.Join(dir, "fleet.html")
	if _, stderr, _ := run(t, func() time.Time { return later }, "fleet", "status", "-p", admin, "--format", "html", "-o", page); stderr == "" {
		t.Error("no stderr note about the stale host")
	}
	b, _ := os.ReadFile(page)
	if !bytes.Contains(b, []byte("(published "+ageA+" ago, stale)")) || !bytes.Contains(b, []byte("(published "+ageB+" ago)")) {
		t.Errorf("page lacks a's age:\n%.2000s", b)
	}
}

// BenchmarkFleetStatusNATS1000 is `rampart fleet status --format html -o
// FILE` end to end against a real JetStream server holding 1,000
// published reports: connect, read every key, decode and check each
// value, render the page. The values are the captured published report of
// web1 (../fleetverify/testdata/bucket.txtar), renamed per key.
func BenchmarkFleetStatusNATS1000(b *testing.B) {
	dir := b.TempDir()
	url := natsWithNodes(b, dir)
	pw := filepath.Join(dir, "pw-admin")
	pol := filepath.Join(dir, "admin.toml")
	if err := os.WriteFile(pw, []byte("pw-admin\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(pol, []byte(fmt.Sprintf("[fleet]\nservers = [%q]\nuser = \"admin\"\npassword_file = %q\n", url, pw)), 0o600); err != nil {
		b.Fatal(err)
	}
	nc, err := nats.Connect(url, nats.UserInfo("admin", "pw-admin"))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	const n = 1000
	keys, values := fleettest.Renamed(b, n)
	for i, key := range keys {
		if _, err := fleetverify.Publish(ctx, js, 1, key, values[i]); err != nil {
			b.Fatal(err)
		}
	}
	page := filepath.Join(dir, "fleet.html")
	for b.Loop() {
		_, stderr, code := run(b, nil, "fleet", "status", "-p", pol, "--format", "html", "-o", page)
		if code != ExitOK && code != ExitProblem {
			b.Fatalf("fleet status: exit %d\n%s", code, stderr)
		}
	}
	html, err := os.ReadFile(page)
	if err != nil || !bytes.Contains(html, []byte("host0000")) || !bytes.Contains(html, []byte(fmt.Sprintf("host%04d", n-1))) {
		b.Fatalf("the page does not show every host (%v)", err)
	}
	b.ReportMetric(float64(len(html)), "bytes/page")
}
