package sshhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/rampart-sec/rampart/internal/host"
)

// A verify run reads a few dozen small text files (sysctl.d, journald.conf
// and its drop-ins, every process's cmdline), and each ReadFile starts a
// cat on the remote host: on a small machine a fleet run is bound by those
// process starts. ReadFiles reads them all with one GNU sed:
//
//	sed -s -n -e 1F -e 'l 0' -- FILE...
//
// prints, for each file that has a line, the file's name on a line of its
// own (F, on the file's first line: -s numbers each file's lines apart),
// then every line escaped (l): a backslash, any byte outside printable
// ASCII and every control character are written as escapes, and each line
// ends in '$' that is not part of it. A line of a file therefore never
// holds a raw control character and always ends in '$', while a name line
// is exactly one of the names asked for; names that could be mistaken
// (ending in '$', holding a newline) are read with ReadFile instead. What
// the files hold cannot forge where one ends. Files sed cannot read are
// named on stderr ("sed: can't read FILE: REASON"). A sed without F (BusyBox)
// or any output that does not parse gives the batch to ReadFile, file by
// file.

// batches counts the batches read whole (for tests).
var batches atomic.Int64

// batchMax bounds one sed's argument list.
const (
	batchMaxFiles = 2048
	batchMaxBytes = 96 << 10
)

// ReadFiles implements host.BatchReader.
func (h *Host) ReadFiles(ctx context.Context, paths []string) ([]host.FileResult, error) {
	out := make([]host.FileResult, len(paths))
	done := make([]bool, len(paths))
	// Kernel text goes to the shell's read, other names that cannot be
	// mistaken in sed's output to sed, in chunks of bounded arguments
	// (kernel text too, when there is a sed to run).
	var kernel, sed [][]int
	size := 0
	for i, p := range paths {
		switch {
		case kernelText(p):
			if len(kernel) == 0 || len(kernel[len(kernel)-1]) == batchMaxFiles {
				kernel = append(kernel, nil)
			}
			kernel[len(kernel)-1] = append(kernel[len(kernel)-1], i)
		case strings.HasPrefix(p, "/") && !strings.ContainsAny(p, "\n\x00") && !strings.HasSuffix(p, "$"):
			if len(sed) == 0 || len(sed[len(sed)-1]) == batchMaxFiles || size+len(p) > batchMaxBytes {
				sed, size = append(sed, nil), 0
			}
			sed[len(sed)-1] = append(sed[len(sed)-1], i)
			size += len(p) + 3
		}
	}
	// With a sed to run anyway, kernel text joins it: sed reads it in
	// blocks, where the shell's read takes a byte per system call (about
	// 500 calls for the interface table alone).
	if len(sed) > 0 {
		for _, idx := range kernel {
			for _, i := range idx {
				if len(sed[len(sed)-1]) == batchMaxFiles || size+len(paths[i]) > batchMaxBytes {
					sed, size = append(sed, nil), 0
				}
				sed[len(sed)-1] = append(sed[len(sed)-1], i)
				size += len(paths[i]) + 3
			}
		}
		kernel = nil
	}
	read := func(chunks [][]int, readChunk func(context.Context, []string) ([]host.FileResult, error)) error {
		for _, idx := range chunks {
			ps := make([]string, len(idx))
			for k, i := range idx {
				ps[k] = paths[i]
			}
			res, err := readChunk(ctx, ps)
			if err != nil {
				return err
			}
			for k, i := range idx {
				if res != nil {
					out[i], done[i] = res[k], true
				}
			}
		}
		return nil
	}
	if err := read(sed, h.sedRead); err != nil {
		return nil, err
	}
	if err := read(kernel, h.shellRead); err != nil {
		return nil, err
	}
	for i, p := range paths {
		// Not batched, or denied to this user: ReadFile (with sudo -n
		// where the user may).
		if done[i] && !(errors.Is(out[i].Err, fs.ErrPermission) && !h.IsRoot(ctx)) {
			continue
		}
		b, err := h.ReadFile(ctx, p)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		out[i] = host.FileResult{Data: host.TextLines(b), Err: err}
	}
	return out, nil
}

// sedRead reads paths with one sed. nil results (and no error) mean the
// batch could not be read that way and each file must be read alone.
func (h *Host) sedRead(ctx context.Context, paths []string) ([]host.FileResult, error) {
	c := host.C("sed", append([]string{"-s", "-n", "-e", "1F", "-e", "l 0", "--"}, paths...)...)
	o, err := h.run(ctx, c, false)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil || (o.ExitCode != 0 && o.ExitCode != 2) {
		return nil, nil
	}
	res, ok := parseSedBatch(paths, o.Stdout, o.Stderr)
	if !ok {
		return nil, nil
	}
	batches.Add(1)
	return res, nil
}

// parseSedBatch splits sed's output into the files of paths (see the
// comment at the top); ok is false when any of it does not parse.
func parseSedBatch(paths []string, stdout, stderr []byte) (res []host.FileResult, ok bool) {
	res = make([]host.FileResult, len(paths))
	for i := range res {
		res[i].Data = []byte{}
	}
	cur := -1
	for len(stdout) > 0 {
		nl := bytes.IndexByte(stdout, '\n')
		if nl < 0 {
			return nil, false
		}
		line := stdout[:nl]
		stdout = stdout[nl+1:]
		if n := len(line); n > 0 && line[n-1] == '$' && cur >= 0 {
			data, ok := appendUnescapeSedL(res[cur].Data, line[:n-1])
			if !ok {
				return nil, false
			}
			res[cur].Data = append(data, '\n')
			continue
		}
		next := -1
		for j := cur + 1; j < len(paths); j++ {
			if string(line) == paths[j] {
				next = j
				break
			}
		}
		if next < 0 {
			return nil, false
		}
		cur = next
	}
	if len(stderr) == 0 {
		return res, true
	}
	// A stderr line names its path and sed's reason, split at a ": "
	// that the path may itself hold: every split that names a path of
	// the batch is taken. Looked up by name, since a batch of every
	// process's files has hundreds of paths and as many vanished ones.
	index := make(map[string][]int, len(paths))
	for i, p := range paths {
		index[p] = append(index[p], i)
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(stderr), "\n"), "\n") {
		if l == "" {
			continue
		}
		rest, found := strings.CutPrefix(l, "sed: can't read ")
		if !found {
			if rest, found = strings.CutPrefix(l, "sed: read error on "); !found {
				return nil, false
			}
		}
		matched := false
		for k := 0; ; k++ {
			j := strings.Index(rest[k:], ": ")
			if j < 0 {
				break
			}
			k += j
			for _, i := range index[rest[:k]] {
				matched = true
				res[i] = host.FileResult{Err: pathError(rest[:k], rest[k+2:])}
			}
		}
		if !matched {
			return nil, false
		}
	}
	return res, true
}

// pathError is the error for path that a reader (sed, cat, the shell's
// read) gave as reason, in the words of strerror.
func pathError(path, reason string) error {
	err := errors.New(host.SafeText(reason))
	switch reason {
	case "No such file or directory":
		err = fs.ErrNotExist
	case "Permission denied":
		err = fs.ErrPermission
	}
	return &fs.PathError{Op: "open", Path: path, Err: err}
}

// sedEscapes are l's one-letter escapes; any other byte is \ooo.
var sedEscapes = map[byte]byte{'\\': '\\', 'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}

// unescapeSedL reverses the escapes of sed's l command.
func unescapeSedL(b []byte) ([]byte, bool) { return appendUnescapeSedL(nil, b) }

// appendUnescapeSedL appends b, unescaped, to out.
func appendUnescapeSedL(out, b []byte) ([]byte, bool) {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < 0x20 || c > 0x7e {
			return nil, false
		}
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i == len(b) {
			return nil, false
		}
		e := b[i]
		if c, ok := sedEscapes[e]; ok {
			out = append(out, c)
			continue
		}
		if i+2 >= len(b) || e < '0' || e > '3' || b[i+1] < '0' || b[i+1] > '7' || b[i+2] < '0' || b[i+2] > '7' {
			return nil, false
		}
		out = append(out, (e-'0')<<6|(b[i+1]-'0')<<3|(b[i+2]-'0'))
		i += 2
	}
	return out, true
}

// kernelText reports a small text file the kernel writes that the shell's
// own read, which takes one byte per call, reads whole: the seq_file
// tables of /proc/net, a process's /proc/PID/fdinfo/N and /proc/PID/status
// (whose one free-form field, the process name, the kernel escapes), and
// the host name (a string sysctl). Not the numbers of /proc/sys: the kernel answers a
// read past their first byte with end of file (proc_dointvec), so those go
// to sed, which reads in blocks; nor the socket tables (one line per
// socket, thousands on a busy server), which sed reads in blocks too.
func kernelText(p string) bool {
	if strings.Contains(p, "/..") || strings.ContainsAny(p, "\n\x00") {
		return false
	}
	if p == "/proc/sys/kernel/hostname" {
		return true
	}
	if rest, ok := strings.CutPrefix(p, "/proc/net/"); ok {
		return !socketTables[rest]
	}
	if rest, ok := strings.CutPrefix(p, "/proc/"); ok {
		if pid, ok := strings.CutSuffix(rest, "/status"); ok {
			_, err := strconv.ParseUint(pid, 10, 32)
			return err == nil
		}
	}
	fd, ok := fdinfoName(p)
	_, err := strconv.ParseUint(fd, 10, 32)
	return ok && err == nil
}

// fdinfoName splits /proc/PID/fdinfo/NAME (PID a number) into NAME.
func fdinfoName(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/proc/")
	if !ok {
		return "", false
	}
	pid, name, ok := strings.Cut(rest, "/fdinfo/")
	_, err := strconv.ParseUint(pid, 10, 32)
	return name, ok && err == nil
}

// socketTables are the /proc/net tables with a line per socket.
var socketTables = map[string]bool{"tcp": true, "tcp6": true, "udp": true, "udp6": true, "udplite": true, "udplite6": true,
	"raw": true, "raw6": true, "unix": true, "packet": true, "netlink": true}

// shellReadLines is how many lines shellRead gathers per write (a
// variable for tests).
var shellReadLines = 64

// shellRead reads kernel text files with the shell's builtins, in one
// round trip and without a program start. Each file is announced by "@N"
// (its index) or "!N REASON" (strerror's words), and each of its lines is
// written behind a '|': read splits at newlines, so no line of a file can
// pass for an announcement. nil results (and no error): read each file
// alone.
func (h *Host) shellRead(ctx context.Context, paths []string) ([]host.FileResult, error) {
	if h.noShells.Load() {
		return nil, nil
	}
	var b strings.Builder
	b.WriteString(shellReadStart + "for f in")
	for _, p := range paths {
		b.WriteString(" " + Quote(p))
	}
	b.WriteString("; do " + shellReadBody("$i") + "; i=$((i+1)); done; printf %s \"$o\"")
	entries, err := h.runShellRead(ctx, b.String())
	if entries == nil {
		return nil, err
	}
	res := make([]host.FileResult, len(paths))
	seen := make([]bool, len(paths))
	cur := -1
	for _, e := range entries {
		idx, err := strconv.Atoi(e.key)
		if e.mark == '#' || err != nil || idx < 0 || idx >= len(paths) || idx <= cur {
			return nil, nil
		}
		seen[idx], cur = true, idx
		res[idx] = e.result(paths[idx])
	}
	for _, ok := range seen {
		if !ok {
			return nil, nil
		}
	}
	batches.Add(1)
	return res, nil
}

// shellReadStart sets up the variables of shellReadBody.
const shellReadStart = "i=0 c=0 o= n='\n'; "

// shellReadBody reads the file "$f" with the shell's read into o,
// announced by key (a shell word: $i, "$f"). The output is gathered and
// printed shellReadLines lines at a time: a printf per line was a write,
// and a packet, per line.
func shellReadBody(key string) string {
	return `if ! [ -e "$f" ]; then o="$o!` + key + ` No such file or directory$n"; elif [ -d "$f" ]; then o="$o!` + key + ` Is a directory$n"; ` +
		`elif ! [ -r "$f" ]; then o="$o!` + key + ` Permission denied$n"; ` +
		`else o="$o@` + key + `$n"; while IFS= read -r l || [ -n "$l" ]; do o="$o|$l$n"; c=$((c+1)); ` +
		`if [ $c -ge ` + strconv.Itoa(shellReadLines) + ` ]; then printf %s "$o"; o= c=0; fi; done <"$f"; fi`
}

// shellEntry is one announcement of a shell read: '@' a file read (data),
// '!' one that could not be (reason), '#' the start of a pattern's matches.
type shellEntry struct {
	mark        byte
	key, reason string
	data        []byte
}

// result is the file of e, at path.
func (e shellEntry) result(path string) host.FileResult {
	if e.mark == '!' {
		return host.FileResult{Err: pathError(path, e.reason)}
	}
	return host.FileResult{Data: e.data}
}

// runShellRead runs a script of shellReadBody loops as a line of the
// shell and splits what it printed into announcements; nil when it could
// not run or its output does not parse (the error only for a cancelled
// context).
func (h *Host) runShellRead(ctx context.Context, script string) ([]shellEntry, error) {
	o, over, err := h.runLine(ctx, host.C("sh", "-c", "read kernel files"), false, script)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil || over || o.ExitCode != 0 {
		return nil, nil
	}
	return parseShellRead(o.Stdout), nil
}

// parseShellRead splits a shell read's output into its announcements;
// nil when it does not parse.
func parseShellRead(out []byte) []shellEntry {
	entries := []shellEntry{}
	for _, line := range strings.SplitAfter(string(out), "\n") {
		if line == "" {
			continue
		}
		if !strings.HasSuffix(line, "\n") {
			return nil
		}
		line = line[:len(line)-1]
		if rest, ok := strings.CutPrefix(line, "|"); ok {
			if len(entries) == 0 || entries[len(entries)-1].mark != '@' {
				return nil
			}
			e := &entries[len(entries)-1]
			e.data = append(append(e.data, rest...), '\n')
			continue
		}
		if line == "" || !strings.ContainsRune("@!#", rune(line[0])) {
			return nil
		}
		e := shellEntry{mark: line[0], key: line[1:], data: []byte{}}
		if e.mark == '!' {
			e.key, e.reason, _ = strings.Cut(e.key, " ")
		}
		entries = append(entries, e)
	}
	return entries
}

// ReadGlobs implements host.GlobReader. As root, when every pattern lists
// a process's descriptors (/proc/PID/fdinfo/GLOB) or names a /proc/net
// table, one script of shell builtins expands the patterns and reads each
// match as shellRead does: one round trip, no program started. The
// shell's read takes a byte per system call, so a caller names a socket
// table only when it knows it is small (netcheck, by the socket counts).
// Other patterns are listed and read by one line with one sed
// (sedReadGlobs); output that does not parse takes GlobAll, then
// ReadFiles.
func (h *Host) ReadGlobs(ctx context.Context, patterns []string) ([][]host.NamedFile, error) {
	if res, err := h.shellReadGlobs(ctx, patterns); res != nil || err != nil {
		return res, err
	}
	if res, err := h.sedReadGlobs(ctx, patterns); res != nil || err != nil {
		return res, err
	}
	return host.ReadGlobsApart(ctx, h, patterns)
}

// sedReadGlobs is ReadGlobs in one line of the shell, as root: the
// patterns are expanded once, into the shell's positional parameters
// (each pattern's words appended, its count and whether its last word
// exists noted), the words are listed NUL-terminated, then the counts
// behind \002, then one sed reads every word as ReadFiles' sed does. So
// sed reads exactly the names listed, and a pattern that matched nothing
// (one word, the pattern itself, that does not exist) is told from one
// that did. Names sed's output could confuse (a newline, a final '$') or
// a sed that did not answer as GNU sed does leave the listing to
// ReadFiles. nil (and no error): the patterns are not for this read.
func (h *Host) sedReadGlobs(ctx context.Context, patterns []string) ([][]host.NamedFile, error) {
	if !h.oneLine(ctx, patterns, func(string) bool { return true }) {
		return nil, nil
	}
	var b strings.Builder
	b.WriteString("set --; s=; ")
	for _, p := range patterns {
		fmt.Fprintf(&b, `set -- "$@" %s; eval "w=\${$#}"; s="$s $#"; if [ -e "$w" ] || [ -L "$w" ]; then s="$s+"; fi; `, p)
	}
	b.WriteString(`printf '%s\0' "$@"; printf '\002%s\0' "$s"; sed -s -n -e 1F -e 'l 0' -- "$@"`)
	o, over, err := h.runLine(ctx, host.C("sh", "-c", "list and read "+strings.Join(patterns, " ")), false, b.String())
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil || over {
		return nil, nil
	}
	words, segs, sedOut, ok := parseGlobWords(patterns, o.Stdout)
	if !ok {
		return nil, nil
	}
	var read []host.FileResult
	if o.ExitCode == 0 || o.ExitCode == 2 {
		safe := true
		for _, w := range words {
			safe = safe && !strings.Contains(w, "\n") && !strings.HasSuffix(w, "$")
		}
		if safe {
			read, ok = parseSedBatch(words, sedOut, o.Stderr)
			if !ok {
				read = nil
			}
		}
	}
	if read == nil {
		// The listing stands; the matches are read apart.
		var matched []string
		for _, seg := range segs {
			for _, i := range seg {
				matched = append(matched, words[i])
			}
		}
		rs, err := h.ReadFiles(ctx, matched)
		if err != nil {
			return nil, err
		}
		read = make([]host.FileResult, len(words))
		for _, seg := range segs {
			for _, i := range seg {
				read[i], rs = rs[0], rs[1:]
			}
		}
	} else {
		batches.Add(1)
	}
	res := make([][]host.NamedFile, len(patterns))
	for k, seg := range segs {
		res[k] = []host.NamedFile{}
		for _, i := range seg {
			res[k] = append(res[k], host.NamedFile{Path: words[i], FileResult: read[i]})
		}
		sort.SliceStable(res[k], func(a, b int) bool { return res[k][a].Path < res[k][b].Path })
	}
	return res, nil
}

// parseGlobWords splits sedReadGlobs' output: the words (absolute paths),
// then for each pattern the indexes of the words that are its matches,
// then what sed printed. ok is false when it is not what the line prints.
func parseGlobWords(patterns []string, out []byte) (words []string, segs [][]int, sedOut []byte, ok bool) {
	var counts string
	for {
		i := bytes.IndexByte(out, 0)
		if i < 0 {
			return nil, nil, nil, false
		}
		tok := string(out[:i])
		out = out[i+1:]
		if strings.HasPrefix(tok, "\002") {
			counts = tok[1:]
			break
		}
		if !strings.HasPrefix(tok, "/") {
			return nil, nil, nil, false
		}
		words = append(words, tok)
	}
	f := strings.Fields(counts)
	if len(f) != len(patterns) {
		return nil, nil, nil, false
	}
	prev := 0
	for k, c := range f {
		exists := strings.HasSuffix(c, "+")
		n, err := strconv.Atoi(strings.TrimSuffix(c, "+"))
		if err != nil || n <= prev || n > len(words) {
			return nil, nil, nil, false
		}
		seg := []int{}
		// One word that is the pattern itself and names nothing: the
		// pattern matched nothing.
		if !(n-prev == 1 && words[prev] == patterns[k] && !exists) {
			for i := prev; i < n; i++ {
				seg = append(seg, i)
			}
		}
		segs = append(segs, seg)
		prev = n
	}
	if prev != len(words) {
		return nil, nil, nil, false
	}
	return words, segs, out, true
}

// shellReadGlobs is ReadGlobs in one script; nil (and no error) when it
// cannot be. Each pattern's matches follow "#K" (its index); a match is
// announced by its path, which must be one the pattern matches that the
// kernel names (descriptor numbers) or the /proc/net table named, so
// nothing a file holds or is named can pass for another file.
func (h *Host) shellReadGlobs(ctx context.Context, patterns []string) ([][]host.NamedFile, error) {
	if !h.oneLine(ctx, patterns, func(p string) bool { return fdinfoPattern(p) || netTable(p) }) {
		return nil, nil
	}
	var b strings.Builder
	b.WriteString(shellReadStart)
	for k, p := range patterns {
		fmt.Fprintf(&b, `o="$o#%d$n"; %s; `, k, globMatches(p, "for f; do "+shellReadBody(`$f`)+"; done"))
	}
	b.WriteString(`printf %s "$o"`)
	entries, err := h.runShellRead(ctx, b.String())
	if entries == nil {
		return nil, err
	}
	res := globResults(patterns, entries)
	if res != nil {
		batches.Add(1)
	}
	return res, nil
}

// globResults are the matches of patterns in a shell read's announcements
// (shellReadGlobs); nil when they are not what the script prints.
func globResults(patterns []string, entries []shellEntry) [][]host.NamedFile {
	res := make([][]host.NamedFile, len(patterns))
	k := -1
	for _, e := range entries {
		if e.mark == '#' {
			if e.key != strconv.Itoa(k+1) || k+1 >= len(patterns) {
				return nil
			}
			k++
			res[k] = []host.NamedFile{}
			continue
		}
		if k < 0 {
			return nil
		}
		if ok, err := path.Match(patterns[k], e.key); !ok || err != nil || !(kernelText(e.key) || netTable(e.key) && e.key == patterns[k]) {
			return nil
		}
		if n := len(res[k]); n > 0 && res[k][n-1].Path >= e.key {
			return nil
		}
		res[k] = append(res[k], host.NamedFile{Path: e.key, FileResult: e.result(e.key)})
	}
	if k != len(patterns)-1 {
		return nil
	}
	return res
}

// netTable reports a file of /proc/net named in full.
func netTable(p string) bool {
	rest, ok := strings.CutPrefix(p, "/proc/net/")
	return ok && rest != "" && !strings.ContainsAny(rest, "/*?[]\n") && rest != ".."
}

// oneLine reports whether patterns can be listed and read by one line of
// the shell: as root (no sudo to go through), with shells, and every
// pattern one a remote glob takes (checkPattern) and also accepts.
func (h *Host) oneLine(ctx context.Context, patterns []string, also func(string) bool) bool {
	if len(patterns) == 0 || h.noShells.Load() {
		return false
	}
	for _, p := range patterns {
		if checkPattern(p) != nil || !also(p) {
			return false
		}
	}
	return h.IsRoot(ctx)
}

// fdinfoPattern reports a pattern of one process's descriptor files:
// /proc/PID/fdinfo/ then a pattern without '/'.
func fdinfoPattern(p string) bool {
	g, ok := fdinfoName(p)
	return ok && g != "" && !strings.Contains(g, "/")
}

var (
	_ host.BatchReader = (*Host)(nil)
	_ host.GlobReader  = (*Host)(nil)
)
