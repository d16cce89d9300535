package tailscale

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/host/hosttest"
)

func TestParseInterfaces(t *testing.T) {
	ifs, err := ParseInterfaces(readFixture(t, "ip-addr-netns.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, i := range ifs {
		var ts []string
		for _, a := range i.TailnetAddrs(nil) {
			ts = append(ts, a.String())
		}
		got[i.Name] = strings.Join(ts, ",")
		if !i.Up() {
			t.Errorf("%s: not up", i.Name)
		}
	}
	want := map[string]string{"lo": "", "tailscale0": "100.64.0.1,fd7a:115c:a1e0::1", "eth0": ""}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s tailnet addrs = %q (present %v), want %q", k, g, ok, v)
		}
	}

	bad := []struct{ in, want string }{
		{`[{"ifname":"x","addr_info":[{"local":"nope","prefixlen":8}]}]`, `addr_info[0].local "nope"`},
		{`[{"ifname":"x","addr_info":[{"local":"10.0.0.1","prefixlen":33}]}]`, "prefixlen 33: expected 0..32"},
		{`[{"ifindex":1}]`, "field ifname missing"},
		{`{"ifname":"x"}`, "expected []tailscale.Interface"},
	}
	for _, b := range bad {
		if _, err := ParseInterfaces([]byte(b.in)); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("ParseInterfaces(%s) err = %v, want %q", b.in, err, b.want)
		}
	}
}

func TestParseRoute(t *testing.T) {
	tests := []struct{ file, dev, src string }{
		{"route-get-tailnet.json", "tailscale0", "100.64.0.1"},
		{"route-get-tailnet6.json", "tailscale0", "fd7a:115c:a1e0::1"},
		{"route-get-public.json", "eth0", "203.0.113.1"},
		{"route-get-local.json", "lo", "127.0.0.1"},
	}
	for _, tt := range tests {
		r, err := ParseRoute(readFixture(t, tt.file))
		if err != nil || r.Dev != tt.dev || r.PrefSrc != tt.src {
			t.Errorf("%s: %+v %v, want dev %s src %s", tt.file, r, err, tt.dev, tt.src)
		}
	}
	for _, in := range []string{"[]", `[{"dst":"1.2.3.4"}]`, "not json"} {
		if _, err := ParseRoute([]byte(in)); err == nil {
			t.Errorf("ParseRoute(%q) succeeded", in)
		}
	}
}

func TestReadInterfaceAndRoute(t *testing.T) {
	ctx := context.Background()
	f := hosttest.New(t)
	f.SetCmd(host.C("ip", "-j", "addr", "show", "dev", "tailscale0"), string(readFixture(t, "ip-addr-netns.json")), 0)
	f.SetCmd(host.C("ip", "-j", "addr", "show", "dev", "wg0"), "", 1)
	f.Cmds[host.C("ip", "-j", "addr", "show", "dev", "wg0").String()].Stderr = []byte("Device \"wg0\" does not exist.\n")
	f.SetCmd(host.C("ip", "-j", "route", "get", "100.64.0.2"), string(readFixture(t, "route-get-tailnet.json")), 0)

	ifc, src, _, err := ReadInterface(ctx, f, "tailscale0")
	if err != nil || ifc.Name != "tailscale0" || src != "ip -j addr show dev tailscale0" {
		t.Fatalf("ReadInterface: %+v %q %v", ifc, src, err)
	}
	if _, _, _, err := ReadInterface(ctx, f, "wg0"); !errors.Is(err, ErrNoInterface) {
		t.Fatalf("missing interface: err = %v", err)
	}
	r, _, _, err := RouteGet(ctx, f, netip.MustParseAddr("100.64.0.2"))
	if err != nil || r.Dev != "tailscale0" {
		t.Fatalf("RouteGet: %+v %v", r, err)
	}
}

func TestParseSSHConnection(t *testing.T) {
	tests := []struct {
		in, client, server, err string
	}{
		{in: "100.64.0.2 51234 100.64.0.1 22", client: "100.64.0.2:51234", server: "100.64.0.1:22"},
		{in: "fd7a:115c:a1e0::2 40000 fd7a:115c:a1e0::1 2222", client: "[fd7a:115c:a1e0::2]:40000", server: "[fd7a:115c:a1e0::1]:2222"},
		{in: "fe80::1%eth0 40000 fe80::2%eth0 22", client: "[fe80::1]:40000", server: "[fe80::2]:22"},
		{in: "::ffff:203.0.113.9 1 203.0.113.1 22", client: "203.0.113.9:1", server: "203.0.113.1:22"},
		{in: "", err: "expected 4 fields"},
		{in: "1.2.3.4 22 5.6.7.8", err: "expected 4 fields"},
		{in: "evil 1 2.3.4.5 22", err: "field 1 (client_ip)"},
		{in: "1.2.3.4 99999 2.3.4.5 22", err: "field 2 (client_port)"},
		{in: "1.2.3.4 5 2.3.4.5 0", err: "field 4 (server_port)"},
	}
	for _, tt := range tests {
		c, err := ParseSSHConnection(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || c.Client.String() != tt.client || c.Server.String() != tt.server {
			t.Errorf("%q: %+v %v, want %s %s", tt.in, c, err, tt.client, tt.server)
		}
	}
}
