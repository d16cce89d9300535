package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rampart-sec/rampart/internal/nixfacts"
	"github.com/rampart-sec/rampart/internal/nixgen"
)

var nixCmd = &Command{
	Name:    "nix",
	Summary: "render the policy as a NixOS module (and optionally a flake) for a NixOS release",
	Usage:   "nix [--release R] [-p FILE] [--profile P] [-o DIR] [--allow-lockout-risk] [--flake --host NAME [--disk DEV] [--system S] [--force]] [--facts]",
	Help: `Renders one NixOS module (rampart.nix) that implements the whole policy with
options that exist in release R: ` + strings.Join(nixfacts.Names(), ", ") + `
(default: ` + nixfacts.Newest().String() + `). Choosing a release past its end of life
renders it with a warning on stderr. Without -o the module goes to stdout; with
-o DIR it is written to DIR/rampart.nix. The output is deterministic.

With --flake --host NAME, -o DIR also gets flake.nix (nixpkgs pinned to the
release branch, disko following it), configuration.nix (imports ./disko.nix
and ./rampart.nix) and disko.nix (GPT disk layout on --disk, default
/dev/sda). These three are written once: rendering again into the same DIR
regenerates rampart.nix (and install.sh) and keeps them (configuration.nix is
yours to edit, system.stateVersion must not move) unless --force. Then:

  DIR/install.sh root@ADDRESS                                          install
  nixos-anywhere --flake DIR#NAME root@ADDRESS                         (the same, by hand)
  nixos-rebuild switch --flake DIR#NAME --target-host root@ADDRESS     update

rampart refuses (exit 1) to render a policy that would lock the administrator
out: password and keyboard-interactive logins off with no admin authorized key,
or SSH only over the tailnet without an auth-key file. With --flake and SSH only
over the tailnet, the auth key must be delivered: install.sh copies it (from
DIR/tailscale-authkey, or the file given after the address) to the policy's
tailnet.auth_key_file with nixos-anywhere --extra-files and refuses to run
without it; a key path under /run or /tmp (emptied at boot; sops-nix, agenix)
is refused unless --allow-lockout-risk. --allow-lockout-risk
renders it anyway. Known conflicts (ip_forward = 0 or a strict rp_filter
against tailscale routing) are reported on stderr.

Flags:

Examples:
  rampart nix --release 25.05 --allow-lockout-risk
  rampart nix --release unstable --facts
  rampart nix -p site.toml --release 25.11 -o /etc/nixos/hardening
  rampart nix -p site.toml --profile tailnet --flake --host web1 --disk /dev/vda -o web1/
  nixos-anywhere --flake ./web1#web1 root@203.0.113.10

Exit codes: 0 rendered, 1 invalid policy or lock-out refused, 2 bad arguments
or unwritable output.`,
}

func init() {
	nixCmd.Run = runNix
	Register(nixCmd)
}

func runNix(env *Env, args []string) int {
	const path = "nix"
	fs := NewFlags(path)
	pf := AddPolicyFlags(fs)
	rel := fs.String("release", nixfacts.Newest().String(), "NixOS release `R`: "+strings.Join(nixfacts.Names(), ", "))
	out := fs.String("o", "", "write `DIR`/rampart.nix (and the flake files) instead of stdout")
	allow := fs.Bool("allow-lockout-risk", false, "render even if the admin could be locked out")
	flake := fs.Bool("flake", false, "also write flake.nix, configuration.nix, disko.nix (needs -o and --host)")
	host := fs.String("host", "", "nixosConfigurations name and host name `NAME` for --flake")
	disk := fs.String("disk", "", "install disk `DEV` for disko (default /dev/sda)")
	system := fs.String("system", "", "flake system `S` (default x86_64-linux)")
	facts := fs.Bool("facts", false, "list the option paths that fail (or only warn) in release R and what to write instead, then exit")
	force := fs.Bool("force", false, "overwrite flake.nix, configuration.nix and disko.nix in DIR")
	pos, code, ok := ParseFlags(env, fs, nixCmd, path, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(env, nixCmd, path, "unexpected argument %q", pos[0])
	}
	r, err := nixfacts.ParseRelease(*rel)
	if err != nil {
		return usageErr(env, nixCmd, path, "--release: %v", err)
	}
	if *facts {
		printNixFacts(env, r)
		return ExitOK
	}
	if w := r.EndOfLifeWarning(time.Now()); w != "" {
		fmt.Fprintf(env.Stderr, "rampart nix: warning: %s\n", w)
	}
	switch {
	case *flake && *out == "":
		return usageErr(env, nixCmd, path, "--flake writes several files: give -o DIR")
	case *flake && *host == "":
		return usageErr(env, nixCmd, path, "--flake needs --host NAME")
	case !*flake && (*host != "" || *disk != "" || *system != "" || *force):
		return usageErr(env, nixCmd, path, "--host, --disk, --system and --force only apply with --flake")
	}
	p, code := pf.Load(env)
	if p == nil {
		return code
	}
	files, warnings, err := nixgen.Render(p, nixgen.Options{
		Release: r, AllowLockoutRisk: *allow, Flake: *flake, Host: *host, Disk: *disk, System: *system,
	})
	var le *nixgen.LockoutError
	switch {
	case errors.As(err, &le):
		fmt.Fprintf(env.Stderr, "rampart nix: %v\n", le)
		return ExitProblem
	case err != nil && *flake:
		return usageErr(env, nixCmd, path, "%v", err)
	case err != nil:
		fmt.Fprintf(env.Stderr, "rampart nix: %v\n", err)
		return ExitProblem
	}
	if *allow {
		risks := nixgen.LockoutRisks(p)
		if *flake {
			risks = append(risks, nixgen.FlakeLockoutRisks(p)...)
		}
		for _, risk := range risks {
			fmt.Fprintf(env.Stderr, "rampart nix: warning: lock-out risk accepted: %s\n", risk)
		}
	}
	for _, w := range warnings {
		fmt.Fprintf(env.Stderr, "rampart nix: warning: %s\n", w)
	}
	if *out == "" {
		_, _ = env.Stdout.Write(files[0].Data)
		return ExitOK
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintf(env.Stderr, "rampart nix: %v\n", err)
		return ExitUsage
	}
	for _, f := range files {
		dst := filepath.Join(*out, f.Name)
		if f.Once && !*force {
			if old, err := os.ReadFile(dst); err == nil {
				fmt.Fprintf(env.Stdout, "kept %s (it exists; --force overwrites it)\n", dst)
				if f.Name == "flake.nix" && !bytes.Contains(old, []byte(`"`+r.FlakeURL()+`"`)) {
					fmt.Fprintf(env.Stderr, "rampart nix: warning: %s does not pin %s, the release rampart.nix was rendered for: "+
						"change its nixpkgs input, or render again with --force\n", dst, r.FlakeURL())
				}
				continue
			} else if !errors.Is(err, os.ErrNotExist) {
				fmt.Fprintf(env.Stderr, "rampart nix: %v\n", err)
				return ExitUsage
			}
		}
		mode := os.FileMode(0o644)
		if f.Mode != 0 {
			mode = os.FileMode(f.Mode)
		}
		if err := writeFileAtomic(dst, f.Data, mode); err != nil {
			fmt.Fprintf(env.Stderr, "rampart nix: %v\n", err)
			return ExitUsage
		}
		fmt.Fprintf(env.Stdout, "wrote %s\n", dst)
	}
	return ExitOK
}

// printNixFacts lists the paths rampart never emits for r: guide mistakes,
// renamed and removed options, and options of other releases.
func printNixFacts(env *Env, r nixfacts.Release) {
	fmt.Fprintf(env.Stdout, "Option paths that do not work in NixOS %s (rampart never emits them):\n\n", r)
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tSTATUS\tUSE INSTEAD\tNIXPKGS FILE")
	for _, f := range nixfacts.Absent(r) {
		status := f.Kind.String()
		if f.Kind == nixfacts.Option {
			switch {
			case f.Since != 0 && r < f.Since:
				status = "added in " + f.Since.String()
			case f.Until != 0:
				status = "gone in " + f.Until.String()
			}
		}
		use := f.Use
		if use == "" {
			use = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Path, status, use, f.Source)
	}
	tw.Flush()
}

// writeFileAtomic replaces the regular file at dst (through a symlink, the
// file it points to) with data in one rename, so a reader never sees half a
// report or module. Anything else that exists there (/dev/null, a FIFO, a
// terminal) is written to as it is: renaming over it would replace the
// device itself.
func writeFileAtomic(dst string, data []byte, mode os.FileMode) error {
	return renderFileAtomic(dst, mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// renderFileAtomic is writeFileAtomic for content that render writes: into
// the temporary file as it is produced (a fleet's report runs to megabytes,
// and holding it whole first costs the run its memory and page faults),
// renamed over dst only when render and every write succeeded. A target
// that is not a regular file gets the content only once render finished,
// so a failed render leaves nothing half written anywhere.
func renderFileAtomic(dst string, mode os.FileMode, render func(io.Writer) error) error {
	if fi, err := os.Stat(dst); err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return fmt.Errorf("write %s: is a directory", dst)
		}
		var buf bytes.Buffer
		if err := render(&buf); err != nil {
			return fmt.Errorf("write %s: %w", dst, err)
		}
		f, err := os.OpenFile(dst, os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("write %s: %w", dst, err)
		}
		_, err = f.Write(buf.Bytes())
		if err = errors.Join(err, f.Close()); err != nil {
			return fmt.Errorf("write %s: %w", dst, err)
		}
		return nil
	}
	if real, err := filepath.EvalSymlinks(dst); err == nil {
		dst = real
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 64<<10)
	err = render(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err = errors.Join(err, tmp.Chmod(mode), tmp.Close()); err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}

// releaseRange is "OLDEST … NEWEST" of the releases nixfacts knows.
func releaseRange() string {
	n := nixfacts.Names()
	return n[0] + " … " + n[len(n)-1]
}
