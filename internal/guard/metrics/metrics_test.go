package metrics

import (
	"flag"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestExposition(t *testing.T) {
	r := New()
	lines := r.Counter("rampart_guard_lines_total", "Log lines read.", "source")
	lines.With("journal").Add(3)
	lines.With("file:/var/log/a \"b\"\\c\nd").Inc()
	r.Gauge("rampart_guard_queue_depth", "Lines waiting.\nSecond line.").With().Set(7)
	h := r.Histogram("rampart_guard_ban_latency_seconds", "Read to ban.", []float64{0.01, 0.1, 1}, "jail")
	h.With("sshd").Observe(0.005)
	h.With("sshd").Observe(0.5)
	h.With("sshd").Observe(3)
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	golden := "testdata/exposition.golden"
	if *update {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(golden, []byte(b.String()), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("exposition:\n%s\nwant:\n%s", b.String(), want)
	}
	if got := lines.With("journal").Value(); got != 3 {
		t.Errorf("value %v", got)
	}

	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4") || rec.Body.String() != string(want) {
		t.Errorf("handler: %d %q", rec.Code, rec.Header())
	}
	rec = httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/metrics", nil))
	if rec.Code != 405 {
		t.Errorf("POST: %d", rec.Code)
	}
}

func TestEscapeLabel(t *testing.T) {
	for in, want := range map[string]string{"plain": "plain", `a"b`: `a\"b`, `a\b`: `a\\b`, "a\nb": `a\nb`} {
		if got := EscapeLabel(in); got != want {
			t.Errorf("EscapeLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"bad name":  func() { New().Counter("1x", "") },
		"bad label": func() { New().Counter("x", "", "a-b") },
		"duplicate": func() { r := New(); r.Gauge("x", ""); r.Gauge("x", "") },
		"arity":     func() { New().Counter("x", "", "a").With() },
		"buckets":   func() { New().Histogram("x", "", []float64{2, 1}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
