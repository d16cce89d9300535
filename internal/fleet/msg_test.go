package fleet

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDecodeFixtures: every payload in testdata/messages.txt ("SUBJECT
// PAYLOAD" lines, then "=> ok" or "=> error TEXT") decodes as written.
func TestDecodeFixtures(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "messages.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	n := 0
	for i := 0; i+1 < len(lines); i++ {
		if lines[i] == "" || strings.HasPrefix(lines[i], "#") {
			continue
		}
		subj, payload, _ := strings.Cut(lines[i], " ")
		want := strings.TrimPrefix(lines[i+1], "=> ")
		i++
		n++
		_, err := Decode(subj, []byte(payload))
		switch {
		case want == "ok" && err != nil:
			t.Errorf("line %d: %v", i, err)
		case want != "ok" && (err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(want, "error "))):
			t.Errorf("line %d: got %v, want %s", i, err, want)
		}
	}
	if n < 10 {
		t.Fatalf("only %d fixtures", n)
	}
}

func TestEncodeDecode(t *testing.T) {
	at := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	in := Message{Kind: KindBan, Origin: "web1", Prefix: netip.MustParsePrefix("2001:db8::/64"), Jail: "sshd", DecidedAt: at, ExpiresAt: at.Add(time.Hour), Failures: 5, Reason: "x"}
	b, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Decode(BanSubject("web1", "sshd"), b)
	if err != nil || out != in {
		t.Fatalf("round trip: %v\n%+v\n%+v", err, in, out)
	}
	if _, err := Decode(BanSubject("web1", "sshd"), []byte(strings.Replace(string(b), Schema, "rampart.ban/v2", 1))); !errors.Is(err, ErrSchema) {
		t.Errorf("v2: %v", err)
	}
}

// FuzzDecode: no input crashes the decoder, and whatever it accepts is
// a well-formed message that encodes back to something it accepts.
func FuzzDecode(f *testing.F) {
	data, _ := os.ReadFile(filepath.Join("testdata", "messages.txt"))
	for _, l := range strings.Split(string(data), "\n") {
		if subj, payload, ok := strings.Cut(l, " "); ok && strings.HasPrefix(subj, "rampart.") {
			f.Add(subj, payload)
		}
	}
	f.Fuzz(func(t *testing.T, subj, payload string) {
		m, err := Decode(subj, []byte(payload))
		// The one-pass fast path decides exactly as the step-by-step one.
		if kind, origin, jail, serr := ParseSubject(subj); serr == nil && len(payload) <= MaxPayload {
			if sm, serr := decodeSlow(kind, origin, jail, []byte(payload)); sm != m || (serr == nil) != (err == nil) {
				t.Fatalf("fast path: %+v, %v; step by step: %+v, %v", m, err, sm, serr)
			}
		}
		if err != nil {
			return
		}
		if !m.Prefix.IsValid() || m.Prefix.Masked() != m.Prefix || m.DecidedAt.IsZero() {
			t.Fatalf("accepted a bad message %+v", m)
		}
		if m.Kind == KindBan && !m.ExpiresAt.After(m.DecidedAt) {
			t.Fatalf("accepted a ban that ends before it starts: %+v", m)
		}
		b, err := Encode(m)
		if err != nil {
			return // e.g. a reason that grows when re-escaped
		}
		if _, err := Decode(subj, b); err != nil {
			t.Fatalf("re-encoded message refused: %v\n%s", err, b)
		}
	})
}
