package host_test

import (
	"context"
	"os"
	"testing"

	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/host/hosttest"
)

func TestOSName(t *testing.T) {
	debian, err := os.ReadFile("testdata/os-release-debian12") // /etc/os-release of a Debian 12 install
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
		err   bool
	}{
		{"debian 12", map[string]string{"/etc/os-release": string(debian)}, "Debian GNU/Linux 12 (bookworm)", false},
		{"only /usr/lib/os-release", map[string]string{"/usr/lib/os-release": string(debian)}, "Debian GNU/Linux 12 (bookworm)", false},
		{"both: /etc wins", map[string]string{"/etc/os-release": "PRETTY_NAME=\"Local\"\n", "/usr/lib/os-release": string(debian)}, "Local", false},
		{"no PRETTY_NAME", map[string]string{"/etc/os-release": "NAME=NixOS\nVERSION_ID='25.11'\n"}, "NixOS 25.11", false},
		{"hostile", map[string]string{"/etc/os-release": "PRETTY_NAME=\"Evil\\x1b[2J\x1b[31m OS\"\n"}, "Evil[2J[31m OS", false},
		{"empty", map[string]string{"/etc/os-release": "# nothing\n"}, "", true},
		{"missing", nil, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := hosttest.New(t)
			for p, c := range tc.files {
				f.SetFile(p, c)
			}
			got, err := osName(ctx, f)
			if got != tc.want || (err != nil) != tc.err {
				t.Errorf("OSName = %q, %v; want %q (error %v)", got, err, tc.want, tc.err)
			}
		})
	}
}

// osName reads os-release from h as a run does and names the OS.
func osName(ctx context.Context, h host.Host) (string, error) {
	rs, err := host.ReadFiles(ctx, h, host.OSReleasePaths)
	if err != nil {
		return "", err
	}
	return host.OSNameFrom(rs)
}
