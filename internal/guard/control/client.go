package control

import (
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
	c, err := net.DialTimeout("unix", socket, 2*time.Second)
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
	_ = c.SetDeadline(time.Now().Add(Timeout + 2*time.Second))
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("control socket %s: send: %w", socket, err)
	}
	_ = c.(*net.UnixConn).CloseWrite()
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
