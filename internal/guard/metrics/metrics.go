package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds metric families in registration order.
type Registry struct {
	mu   sync.Mutex
	fams []*family
	byN  map[string]*family
}

// New returns an empty registry.
func New() *Registry { return &Registry{byN: map[string]*family{}} }

type kind string

const (
	counter   kind = "counter"
	gauge     kind = "gauge"
	histogram kind = "histogram"
)

type family struct {
	name, help string
	kind       kind
	labels     []string
	buckets    []float64
	mu         sync.Mutex
	series     map[string]*Series
}

// Series is one labelled time series. Counter and gauge values are
// float64 bits updated atomically; histograms lock.
type Series struct {
	fam    *family
	labels string // rendered {k="v",...}
	bits   atomic.Uint64
	hmu    sync.Mutex
	counts []uint64
	sum    float64
	n      uint64
}

// Vec hands out the series of one family.
type Vec struct{ f *family }

// ValidName reports whether s is a valid metric or label name.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r == ':' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func (r *Registry) add(name, help string, k kind, labels []string, buckets []float64) *Vec {
	if !ValidName(name) {
		panic("metrics: invalid metric name " + strconv.Quote(name))
	}
	for _, l := range labels {
		if !ValidName(l) || strings.Contains(l, ":") {
			panic("metrics: invalid label name " + strconv.Quote(l))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byN[name] != nil {
		panic("metrics: duplicate metric " + name)
	}
	f := &family{name: name, help: help, kind: k, labels: labels, buckets: buckets, series: map[string]*Series{}}
	r.fams = append(r.fams, f)
	r.byN[name] = f
	return &Vec{f}
}

// Counter registers a counter family with the given label names.
func (r *Registry) Counter(name, help string, labels ...string) *Vec {
	return r.add(name, help, counter, labels, nil)
}

// Gauge registers a gauge family.
func (r *Registry) Gauge(name, help string, labels ...string) *Vec {
	return r.add(name, help, gauge, labels, nil)
}

// Histogram registers a histogram family with upper bucket bounds
// (ascending; +Inf is implied).
func (r *Registry) Histogram(name, help string, buckets []float64, labels ...string) *Vec {
	if !sort.Float64sAreSorted(buckets) {
		panic("metrics: histogram buckets not sorted: " + name)
	}
	return r.add(name, help, histogram, labels, buckets)
}

// With returns the series for label values in the family's label order.
func (v *Vec) With(values ...string) *Series {
	f := v.f
	if len(values) != len(f.labels) {
		panic(fmt.Sprintf("metrics: %s wants %d label values, got %d", f.name, len(f.labels), len(values)))
	}
	var b strings.Builder
	if len(values) > 0 {
		b.WriteByte('{')
		for i, l := range f.labels {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l)
			b.WriteString(`="`)
			b.WriteString(EscapeLabel(values[i]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	key := b.String()
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.series[key]
	if s == nil {
		s = &Series{fam: f, labels: key}
		if f.kind == histogram {
			s.counts = make([]uint64, len(f.buckets))
		}
		f.series[key] = s
	}
	return s
}

// EscapeLabel escapes a label value for the text format.
func EscapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return r.Replace(s)
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

// Add adds d to a counter or gauge.
func (s *Series) Add(d float64) {
	for {
		old := s.bits.Load()
		if s.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// Inc adds one.
func (s *Series) Inc() { s.Add(1) }

// Set sets a gauge.
func (s *Series) Set(v float64) { s.bits.Store(math.Float64bits(v)) }

// Value returns a counter's or gauge's value.
func (s *Series) Value() float64 { return math.Float64frombits(s.bits.Load()) }

// Observe records one histogram observation.
func (s *Series) Observe(v float64) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	for i, ub := range s.fam.buckets {
		if v <= ub {
			s.counts[i]++
		}
	}
	s.sum += v
	s.n++
}

func fmtFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// withLabel adds one more label pair to rendered labels.
func withLabel(labels, k, v string) string {
	pair := k + `="` + v + `"`
	if labels == "" {
		return "{" + pair + "}"
	}
	return labels[:len(labels)-1] + "," + pair + "}"
}

// WriteText writes every family in the text exposition format.
func (r *Registry) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	r.mu.Lock()
	fams := append([]*family(nil), r.fams...)
	r.mu.Unlock()
	for _, f := range fams {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.kind)
		f.mu.Lock()
		keys := make([]string, 0, len(f.series))
		for k := range f.series {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		series := make([]*Series, len(keys))
		for i, k := range keys {
			series[i] = f.series[k]
		}
		f.mu.Unlock()
		for _, s := range series {
			if f.kind != histogram {
				fmt.Fprintf(bw, "%s%s %s\n", f.name, s.labels, fmtFloat(s.Value()))
				continue
			}
			s.hmu.Lock()
			for i, ub := range f.buckets {
				fmt.Fprintf(bw, "%s_bucket%s %d\n", f.name, withLabel(s.labels, "le", fmtFloat(ub)), s.counts[i])
			}
			fmt.Fprintf(bw, "%s_bucket%s %d\n", f.name, withLabel(s.labels, "le", "+Inf"), s.n)
			fmt.Fprintf(bw, "%s_sum%s %s\n%s_count%s %d\n", f.name, s.labels, fmtFloat(s.sum), f.name, s.labels, s.n)
			s.hmu.Unlock()
		}
	}
	return bw.Flush()
}

// Handler serves the registry at any path (GET and HEAD only).
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = r.WriteText(w)
	})
}
