package lockdown

import (
	"testing"

	"github.com/rampart-sec/rampart/internal/testenv"
)

// ss's output comes from the host being locked down: reading it never
// panics, and every listener accepted has a port and its line.
func FuzzParseListeners(f *testing.F) {
	testenv.SeedFiles(f, "testdata/ss-*.txt")
	f.Add([]byte("LISTEN 0 128 [fe80::1%eth0]:22 [::]:* users:((\"sshd\",pid=1,fd=3))\nLISTEN 0 128 *:2222 *:*\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ls, err := ParseListeners(data)
		if err != nil {
			return
		}
		for _, l := range ls {
			if l.Line == "" {
				t.Fatalf("accepted a listener without its line: %+v", l)
			}
		}
	})
}
