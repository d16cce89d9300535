package fleetverify_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/fleetverify"
	"github.com/rampart-sec/rampart/internal/report/htmlreport"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// A tiny fleet document for the fuzzer to mutate, with the fields an
// attacker controls in a --from file, a --baseline or a node's published
// value.
const fuzzSeed = `{"schema":"rampart.fleet/v1","tool":"rampart","version":"1","started":"2026-12-07T10:00:00Z",
"hosts":[{"name":"web1","address":"root@192.0.2.1:22","group":"web","labels":["prod"],"reported_hostname":"web1",
"rampart_version":"1","time":"2026-12-07T10:00:00Z","error":"",
"report":{"schema":"rampart.verify/v1","host":"web1","checks":[
{"id":"ssh.password-authentication","area":"ssh","title":"Passwords off","severity":"high","status":"fail",
"message":"on","evidence":[{"source":"sshd -T","text":"passwordauthentication yes"}],
"remediation":{"nixos":"services.openssh.settings.PasswordAuthentication = false;","generic":"set it"}}]}}]}`

// Whatever a report file or a published value holds, reading it never
// panics, and what rampart then writes is safe to look at: text with no
// control character but newline and tab (no escape sequence reaches the
// terminal), JSON and SARIF that parse,
// JUnit that is well-formed XML, a page with no script of the input's,
// and a fleet JSON that reads back.
func FuzzRead(f *testing.F) {
	f.Add([]byte(fuzzSeed))
	f.Add([]byte(strings.ReplaceAll(fuzzSeed, `"web1"`, `"web1\u001b[2J</script><script>alert(1)</script>"`)))
	f.Add([]byte(`{"schema":"rampart.verify/v1","host":"h","checks":[{"id":"a.b","status":"pass"}]}`))
	testenv.SeedFiles(f, "testdata/fleet-e2e.json")
	var empty bytes.Buffer
	if err := htmlreport.Fleet(&empty, &fleetverify.Fleet{}); err != nil {
		f.Fatal(err)
	}
	scripts := strings.Count(strings.ToLower(empty.String()), "<script")
	f.Fuzz(func(t *testing.T, data []byte) {
		fleets := []*fleetverify.Fleet{fleetverify.FromBucket([]fleetverify.Entry{{Key: "web1", Value: data, Created: time.Unix(1e9, 0)}},
			time.Unix(1e9+60, 0), time.Hour, "rampart", "test")}
		if fl, err := fleetverify.Read(bytes.NewReader(data)); err == nil {
			fleets = append(fleets, fl)
		}
		for _, fl := range fleets {
			fl.Compare("base.json", fl)
			var text bytes.Buffer
			if err := fl.Text(&text); err != nil {
				t.Fatalf("Text: %v", err)
			}
			for i, c := range text.Bytes() {
				if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
					t.Fatalf("text output holds control byte %#x at %d: %q", c, i, text.Bytes()[max(0, i-20):min(text.Len(), i+20)])
				}
			}
			var js, sarif, junit, page bytes.Buffer
			if err := fl.JSON(&js); err != nil || !json.Valid(js.Bytes()) {
				t.Fatalf("JSON: %v, valid %v", err, json.Valid(js.Bytes()))
			}
			if _, err := fleetverify.Read(bytes.NewReader(js.Bytes())); err != nil && len(fl.Hosts) > 0 {
				t.Fatalf("the fleet JSON rampart wrote does not read back: %v", err)
			}
			if err := fl.SARIF(&sarif); err != nil || !json.Valid(sarif.Bytes()) {
				t.Fatalf("SARIF: %v", err)
			}
			if err := fl.JUnit(&junit); err != nil {
				t.Fatalf("JUnit: %v", err)
			}
			d := xml.NewDecoder(&junit)
			for {
				_, err := d.Token()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("JUnit is not well-formed XML: %v", err)
				}
			}
			if err := htmlreport.Fleet(&page, fl); err != nil {
				t.Fatalf("HTML: %v", err)
			}
			if n := strings.Count(strings.ToLower(page.String()), "<script"); n != scripts {
				t.Fatalf("the page has %d <script elements, the template %d", n, scripts)
			}
		}
	})
}

// FuzzParseJumps: an accepted -J or ProxyJump list has one hop per
// comma, and the hops written back as a list parse to the same chain.
func FuzzParseJumps(f *testing.F) {
	for _, s := range []string{"bastion", "ops@edge:2222,inner", "[2001:db8::7]:22,a@b", "a,,b", "-oProxyCommand=x"} {
		f.Add(s)
	}
	hops := func(j *fleetverify.Target) []string {
		var out []string
		for ; j != nil; j = j.ProxyJump {
			out = append([]string{j.Dest()}, out...)
		}
		return out
	}
	f.Fuzz(func(t *testing.T, spec string) {
		j, err := fleetverify.ParseJumps(spec)
		if err != nil {
			return
		}
		got := hops(j)
		if len(got) != strings.Count(spec, ",")+1 {
			t.Fatalf("%q: %d hops %q", spec, len(got), got)
		}
		again, err := fleetverify.ParseJumps(strings.Join(got, ","))
		if err != nil || strings.Join(hops(again), ",") != strings.Join(got, ",") {
			t.Fatalf("%q -> %q -> %q, %v", spec, got, hops(again), err)
		}
	})
}
