package control

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/testenv"
)

type fakeHandler struct {
	bans map[netip.Prefix]BanInfo
}

func (f *fakeHandler) Status(_ context.Context, jail string) (*Status, error) {
	if jail != "" && jail != "sshd" {
		return nil, fmt.Errorf("no jail %q", jail)
	}
	return &Status{Backend: "fake", Jails: []JailStatus{{Name: "sshd", CurrentlyBanned: len(f.bans)}}}, nil
}

func (f *fakeHandler) List(context.Context, string) ([]BanInfo, error) {
	var out []BanInfo
	for _, b := range f.bans {
		out = append(out, b)
	}
	return out, nil
}

func (f *fakeHandler) Ban(_ context.Context, p netip.Prefix, jail string, d time.Duration) (BanInfo, error) {
	b := BanInfo{Prefix: p.String(), Jail: jail, Until: time.Unix(0, 0).Add(d)}
	f.bans[p] = b
	return b, nil
}

func (f *fakeHandler) Unban(_ context.Context, p netip.Prefix) (BanInfo, error) {
	b, ok := f.bans[p]
	if !ok {
		return b, fmt.Errorf("%v is not banned", p)
	}
	delete(f.bans, p)
	return b, nil
}

func (f *fakeHandler) Flush(_ context.Context, jail string) ([]BanInfo, error) {
	var out []BanInfo
	for p, b := range f.bans {
		if jail == "" || b.Jail == jail {
			out = append(out, b)
			delete(f.bans, p)
		}
	}
	return out, nil
}

func serve(t *testing.T, path string, allowUID ...int) *Server {
	t.Helper()
	return serveGroup(t, path, 0, allowUID...)
}

func serveGroup(t *testing.T, path string, gid int, allowUID ...int) *Server {
	t.Helper()
	s, err := ListenGroup(path, gid, &fakeHandler{bans: map[netip.Prefix]BanInfo{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(allowUID) > 0 {
		s.AllowUID = allowUID[0]
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "rampart")
	sock := filepath.Join(dir, "guard.sock")
	serve(t, sock)
	for p, want := range map[string]os.FileMode{dir: 0o700, sock: 0o600} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode().Perm(), err, want)
		}
	}
	if _, err := Call(sock, Request{Op: OpBan, IP: "192.0.2.7", Jail: "manual", For: "90s"}); err != nil {
		t.Fatal(err)
	}
	r, err := Call(sock, Request{Op: OpList})
	if err != nil || len(r.Bans) != 1 || r.Bans[0].Prefix != "192.0.2.7/32" || !r.Bans[0].Until.Equal(time.Unix(90, 0)) {
		t.Fatalf("list: %+v %v", r, err)
	}
	r, err = Call(sock, Request{Op: OpStatus})
	if err != nil || r.Status.Jails[0].CurrentlyBanned != 1 {
		t.Fatalf("status: %+v %v", r, err)
	}
	if _, err := Call(sock, Request{Op: OpStatus, Jail: "nope"}); err == nil || !strings.Contains(err.Error(), `no jail "nope"`) {
		t.Errorf("status nope: %v", err)
	}
	if _, err := Call(sock, Request{Op: OpUnban, IP: "192.0.2.7"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Call(sock, Request{Op: OpUnban, IP: "192.0.2.7"}); err == nil || !strings.Contains(err.Error(), "not banned") {
		t.Errorf("second unban: %v", err)
	}
}

// raw sends bytes as a client would and returns the daemon's answer.
func raw(t *testing.T, sock, data string) string {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(data))
	c.(*net.UnixConn).CloseWrite()
	buf := make([]byte, 4096)
	n, _ := c.Read(buf)
	return string(buf[:n])
}

func TestBadRequests(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s", "g.sock")
	serve(t, sock)
	for _, tc := range []struct{ in, want string }{
		{`{"op":"explode"}` + "\n", `field op: \"explode\": want status, list, ban, unban or flush`},
		{`{"op":"ban"}` + "\n", "field ip is required"},
		{`{"op":"ban","ip":"192.0.2.300"}` + "\n", `field ip: address \"192.0.2.300\"`},
		{`{"op":"ban","ip":"192.0.2.7/24"}` + "\n", "host bits set"},
		{`{"op":"ban","ip":"192.0.2.7","for":"-5m"}` + "\n", "field for"},
		{`{"op":"ban","ip":"192.0.2.7","for":"soon"}` + "\n", "field for"},
		{`{"op":"ban","ip":"192.0.2.7","jail":"a b"}` + "\n", "field jail"},
		{`{"op":"unban","ip":"192.0.2.7","jail":"sshd"}` + "\n", "takes no jail"},
		{`{"op":"status","ip":"192.0.2.7"}` + "\n", "takes no ip"},
		{`{"op":"status","extra":1}` + "\n", "unknown field"},
		{`not json`, "request: invalid character"},
		{`{"op":"status","jail":"` + strings.Repeat("x", MaxRequest) + `"}`, "larger than"},
	} {
		got := raw(t, sock, tc.in)
		if !strings.Contains(got, `"ok":false`) || !strings.Contains(got, tc.want) {
			t.Errorf("%.60q -> %s, want %q", tc.in, got, tc.want)
		}
	}
}

func TestStaleAndRunning(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "g.sock")
	// A stale socket (no listener) is replaced.
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	serve(t, sock)
	// A live one is not.
	if _, err := Listen(sock, &fakeHandler{}, nil); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Listen: %v", err)
	}
	// Not a socket.
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := Listen(f, &fakeHandler{}, nil); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen on a file: %v", err)
	}
	// World-writable directory.
	open := filepath.Join(dir, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	if _, err := Listen(filepath.Join(open, "g.sock"), &fakeHandler{}, nil); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
		t.Errorf("Listen in 0777 dir: %v", err)
	}
	if _, err := Call(filepath.Join(dir, "none.sock"), Request{Op: OpStatus}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Call without daemon: %v", err)
	}
}

// pyClient connects to the socket as another user (setpriv ARGS) and
// prints the daemon's answer or the connect error.
const pyClient = `import socket,sys
s=socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect:", e.strerror); sys.exit(0)
try:
    s.sendall(b'{"op":"status"}\n'); s.shutdown(socket.SHUT_WR)
except OSError:
    pass  # the daemon may answer and close before reading
print(s.recv(4096).decode())`

// asUser returns a function running pyClient on sock under setpriv with
// the given credential flags.
func asUser(t *testing.T) func(sock string, cred ...string) string {
	t.Helper()
	testenv.RequireRoot(t)
	py := testenv.RequireCommands(t, "setpriv", "python3")
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		py[1] = "/usr/bin/python3" // not a shim under /root, which nobody cannot read
	}
	return func(sock string, cred ...string) string {
		args := append(append([]string{}, cred...), py[1], "-c", pyClient, sock)
		out, _ := exec.Command(py[0], args...).CombinedOutput()
		return string(out)
	}
}

// openDir is a temporary directory every user can traverse.
func openDir(t *testing.T) string {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755) // testing's per-test parent is 0700
	return dir
}

// TestNonRootRefused connects as uid 65534: the 0600 socket refuses the
// connection, and even with the file mode opened up the daemon refuses the
// peer by its kernel-reported uid.
func TestNonRootRefused(t *testing.T) {
	run := asUser(t)
	sock := filepath.Join(openDir(t), "g.sock")
	serve(t, sock, -1)
	nobody := []string{"--reuid=65534", "--regid=65534", "--clear-groups"}
	if got := run(sock, nobody...); !strings.Contains(got, "connect: Permission denied") {
		t.Errorf("0600 socket as nobody: %s", got)
	}
	os.Chmod(sock, 0o666)
	if got := run(sock, nobody...); !strings.Contains(got, "permission denied: uid 65534 is not root") {
		t.Errorf("0666 socket as nobody: %s", got)
	}
}

// TestSocketGroup: with a socket group (here an unnamed gid, as the
// rampart group would be), a member of that group (supplementary or
// primary) is served; another user is refused by the file mode, and by
// the daemon's own check when the mode is opened up. Root is served.
func TestSocketGroup(t *testing.T) {
	run := asUser(t)
	const gid = 48213
	sock := filepath.Join(openDir(t), "run", "g.sock")
	serveGroup(t, sock, gid, -1)
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o660 || st.Gid != gid {
		t.Fatalf("socket mode %v gid %d, want 0660 gid %d", fi.Mode().Perm(), st.Gid, gid)
	}
	if di, _ := os.Stat(filepath.Dir(sock)); di.Mode().Perm() != 0o750 || di.Sys().(*syscall.Stat_t).Gid != gid {
		t.Fatalf("socket directory mode %v gid %d, want 0750 gid %d", di.Mode().Perm(), di.Sys().(*syscall.Stat_t).Gid, gid)
	}
	member := []string{"--reuid=65534", "--regid=65534", fmt.Sprintf("--groups=%d", gid)}
	if got := run(sock, member...); !strings.Contains(got, `"ok":true`) {
		t.Errorf("member of the socket group (supplementary): %s", got)
	}
	if got := run(sock, "--reuid=65534", fmt.Sprintf("--regid=%d", gid), "--clear-groups"); !strings.Contains(got, `"ok":true`) {
		t.Errorf("member of the socket group (primary): %s", got)
	}
	other := []string{"--reuid=65534", "--regid=65534", "--clear-groups"}
	if got := run(sock, other...); !strings.Contains(got, "connect: Permission denied") {
		t.Errorf("another user on the 0660 socket: %s", got)
	}
	os.Chmod(filepath.Dir(sock), 0o755)
	os.Chmod(sock, 0o666)
	if got := run(sock, other...); !strings.Contains(got, "permission denied: uid 65534 is neither root nor in the socket's group (gid 48213)") {
		t.Errorf("another user on an opened-up socket: %s", got)
	}
	if got := run(sock, "--reuid=0", "--regid=0", "--clear-groups"); !strings.Contains(got, `"ok":true`) {
		t.Errorf("root: %s", got)
	}
}

// FuzzValidate: a request that validates has a usable op and, for ban
// and unban, a valid masked prefix.
func FuzzValidate(f *testing.F) {
	f.Add("ban", "192.0.2.7", "sshd", "1h")
	f.Add("unban", "2001:db8::/64", "", "")
	f.Add("status", "", "sshd", "")
	f.Add("ban", "::ffff:192.0.2.7", "", "-1s")
	f.Fuzz(func(t *testing.T, op, ip, jail, dur string) {
		v, err := Validate(Request{Op: op, IP: ip, Jail: jail, For: dur})
		if err != nil {
			return
		}
		switch v.Op {
		case OpStatus, OpList, OpFlush:
		case OpBan, OpUnban:
			if !v.Prefix.IsValid() || v.Prefix.Masked() != v.Prefix || v.Prefix.Addr().Is4In6() || v.For < 0 {
				t.Fatalf("validated %+v", v)
			}
		default:
			t.Fatalf("op %q validated", v.Op)
		}
	})
}
