package nftrules

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/host/hosttest"
)

// TestRead reads the live ruleset from captured outputs: nft alone,
// iptables alone, and neither.
func TestRead(t *testing.T) {
	capture := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ctx := context.Background()

	f := hosttest.New(t).SetCmd(ListCmd, capture("nixos-openfirewall.json"), 0)
	f.Missing["iptables-save"], f.Missing["ip6tables-save"] = true, true
	l, err := Read(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if want := "nft -j list ruleset + iptables-save skipped: /proc/net/ip_tables_names does not exist (no legacy table) and nft shows no iptables-nft table + " +
		"ip6tables-save skipped: /proc/net/ip6_tables_names does not exist (no legacy table) and nft shows no iptables-nft table"; l.Source() != want {
		t.Errorf("nft only: source %q", l.Source())
	}
	if x := l.Ruleset.Exposure("tcp", 22, "eth0"); x.State != Open {
		t.Errorf("nft only: eth0 tcp/22 %s, want open (openFirewall)", x.State)
	}

	// iptables-save is run when the legacy backend has a table, or when
	// nft shows one of iptables-nft's tables.
	for name, f := range map[string]*hosttest.Fixture{
		"legacy table": hosttest.New(t).SetCmd(ListCmd, capture("nixos-openfirewall.json"), 0).
			SetFile("/proc/net/ip_tables_names", "filter\n").SetFile("/proc/net/ip6_tables_names", ""),
		"iptables-nft table": hosttest.New(t).SetCmd(ListCmd, `{"nftables":[{"metainfo":{"json_schema_version":1}},{"table":{"family":"ip","name":"filter","handle":1}}]}`, 0).
			SetFile("/proc/net/ip6_tables_names", ""),
	} {
		f.SetCmd(host.C("iptables-save"), "", 0)
		l, err := Read(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Sources) != 3 || !strings.HasPrefix(l.Sources[1], "iptables-save (") || !strings.HasPrefix(l.Sources[2], "ip6tables-save skipped: /proc/net/ip6_tables_names is empty") {
			t.Errorf("%s: sources %q", name, l.Sources)
		}
	}

	f = hosttest.New(t).SetCmd(host.C("iptables-save"), capture("ipt-nixos-tailnet.legacy-save4"), 0).
		SetCmd(host.C("ip6tables-save"), capture("ipt-nixos-tailnet.legacy-save6"), 0)
	f.Missing["nft"] = true
	l, err = Read(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Sources) != 2 || !strings.HasPrefix(l.Sources[0], "iptables-save (") || !strings.HasPrefix(l.Sources[1], "ip6tables-save (") {
		t.Errorf("iptables only: sources %q", l.Sources)
	}
	if x := l.Ruleset.Exposure("tcp", 22, "eth0"); x.State != Closed {
		t.Errorf("iptables only: eth0 tcp/22 %s, want closed (tailnet-only rules)", x.State)
	}

	f = hosttest.New(t)
	f.Missing["nft"], f.Missing["iptables-save"], f.Missing["ip6tables-save"] = true, true, true
	if _, err := Read(ctx, f); !errors.Is(err, host.ErrNotFound) {
		t.Errorf("nothing installed: error %v, want host.ErrNotFound", err)
	}
}
