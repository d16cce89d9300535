package sshhost

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

type knownHosts struct {
	files []string
	cb    ssh.HostKeyCallback // nil when no file exists
}

func newKnownHosts(files []string, home string) (*knownHosts, error) {
	kh := &knownHosts{}
	if len(files) > 0 {
		for _, f := range files {
			if _, err := os.Stat(f); err != nil {
				return nil, fmt.Errorf("known_hosts: %w", err)
			}
		}
		kh.files = files
	} else {
		var cands []string
		if home != "" {
			cands = append(cands, filepath.Join(home, ".ssh", "known_hosts"))
		}
		cands = append(cands, "/etc/ssh/ssh_known_hosts")
		for _, f := range cands {
			if _, err := os.Stat(f); err == nil {
				kh.files = append(kh.files, f)
			}
		}
	}
	if len(kh.files) == 0 {
		return kh, nil
	}
	cb, err := knownhosts.New(kh.files...)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	kh.cb = cb
	return kh, nil
}

func (kh *knownHosts) where() string {
	if len(kh.files) == 0 {
		return "no known_hosts file exists (looked for ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts)"
	}
	return "known_hosts: " + strings.Join(kh.files, ", ")
}

// probeKey matches no real host key: asking the callback about it returns
// the keys known for the host.
var probeKey, _ = ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))

// algorithms returns the host key algorithms of the known keys for addr,
// so the server presents a key we can check (nil: library default).
func (kh *knownHosts) algorithms(addr string, remote net.Addr) ([]string, error) {
	if kh.cb == nil {
		return nil, nil
	}
	err := kh.cb(addr, remote, probeKey)
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return nil, nil
	}
	var out []string
	seen := map[string]bool{}
	add := func(a ...string) {
		for _, x := range a {
			if !seen[x] {
				seen[x] = true
				out = append(out, x)
			}
		}
	}
	for _, k := range ke.Want {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	return out, nil
}

// hostKeyError is a refused host key with advice.
type hostKeyError struct{ msg string }

func (e *hostKeyError) Error() string { return e.msg }
func (e *hostKeyError) Unwrap() error { return ErrHostKey }

func (kh *knownHosts) callback(t Target) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		fp := key.Type() + " " + ssh.FingerprintSHA256(key)
		scan := "ssh-keyscan"
		if t.Port != 22 {
			scan += fmt.Sprintf(" -p %d", t.Port)
		}
		scan += " " + t.Host
		if kh.cb == nil {
			return &hostKeyError{fmt.Sprintf("ssh %s: refusing to connect: the host key is unknown (%s).\n"+
				"The server offered %s. Compare it with the key on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub, "+
				"through a console you trust), then add it: %s >> ~/.ssh/known_hosts, or pass --known-hosts FILE.",
				t, kh.where(), fp, scan)}
		}
		err := kh.cb(hostname, remote, key)
		if err == nil {
			return nil
		}
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case errors.As(err, &re):
			return &hostKeyError{fmt.Sprintf("ssh %s: refusing to connect: the host key %s is marked @revoked in %s:%d.",
				t, fp, re.Revoked.Filename, re.Revoked.Line)}
		case errors.As(err, &ke) && len(ke.Want) == 0:
			return &hostKeyError{fmt.Sprintf("ssh %s: refusing to connect: the host key is unknown (not in %s).\n"+
				"The server offered %s. Compare it with the key on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub, "+
				"through a console you trust), then add it: %s >> %s, or pass --known-hosts FILE.",
				t, kh.where(), fp, scan, kh.files[0])}
		case errors.As(err, &ke):
			var known []string
			for _, w := range ke.Want {
				known = append(known, fmt.Sprintf("%s:%d has %s %s", w.Filename, w.Line, w.Key.Type(), ssh.FingerprintSHA256(w.Key)))
			}
			host := t.Host
			if t.Port != 22 {
				host = fmt.Sprintf("[%s]:%d", t.Host, t.Port)
			}
			return &hostKeyError{fmt.Sprintf("ssh %s: refusing to connect: THE HOST KEY HAS CHANGED.\n"+
				"The server offered %s, but %s.\n"+
				"Someone may be intercepting the connection, or the host was reinstalled. Find out which through a channel you trust; "+
				"only if the new key is genuine, remove the old entry (ssh-keygen -R '%s' -f %s) and add the new one.",
				t, fp, strings.Join(known, "; "), host, ke.Want[0].Filename)}
		}
		return &hostKeyError{fmt.Sprintf("ssh %s: refusing to connect: host key check failed: %v", t, err)}
	}
}
