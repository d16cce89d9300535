package nixgen

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/nixfacts"
	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
	"github.com/rampart-sec/rampart/internal/testenv"
)

// iniValue writes a value the way the NixOS module's key-value format does.
func iniValue(v nixexpr.Value) string {
	switch x := v.(type) {
	case nixexpr.Str:
		return string(x)
	case nixexpr.Lines:
		return strings.Join(x, "\n")
	case nixexpr.Int:
		return strconv.FormatInt(int64(x), 10)
	case nixexpr.Bool:
		return strconv.FormatBool(bool(x))
	}
	return fmt.Sprintf("%v", v)
}

// TestFail2banConfig builds the fail2ban configuration a NixOS machine
// gets from the rendered module (jail.local from the jail settings and the
// top-level options, filter.d from the filter rampart defines) on top of
// the distribution's own /etc/fail2ban, and has the real fail2ban-client
// test and dump it: every jail key is accepted, the sshd journalmatch
// covers sshd-session, the nginx-noscript filter loads.
func TestFail2banConfig(t *testing.T) {
	bin := testenv.RequireCommands(t, "fail2ban-client")[0]
	if _, err := os.Stat("/etc/fail2ban/jail.conf"); err != nil {
		testenv.Missing(t, "fail2ban's own configuration: %v", err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-r", "/etc/fail2ban/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("copy /etc/fail2ban: %v\n%s", err, out)
	}
	os.RemoveAll(filepath.Join(dir, "jail.d"))
	os.Remove(filepath.Join(dir, "jail.local"))
	accessLog := filepath.Join(dir, "access.log")
	os.WriteFile(accessLog, nil, 0o644)

	p := profiles(t)["site"]
	expr, err := ModuleExpr(nixfacts.R2605, p)
	if err != nil {
		t.Fatal(err)
	}
	top := map[string]nixexpr.Value{}
	jails := map[string][]string{}
	var order []string
	for _, l := range nixexpr.Flatten(expr) {
		k := nixexpr.KeyPath(l.Path)
		switch {
		case strings.HasPrefix(k, "services.fail2ban.jails.") && len(l.Path) == 6 && l.Path[4] == "settings":
			name, key := l.Path[3], l.Path[5]
			val := iniValue(l.Value)
			if key == "logpath" {
				val = accessLog
			}
			if _, ok := jails[name]; !ok {
				order = append(order, name)
			}
			jails[name] = append(jails[name], key+" = "+val)
		case strings.HasPrefix(k, "services.fail2ban."):
			top[strings.TrimPrefix(k, "services.fail2ban.")] = l.Value
		case strings.HasPrefix(k, `environment.etc."fail2ban/`):
			dst := filepath.Join(dir, strings.TrimPrefix(l.Path[2], "fail2ban/"))
			if err := os.WriteFile(dst, []byte(iniValue(l.Value)+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// What the module puts in [DEFAULT] from its top-level options.
	var ignore []string
	for _, v := range top["ignoreIP"].(nixexpr.List) {
		ignore = append(ignore, iniValue(v))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[DEFAULT]\nbanaction = nftables-multiport\nbanaction_allports = nftables-allports\nbackend = systemd\n")
	fmt.Fprintf(&b, "bantime = %s\nmaxretry = %s\nignoreip = 127.0.0.1/8 ::1 %s\n", iniValue(top["bantime"]), iniValue(top["maxretry"]), strings.Join(ignore, " "))
	fmt.Fprintf(&b, "bantime.increment = %s\nbantime.factor = %s\nbantime.maxtime = %s\n", iniValue(top["bantime-increment.enable"]), iniValue(top["bantime-increment.factor"]), iniValue(top["bantime-increment.maxtime"]))
	b.WriteString(strings.Join(jails["DEFAULT"], "\n") + "\n")
	for _, name := range order {
		if name == "DEFAULT" {
			continue
		}
		fmt.Fprintf(&b, "\n[%s]\nenabled = true\n", name)
		b.WriteString(strings.Join(jails[name], "\n") + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "jail.local"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", dir, "-t").CombinedOutput(); err != nil {
		t.Fatalf("fail2ban-client -t: %v\n%s\njail.local:\n%s", err, out, b.String())
	}
	out, err := exec.Command(bin, "-c", dir, "-d").CombinedOutput()
	if err != nil {
		t.Fatalf("fail2ban-client -d: %v\n%s", err, out)
	}
	dump := string(out)
	for _, want := range []string{
		`['set', 'sshd', 'addjournalmatch', '_SYSTEMD_UNIT=sshd.service', '+', '_SYSTEMD_UNIT=ssh.service', '+', '_COMM=sshd', '+', '_COMM=sshd-session'`,
		`['set', 'sshd', 'maxretry', 3]`,
		`['set', 'sshd', 'findtime', '10m']`,
		`['set', 'sshd', 'bantime', '1h']`,
		`['set', 'nginx-noscript', 'findtime', '10m']`,
		`['set', 'nginx-noscript', 'addfailregex', '^<HOST> \\S+ \\S+`,
		`['set', 'nginx-noscript', 'maxretry', 6]`,
		`['set', 'nginx-noscript', 'addlogpath', '` + accessLog + `', 'head']`,
		`['set', 'sshd', 'bantime.increment', True]`,
	} {
		if !strings.Contains(dump, want) {
			t.Errorf("fail2ban-client -d lacks %s", want)
		}
	}
	if strings.Contains(dump, "'nginx-noscript', 'addjournalmatch'") {
		t.Errorf("the file jail reads the journal")
	}
	if t.Failed() {
		t.Logf("jail.local:\n%s\ndump:\n%s", b.String(), dump)
	}
}
