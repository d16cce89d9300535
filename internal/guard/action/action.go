package action

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/policy"
)

// DefaultTimeout bounds one run when the policy sets none.
const DefaultTimeout = 10 * time.Second

// QueueSize is how many events wait per action before new ones are
// dropped.
const QueueSize = 1024

// Event is one ban or unban.
type Event struct {
	// Action is "ban" or "unban".
	Action string
	Prefix netip.Prefix
	Jail   string
	// Until is the ban's end (ban), or when it was lifted (unban).
	Until    time.Time
	Failures int
	// Bantime is the ban's length (ban).
	Bantime time.Duration
	// Reason says why an unban happened: "expired", "manual", "flush".
	Reason string
}

// Body is the webhook's JSON body.
type Body struct {
	Action   string `json:"action"`
	Prefix   string `json:"prefix"`
	IP       string `json:"ip"`
	Jail     string `json:"jail"`
	Until    string `json:"until"`
	Failures int    `json:"failures,omitempty"`
	Bantime  string `json:"bantime,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Host     string `json:"host,omitempty"`
}

// values are the placeholders' values for e.
func values(e Event) map[string]string {
	bt := ""
	if e.Bantime > 0 {
		bt = strconv.FormatInt(int64(e.Bantime/time.Second), 10)
	}
	return map[string]string{
		"action":   e.Action,
		"prefix":   e.Prefix.String(),
		"ip":       e.Prefix.Addr().String(),
		"jail":     e.Jail,
		"until":    e.Until.UTC().Format(time.RFC3339),
		"failures": strconv.Itoa(e.Failures),
		"bantime":  bt,
	}
}

// Expand fills argv's placeholders for e. Each element stays one
// argument: no splitting, no shell, no globbing.
func Expand(argv []string, e Event) []string {
	v := values(e)
	pairs := make([]string, 0, 2*len(v))
	for _, k := range policy.ActionPlaceholders {
		pairs = append(pairs, "{"+k+"}", v[k])
	}
	r := strings.NewReplacer(pairs...)
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = r.Replace(a)
	}
	return out
}

// Dispatcher runs the actions of a policy.
type Dispatcher struct {
	workers []*worker
	log     *slog.Logger
	// Dropped counts events dropped on a full queue.
	Dropped atomic.Int64
	// Failed counts runs that failed after their retries.
	Failed atomic.Int64
}

type worker struct {
	a     policy.Action
	queue chan Event
}

// Options configure a Dispatcher.
type Options struct {
	// Host runs exec actions (host.Local when nil).
	Host host.Host
	// Client sends webhooks (a client without redirects when nil).
	Client *http.Client
	// RetryDelay is the wait before the first retry, doubled after each
	// (1s when 0).
	RetryDelay time.Duration
	// Hostname goes into webhook bodies.
	Hostname string
	Log      *slog.Logger
}

// New returns a dispatcher for acts (nil when there are none).
func New(acts []policy.Action, log *slog.Logger) *Dispatcher {
	if len(acts) == 0 {
		return nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{log: log}
	for _, a := range acts {
		d.workers = append(d.workers, &worker{a: a, queue: make(chan Event, QueueSize)})
	}
	return d
}

// Send queues e for every action that wants it; it never blocks.
func (d *Dispatcher) Send(e Event) {
	if d == nil {
		return
	}
	for _, w := range d.workers {
		if len(w.a.On) > 0 && !slices.Contains(w.a.On, e.Action) || len(w.a.Jails) > 0 && !slices.Contains(w.a.Jails, e.Jail) {
			continue
		}
		select {
		case w.queue <- e:
		default:
			d.Dropped.Add(1)
			d.log.Warn("action queue full; event dropped", "action", w.a.Name, "event", e.Action, "prefix", e.Prefix.String())
		}
	}
}

// Run works the queues until ctx ends; events still queued then are
// dropped.
func (d *Dispatcher) Run(ctx context.Context, o Options) {
	if d == nil {
		return
	}
	if o.Host == nil {
		o.Host = &host.Local{}
	}
	if o.Client == nil {
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = time.Second
	}
	done := make(chan struct{})
	for _, w := range d.workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case <-ctx.Done():
					return
				case e := <-w.queue:
					d.run(ctx, o, w.a, e)
				}
			}
		}()
	}
	for range d.workers {
		<-done
	}
}

// run runs a for e with its retries.
func (d *Dispatcher) run(ctx context.Context, o Options, a policy.Action, e Event) {
	timeout := a.Timeout.D
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	delay := o.RetryDelay
	var err error
	for try := 0; try <= a.Retries; try++ {
		if try > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay *= 2
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		if a.Type == "webhook" {
			err = webhook(rctx, o, a, e)
		} else {
			err = execute(rctx, o, a, e)
		}
		cancel()
		if err == nil {
			d.log.Debug("action done", "action", a.Name, "event", e.Action, "prefix", e.Prefix.String(), "tries", try+1)
			return
		}
		if ctx.Err() != nil {
			return
		}
	}
	d.Failed.Add(1)
	d.log.Warn("action failed", "action", a.Name, "event", e.Action, "prefix", e.Prefix.String(), "tries", a.Retries+1, "err", err)
}

func webhook(ctx context.Context, o Options, a policy.Action, e Event) error {
	v := values(e)
	body, err := json.Marshal(Body{Action: e.Action, Prefix: v["prefix"], IP: v["ip"], Jail: e.Jail, Until: v["until"],
		Failures: e.Failures, Bantime: v["bantime"], Reason: e.Reason, Host: o.Hostname})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rampart-guard")
	resp, err := o.Client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook %s: HTTP %d", a.URL, resp.StatusCode)
	}
	return nil
}

func execute(ctx context.Context, o Options, a policy.Action, e Event) error {
	argv := Expand(a.Argv, e)
	out, err := o.Host.Run(ctx, host.Cmd{Name: argv[0], Args: argv[1:]})
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", argv[0], ctx.Err())
	}
	if out.ExitCode != 0 {
		return fmt.Errorf("%s exited %d: %s", argv[0], out.ExitCode, bytes.TrimSpace(out.Stderr))
	}
	return nil
}
