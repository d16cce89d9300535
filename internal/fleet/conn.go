package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-sec/rampart/internal/policy"
)

// Options returns the NATS connection options of the policy's [fleet]
// settings: credentials and TLS files, servers tried in the written
// order, reconnecting for ever. Secrets are read here and never logged.
// Other rampart commands (reports, the fleet CLI) connect with these.
func Options(f policy.Fleet, name string) ([]nats.Option, error) {
	if len(f.Servers) == 0 {
		return nil, errors.New("fleet.servers: no server")
	}
	opts := []nats.Option{
		nats.Name(name), nats.DontRandomize(), nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond), nats.ReconnectJitter(100*time.Millisecond, 500*time.Millisecond),
		nats.Timeout(2 * time.Second), nats.PingInterval(5 * time.Second), nats.MaxPingsOutstanding(2),
	}
	switch {
	case f.CredsFile != "":
		if err := readable(f.CredsFile); err != nil {
			return nil, fmt.Errorf("fleet.creds_file: %w", err)
		}
		opts = append(opts, nats.UserCredentials(f.CredsFile))
	case f.NkeyFile != "":
		o, err := nats.NkeyOptionFromSeed(f.NkeyFile)
		if err != nil {
			return nil, fmt.Errorf("fleet.nkey_file: %s: not a readable nkey seed file", f.NkeyFile)
		}
		opts = append(opts, o)
	case f.PasswordFile != "":
		b, err := os.ReadFile(f.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("fleet.password_file: %w", err)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" || strings.ContainsAny(pw, "\r\n") {
			return nil, fmt.Errorf("fleet.password_file: %s: want one line holding the password", f.PasswordFile)
		}
		opts = append(opts, nats.UserInfo(f.User, pw))
	}
	if f.CAFile != "" {
		if err := readable(f.CAFile); err != nil {
			return nil, fmt.Errorf("fleet.ca_file: %w", err)
		}
		opts = append(opts, nats.RootCAs(f.CAFile))
	}
	if f.CertFile != "" {
		if err := readable(f.CertFile); err != nil {
			return nil, fmt.Errorf("fleet.cert_file: %w", err)
		}
		if err := readable(f.KeyFile); err != nil {
			return nil, fmt.Errorf("fleet.key_file: %w", err)
		}
		opts = append(opts, nats.ClientCert(f.CertFile, f.KeyFile))
	}
	return opts, nil
}

func readable(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	return fh.Close()
}

// Connect connects to the fleet's servers once (no retry when none
// answers), for commands; extra options are appended.
func Connect(f policy.Fleet, name string, extra ...nats.Option) (*nats.Conn, error) {
	opts, err := Options(f, name)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(strings.Join(f.Servers, ","), append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("fleet: connect to %s: %w", strings.Join(f.Servers, ", "), err)
	}
	return nc, nil
}

// StreamConfig is the fleet stream: file storage, min(3, servers)
// replicas, messages kept as long as the longest ban the policy can
// give (so the stream is the fleet's ban list), two minutes of dedupe.
func StreamConfig(p *policy.Policy) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        p.Fleet.Stream,
		Description: "rampart fleet bans (rampart.ban/v1)",
		Subjects:    StreamSubjects,
		Storage:     jetstream.FileStorage,
		Replicas:    min(3, len(p.Fleet.Servers)),
		MaxAge:      p.MaxBantime(),
		Duplicates:  2 * time.Minute,
		MaxMsgSize:  MaxPayload,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
	}
}

// EnsureStream returns the fleet stream, creating it when missing (the
// credential needs $JS.API.STREAM.CREATE.<stream> for that; an existing
// stream is used as it is).
func EnsureStream(ctx context.Context, js jetstream.JetStream, p *policy.Policy) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, p.Fleet.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, StreamConfig(p))
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = js.Stream(ctx, p.Fleet.Stream)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("fleet stream %s: %w", p.Fleet.Stream, err)
	}
	return s, nil
}

// NodeName is the policy's fleet.node, or the first label of the host
// name made a valid node name.
func NodeName(f policy.Fleet) (string, error) {
	if f.Node != "" {
		return f.Node, nil
	}
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("fleet.node is empty and the host name is unknown: %w", err)
	}
	return NodeFromHostname(h)
}

// NodeFromHostname makes a host name's first label a valid node name
// (characters a node name cannot hold are left out).
func NodeFromHostname(h string) (string, error) {
	h, _, _ = strings.Cut(h, ".")
	var b strings.Builder
	for _, r := range h {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	n := b.String()
	if err := policy.ValidNode(n); err != nil {
		return "", fmt.Errorf("fleet.node is empty and the host name gives no valid one: %w", err)
	}
	return n, nil
}
