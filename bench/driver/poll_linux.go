//go:build linux

package driver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"
)

// The poller reads every plain ws:// connection of a replay on one thread
// instead of a goroutine per connection: it waits in epoll for the
// connections that have bytes, reads each once, and handles every frame
// the read returned before waiting again. A goroutine reader costs a
// wake-up through the Go scheduler per frame and two reads (the second
// finds nothing); at 40,000 frames a second those filled the driver's core
// and queued the senders behind the readers (docs/performance.md, "The
// poller"). Writes stay gorilla's, on the senders' goroutines.
//
// A connection that ends leaves the poller: its reconnect, and the reading
// of the new connection, run on a goroutine (read.go), as they did before.

// poller owns the reading of the connections added to it until each ends,
// or until stop.
type poller struct {
	frame  frameFunc // what a message goes to
	after  func()    // called after the frames of each wait (releaseIfHeld)
	log    *slog.Logger
	epfd   int
	wakefd int // an eventfd: written by stop
	buf    []byte

	// conns are the connections read, by token: add fills it before
	// run, and from then on only run's goroutine touches it.
	conns map[uint64]*polled
	next  uint64

	wakeMu  sync.Mutex // orders stop's wake-up before run's close
	stopped bool       // guarded by wakeMu
	closed  bool       // guarded by wakeMu
}

// polled is one connection's reading state in the poller.
type polled struct {
	token       uint64
	p           *peer
	ws          *websocket.Conn
	rs          *rawSocket
	partial     []byte // the start of a frame the last read ended in
	msg         []byte // a fragmented message's payload so far
	fragmented  bool
	lastRefused string
}

// wakeToken is the eventfd's token; connections count from 1.
const wakeToken = 0

// maxFrame bounds what one message may be; a bigger one ends the
// connection as the server's fault (gorilla's reader has no bound at all).
const maxFrame = 64 << 20

// newPoller returns a poller whose messages go to frame, calling after
// once the frames one wait brought are handled, or nil (and why) where it
// cannot have one: the connections then get a goroutine reader each.
func newPoller(frame frameFunc, after func(), log *slog.Logger) (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setToken(&ev, wakeToken)
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(wakefd)
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	return &poller{frame: frame, after: after, log: log, epfd: epfd, wakefd: wakefd, buf: make([]byte, 64<<10), conns: map[uint64]*polled{}, next: 1}, nil
}

// add hands p's connection to the poller; false means the poller cannot
// read it (TLS, or its handshake left unknown bytes), so a goroutine must.
// Call it before run, for connections nothing has read yet.
func (pl *poller) add(p *peer) bool {
	hc, ok := p.ws.NetConn().(*handshakeConn)
	if !ok {
		return false
	}
	after, known := hc.leftover()
	if !known {
		return false
	}
	rs, err := detach(hc)
	if err != nil {
		return false
	}
	c := &polled{token: pl.next, p: p, ws: p.ws, rs: rs, partial: after}
	pl.next++
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP}
	setToken(&ev, c.token)
	if err := rs.control(func(fd int) error { return unix.EpollCtl(pl.epfd, unix.EPOLL_CTL_ADD, fd, &ev) }); err != nil {
		// Detached but not polled: a goroutine reader's first read fails,
		// and its reconnect brings a connection it can read.
		return false
	}
	pl.conns[c.token] = c
	return true
}

// run reads until stop; ended is how a connection that ends is handed on
// (to a goroutine that reconnects it). It closes the poller's descriptors
// when it returns.
func (pl *poller) run(ended func(p *peer, err error, lastRefused string)) {
	// Its own thread, at the senders' priority: a frame read late is
	// latency the server did not cause, so on a full core the reading
	// must not wait behind the sending (pinThread).
	pinThread()
	defer func() {
		pl.wakeMu.Lock()
		defer pl.wakeMu.Unlock()
		pl.closed = true
		_ = unix.Close(pl.epfd)
		_ = unix.Close(pl.wakefd)
	}()
	// What came with a handshake response is in no socket any more, so
	// epoll will not report it: handle it first.
	for _, c := range pl.conns {
		if len(c.partial) == 0 {
			continue
		}
		if err := pl.consume(c, nil, time.Now()); err != nil {
			pl.remove(c)
			ended(c.p, err, c.lastRefused)
		}
	}
	pl.after()
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(pl.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			pl.log.Error("driver: the poller stopped; the replay cannot read its connections", "err", err)
			return
		}
		for i := range events[:n] {
			tok := token(&events[i])
			if tok == wakeToken {
				return
			}
			c := pl.conns[tok]
			if c == nil {
				continue
			}
			if err := pl.readOnce(c); err != nil {
				pl.remove(c)
				ended(c.p, err, c.lastRefused)
			}
		}
		pl.after()
	}
}

// stop makes run return (it then reads no more). Any goroutine may call
// it, more than once, also after run returned.
func (pl *poller) stop() {
	pl.wakeMu.Lock()
	defer pl.wakeMu.Unlock()
	if pl.closed || pl.stopped {
		return // the descriptor may be another file's by now
	}
	pl.stopped = true
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(pl.wakefd, one[:])
}

func (pl *poller) remove(c *polled) {
	_ = c.rs.control(func(fd int) error { return unix.EpollCtl(pl.epfd, unix.EPOLL_CTL_DEL, fd, nil) })
	delete(pl.conns, c.token)
}

// readOnce reads what c's socket holds (one read: if more is left, epoll
// reports the connection again) and handles every whole frame; an error
// means the connection ended.
func (pl *poller) readOnce(c *polled) error {
	n, err := c.rs.read(pl.buf)
	switch {
	case err == unix.EAGAIN:
		return nil
	case err != nil:
		return err
	case n == 0:
		return io.ErrUnexpectedEOF // as gorilla reports a connection closed without a close frame
	}
	return pl.consume(c, pl.buf[:n], time.Now())
}

// consume handles every whole frame of c's partial frame followed by read,
// received at now, and keeps what is left of the last one.
func (pl *poller) consume(c *polled, read []byte, now time.Time) error {
	data := read
	if len(c.partial) > 0 {
		c.partial = append(c.partial, read...)
		data = c.partial
	}
	rest, err := pl.frames(c, data, now)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		c.partial = c.partial[:0]
	} else {
		c.partial = append(c.partial[:0:0], rest...) // rest may be the shared buffer
	}
	return nil
}

// frames handles every whole frame at the start of data and returns what
// is left (the start of a frame).
func (pl *poller) frames(c *polled, data []byte, now time.Time) ([]byte, error) {
	for {
		h, ok, err := parseHeader(data)
		if err != nil {
			return nil, pl.protocolError(c, err)
		}
		if !ok || uint64(len(data)-h.size) < h.length {
			return data, nil
		}
		payload := data[h.size : h.size+int(h.length)]
		data = data[h.size+int(h.length):]
		if err := pl.handle(c, h, payload, now); err != nil {
			return nil, err
		}
	}
}

// handle acts on one frame: a message (or its last fragment) goes to the
// scheduler, a ping is answered, a close ends the connection.
func (pl *poller) handle(c *polled, h header, payload []byte, now time.Time) error {
	switch h.op {
	case websocket.TextMessage, websocket.BinaryMessage:
		if c.fragmented {
			return pl.protocolError(c, errors.New("data frame inside a fragmented message"))
		}
		if !h.fin {
			c.fragmented = true
			c.msg = append(c.msg[:0], payload...)
			return nil
		}
		c.lastRefused = pl.frame(c.p, payload, now)
	case 0: // continuation
		if !c.fragmented {
			return pl.protocolError(c, errors.New("continuation frame without a message"))
		}
		if len(c.msg)+len(payload) > maxFrame {
			return pl.protocolError(c, fmt.Errorf("message over %d bytes", maxFrame))
		}
		c.msg = append(c.msg, payload...)
		if h.fin {
			c.fragmented = false
			c.lastRefused = pl.frame(c.p, c.msg, now)
		}
	case websocket.PingMessage:
		// As gorilla's default ping handler does.
		_ = c.ws.WriteControl(websocket.PongMessage, payload, time.Now().Add(time.Second))
	case websocket.PongMessage:
	case websocket.CloseMessage:
		ce := &websocket.CloseError{Code: websocket.CloseNoStatusReceived}
		if len(payload) >= 2 {
			ce.Code = int(binary.BigEndian.Uint16(payload))
			if utf8.Valid(payload[2:]) {
				ce.Text = string(payload[2:])
			}
		}
		// As gorilla's default close handler does: answer with the code.
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(ce.Code, ""), time.Now().Add(time.Second))
		return ce
	default:
		return pl.protocolError(c, fmt.Errorf("unknown opcode %d", h.op))
	}
	return nil
}

// protocolError closes c as gorilla does on a frame it cannot read, and
// returns the error the connection ends with.
func (pl *poller) protocolError(c *polled, err error) error {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseProtocolError, err.Error()), time.Now().Add(time.Second))
	return fmt.Errorf("websocket: %w", err)
}

// header is a WebSocket frame's header (RFC 6455, section 5.2).
type header struct {
	fin    bool
	op     int
	length uint64 // of the payload
	size   int    // of the header
}

// parseHeader parses the frame header at the start of data; ok is false
// when data does not hold all of it yet. A server's frames are never
// masked, and no extension was negotiated, so the reserved bits are zero.
func parseHeader(data []byte) (h header, ok bool, err error) {
	if len(data) < 2 {
		return h, false, nil
	}
	b0, b1 := data[0], data[1]
	h.fin, h.op = b0&0x80 != 0, int(b0&0x0f)
	if b0&0x70 != 0 {
		return h, false, errors.New("reserved bits set (no extension was negotiated)")
	}
	if b1&0x80 != 0 {
		return h, false, errors.New("masked frame from the server")
	}
	h.size = 2
	switch n := b1 & 0x7f; n {
	case 126:
		h.size += 2
		if len(data) < h.size {
			return h, false, nil
		}
		h.length = uint64(binary.BigEndian.Uint16(data[2:]))
	case 127:
		h.size += 8
		if len(data) < h.size {
			return h, false, nil
		}
		h.length = binary.BigEndian.Uint64(data[2:])
	default:
		h.length = uint64(n)
	}
	if h.op >= websocket.CloseMessage && (h.length > 125 || !h.fin) {
		return h, false, errors.New("control frame too long or fragmented")
	}
	if h.length > maxFrame {
		return h, false, fmt.Errorf("frame over %d bytes", maxFrame)
	}
	return h, true, nil
}

func setToken(ev *unix.EpollEvent, tok uint64) {
	ev.Fd = int32(uint32(tok))
	ev.Pad = int32(uint32(tok >> 32))
}

func token(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}
