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
	if l.Source() != "nft -j list ruleset" {
		t.Errorf("nft only: source %q", l.Source())
	}
	if x := l.Ruleset.Exposure("tcp", 22, "eth0"); x.State != Open {
		t.Errorf("nft only: eth0 tcp/22 %s, want open (openFirewall)", x.State)
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
