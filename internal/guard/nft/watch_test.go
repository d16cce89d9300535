package nft_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/rampart-sec/rampart/internal/guard/nft"
	"github.com/rampart-sec/rampart/internal/guard/nft/nfttest"
)

// TestWatch: the backend's own transactions are not reported; another
// process deleting the table, flushing the ruleset, flushing a set or
// adding a rule to the table is, each as it happens; changes to other
// tables are not.
func TestWatch(t *testing.T) {
	ns := nfttest.NewNetNS(t)
	b, err := nft.NewNetlink("rampart_w", nftables.WithNetNSFd(int(ns.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 64)
	done := make(chan error, 1)
	go func() { done <- b.Watch(ctx, func(what string) { got <- what }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch after cancel: %v", err)
		}
	}()
	now := time.Now()
	ban := []nft.Ban{{Prefix: pfx("192.0.2.7/32"), Until: now.Add(time.Hour), Jail: "sshd"}}
	sync := func() {
		t.Helper()
		if err := b.Sync(ctx, ban, now); err != nil {
			t.Fatal(err)
		}
	}
	// The monitor joins its group asynchronously: wait until an outside
	// change is seen before asserting on anything.
	for deadline := time.Now().Add(5 * time.Second); ; {
		nftIn(t, ns, "add", "table", "inet", "rampart_w")
		nftIn(t, ns, "add", "chain", "inet", "rampart_w", "probe")
		select {
		case <-got:
		case <-time.After(100 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("no event for an outside change")
			}
			continue
		}
		break
	}
	drain := func() {
		for {
			select {
			case <-got:
			case <-time.After(200 * time.Millisecond):
				return
			}
		}
	}
	drain()
	for _, c := range []struct {
		name string
		args []string
		want string // "" = no event
	}{
		{"other table", []string{"add", "table", "inet", "other"}, ""},
		{"other table's chain", []string{"add", "chain", "inet", "other", "c"}, ""},
		{"delete table", []string{"delete", "table", "inet", "rampart_w"}, "in table inet rampart_w"},
		{"flush ruleset", []string{"flush", "ruleset"}, "table inet rampart_w"},
		{"flush set", []string{"flush", "set", "inet", "rampart_w", "banned4"}, "set elements deleted"},
		{"rule added", []string{"add", "rule", "inet", "rampart_w", "input", "accept"}, "rule added in table inet rampart_w"},
		{"rule flushed", []string{"flush", "chain", "inet", "rampart_w", "forward"}, "rule deleted in table inet rampart_w"},
	} {
		sync()
		select { // our own transaction is never reported
		case w := <-got:
			t.Errorf("%s: own sync reported %q", c.name, w)
		case <-time.After(300 * time.Millisecond):
		}
		if c.args != nil {
			nftIn(t, ns, c.args...)
		}
		select {
		case w := <-got:
			if c.want == "" || !strings.Contains(w, c.want) {
				t.Errorf("%s: reported %q, want %q", c.name, w, c.want)
			}
		case <-time.After(time.Second):
			if c.want != "" {
				t.Errorf("%s: not reported", c.name)
			}
		}
	}
}
