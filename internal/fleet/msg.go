package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/internal/policy"
)

// Schema is the payload version this package writes and accepts.
const Schema = "rampart.ban/v1"

// MaxPayload bounds one message's payload in bytes.
const MaxPayload = 4 << 10

// Subjects. A node publishes bans under rampart.ban.NODE.JAIL and its own
// unbans under rampart.unban.NODE; an administrator's fleet-wide unban is
// rampart.fleet.unban.
const (
	SubjectBan        = "rampart.ban"
	SubjectUnban      = "rampart.unban"
	SubjectFleetUnban = "rampart.fleet.unban"
)

// StreamSubjects are the subjects the fleet stream holds.
var StreamSubjects = []string{SubjectBan + ".>", SubjectUnban + ".*", SubjectFleetUnban}

// Kind says what a message does.
type Kind int

// Kinds of message.
const (
	KindBan        Kind = iota + 1 // a node banned a prefix
	KindUnban                      // a node lifted its own ban
	KindFleetUnban                 // an administrator lifted a ban everywhere
)

func (k Kind) String() string {
	switch k {
	case KindBan:
		return "ban"
	case KindUnban:
		return "unban"
	case KindFleetUnban:
		return "fleet-unban"
	}
	return "unknown"
}

// Payload is the JSON body of every fleet message.
type Payload struct {
	Schema    string    `json:"schema"`
	Prefix    string    `json:"prefix"`
	Jail      string    `json:"jail,omitempty"`
	DecidedAt time.Time `json:"decided_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Failures  int       `json:"failures,omitempty"`
	Reason    string    `json:"reason,omitempty"`
}

// Message is a decoded, checked fleet message.
type Message struct {
	Kind Kind
	// Origin is the publishing node, from the subject (empty for a fleet
	// unban).
	Origin    string
	Prefix    netip.Prefix
	Jail      string
	DecidedAt time.Time
	ExpiresAt time.Time
	Failures  int
	Reason    string
}

// BanSubject is the subject node publishes a ban of jail under.
func BanSubject(node, jail string) string { return SubjectBan + "." + node + "." + jail }

// UnbanSubject is the subject node publishes its unbans under.
func UnbanSubject(node string) string { return SubjectUnban + "." + node }

// ParseSubject returns the kind, origin and jail a subject names.
func ParseSubject(subj string) (Kind, string, string, error) {
	if subj == SubjectFleetUnban {
		return KindFleetUnban, "", "", nil
	}
	t := strings.Split(subj, ".")
	switch {
	case len(t) == 4 && t[0]+"."+t[1] == SubjectBan:
		if err := policy.ValidNode(t[2]); err != nil {
			return 0, "", "", fmt.Errorf("subject %q: %w", subj, err)
		}
		if err := validJail(t[3]); err != nil {
			return 0, "", "", fmt.Errorf("subject %q: %w", subj, err)
		}
		return KindBan, t[2], t[3], nil
	case len(t) == 3 && t[0]+"."+t[1] == SubjectUnban:
		if err := policy.ValidNode(t[2]); err != nil {
			return 0, "", "", fmt.Errorf("subject %q: %w", subj, err)
		}
		return KindUnban, t[2], "", nil
	}
	return 0, "", "", fmt.Errorf("subject %q: not a fleet subject", clip(subj))
}

func validJail(s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("jail name %s: want 1 to 64 characters", clip(s))
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("jail name %s: only letters, digits, _ and - are allowed", clip(s))
		}
	}
	return nil
}

// clip quotes attacker-written text for messages, shortened.
func clip(s string) string {
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return strconv.Quote(s)
}

// Encode writes the payload of m (Origin and Kind go in the subject).
func Encode(m Message) ([]byte, error) {
	p := Payload{Schema: Schema, Prefix: m.Prefix.String(), DecidedAt: m.DecidedAt.UTC(), Failures: m.Failures, Reason: m.Reason}
	if m.Kind == KindBan {
		p.Jail, p.ExpiresAt = m.Jail, m.ExpiresAt.UTC()
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxPayload {
		return nil, fmt.Errorf("fleet message of %d bytes exceeds %d", len(b), MaxPayload)
	}
	return b, nil
}

// ErrSchema marks a payload of another schema version.
var ErrSchema = errors.New("unknown schema")

// Decode parses and checks one message: the subject gives kind and
// origin; the payload must be exactly rampart.ban/v1 with no unknown
// field. Errors name the field.
func Decode(subject string, data []byte) (Message, error) {
	kind, origin, jail, err := ParseSubject(subject)
	if err != nil {
		return Message{}, err
	}
	if len(data) > MaxPayload {
		return Message{}, fmt.Errorf("payload of %d bytes exceeds %d", len(data), MaxPayload)
	}
	// One strict pass decides a well-formed v1 payload; anything else
	// goes the slow way below, which names what is wrong.
	var p Payload
	if strictDecode(data, &p) == nil && p.Schema == Schema {
		return check(kind, origin, jail, &p)
	}
	return decodeSlow(kind, origin, jail, data)
}

// decodeSlow decodes a payload in steps, so that the error says whether
// it is not JSON, another schema version, or a bad v1 payload.
func decodeSlow(kind Kind, origin, jail string, data []byte) (Message, error) {
	var probe struct {
		Schema json.RawMessage `json:"schema"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return Message{}, fmt.Errorf("payload: %w", err)
	}
	var schema string
	if err := json.Unmarshal(probe.Schema, &schema); err != nil || schema != Schema {
		return Message{}, fmt.Errorf("field schema: %w %s (want %q)", ErrSchema, clip(string(probe.Schema)), Schema)
	}
	var p Payload
	if err := strictDecode(data, &p); err != nil {
		return Message{}, err
	}
	return check(kind, origin, jail, &p)
}

// strictDecode reads exactly one JSON object of no unknown field.
func strictDecode(data []byte, p *Payload) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return fmt.Errorf("payload: %s", clip(err.Error()))
	}
	for _, c := range data[dec.InputOffset():] {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return errors.New("payload: data after the JSON object")
		}
	}
	return nil
}

// check turns a decoded payload into a message, checking its fields.
func check(kind Kind, origin, jail string, p *Payload) (Message, error) {
	var err error
	m := Message{Kind: kind, Origin: origin, DecidedAt: p.DecidedAt, ExpiresAt: p.ExpiresAt, Failures: p.Failures, Reason: p.Reason}
	if m.Prefix, err = parsePrefix(p.Prefix); err != nil {
		return Message{}, fmt.Errorf("field prefix: %w", err)
	}
	if p.DecidedAt.IsZero() {
		return Message{}, errors.New("field decided_at: required")
	}
	if p.Failures < 0 || p.Failures > 1_000_000 {
		return Message{}, fmt.Errorf("field failures: %d out of range (0 to 1000000)", p.Failures)
	}
	if len(p.Reason) > 256 {
		return Message{}, errors.New("field reason: longer than 256 bytes")
	}
	switch kind {
	case KindBan:
		if p.Jail != jail {
			return Message{}, fmt.Errorf("field jail: %s differs from the subject's %s", clip(p.Jail), jail)
		}
		m.Jail = jail
		if !p.ExpiresAt.After(p.DecidedAt) {
			return Message{}, errors.New("field expires_at: required, after decided_at")
		}
	default:
		if p.Jail != "" || !p.ExpiresAt.IsZero() {
			return Message{}, errors.New("an unban has no jail or expires_at")
		}
	}
	return m, nil
}

// parsePrefix reads a masked CIDR prefix (an unban may also name a plain
// address, as its /32 or /128).
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%s is not an address or CIDR prefix", clip(s))
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		return netip.Prefix{}, fmt.Errorf("%s is not an address or CIDR prefix", clip(s))
	case p.Addr().Zone() != "" || p.Addr().Is4In6():
		return netip.Prefix{}, fmt.Errorf("%s: use the plain address form", clip(s))
	case p.Masked() != p:
		return netip.Prefix{}, fmt.Errorf("%s has host bits set", clip(s))
	}
	return p, nil
}
