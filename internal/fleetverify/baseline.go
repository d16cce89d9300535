package fleetverify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/rampart-sec/rampart/internal/check"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/host/sshhost"
	"github.com/rampart-sec/rampart/internal/jsonpos"
	"github.com/rampart-sec/rampart/internal/report"
)

// Baseline is the comparison of a run with an earlier one.
type Baseline struct {
	File    string   `json:"file"`
	Started string   `json:"started"`
	Changes []Change `json:"changes"`

	index     map[[2]string]int // host, check -> index in Changes
	indexOnce sync.Once
}

// Change is one check on one host whose status moved.
type Change struct {
	Host  string       `json:"host"`
	Check string       `json:"check"`
	From  check.Status `json:"from"` // "" when the baseline did not have it
	To    check.Status `json:"to"`
	Kind  string       `json:"kind"` // regression, worse, better, fixed
}

// concern orders statuses: skip and pass are fine, warn less so, unknown
// is not knowing, fail is a failure.
func concern(s check.Status) int {
	switch s {
	case check.Warn:
		return 1
	case check.Unknown:
		return 2
	case check.Fail:
		return 3
	}
	return 0
}

// Compare sets f.Baseline to what changed since base, per host (by name)
// and check. A host or check the baseline lacks counts as a change only
// when it now fails (a regression).
func (f *Fleet) Compare(file string, base *Fleet) {
	old := map[string]map[string]check.Status{}
	for _, h := range base.Hosts {
		m := map[string]check.Status{}
		for _, r := range h.Results {
			m[r.ID] = r.Status
		}
		old[h.Target.Name] = m
	}
	b := &Baseline{File: file, Changes: []Change{}}
	if !base.Started.IsZero() {
		b.Started = base.Started.UTC().Format(time.RFC3339)
	}
	for _, h := range f.Hosts {
		for _, r := range h.Results {
			from, had := old[h.Target.Name][r.ID]
			c := Change{Host: h.Target.Name, Check: r.ID, From: from, To: r.Status}
			switch {
			case r.Status == check.Fail && (!had || from != check.Fail):
				c.Kind = "regression"
			case !had || from == r.Status:
				continue
			case from == check.Fail:
				if r.Status == check.Unknown {
					c.Kind = "better" // no longer known to fail, but not known to pass
				} else {
					c.Kind = "fixed"
				}
			case concern(r.Status) > concern(from):
				c.Kind = "worse"
			case concern(r.Status) < concern(from):
				c.Kind = "better"
			default:
				continue // pass <-> skip
			}
			b.Changes = append(b.Changes, c)
		}
	}
	f.Baseline = b
}

// Regressions counts the new failures since the baseline.
func (b *Baseline) Regressions() int {
	n := 0
	for _, c := range b.Changes {
		if c.Kind == "regression" {
			n++
		}
	}
	return n
}

// ChangeOf returns the change recorded for host and check, if any.
func (b *Baseline) ChangeOf(hostName, id string) (Change, bool) {
	if b == nil {
		return Change{}, false
	}
	b.indexOnce.Do(func() {
		b.index = make(map[[2]string]int, len(b.Changes))
		for i := len(b.Changes) - 1; i >= 0; i-- {
			c := b.Changes[i]
			b.index[[2]string{c.Host, c.Check}] = i
		}
	})
	if i, ok := b.index[[2]string{hostName, id}]; ok {
		return b.Changes[i], true
	}
	return Change{}, false
}

// ReadFile reads a fleet document (rampart.fleet/v1) or a single host's
// rampart.verify/v1 report as a Fleet.
func ReadFile(path string) (*Fleet, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxDoc {
		return nil, fmt.Errorf("%s: %d bytes is more than a report can be (%d)", path, fi.Size(), maxDoc)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := decode(data)
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) && se.Offset > 0 && se.Offset <= int64(len(data)) {
			line, col := jsonpos.LineCol(data, se.Offset-1)
			return nil, fmt.Errorf("%s:%d:%d: %w", path, line, col, err)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// maxDoc bounds what Read takes in.
const maxDoc = 1 << 30

type verifyDoc struct {
	Schema     string `json:"schema"`
	Host       string `json:"host"`
	OS         string `json:"os"`
	Policy     string `json:"policy"`
	Release    string `json:"release"`
	Started    string `json:"started"`
	DurationMS int64  `json:"duration_ms"`
	Checks     []struct {
		check.Result
		DurationMS float64 `json:"duration_ms"`
	} `json:"checks"`
}

// anyDoc is either document: one decoding pass reads the schema and the
// content together (a report of 1,000 hosts is 50 MB of JSON).
// Started and duration_ms mean the same in both.
type anyDoc struct {
	verifyDoc
	Tool    string `json:"tool"`
	Version string `json:"version"`
	Hosts   []struct {
		hostJSON
		Report verifyDoc `json:"report"`
	} `json:"hosts"`
}

// Read decodes a fleet document or a single verify report. Statuses are
// checked: the file may come from anywhere.
func Read(r io.Reader) (*Fleet, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxDoc))
	if err != nil {
		return nil, err
	}
	return decode(data)
}

func decode(data []byte) (*Fleet, error) {
	var doc anyDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not a rampart report: %w", err)
	}
	switch doc.Schema {
	case report.Schema:
		v := &doc.verifyDoc
		if v.Host == "" {
			// rampart names every report ("local" or the SSH target);
			// a fleet of such reports needs the name to tell them apart.
			return nil, fmt.Errorf("host: empty: expected the name of the host the report is about")
		}
		h, err := v.hostRun(&Target{Name: v.Host})
		if err != nil {
			return nil, err
		}
		return &Fleet{Started: h.Started, Duration: h.Duration, Hosts: []*HostRun{h}}, nil
	case Schema:
	default:
		return nil, fmt.Errorf("schema %q: expected %q or %q", doc.Schema, Schema, report.Schema)
	}
	f := &Fleet{Tool: doc.Tool, Version: doc.Version, Duration: time.Duration(doc.DurationMS) * time.Millisecond}
	f.Started, _ = time.Parse(time.RFC3339, doc.Started)
	seen := map[string]bool{}
	for i, hj := range doc.Hosts {
		if hj.Name == "" || seen[hj.Name] {
			return nil, fmt.Errorf("hosts[%d]: empty or repeated name %q", i, hj.Name)
		}
		seen[hj.Name] = true
		t := &Target{Name: hj.Name, Group: hj.Group, Labels: hj.Labels}
		if pt, err := sshhost.ParseTarget(hj.Address); err == nil {
			t.User, t.Address, t.Port = pt.User, pt.Host, pt.Port
		}
		h, err := hj.Report.hostRun(t)
		if err != nil {
			return nil, fmt.Errorf("hosts[%d] (%s): %w", i, hj.Name, err)
		}
		h.Reported, h.PolicyHash, h.Version, h.Error = hj.ReportedHostname, hj.PolicySHA256, hj.RampartVersion, hj.Error
		if t, err := time.Parse(time.RFC3339, hj.Time); err == nil {
			h.Started = t
		}
		if t, err := time.Parse(time.RFC3339Nano, hj.Published); err == nil {
			h.Published, h.Stale = t, hj.Stale
			if hj.AgeS != nil {
				h.Age = time.Duration(*hj.AgeS) * time.Second
			}
		}
		f.Hosts = append(f.Hosts, h)
	}
	return f, nil
}

// ReadFiles reads every file with ReadFile, on all CPUs, and returns them
// in order (or the error of the first file, in order, that failed).
func ReadFiles(paths []string) ([]*Fleet, error) {
	out := make([]*Fleet, len(paths))
	errs := make([]error, len(paths))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(paths)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = ReadFile(paths[i])
			}
		}()
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (v *verifyDoc) hostRun(t *Target) (*HostRun, error) {
	h := &HostRun{Target: t, OS: host.SafeText(v.OS), Policy: v.Policy, Release: v.Release, Duration: time.Duration(v.DurationMS) * time.Millisecond}
	h.Started, _ = time.Parse(time.RFC3339, v.Started)
	h.Results = make([]check.Result, 0, len(v.Checks))
	for i := range v.Checks {
		c := &v.Checks[i]
		switch c.Status {
		case check.Pass, check.Fail, check.Warn, check.Unknown, check.Skip:
		default:
			return nil, fmt.Errorf("checks[%d]: status %q is not pass, fail, warn, unknown or skip", i, c.Status)
		}
		if c.ID == "" {
			return nil, fmt.Errorf("checks[%d]: no id", i)
		}
		r := c.Result
		r.Host = t.Name
		r.Duration = time.Duration(c.DurationMS * float64(time.Millisecond))
		if r.Evidence == nil {
			r.Evidence = []check.Evidence{}
		}
		h.Results = append(h.Results, r)
	}
	return h, nil
}
