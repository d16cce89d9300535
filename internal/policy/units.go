package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a span written the way systemd and fail2ban write them:
// "300" or "300s", "10m"/"10min", "1h", "2d", "1w", "1month" (30.44 days),
// "1y" (365.25 days), and sums such as "1h 30m" or "1h30m". Text keeps the
// spelling from the file so renderers can reproduce it.
type Duration struct {
	D    time.Duration
	Text string
}

// Dur builds a Duration from a spelling, panicking on a bad one; for
// defaults and tests only.
func Dur(s string) Duration {
	d, err := ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

// Month and Year are systemd's calendar-free spans.
const (
	Month = 2629800 * time.Second  // 30.44 days
	Year  = 31557600 * time.Second // 365.25 days
)

var durationUnits = []struct {
	names []string
	d     time.Duration
}{
	{[]string{"us", "usec", "µs"}, time.Microsecond},
	{[]string{"ms", "msec"}, time.Millisecond},
	{[]string{"s", "sec", "second", "seconds"}, time.Second},
	{[]string{"m", "min", "minute", "minutes"}, time.Minute},
	{[]string{"h", "hr", "hour", "hours"}, time.Hour},
	{[]string{"d", "day", "days"}, 24 * time.Hour},
	{[]string{"w", "week", "weeks"}, 7 * 24 * time.Hour},
	{[]string{"M", "month", "months"}, Month},
	{[]string{"y", "year", "years"}, Year},
}

func unitOf(name string) (time.Duration, bool) {
	for _, u := range durationUnits {
		for _, n := range u.names {
			if n == name {
				return u.d, true
			}
		}
	}
	return 0, false
}

// ParseDuration parses a duration spelling (see Duration).
func ParseDuration(s string) (Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return Duration{}, fmt.Errorf("empty duration")
	}
	var total time.Duration
	rest := in
	for rest != "" {
		rest = strings.TrimLeft(rest, " ")
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9') {
			i++
		}
		if i == 0 {
			return Duration{}, fmt.Errorf("invalid duration %q: expected a number, e.g. \"10m\", \"1h\", \"1month\"", s)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil || n > 1<<40 {
			return Duration{}, fmt.Errorf("invalid duration %q: number out of range", s)
		}
		rest = strings.TrimLeft(rest[i:], " ")
		j := 0
		for j < len(rest) && !(rest[j] >= '0' && rest[j] <= '9') && rest[j] != ' ' {
			j++
		}
		unit := rest[:j]
		rest = rest[j:]
		var u time.Duration = time.Second
		if unit != "" {
			var ok bool
			if u, ok = unitOf(unit); !ok {
				return Duration{}, fmt.Errorf("invalid duration %q: unknown unit %q (use s, m, h, d, w, month or y)", s, unit)
			}
		}
		add := time.Duration(n) * u
		if n != 0 && add/time.Duration(n) != u || total+add < total {
			return Duration{}, fmt.Errorf("invalid duration %q: too long", s)
		}
		total += add
	}
	return Duration{D: total, Text: in}, nil
}

// Seconds returns the duration in whole seconds.
func (d Duration) Seconds() int64 { return int64(d.D / time.Second) }

// String returns the original spelling, or a canonical one.
func (d Duration) String() string {
	if d.Text != "" {
		return d.Text
	}
	return FormatDuration(d.D)
}

// FormatDuration writes d with the largest unit that divides it exactly
// ("1h", "10m", "1month", "90s").
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	for i := len(durationUnits) - 1; i >= 0; i-- {
		u := durationUnits[i]
		if d%u.d == 0 {
			name := u.names[0]
			if u.d == Month {
				name = "month"
			}
			return strconv.FormatInt(int64(d/u.d), 10) + name
		}
	}
	return d.String()
}

// MarshalText writes the spelling.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a spelling.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Size is a byte count written with systemd's base-1024 suffixes:
// "1000M", "1G", "512K", or plain bytes.
type Size struct {
	Bytes int64
	Text  string
}

// ParseSize parses a size spelling.
func ParseSize(s string) (Size, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return Size{}, fmt.Errorf("empty size")
	}
	num := strings.TrimRight(in, "KMGTPEkmgtpeiBb ")
	suffix := strings.TrimSpace(in[len(num):])
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return Size{}, fmt.Errorf("invalid size %q: expected a whole number with an optional K, M, G or T suffix, e.g. \"1000M\"", s)
	}
	mult := int64(1)
	switch strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(suffix), "B"), "I") {
	case "":
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	case "T":
		mult = 1 << 40
	default:
		return Size{}, fmt.Errorf("invalid size %q: unknown suffix %q (use K, M, G or T)", s, suffix)
	}
	if n > (1<<62)/mult {
		return Size{}, fmt.Errorf("invalid size %q: too large", s)
	}
	return Size{Bytes: n * mult, Text: in}, nil
}

// String returns the original spelling, or a canonical one.
func (s Size) String() string {
	if s.Text != "" {
		return s.Text
	}
	return FormatSize(s.Bytes)
}

// FormatSize writes n with the largest exact base-1024 suffix ("1000M").
func FormatSize(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n != 0 && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

// MarshalText writes the spelling.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a spelling.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
