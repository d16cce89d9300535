package policy

import (
	"strings"
	"testing"
	"time"
)

// TestFleetErrors: every [fleet] rule is reported at FILE:LINE:COL.
func TestFleetErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"no servers", "[fleet]\nenabled = true\n", `p.toml:2:11: fleet.enabled: fleet needs at least one server in servers (e.g. ["nats://203.0.113.10:4222"])`},
		{"scheme", "[fleet]\nservers = [\"http://203.0.113.1:4222\"]\n", `p.toml:2:12: fleet.servers[0]: "http://203.0.113.1:4222": scheme "http" (expected nats:// or tls://)`},
		{"userinfo", "[fleet]\nservers = [\"nats://a:secret@203.0.113.1\"]\n", `p.toml:2:12: fleet.servers[0]: "nats://a:secret@203.0.113.1": credentials in the URL are not allowed (use creds_file, nkey_file or password_file)`},
		{"host", "[fleet]\nservers = [\"nats://:4222\"]\n", `p.toml:2:12: fleet.servers[0]: "nats://:4222": missing or invalid host`},
		{"port", "[fleet]\nservers = [\"tls://nats.example:99999\"]\n", `p.toml:2:12: fleet.servers[0]: "tls://nats.example:99999": port "99999" is out of range (1 to 65535)`},
		{"relative creds", "[fleet]\ncreds_file = \"x.creds\"\n", `p.toml:2:14: fleet.creds_file: "x.creds" is not an absolute path`},
		{"two auths", "[fleet]\ncreds_file = \"/a.creds\"\nnkey_file = \"/a.nk\"\n", `p.toml:3:13: fleet.nkey_file: set only one of creds_file, nkey_file and password_file (found creds_file and nkey_file)`},
		{"user without password", "[fleet]\nuser = \"a\"\n", `p.toml:2:8: fleet.user: user needs password_file (the password is read from that file, never written in the policy)`},
		{"password without user", "[fleet]\npassword_file = \"/p\"\n", `p.toml:2:17: fleet.password_file: password_file needs user`},
		{"cert without key", "[fleet]\ncert_file = \"/c.pem\"\n", `p.toml:2:13: fleet.cert_file: cert_file needs key_file`},
		{"node with dot", "[fleet]\nnode = \"web1.example\"\n", `p.toml:2:8: fleet.node: invalid node name "web1.example" (1 to 64 letters, digits, _ or -, starting with a letter or digit)`},
		{"node wildcard", "[fleet]\naccept_from = [\"a\", \">\"]\n", `p.toml:2:21: fleet.accept_from[1]: invalid node name ">" (1 to 64 letters, digits, _ or -, starting with a letter or digit)`},
		{"duplicate origin", "[fleet]\naccept_from = [\"a\", \"a\"]\n", `p.toml:2:21: fleet.accept_from[1]: duplicate node "a"`},
		{"rate", "[fleet]\nrate = 0\n", `p.toml:2:8: fleet.rate: 0 is out of range (1 to 1000000)`},
		{"stream", "[fleet]\nstream = \"a.b\"\n", `p.toml:2:10: fleet.stream: invalid stream name "a.b" (1 to 64 letters, digits, _ or -)`},
		{"unknown key", "[fleet]\nserver = []\n", `p.toml:2:1: fleet.server: unknown key (did you mean "servers"?)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p.toml", []byte(tc.src))
			if err == nil {
				t.Fatalf("no error, want %s", tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestFleetValid(t *testing.T) {
	src := `[fleet]
enabled = true
servers = ["nats://203.0.113.1:4222", "tls://nats.example:4222"]
user = "web1"
password_file = "/run/secrets/nats-pass"
ca_file = "/etc/rampart/ca.pem"
node = "web1"
accept_from = ["web2", "web3"]
`
	p, err := Parse("p.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if f := p.Fleet; !f.Enabled || f.Node != "web1" || len(f.Servers) != 2 || f.Stream != "RAMPART_BANS" || f.Rate != 100 || !f.Share || !f.Accept {
		t.Errorf("parsed %+v", f)
	}
	if !strings.Contains(string(MarshalTOML(p)), `password_file = "/run/secrets/nats-pass"`) {
		t.Error("policy show lost password_file")
	}
}

func TestMaxBantime(t *testing.T) {
	p := MustDefault(ProfileBaseline)
	if got := p.MaxBantime(); got != time.Hour {
		t.Errorf("default: %v", got)
	}
	p.Ban.Jails[1].Bantime = Dur("2h")
	if got := p.MaxBantime(); got != 2*time.Hour {
		t.Errorf("jail bantime: %v", got)
	}
	p.Ban.Increment.Enabled = true
	if got := p.MaxBantime(); got != 7*24*time.Hour {
		t.Errorf("increment: %v", got)
	}
}
