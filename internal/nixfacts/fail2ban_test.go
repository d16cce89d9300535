package nixfacts

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// filterFile returns the filter.d/nginx-noscript.local text rampart puts on
// a 26.05 machine, taken from the rendered settings.
func filterFile(t *testing.T) string {
	t.Helper()
	for _, s := range Settings(R2605, "ban.jails.nginx-noscript", fail2banDefault("")) {
		if l, ok := s.Value.(nixexpr.Lines); ok && s.Path[len(s.Path)-2] == "fail2ban/filter.d/nginx-noscript.local" {
			return strings.Join(l, "\n") + "\n"
		}
	}
	t.Fatal("no nginx-noscript filter file in the 26.05 settings")
	return ""
}

// TestNoscriptFilterFail2ban runs the filter rampart defines through the
// real fail2ban-regex: script probes answered 404 match (IPv4 and IPv6),
// served scripts and ordinary pages do not, and addresses or requests
// planted in the referrer or user agent are never taken.
func TestNoscriptFilterFail2ban(t *testing.T) {
	bin := testenv.RequireCommands(t, "fail2ban-regex")[0]
	dir := t.TempDir()
	filter := filepath.Join(dir, "nginx-noscript.local")
	if err := os.WriteFile(filter, []byte(filterFile(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-o", "ip", "testdata/nginx-access.log", filter).CombinedOutput()
	if err != nil {
		t.Fatalf("fail2ban-regex: %v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	want := []string{"203.0.113.7", "203.0.113.8", "2001:db8::5"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fail2ban-regex matched %q, want %q", got, want)
	}
}

// TestNoscriptFilterSame: unstable's services.fail2ban.filters definition
// carries the same regexes as the /etc file of the stable releases.
func TestNoscriptFilterSame(t *testing.T) {
	fail, _ := NoscriptFilter()
	if !strings.Contains(filterFile(t), "failregex = "+fail+"\n") {
		t.Errorf("filter file lacks the failregex")
	}
	for _, s := range Settings(Unstable, "ban.jails.nginx-noscript", fail2banDefault("")) {
		if a, ok := s.Value.(*nixexpr.Attrs); ok && nixexpr.KeyPath(s.Path) == "services.fail2ban.filters.nginx-noscript.Definition" {
			if a.Entries[0].Value != nixexpr.Str(fail) {
				t.Errorf("unstable failregex = %v", a.Entries[0].Value)
			}
			return
		}
	}
	t.Error("no services.fail2ban.filters definition on unstable")
}
