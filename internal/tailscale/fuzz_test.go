package tailscale

import (
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/testenv"
)

// The parsers read output an attacker may shape (a hostile tailscaled, a
// forged $SSH_CONNECTION): they must never panic, and what they accept
// must be consistent.

func FuzzParseStatus(f *testing.F) {
	testenv.SeedFiles(f, "testdata/status-*.json")
	f.Add([]byte(`{"BackendState":"Running","Self":{"KeyExpiry":null,"Tags":[]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseStatus(data)
		if err != nil {
			return
		}
		if !knownState(s.BackendState) {
			t.Fatalf("accepted unknown state %q", s.BackendState)
		}
		_ = s.SelfIPs()
		_ = s.Self.KeyExpiryDisabled()
		_ = s.Self.Tagged()
	})
}

func FuzzParseSSHConnection(f *testing.F) {
	for _, s := range []string{"100.64.0.2 51234 100.64.0.1 22", "fe80::1%eth0 1 fe80::2%eth0 22", "", "a b c d", "1.2.3.4 0 1.2.3.4 22"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		c, err := ParseSSHConnection(v)
		if err != nil {
			return
		}
		if !c.Client.IsValid() || !c.Server.IsValid() || c.Client.Port() == 0 || c.Server.Port() == 0 {
			t.Fatalf("accepted %q as %+v", v, c)
		}
		if c.Client.Addr().Zone() != "" || strings.ContainsAny(c.Raw, "\n\t") {
			t.Fatalf("zone or control characters kept: %+v", c)
		}
	})
}

func FuzzParseInterfaces(f *testing.F) {
	testenv.SeedFiles(f, "testdata/ip-addr-netns.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		ifs, err := ParseInterfaces(data)
		if err != nil {
			return
		}
		for _, i := range ifs {
			if len(i.Addrs) != len(i.AddrInfo) {
				t.Fatalf("%s: %d addrs for %d addr_info", i.Name, len(i.Addrs), len(i.AddrInfo))
			}
			_ = i.Up()
			_ = i.TailnetAddrs(nil)
		}
	})
}

func FuzzParseRoute(f *testing.F) {
	testenv.SeedFiles(f, "testdata/route-get-*.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRoute(data)
		if err == nil && r == nil {
			t.Fatal("no route and no error")
		}
	})
}

func FuzzParsePrefs(f *testing.F) {
	testenv.SeedFiles(f, "testdata/prefs-*.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePrefs(data)
		if err == nil && p == nil {
			t.Fatal("no prefs and no error")
		}
	})
}
