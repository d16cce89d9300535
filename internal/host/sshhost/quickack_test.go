package sshhost

import (
	"io"
	"net"
	"syscall"
	"testing"
)

// After every read the connection acknowledges at once, even once the
// exchange is a back and forth (which puts the kernel in its delayed-ack
// "pingpong" mode); other connections pass through unwrapped.
func TestQuickAck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 1)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	quick := func() int {
		rc, err := raw.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var v int
		var gerr error
		if err := rc.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK) }); err != nil || gerr != nil {
			t.Fatal(err, gerr)
		}
		return v
	}
	pingpong := func(c net.Conn) {
		for range 20 {
			if _, err := c.Write([]byte{'x'}); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	pingpong(raw)
	if quick() != 0 {
		t.Skip("this kernel does not enter delayed-ack mode on a back and forth: nothing to tell apart")
	}
	c := quickAck(raw)
	if _, ok := c.(*quickAckConn); !ok {
		t.Fatalf("a TCP connection was not wrapped: %T", c)
	}
	pingpong(c)
	if quick() != 1 {
		t.Error("after a read the connection is back in delayed-ack mode")
	}
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if quickAck(p1) != p1 {
		t.Error("a connection that is not TCP was wrapped")
	}
}

// The SSH transport's small reads are served from one read of the socket:
// what the socket holds comes in at once, byte for byte.
func TestQuickAckBuffers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want := make([]byte, 48<<10)
	for i := range want {
		want[i] = byte(i * 7)
	}
	sent := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		_, err = c.Write(want)
		sent <- err
		io.Copy(io.Discard, c) // until the client closes
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := <-sent; err != nil { // on loopback the bytes wait in the socket now
		t.Fatal(err)
	}
	c, ok := quickAck(raw).(*quickAckConn)
	if !ok {
		t.Fatal("a TCP connection was not wrapped")
	}
	got := make([]byte, 0, len(want))
	buf := make([]byte, 4<<10)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, buf[:n]...)
	if c.r.Buffered() == 0 {
		t.Errorf("a %d-byte read took only what it asked for from a socket holding %d bytes", len(buf), len(want))
	}
	for len(got) < len(want) {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != string(want) {
		t.Error("the bytes read through the buffer differ from those sent")
	}
}
