package fleet_test

import (
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-sec/rampart/internal/fleet"
)

// The flood of TestBenchFleet (bench_e2e_test.go, built with -tags
// fleetbench) runs in a process of its own, which TestMain starts: so it
// is built with every test binary.

// runFlood publishes N bans of 2001:db8:cc::/48 addresses as node a with
// the admin credential ("URL N").
func runFlood(arg string) int {
	var url string
	var n int
	fmt.Sscan(arg, &url, &n)
	nc, err := nats.Connect(url, nats.UserInfo("admin", "pw-admin"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer nc.Close()
	js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192))
	now := time.Now()
	for i := range n {
		data, _ := fleet.Encode(fleet.Message{Kind: fleet.KindBan, Prefix: netip.PrefixFrom(floodAddr(i+1), 128), Jail: "sshd", DecidedAt: now, ExpiresAt: now.Add(time.Hour)})
		if _, err := js.PublishAsync(fleet.BanSubject("a", "sshd"), data); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if (i+1)%4096 == 0 || i == n-1 {
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(2 * time.Minute):
				fmt.Fprintln(os.Stderr, "flood: acks timed out")
				return 2
			}
		}
	}
	return 0
}

// floodAddr is the nth address runFlood bans.
func floodAddr(n int) netip.Addr {
	return netip.MustParseAddr(fmt.Sprintf("2001:db8:cc::%x:%x", n>>16, n&0xffff))
}
