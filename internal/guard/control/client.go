package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"syscall"
	"time"
)

// ErrNotRunning reports that no daemon listens on the socket.
var ErrNotRunning = errors.New("rampart guard run is not running")

// Call sends one request to the daemon at socket and returns its answer.
// A response with OK false comes back as an error with the daemon's text.
func Call(socket string, req Request) (*Response, error) {
	return CallVia(context.Background(), func(ctx context.Context, path string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}, socket, req)
}

// DialFunc connects to a unix socket (host.UnixDialer.DialUnix).
type DialFunc func(ctx context.Context, path string) (net.Conn, error)

// CallVia is Call over a connection made by dial, so that callers holding
// a host seam reach the socket through it.
func CallVia(ctx context.Context, dial DialFunc, socket string, req Request) (*Response, error) {
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	c, err := dial(dctx, socket)
	cancel()
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED):
			return nil, fmt.Errorf("%s: %w (start it, or pass --socket)", socket, ErrNotRunning)
		case errors.Is(err, fs.ErrPermission):
			return nil, fmt.Errorf("%s: permission denied (the control socket is root only; run with sudo)", socket)
		}
		return nil, fmt.Errorf("control socket %s: %w", socket, err)
	}
	defer c.Close()
	deadline := time.Now().Add(Timeout + 2*time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = c.SetDeadline(deadline)
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("control socket %s: send: %w", socket, err)
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	var resp Response
	dec := json.NewDecoder(io.LimitReader(c, MaxResponse))
	if err := dec.Decode(&resp); err != nil {
		return nil, fmt.Errorf("control socket %s: bad response: %w", socket, err)
	}
	if !resp.OK {
		if resp.Error == "" {
			resp.Error = "request failed"
		}
		return &resp, errors.New(resp.Error)
	}
	return &resp, nil
}
