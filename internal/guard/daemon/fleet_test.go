package daemon

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/fleet"
	"github.com/rampart-sec/rampart/internal/guard/control"
	"github.com/rampart-sec/rampart/internal/guard/nft"
	"github.com/rampart-sec/rampart/internal/guard/store"
)

// TestRemoteBans: other nodes' bans land in the same sets with the origin
// in the comment and survive a restart with their origin and the stream
// position; a node's unban lifts only its own bans, a fleet unban all.
func TestRemoteBans(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{}
	fake := nft.NewFake(clk.now)
	h := start(t, dir, fake, clk)
	now := clk.now()
	apply := func(in fleet.Inbound) {
		t.Helper()
		if err := h.d.do(context.Background(), func() { h.d.remote(in); h.d.flush(context.Background()) }); err != nil {
			t.Fatal(err)
		}
	}
	x, y := pfx("198.51.100.7/32"), pfx("198.51.100.8/32")
	apply(fleet.Inbound{Seq: 1, Kind: fleet.KindBan, Origin: "web2", Prefix: x, Jail: "sshd", At: now, Until: now.Add(30 * time.Minute), Failures: 4})
	apply(fleet.Inbound{Seq: 2, Kind: fleet.KindBan, Origin: "web3", Prefix: y, Jail: "sshd", At: now, Until: now.Add(30 * time.Minute)})
	apply(fleet.Inbound{Seq: 3, Kind: fleet.KindBan, Origin: "web2", Prefix: pfx("198.51.100.9/32"), Jail: "sshd", At: now, Until: now.Add(-time.Second)})
	apply(fleet.Inbound{Seq: 4}) // position only
	els, _ := fake.Check(context.Background())
	if len(els) != 2 || els[0].Comment != "sshd@web2" || els[1].Comment != "sshd@web3" || els[0].Expires > 30*time.Minute || els[0].Expires < 29*time.Minute {
		t.Fatalf("elements %+v", els)
	}
	r, err := control.Call(h.sock, control.Request{Op: control.OpList})
	if err != nil || len(r.Bans) != 2 || r.Bans[0].Origin != "web2" {
		t.Fatalf("list: %+v %v", r, err)
	}

	// Restart: origin and position come back from the store.
	h.stop()
	st, err := store.Open(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := st.Load(clk.now())
	if err != nil || s.Cursors[fleetCursor].Seq != 4 || len(s.Bans) != 2 || s.Bans[0].Origin != "web2" {
		t.Fatalf("stored: %v %+v", err, s)
	}
	h = start(t, dir, fake, clk)

	// web3 unbans x: not its ban, nothing happens; web2 unbans x: gone.
	apply(fleet.Inbound{Seq: 5, Kind: fleet.KindUnban, Origin: "web3", Prefix: x})
	if !fake.Has(x) {
		t.Fatal("web3 lifted web2's ban")
	}
	apply(fleet.Inbound{Seq: 6, Kind: fleet.KindUnban, Origin: "web2", Prefix: x})
	if fake.Has(x) || !fake.Has(y) {
		t.Fatal("web2's unban did not lift its ban, or lifted another")
	}
	// A local ban and a fleet unban over both.
	if _, err := h.d.Ban(context.Background(), pfx("198.51.100.10/32"), "", time.Hour); err != nil {
		t.Fatal(err)
	}
	apply(fleet.Inbound{Seq: 7, Kind: fleet.KindFleetUnban, Prefix: pfx("198.51.100.0/24")})
	if els, _ := fake.Check(context.Background()); len(els) != 0 {
		t.Fatalf("after the fleet unban: %+v", els)
	}
	if got, _ := splitComment("sshd@web2"); got != "sshd" {
		t.Error(got)
	}
}
