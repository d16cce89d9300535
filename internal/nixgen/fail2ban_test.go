package nixgen

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/nixfacts"
	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
	"github.com/rampart-sec/rampart/internal/policy"
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
	// sshd listens on 2222 only: the sshd jail must follow (issue 9 point 14).
	p.SSH.Ports = []int{2222}
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
	fmt.Fprintf(&b, "[DEFAULT]\nbanaction = nftables-multiport\nbackend = systemd\n")
	fmt.Fprintf(&b, "bantime = %s\nmaxretry = %s\nignoreip = 127.0.0.1/8 ::1 %s\n", iniValue(top["bantime"]), iniValue(top["maxretry"]), strings.Join(ignore, " "))
	fmt.Fprintf(&b, "bantime.increment = %s\nbantime.factor = %s\nbantime.maxtime = %s\nbantime.formula = %s\n", iniValue(top["bantime-increment.enable"]), iniValue(top["bantime-increment.factor"]), iniValue(top["bantime-increment.maxtime"]), iniValue(top["bantime-increment.formula"]))
	// The module's DEFAULT section names both ban actions (nftables on a
	// NixOS firewall with networking.nftables.enable).
	b.WriteString("banaction_allports = nftables-allports\n")
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
		`['set', 'sshd', 'bantime.formula', 'ban.Time * banFactor**min(ban.Count, 8)']`,
		// Point 14: bans cover every port, and the sshd jail's port is ssh.ports.
		`['set', 'sshd', 'addaction', 'nftables-allports']`,
		`['set', 'nginx-noscript', 'addaction', 'nftables-allports']`,
		`['multi-set', 'sshd', 'action', 'nftables-allports', [`,
		`['port', '2222'], ['protocol', 'tcp']`,
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

// TestBantimeFormula has fail2ban's own code (Jail.setBanTimeExtra, the
// way fail2ban-server compiles bantime.factor, .formula and .maxtime)
// evaluate the rendered formula for the first bans of an address, and
// compares it with the sequence the policy documents and rampart guard
// computes: the nth ban lasts bantime * factor^(n-1), capped at
// ban.increment.max. fail2ban's default formula gives twice that.
func TestBantimeFormula(t *testing.T) {
	bin := testenv.RequireCommands(t, "fail2ban-client")[0]
	py := "/usr/bin/python3"
	if b, err := os.ReadFile(bin); err == nil && strings.HasPrefix(string(b), "#!") {
		py = strings.Fields(strings.SplitN(string(b)[2:], "\n", 2)[0])[0]
	}
	for _, tc := range []struct {
		name         string
		bantime, max string
		factor       float64
		jailBantime  string
	}{
		{name: "default", bantime: "1h", max: "1w", factor: 2},
		{name: "fraction", bantime: "10m", max: "1d", factor: 1.5},
		{name: "jail-bantime", bantime: "1h", max: "30d", factor: 3, jailBantime: "2d"},
		{name: "huge-factor", bantime: "1m", max: "52w", factor: 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := policy.MustDefault("")
			p.Ban.Engine = policy.EngineFail2ban
			p.Ban.Bantime = policy.Dur(tc.bantime)
			p.Ban.Increment = policy.Increment{Enabled: true, Factor: tc.factor, Max: policy.Dur(tc.max)}
			if tc.jailBantime != "" {
				p.Ban.Jails[0].Bantime = policy.Dur(tc.jailBantime)
			}
			expr, err := ModuleExpr(nixfacts.R2605, p)
			if err != nil {
				t.Fatal(err)
			}
			opts := map[string]string{}
			for _, l := range nixexpr.Flatten(expr) {
				if k := nixexpr.KeyPath(l.Path); strings.HasPrefix(k, "services.fail2ban.bantime-increment.") {
					opts[strings.TrimPrefix(k, "services.fail2ban.bantime-increment.")] = iniValue(l.Value)
				}
			}
			if opts["formula"] == "" {
				t.Fatalf("no bantime-increment.formula rendered: %v", opts)
			}
			const bans = 14
			script := `import sys
from fail2ban.server.jail import Jail
from fail2ban.server.observer import ObserverThread
j = Jail.__new__(Jail); j._banExtra = {}
for k in ("factor", "formula", "maxtime"):
    j.setBanTimeExtra(k, sys.argv[{"factor": 1, "formula": 2, "maxtime": 3}[k]])
f = j.getBanTimeExtra()["evformula"]
for base in (int(a) for a in sys.argv[4:]):
    # fail2ban applies the formula from the second ban on (ban.Count = bans on record).
    print(" ".join([str(base)] + [str(int(f(ObserverThread.BanTimeIncr(base, c)))) for c in range(1, ` + strconv.Itoa(bans) + `)]))
`
			bases := []time.Duration{p.Ban.Bantime.D}
			if tc.jailBantime != "" {
				bases = append(bases, p.Ban.Jails[0].Bantime.D)
			}
			args := []string{"-c", script, opts["factor"], opts["formula"], opts["maxtime"]}
			for _, b := range bases {
				args = append(args, strconv.Itoa(int(b.Seconds())))
			}
			out, err := exec.Command(py, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", py, err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			for i, base := range bases {
				var want []string
				for n := 1; n <= bans; n++ {
					d := float64(base) * math.Pow(tc.factor, float64(n-1))
					if d > float64(p.Ban.Increment.Max.D) {
						d = float64(p.Ban.Increment.Max.D)
					}
					want = append(want, strconv.Itoa(int(time.Duration(d).Seconds())))
				}
				if i >= len(lines) || lines[i] != strings.Join(want, " ") {
					t.Errorf("bantime %v, factor %v, max %v: fail2ban gives\n  %s\nwant\n  %s", base, tc.factor, tc.max, lines[min(i, len(lines)-1)], strings.Join(want, " "))
				}
			}
		})
	}
}
