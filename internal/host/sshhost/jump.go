package sshhost

import (
	"context"
	"fmt"
	"github.com/rampart-sec/rampart/internal/host"
	"net"
)

// DialContext opens a TCP connection from the remote host (a direct-tcpip
// channel, what ssh -J does), so another Dial can use h as its jump host:
// Options{Dial: jump.DialContext}. The target's host key is still checked
// against known_hosts end to end.
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := h.client.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: forward to %s: %w", h.name, host.SafeText(addr), err)
	}
	return c, nil
}

// Wait blocks until the connection is closed, by Close or by the server
// or network, and returns why.
func (h *Host) Wait() error { return h.client.Wait() }
