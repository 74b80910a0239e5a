package driver

import (
	"bytes"
	"context"
	"net"
)

// handshakeConn is a driver connection's TCP connection as the WebSocket
// client sees it. Until the server's handshake response has been read it
// keeps a copy of what it read, so that the poller (poll_linux.go), which
// reads the socket itself from then on, can start with the bytes that came
// after the response, which gorilla's reader has buffered and would
// otherwise be lost to it. The server sends nothing before the client's
// first frame, so these are nearly always none.
type handshakeConn struct {
	*net.TCPConn
	seen     []byte // what was read while recording
	after    []byte // what followed the response's end, once seen
	complete bool   // the response's end was seen: after is known
	gaveUp   bool   // no end within maxHandshake: after is unknown
}

// maxHandshake bounds what handshakeConn records; a response longer than
// that leaves the connection to a goroutine reader.
const maxHandshake = 8 << 10

var headerEnd = []byte("\r\n\r\n")

func (c *handshakeConn) Read(b []byte) (int, error) {
	n, err := c.TCPConn.Read(b)
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
	return &handshakeConn{TCPConn: tc}, nil
}
