#!/usr/bin/env bash
# Anchors for `rampart verify` on one host, in the same run (issue 13):
#   - OpenSCAP: `oscap xccdf eval --profile P --report R --results X DS`
#     with Debian's own SCAP Security Guide content (ssg-debian), median of N
#     runs (default 3), against `rampart verify --format html -o page.html`
#     (median of N); rule results counted from results.xml vs rampart's
#     statuses from --format json; then a coverage table by topic (ssh,
#     sysctl, audit, logging, time, ban, firewall, tailnet, other).
#   - Lynis: one `lynis audit system --quick` (as bench/verify_vs_lynis.sh).
# Only read-only evaluation: oscap never gets --remediate, Lynis writes its
# log and report to the temporary directory. Packages are installed with
# apt-get when missing (openscap-scanner ssg-debian). Everything else lives in
# a temporary directory removed at exit.
#
# Debian 12 ships ssg-debian 0.1.65, which has content for Debian 10 and 11
# only. When there is no ssg-debian<major>-ds.xml for this host, the newest
# Debian datastream is evaluated three ways:
#   shipped     unchanged (its platform, Debian 11, does not match: every
#               rule is notapplicable)
#   retargeted  a copy whose Debian-version OVAL object matches this host's
#               major version (nothing else changed)
#   as-vm       retargeted, and, when this host is a container (/.dockerenv
#               or /run/.containerenv), the container test pointed at a path
#               that does not exist, so the rules the content limits to
#               "machine" platforms (sshd, sysctl, auditd, partitions, ...)
#               are evaluated as on a VM. This one is timed N times and is
#               the one compared with rampart.
#   - with FLEET=N, bench/fleet_verify.sh N afterwards (rampart verify
#     --inventory vs ssh-audit -T over N sshd namespaces), so that all of
#     issue 13's anchors come from one run.
# Usage: sudo [FLEET=50] bench/oscap.sh [PROFILE] [N]     (LYNIS=0 skips Lynis)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-standard}
n=${2:-3}
case $profile in xccdf_*) ;; *) profile=xccdf_org.ssgproject.content_profile_$profile ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ "$(id -u)" = 0 ] || { echo "needs root (oscap and lynis read root-only files)" >&2; exit 2; }

load() { cut -d' ' -f1-3 /proc/loadavg; }
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
kb() { echo $(( ($(stat -c %s "$1") + 512) / 1024 )); }
# counts of <result> values in an XCCDF results file, notselected left out
counts() { grep -o '<result>[a-z]*</result>' "$1" | sed 's/<[^>]*>//g' | grep -v '^notselected$' | sort | uniq -c | awk '{printf "%s%s %d", (NR>1?", ":""), $2, $1}'; }

echo "load at start: $(load); host: $(. /etc/os-release; echo "$PRETTY_NAME") ($(cat /etc/debian_version)), $(nproc) CPUs, container: $(systemd-detect-virt -c 2>/dev/null || echo none)"

CGO_ENABLED=0 go build -o "$tmp/rampart" ./cmd/rampart

# --- OpenSCAP ---------------------------------------------------------------
content=/usr/share/xml/scap/ssg/content
if ! command -v oscap >/dev/null || ! ls "$content"/ssg-debian*-ds.xml >/dev/null 2>&1; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y openscap-scanner ssg-debian >"$tmp/apt.txt" 2>&1 || {
		echo "oscap: apt-get install -y openscap-scanner ssg-debian failed:"
		tail -20 "$tmp/apt.txt"
	}
fi
major=$(cut -d. -f1 /etc/debian_version)
oscap_ms=
if command -v oscap >/dev/null && ls "$content"/ssg-debian*-ds.xml >/dev/null 2>&1; then
	echo "oscap $(oscap --version | sed -n '1s/.*) //p'), ssg-debian $(dpkg-query -W -f '${Version}' ssg-debian 2>/dev/null || echo '?'), profile ${profile#xccdf_org.ssgproject.content_profile_}"
	native=$content/ssg-debian$major-ds.xml
	if [ -f "$native" ]; then
		ds=$native
		echo "datastream: $ds (native for Debian $major)"
		cp "$ds" "$tmp/vm-ds.xml"
	else
		ds=$(ls "$content"/ssg-debian*-ds.xml | grep -v -- '-ds-1\.2' | sort -V | tail -1)
		dsver=$(basename "$ds" | sed 's/ssg-debian\([0-9]*\)-ds.xml/\1/')
		echo "datastream: no ssg-debian$major-ds.xml; newest Debian content is $(basename "$ds") (Debian $dsver)"
		oscap xccdf eval --profile "$profile" --results "$tmp/shipped.xml" "$ds" >"$tmp/shipped.out" 2>&1 || true
		echo "  shipped:    $(counts "$tmp/shipped.xml") (platform cpe:/o:debian:debian_linux:$dsver vs Debian $major)"
		sed "s/\^$dsver\.\[0-9\]+\\$/^$major.[0-9]+\$/" "$ds" >"$tmp/retargeted.xml"
		changed=$(cmp -l "$ds" "$tmp/retargeted.xml" 2>/dev/null | wc -l || true)
		[ "$changed" -gt 0 ] || { echo "  retargeting found no Debian-version pattern to change" >&2; exit 1; }
		oscap xccdf eval --profile "$profile" --results "$tmp/retargeted-res.xml" "$tmp/retargeted.xml" >"$tmp/retargeted.out" 2>&1 || true
		echo "  retargeted: $(counts "$tmp/retargeted-res.xml") (Debian-version object matches $major; container rules as the content decides)"
		cp "$tmp/retargeted.xml" "$tmp/vm-ds.xml"
	fi
	if [ -f /.dockerenv ] || [ -f /run/.containerenv ]; then
		sed -i -e 's|<unix:filepath datatype="string">/.dockerenv</unix:filepath>|<unix:filepath datatype="string">/nonexistent-bench-dockerenv</unix:filepath>|' \
			-e 's|<unix:filepath datatype="string">/run/.containerenv</unix:filepath>|<unix:filepath datatype="string">/nonexistent-bench-containerenv</unix:filepath>|' "$tmp/vm-ds.xml"
		what="as-vm:      "
	else
		what="evaluated:  "
	fi
	for i in $(seq "$n"); do
		rm -f "$tmp/report.html" "$tmp/results.xml"
		s=$(now)
		oscap xccdf eval --profile "$profile" --report "$tmp/report.html" --results "$tmp/results.xml" "$tmp/vm-ds.xml" >"$tmp/oscap.out" 2>&1 || true
		e=$(now)
		echo $(( (e - s) / 1000000 )) >>"$tmp/oscap.ms"
		[ -s "$tmp/results.xml" ] || { echo "oscap wrote no results:" >&2; tail -20 "$tmp/oscap.out" >&2; exit 1; }
	done
	oscap_ms=$(median <"$tmp/oscap.ms")
	score=$(grep -o '<score[^>]*>[0-9.]*</score>' "$tmp/results.xml" | head -1 | sed 's/<[^>]*>//g')
	echo "  $what$(counts "$tmp/results.xml"); score $score of 100"
	echo "  oscap xccdf eval --report --results: ${oscap_ms} ms median of $n (all: $(tr '\n' ' ' <"$tmp/oscap.ms")); report.html $(kb "$tmp/report.html") KB, results.xml $(kb "$tmp/results.xml") KB"
	echo "  selected rules $(grep -c '^Rule' "$tmp/oscap.out") of $(grep -c '<rule-result ' "$tmp/results.xml") in the benchmark"
	# result <TAB> rule <TAB> title, for the profile's selected rules
	tr -d '\r' <"$tmp/oscap.out" | awk -F'\t' '/^Title/ {t=$2} /^Rule/ {r=$2; sub(/.*content_rule_/, "", r)} /^Result/ {print $2 "\t" r "\t" t}' >"$tmp/o.tsv"
	grep -o '<rule-result [^>]*idref="[^"]*"' "$tmp/results.xml" | sed 's/.*content_rule_//; s/"$//' | sort -u >"$tmp/all.txt"
fi

# --- rampart ----------------------------------------------------------------
for i in $(seq "$n"); do
	s=$(now)
	"$tmp/rampart" verify --format html -o "$tmp/page.html" >/dev/null 2>&1 || true
	e=$(now)
	echo $(( (e - s) / 1000000 )) >>"$tmp/rampart.ms"
done
rampart_ms=$(median <"$tmp/rampart.ms")
"$tmp/rampart" verify --format json >"$tmp/v.json" 2>/dev/null || true
echo "$("$tmp/rampart" version 2>/dev/null | head -1) verify --format html -o page.html: ${rampart_ms} ms median of $n (all: $(tr '\n' ' ' <"$tmp/rampart.ms")); page $(kb "$tmp/page.html") KB, json $(kb "$tmp/v.json") KB"
echo "  $(jq -r '.summary | "checks \(.total): pass \(.pass), fail \(.fail), warn \(.warn), unknown \(.unknown), skip \(.skip)"' "$tmp/v.json")"
[ -z "$oscap_ms" ] || awk -v o="$oscap_ms" -v r="$rampart_ms" 'BEGIN { if (r > 0) printf "ratio oscap/rampart (HTML report, one host): %.0fx\n", o / r }'
# For the comparison, the ssh checks come from a run in a fresh PID
# namespace: this shared machine has no sshd of its own running but often
# other sessions' test sshds, which rampart would judge instead of
# /etc/ssh/sshd_config (the file oscap reads). With no sshd in its process
# table rampart evaluates /etc/ssh/sshd_config (sshd -T). Only ssh: in a
# new PID namespace the kernel's audit state cannot be read.
cp "$tmp/v.json" "$tmp/cmp.json"
if unshare --pid --fork --mount-proc "$tmp/rampart" verify --only ssh --format json >"$tmp/ssh.json" 2>/dev/null || [ -s "$tmp/ssh.json" ]; then
	echo "  ssh checks alone in a new PID namespace (judging /etc/ssh/sshd_config): $(jq -r '.summary | "pass \(.pass), fail \(.fail), unknown \(.unknown)"' "$tmp/ssh.json"); used below"
	jq --slurpfile s "$tmp/ssh.json" '.checks = ([.checks[] | select(.area != "ssh")] + $s[0].checks)' "$tmp/v.json" >"$tmp/cmp.json"
fi
jq -r '.checks[] | "\(.status)\t\(.id)\t\(.area)\t\(.message[:90] | gsub("\t"; " "))"' "$tmp/cmp.json" >"$tmp/r.tsv"

# --- Lynis ------------------------------------------------------------------
if [ "${LYNIS:-1}" != 0 ] && command -v lynis >/dev/null; then
	s=$(now)
	lynis audit system --quick --no-colors --logfile "$tmp/lynis.log" --report-file "$tmp/lynis-report.dat" >/dev/null 2>&1 || true
	e=$(now)
	l=$(( (e - s) / 1000000 ))
	echo "lynis $(lynis --version) audit system --quick: ${l} ms ($(sed -n 's/^lynis_tests_done=//p' "$tmp/lynis-report.dat") tests, $(grep -c '^warning\[\]=' "$tmp/lynis-report.dat" || true) warnings, $(grep -c '^suggestion\[\]=' "$tmp/lynis-report.dat" || true) suggestions, hardening index $(sed -n 's/^hardening_index=//p' "$tmp/lynis-report.dat"))"
	awk -v l="$l" -v r="$rampart_ms" 'BEGIN { if (r > 0) printf "ratio lynis/rampart: %.0fx\n", l / r }'
fi
if [ -n "${FLEET:-}" ]; then
	echo "== bench/fleet_verify.sh $FLEET (load $(load))"
	bash bench/fleet_verify.sh "$FLEET"
fi
echo "load at end: $(load)"

# --- coverage by topic ------------------------------------------------------
[ -s "${tmp}/o.tsv" ] || exit 0
# oscap rule -> rampart check that judges the same setting ("same") or the
# same goal another way ("goal"), for rules of the Debian benchmark.
cat >"$tmp/map.txt" <<'EOF'
sshd_disable_empty_passwords ssh.permit-empty-passwords same
sshd_disable_root_login ssh.permit-root-login same
sshd_disable_root_password_login ssh.permit-root-login same
sshd_set_idle_timeout ssh.client-alive-interval same
sshd_set_keepalive ssh.client-alive-count-max same
sshd_set_keepalive_0 ssh.client-alive-count-max same
sshd_set_max_auth_tries ssh.max-auth-tries same
sshd_disable_tcp_forwarding ssh.tcp-forwarding same
sshd_disable_x11_forwarding ssh.x11-forwarding same
sshd_enable_pubkey_auth ssh.pubkey-authentication same
package_openssh-server_installed ssh.sshd-discovered goal
package_audit_installed audit.enabled goal
service_auditd_enabled audit.enabled same
audit_rules_usergroup_modification audit.watch-identity same
audit_rules_sysadmin_actions audit.watch-sudo same
service_systemd-journald_enabled journald.running same
package_chrony_installed time.chrony-running goal
service_chronyd_enabled time.chrony-running same
chronyd_specify_remote_server time.synchronised goal
package_ntp_installed time.synchronised goal
service_ntp_enabled time.synchronised goal
service_ntpd_enabled time.synchronised goal
package_ntpdate_removed time.single-daemon goal
set_iptables_default_rule firewall.active goal
service_ufw_enabled firewall.active goal
EOF
echo
echo "coverage by topic: profile ${profile#xccdf_org.ssgproject.content_profile_} (oscap result) vs rampart's $(wc -l <"$tmp/r.tsv") checks (status)"
awk -F'\t' '
function topic(r) {
	if (r ~ /ssh/) return "ssh"
	if (r ~ /^sysctl/) return "sysctl"
	if (r ~ /faillock|fail2ban|tally|^ban/) return "ban"
	if (r ~ /audit/) return "audit"
	if (r ~ /journald|rsyslog|syslog|logrotate/) return "logging"
	if (r ~ /ntp|chrony|timesync|^time/) return "time"
	if (r ~ /iptables|ufw|nftables|firewall/) return "firewall"
	if (r ~ /^tailnet/) return "tailnet"
	return "other"
}
FILENAME ~ /map.txt$/ { split($0, m, " "); to[m[1]] = m[2]; kind[m[1]] = m[3]; next }
FILENAME ~ /o.tsv$/ { sel[$2] = $1; title[$2] = $3; ot[topic($2)] = ot[topic($2)] " " $2; next }
FILENAME ~ /r.tsv$/ { st[$2] = $1; msg[$2] = $4; a = $3 == "journald" ? "logging" : $3; rt[a] = rt[a] " " $2; next }
FILENAME ~ /all.txt$/ { if (!($1 in sel)) { bt[topic($1)]++; if ($1 in to) bm[topic($1)] = bm[topic($1)] " " $1 "->" to[$1] } }
END {
	split("ssh sysctl audit logging time ban firewall tailnet other", T, " ")
	for (i = 1; i in T; i++) {
		t = T[i]; no = split(ot[t], o, " "); nr = split(rt[t], r, " ")
		printf "\n[%s] oscap profile: %d rules; rampart: %d checks\n", t, no, nr
		delete hit
		for (j = 1; j <= no; j++) {
			x = o[j]
			if (x in to) { printf "  both (%s)  %-13s %-36s <-> %-28s %-7s %s\n", kind[x], sel[x], x, to[x], (to[x] in st ? st[to[x]] : "(no such check)"), msg[to[x]]; hit[to[x]] = 1 }
			else printf "  oscap only   %-13s %-36s %s\n", sel[x], x, title[x]
		}
		for (j = 1; j <= nr; j++) if (!(r[j] in hit)) printf "  rampart only %-13s %-36s %s\n", st[r[j]], r[j], msg[r[j]]
		if (bt[t]) printf "  not in this profile, in the benchmark: %d rules%s\n", bt[t], bm[t] ? "; those rampart also judges:" bm[t] : ""
	}
}' "$tmp/map.txt" "$tmp/o.tsv" "$tmp/r.tsv" "$tmp/all.txt"
