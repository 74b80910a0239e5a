package driver

import (
	"bytes"
	"context"
	"errors"
	"net"
	"time"
)

// handshakeConn is a driver connection's TCP connection as the WebSocket
// client sees it. Until the server's handshake response has been read it
// keeps a copy of what it read, so that the poller (poll_linux.go), which
// reads the socket itself from then on, can start with the bytes that came
// after the response, which gorilla's reader has buffered and would
// otherwise be lost to it. The server sends nothing before the client's
// first frame, so these are nearly always none.
//
// Once the poller owns the connection it takes the socket off the Go
// runtime's network poller (detach): every call then goes to the socket
// itself (off), and Read is the poller's alone.
type handshakeConn struct {
	tcp      *net.TCPConn
	seen     []byte // what was read while recording
	after    []byte // what followed the response's end, once seen
	complete bool   // the response's end was seen: after is known
	gaveUp   bool   // no end within maxHandshake: after is unknown
	// off is the socket once detached; set before anything but the
	// dialer has used the connection, never unset.
	off detachedConn
}

// detachedConn is what a handshakeConn's socket does once off the
// runtime's poller (rawSocket, Linux).
type detachedConn interface {
	Write(b []byte) (int, error)
	Close() error
	CloseRead() error
	SetWriteDeadline(t time.Time) error
}

// maxHandshake bounds what handshakeConn records; a response longer than
// that leaves the connection to a goroutine reader.
const maxHandshake = 8 << 10

var headerEnd = []byte("\r\n\r\n")

func (c *handshakeConn) Read(b []byte) (int, error) {
	if c.off != nil {
		return 0, errors.New("driver: the poller reads this connection")
	}
	n, err := c.tcp.Read(b)
	if c.complete || c.gaveUp || n == 0 {
		return n, err
	}
	c.seen = append(c.seen, b[:n]...)
	if i := bytes.Index(c.seen, headerEnd); i >= 0 {
		c.after = bytes.Clone(c.seen[i+len(headerEnd):])
		c.seen, c.complete = nil, true
	} else if len(c.seen) > maxHandshake {
		c.seen, c.gaveUp = nil, true
	}
	return n, err
}

func (c *handshakeConn) Write(b []byte) (int, error) {
	if c.off != nil {
		return c.off.Write(b)
	}
	return c.tcp.Write(b)
}

func (c *handshakeConn) Close() error {
	if c.off != nil {
		return c.off.Close()
	}
	return c.tcp.Close()
}

// CloseRead shuts the reading side (drop).
func (c *handshakeConn) CloseRead() error {
	if c.off != nil {
		return c.off.CloseRead()
	}
	return c.tcp.CloseRead()
}

func (c *handshakeConn) LocalAddr() net.Addr  { return c.tcp.LocalAddr() }
func (c *handshakeConn) RemoteAddr() net.Addr { return c.tcp.RemoteAddr() }

func (c *handshakeConn) SetDeadline(t time.Time) error {
	if c.off != nil {
		return c.off.SetWriteDeadline(t)
	}
	return c.tcp.SetDeadline(t)
}

func (c *handshakeConn) SetReadDeadline(t time.Time) error {
	if c.off != nil {
		return nil // the poller reads without deadlines
	}
	return c.tcp.SetReadDeadline(t)
}

func (c *handshakeConn) SetWriteDeadline(t time.Time) error {
	if c.off != nil {
		return c.off.SetWriteDeadline(t)
	}
	return c.tcp.SetWriteDeadline(t)
}

// leftover returns the bytes after the handshake response, and whether
// they are known (the response's end was read). Call it only before
// anything else reads the connection.
func (c *handshakeConn) leftover() ([]byte, bool) { return c.after, c.complete }

// dialTCP dials like the WebSocket dialer's default, and returns a
// handshakeConn.
func dialTCP(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	return &handshakeConn{tcp: tc}, nil
}
