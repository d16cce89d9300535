package tailscale

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/host/hosttest"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseStatusFixtures(t *testing.T) {
	tests := []struct {
		file      string
		state     string
		running   bool
		selfIPs   []string
		tagged    bool
		expiryOff bool
		expired   bool
		online    bool
		keyExpiry string
		health    string
		peers     int
	}{
		{file: "status-needslogin.json", state: StateNeedsLogin, expiryOff: true, health: "Tailscale is stopped."},
		{file: "status-needslogin-loginerror.json", state: StateNeedsLogin, expiryOff: true, health: "fetch control key"},
		{file: "status-running-tagged.json", state: StateRunning, running: true, selfIPs: []string{"100.64.0.1", "fd7a:115c:a1e0::1"},
			tagged: true, expiryOff: true, online: true, peers: 1},
		{file: "status-running-user-expiry.json", state: StateRunning, running: true, selfIPs: []string{"100.64.0.2", "fd7a:115c:a1e0::2"},
			online: true, keyExpiry: "2026-12-07T09:12:44Z", peers: 1},
		{file: "status-expired.json", state: StateNeedsLogin, selfIPs: []string{"100.64.0.2", "fd7a:115c:a1e0::2"},
			expired: true, online: true, keyExpiry: "2026-11-25T08:25:27Z", health: "relay server", peers: 1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := ParseStatus(readFixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if s.BackendState != tt.state || s.Running() != tt.running {
				t.Errorf("state = %q running=%v, want %q running=%v", s.BackendState, s.Running(), tt.state, tt.running)
			}
			var ips []string
			for _, a := range s.SelfIPs() {
				ips = append(ips, a.String())
			}
			if strings.Join(ips, ",") != strings.Join(tt.selfIPs, ",") {
				t.Errorf("SelfIPs = %v, want %v", ips, tt.selfIPs)
			}
			if s.Self == nil {
				t.Fatal("Self missing")
			}
			if s.Self.Tagged() != tt.tagged || s.Self.KeyExpiryDisabled() != tt.expiryOff || s.Self.Expired != tt.expired || s.Self.Online != tt.online {
				t.Errorf("tagged=%v expiryOff=%v expired=%v online=%v, want %v %v %v %v", s.Self.Tagged(), s.Self.KeyExpiryDisabled(),
					s.Self.Expired, s.Self.Online, tt.tagged, tt.expiryOff, tt.expired, tt.online)
			}
			if tt.keyExpiry != "" {
				want, _ := time.Parse(time.RFC3339, tt.keyExpiry)
				if s.Self.KeyExpiry == nil || !s.Self.KeyExpiry.Equal(want) {
					t.Errorf("KeyExpiry = %v, want %v", s.Self.KeyExpiry, want)
				}
			}
			if tt.health != "" && !strings.Contains(strings.Join(s.Health, "\n"), tt.health) {
				t.Errorf("Health = %q, want it to mention %q", s.Health, tt.health)
			}
			if len(s.Peer) != tt.peers {
				t.Errorf("peers = %d, want %d", len(s.Peer), tt.peers)
			}
		})
	}
}

func TestParseStatusErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "empty output"},
		{"syntax", "{\n  \"BackendState\": \"Running\",\n  oops\n}", "3:3: invalid JSON"},
		{"type", "{\n  \"BackendState\": 7\n}", "2:19: field BackendState: got JSON number, expected string"},
		{"nested type", "{\"BackendState\":\"Running\",\"Self\":{\"Online\":\"yes\"}}", "field Self.Online"},
		{"bad ip", `{"BackendState":"Running","TailscaleIPs":["100.64.0.300"]}`, "invalid value"},
		{"bad time", `{"BackendState":"Running","Self":{"KeyExpiry":"tomorrow"}}`, "invalid value"},
		{"missing state", `{"Version":"1.0"}`, "BackendState missing"},
		{"unknown state", `{"BackendState":"Pwned\u001b[31m"}`, `unknown state "Pwned\x1b[31m"`},
		{"not an object", `["Running"]`, "expected tailscale.Status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseStatus([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestReadStatus(t *testing.T) {
	ctx := context.Background()
	running := readFixture(t, "status-running-tagged.json")
	down := readFixture(t, "daemon-down.stderr")

	f := hosttest.New(t)
	f.SetCmd(StatusCmd, string(running), 0)
	s, raw, err := ReadStatus(ctx, f)
	if err != nil || !s.Running() || len(raw) != len(running) {
		t.Fatalf("running: %v %v %d", s, err, len(raw))
	}

	f = hosttest.New(t)
	f.SetCmd(StatusCmd, "", 1)
	f.Cmds[StatusCmd.String()].Stderr = down
	_, _, err = ReadStatus(ctx, f)
	if err == nil || !strings.Contains(err.Error(), "failed to connect to local tailscaled") {
		t.Fatalf("daemon down: err = %v", err)
	}

	f = hosttest.New(t)
	f.Missing["tailscale"] = true
	_, _, err = ReadStatus(ctx, f)
	if !errors.Is(err, host.ErrNotFound) {
		t.Fatalf("missing: err = %v, want ErrNotFound", err)
	}
}

func TestIsTailnetAddr(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"100.64.0.1", true},
		{"100.127.255.254", true},
		{"100.128.0.1", false},
		{"100.63.255.255", false},
		{"::ffff:100.100.1.1", true},
		{"fd7a:115c:a1e0::1", true},
		{"fd7a:115c:a1e1::1", false},
		{"203.0.113.5", false},
		{"127.0.0.1", false},
	}
	for _, tt := range tests {
		if got := IsTailnetAddr(netip.MustParseAddr(tt.addr), nil); got != tt.want {
			t.Errorf("IsTailnetAddr(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	custom, err := ParseRanges([]string{"192.0.2.0/24"})
	if err != nil || !IsTailnetAddr(netip.MustParseAddr("192.0.2.9"), custom) || IsTailnetAddr(netip.MustParseAddr("100.64.0.1"), custom) {
		t.Errorf("custom ranges: %v %v", custom, err)
	}
	if _, err := ParseRanges([]string{"100.64.0.0/10", "nonsense"}); err == nil || !strings.Contains(err.Error(), "tailnet.addresses[1]") {
		t.Errorf("ParseRanges error = %v", err)
	}
}

func TestParsePrefs(t *testing.T) {
	tests := []struct {
		file                 string
		exit, uses, routeAll bool
		subnets              string
		ssh                  bool
	}{
		{"prefs-needslogin.json", false, false, false, "[]", false},
		{"prefs-advertise-exit-node.json", true, false, false, "[192.0.2.0/24]", false},
		{"prefs-client.json", false, true, true, "[]", false},
		{"prefs-tailscale-ssh.json", false, false, false, "[]", true},
	}
	for _, tc := range tests {
		b, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParsePrefs(b)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		sub := fmt.Sprint(p.Subnets())
		if sub == "[]" || sub == "<nil>" {
			sub = "[]"
		}
		if p.AdvertisesExitNode() != tc.exit || p.UsesExitNode() != tc.uses || p.RouteAll != tc.routeAll || sub != tc.subnets || p.RunSSH != tc.ssh {
			t.Errorf("%s: exit %v uses %v routeAll %v subnets %s ssh %v", tc.file, p.AdvertisesExitNode(), p.UsesExitNode(), p.RouteAll, sub, p.RunSSH)
		}
	}
	for _, bad := range []string{"", "{", `{"AdvertiseRoutes": ["300.0.0.0/8"]}`, `{"RouteAll": "yes"}`} {
		if _, err := ParsePrefs([]byte(bad)); err == nil {
			t.Errorf("ParsePrefs(%q) accepted", bad)
		}
	}
}
