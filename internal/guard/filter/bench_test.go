package filter

import (
	"testing"

	"github.com/rampart-sec/rampart/internal/guard/logline"
)

// benchLines is a mix of sshd messages as a busy host logs them.
var benchLines = []string{
	"Connection from 203.0.113.77 port 7043 on 203.0.113.10 port 22 rdomain \"\"",
	"Invalid user admin from 203.0.113.77 port 7043",
	"Failed password for invalid user admin from 203.0.113.77 port 7043 ssh2",
	"Failed password for root from 2001:db8::77 port 7043 ssh2",
	"Accepted publickey for alice from 198.51.100.4 port 52470 ssh2: ED25519 SHA256:iCzOMp5L/rFYVHOFPnZUTdbLt3iRkfIhHC3k823IXbE",
	"pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)",
	"Received disconnect from 198.51.100.4 port 52470:11: disconnected by user",
	"Disconnected from user alice 198.51.100.4 port 52470",
	"Connection closed by invalid user admin 203.0.113.77 port 7043 [preauth]",
	"kex_exchange_identification: client sent invalid protocol identifier \"GET / HTTP/1.1\"",
}

func benchFilter(b *testing.B, f Filter) {
	lines := make([]logline.Line, len(benchLines))
	for i, s := range benchLines {
		lines[i] = logline.Line{Text: s, Ident: "sshd", PID: 1000 + i}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f.Match(&lines[i%len(lines)])
	}
}

func BenchmarkSSHD(b *testing.B) {
	f, _ := New("sshd", "aggressive")
	benchFilter(b, f)
}

// BenchmarkFail2banSSHD is the same mix through Debian's fail2ban sshd
// filter loaded at run time (journal form: "sshd[PID]: message").
func BenchmarkFail2banSSHD(b *testing.B) {
	f, err := New("fail2ban:sshd", "aggressive")
	if err != nil {
		b.Skipf("fail2ban filter: %v", err)
	}
	benchFilter(b, f)
}
