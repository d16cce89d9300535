package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/action"
	"github.com/rampart-sec/rampart/internal/guard/daemon"
	"github.com/rampart-sec/rampart/internal/guard/nft"
	"github.com/rampart-sec/rampart/internal/host"
	"github.com/rampart-sec/rampart/internal/policy"
)

func init() {
	AddGuardSubcommand(&Command{
		Name:    "run",
		Summary: "run the ban daemon: follow logs, ban offenders in nftables, serve the control socket",
		Usage:   "guard run [-p POLICY] [--dry-run] [--state-dir DIR] [--socket PATH] [--metrics ADDR] [--jail NAME[,NAME]] [--reconcile DURATION] [--from-start] [--journal-file FILE] [--log-level LEVEL]",
		Help: `Runs the guard in the foreground (under systemd, or in a shell for a try):
it follows the log sources of the enabled jails (the journal through
journalctl, files with rotation, or stdin), counts failures per address by
log time, and bans offenders in rampart's own nftables table ("table inet
rampart": sets banned4/banned6 with per-element timeouts, dropped on the
input and forward hooks at priority -10, so containers are covered too).

Every ban is written to the state directory before it reaches the
firewall; after a crash or kill -9 a restart restores every active ban
with its remaining time. Log positions are saved too, so a restart neither
skips nor re-reads lines. A reconcile (every 30s by default) rebuilds the
table if it was flushed or deleted. Stopping (SIGTERM, Ctrl-C) leaves the
bans in place.

The control socket serves 'rampart guard status', 'list', 'ban', 'unban'
and 'flush' to root and to members of ban.socket_group ("rampart"; mode
0660 with that group, or 0600 root only when the group does not exist).
Every request is logged with the peer's uid.

The daemon needs root or just CAP_NET_ADMIN: the shipped systemd unit
(rampart-guard.service) runs it as the unprivileged rampart user with that
one capability and the systemd-journal group. With --metrics (or ban.metrics) Prometheus
metrics are served at that address. Logs are JSON lines on stderr.

Flags override the policy: --state-dir (ban.state_dir), --socket
(ban.socket), --metrics (ban.metrics). --dry-run changes no firewall: it
logs what it would do (and needs no root); its state goes to
STATE_DIR/dry-run unless --state-dir is given, never to the real store.

Examples:
  sudo rampart guard run
  sudo rampart guard run -p /etc/rampart/policy.toml
  rampart guard run --dry-run --state-dir /tmp/g --socket /tmp/g/guard.sock
  sudo rampart guard run --jail sshd --metrics 127.0.0.1:9109

Exit codes: 0 stopped cleanly, 1 invalid policy or the daemon failed while
running, 2 could not start (bad flags, unknown jail, no privilege, socket
in use, nftables refused the table).`,
		Run: runGuardRun,
	})
}

// guardUsage returns a reporter of bad arguments for command c at path:
// the message, the synopsis, exit code 2.
func guardUsage(env *Env, path string, c *Command) func(format string, a ...any) int {
	return func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "rampart %s: %s\nUsage: rampart %s\n", path, fmt.Sprintf(format, a...), c.Usage)
		return ExitUsage
	}
}

// guardSub returns the registered guard subcommand name (for usage text).
func guardSub(name string) *Command {
	for _, s := range guardCmd.Subcommands {
		if s.Name == name {
			return s
		}
	}
	return guardCmd
}

func runGuardRun(env *Env, args []string) int {
	const path = "guard run"
	c := guardSub("run")
	fs := NewFlags(path)
	var polPath, stateDir, socket, metricsAddr, jails, reconcile, level string
	fs.StringVar(&polPath, "p", "", "policy file (default: the embedded default policy)")
	fs.StringVar(&polPath, "policy", "", "policy file")
	dry := fs.Bool("dry-run", false, "log what would be banned; change no firewall")
	fs.StringVar(&stateDir, "state-dir", "", "state directory (default: ban.state_dir)")
	fs.StringVar(&socket, "socket", "", "control socket (default: ban.socket; \"none\" for no socket)")
	fs.StringVar(&metricsAddr, "metrics", "", "Prometheus listen address (default: ban.metrics)")
	fs.StringVar(&jails, "jail", "", "comma-separated jails to run (default: every enabled jail)")
	fs.StringVar(&reconcile, "reconcile", "30s", "how often the nftables table is checked and re-asserted")
	fromStart := fs.Bool("from-start", false, "read log files without a saved position from their start (default: from their end)")
	fs.StringVar(&level, "log-level", "info", "log level: debug, info, warn or error")
	var journalFile string
	fs.StringVar(&journalFile, "journal-file", "", "read the journal jails from this journal file instead of the live journal (stops at its end)")
	pos, code, ok := ParseFlags(env, fs, c, path, args)
	if !ok {
		return code
	}
	usage := guardUsage(env, path, c)
	if len(pos) != 0 {
		return usage("unexpected argument %q", pos[0])
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return usage("--log-level %q: want debug, info, warn or error", level)
	}
	rec, err := policy.ParseDuration(reconcile)
	if err != nil || rec.D < 100*time.Millisecond {
		return usage("--reconcile %q: want a duration of at least 100ms (e.g. 30s)", reconcile)
	}
	p, code := LoadPolicy(env, polPath, "")
	if p == nil {
		return code
	}
	b := p.Ban
	if stateDir == "" {
		stateDir = b.StateDir
		if *dry {
			// A dry run never writes the real store: its bans would be
			// restored into the firewall by the next real start.
			stateDir = filepath.Join(stateDir, "dry-run")
		}
	}
	if socket == "" {
		socket = b.Socket
	}
	if socket == "none" {
		socket = ""
	}
	if metricsAddr == "" {
		metricsAddr = b.Metrics
	}
	var jailList []string
	if jails != "" {
		for _, j := range strings.Split(jails, ",") {
			if j = strings.TrimSpace(j); j != "" {
				jailList = append(jailList, j)
			}
		}
	}
	log := slog.New(slog.NewJSONHandler(env.Stderr, &slog.HandlerOptions{Level: lvl}))
	var backend nft.Backend
	if *dry {
		backend = nft.NewDryRun(log.With("backend", "dry-run"))
	} else {
		if !host.CanAdminNetwork() {
			fmt.Fprintf(env.Stderr, "rampart %s: changing nftables needs root or CAP_NET_ADMIN (run with sudo, or try --dry-run)\n", path)
			return ExitUsage
		}
		nb, err := nft.NewNetlink(b.Table)
		if err != nil {
			fmt.Fprintf(env.Stderr, "rampart %s: ban.table: %v\n", path, err)
			return ExitUsage
		}
		backend = nb
	}
	gid := 0
	if socket != "" && b.SocketGroup != "" {
		g, err := user.LookupGroup(b.SocketGroup)
		if err == nil {
			gid, err = strconv.Atoi(g.Gid)
		}
		if err != nil {
			log.Warn("ban.socket_group not found; the control socket is root only", "group", b.SocketGroup, "err", err)
			gid = 0
		}
	}
	var journalFiles []string
	if journalFile != "" {
		journalFiles = []string{journalFile}
	}
	hostname, _ := os.Hostname()
	d, err := daemon.New(daemon.Options{
		Actions: action.Options{Hostname: hostname},
		Policy:  p, Backend: backend, StateDir: stateDir, Socket: socket, SocketGID: gid, Metrics: metricsAddr, JournalFiles: journalFiles,
		Jails: jailList, Stdin: env.Stdin, FromStart: *fromStart, Reconcile: rec.D, Log: log,
	})
	if err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		return ExitUsage
	}
	log.Info("rampart guard starting", "policy", p.Source, "backend", backend.Name(), "table", b.Table, "state_dir", stateDir, "socket", socket)
	go d.KeepHeapNear(env.Ctx, time.Second)
	if err := d.Run(env.Ctx); err != nil {
		fmt.Fprintf(env.Stderr, "rampart %s: %v\n", path, err)
		if errors.Is(err, daemon.ErrStart) {
			return ExitUsage
		}
		return ExitProblem
	}
	return ExitOK
}
