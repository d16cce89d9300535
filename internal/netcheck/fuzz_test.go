package netcheck

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/host/hosttest"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// The kernel's tables and ss's output are read from the host, which may
// be anything but what it should be: the parsers never panic, and a
// socket they accept carries a valid local address and its table line.

func FuzzParseProcNetTCP(f *testing.F) {
	files, _ := filepath.Glob("testdata/proc-*.txtar")
	for _, p := range files {
		fx := hosttest.Load(f, p)
		for _, name := range TCPTables {
			if b, ok := fx.Files[name]; ok {
				f.Add(b, strings.HasSuffix(name, "6"))
			}
		}
	}
	f.Add([]byte("  sl  local_address rem_address   st\n   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, v6 bool) {
		socks, err := ParseProcNetTCP(data, v6)
		if err != nil {
			return
		}
		for _, s := range socks {
			if !s.Local.IsValid() || s.Line == "" {
				t.Fatalf("accepted a socket with local %v and line %q", s.Local, s.Line)
			}
		}
	})
}

func FuzzParseNetDev(f *testing.F) {
	testenv.SeedFiles(f, "testdata/net-dev-netns.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		names, err := parseNetDev(data)
		if err != nil {
			return
		}
		for _, n := range names {
			if n == "" || strings.ContainsAny(n, ": \n") {
				t.Fatalf("accepted interface name %q", n)
			}
		}
	})
}

func FuzzParseSS(f *testing.F) {
	testenv.SeedFiles(f, "testdata/ss-*.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = parseSS(data)
	})
}
