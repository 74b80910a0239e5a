package socket

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/chat"
)

// Conn is one client connection. Its reader runs on the HTTP handler's
// goroutine (Server.ServeHTTP); its writer is a goroutine that goroutine
// starts and waits for. Frames are given to enqueue, which writes a small
// frame itself when nothing is queued or being written and the socket has
// room (enqueue's comment says why), and otherwise queues it for the
// writer.
type Conn struct {
	srv *Server
	ws  *websocket.Conn
	id  uint64

	// claims is set once, by the reader, before the connection can join a
	// room; the hub reads it under its lock after that.
	claims *Claims
	authed atomic.Bool
	joined map[string]bool // reader goroutine only

	limit       rateLimiter // reader goroutine only
	releaseSlot func()      // gives back the connection slot admitUserFrame took; reader only

	ctx    context.Context // cancelled when the connection closes
	cancel context.CancelFunc

	send chan []byte
	// wmu is held for every data frame written, by the writer or by an
	// emitter writing directly; queued counts the frames in send or being
	// written by the writer, so that a direct write never overtakes one.
	// wclosed (guarded by wmu) is set once the writer began closing: no
	// data frame may follow its close frame. fits reports whether the
	// socket takes a frame without waiting (nil: never write directly);
	// call it under wmu.
	wmu     sync.Mutex
	queued  atomic.Int64
	wclosed bool
	fits    func(n int) bool

	closing    chan struct{}
	closeOnce  sync.Once
	closeCode  int
	closeText  string
	closeWhy   string
	drain      bool
	writerDone chan struct{}
}

func newConn(s *Server, ws *websocket.Conn, id uint64, claims *Claims) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		srv: s, ws: ws, id: id, claims: claims, joined: make(map[string]bool),
		ctx: ctx, cancel: cancel,
		send: make(chan []byte, s.cfg.SendQueue), closing: make(chan struct{}), writerDone: make(chan struct{}),
		fits: sendQueueProbe(ws.NetConn()),
	}
	if claims != nil {
		c.authed.Store(true)
	}
	return c
}

// enqueue sends frame without blocking on the client. When nothing is
// queued or being written on c, the frame is small and the socket's
// kernel send queue empty (so the write cannot wait for the client), it
// writes the frame itself, on the emitting goroutine: a frame
// handed to the writer waits for that goroutine to be woken and scheduled,
// about a tenth of a millisecond on a busy 2-core VM, and costs a wake-up
// per frame (docs/performance.md, "The direct path's own overhead").
// Otherwise it queues frame for the writer. A full queue means the client
// reads slower than events arrive: the frame is dropped, counted, and the
// connection closed (1013), so one slow client cannot hold up an emit to
// everybody else.
func (c *Conn) enqueue(frame []byte) bool {
	select {
	case <-c.closing:
		return false
	default:
	}
	if written, ok := c.writeNow(frame); ok {
		return written
	}
	c.queued.Add(1)
	select {
	case c.send <- frame:
		return true
	default:
		c.queued.Add(-1)
		c.srv.m.drops.Inc()
		c.close(websocket.CloseTryAgainLater, "slow consumer: send queue full", false, reasonSlow)
		return false
	}
}

// directFrameMax bounds a direct write (writeNow): a frame that fits
// gorilla's 4 KiB write buffer with its header (at most 14 bytes from a
// server) goes out in one system call.
const directFrameMax = 4<<10 - 14

// writeNow writes frame on the calling goroutine when it can do so at once
// and in order: ok false means it did not try and the frame must be
// queued; written reports whether the write succeeded (a failed write ends
// the connection).
func (c *Conn) writeNow(frame []byte) (written, ok bool) {
	if c.fits == nil || len(frame) > directFrameMax || c.queued.Load() != 0 || !c.wmu.TryLock() {
		return false, false
	}
	defer c.wmu.Unlock()
	// A frame queued meanwhile is written first: nothing may overtake it.
	if c.wclosed || c.queued.Load() != 0 {
		return false, false
	}
	// A socket whose peer has not acknowledged everything may be full:
	// the write could wait for the client, holding up the emitter.
	if !c.fits(len(frame)) {
		return false, false
	}
	if err := c.write(frame); err != nil {
		c.fail()
		return false, true
	}
	return true, true
}

// close asks the writer to (optionally flush the send queue,) send a close
// frame with code and end the connection. Only the first call counts.
func (c *Conn) close(code int, text string, drain bool, why string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText, c.drain, c.closeWhy = code, text, drain, why
		close(c.closing)
		c.cancel()
	})
}

// closeGrace is how long the writer waits for the peer's close frame after
// sending its own before the reader gives up.
const closeGrace = time.Second

func (c *Conn) writeLoop() {
	defer close(c.writerDone)
	ping := time.NewTicker(c.srv.cfg.PongTimeout * 9 / 10)
	defer ping.Stop()
	for {
		select {
		case f := <-c.send:
			c.wmu.Lock()
			err := c.write(f)
			c.queued.Add(-1)
			c.wmu.Unlock()
			if err != nil {
				c.fail()
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.srv.cfg.WriteTimeout)); err != nil {
				c.fail()
				return
			}
		case <-c.closing:
			// From here on only this goroutine writes data frames.
			c.wmu.Lock()
			c.wclosed = true
			c.wmu.Unlock()
			if c.drain {
				c.flush()
			}
			if c.closeCode != 0 {
				msg := websocket.FormatCloseMessage(c.closeCode, c.closeText)
				_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.srv.cfg.WriteTimeout))
			}
			// The reader ends when the peer answers the close frame, or at
			// this deadline if it does not.
			_ = c.ws.NetConn().SetReadDeadline(time.Now().Add(closeGrace))
			return
		}
	}
}

func (c *Conn) flush() {
	for {
		select {
		case f := <-c.send:
			err := c.write(f)
			c.queued.Add(-1)
			if err != nil {
				return
			}
		default:
			return
		}
	}
}

func (c *Conn) write(f []byte) error {
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
	return c.ws.WriteMessage(websocket.TextMessage, f)
}

// fail ends a connection whose socket broke: no close frame can be sent.
func (c *Conn) fail() {
	c.close(0, "", false, reasonError)
	_ = c.ws.NetConn().SetReadDeadline(time.Now())
}

// sendError queues an error frame and counts it.
func (c *Conn) sendError(e *chat.ProtocolError) {
	c.srv.m.errors.WithLabelValues(e.Code).Inc()
	c.srv.log.Debug("protocol error", "conn", c.id, "code", e.Code, "ref_len", len(e.Ref))
	c.enqueue(chat.EncodeError(e))
}

// dispatchError maps a dispatcher's error to what the client is told.
func dispatchError(err error, ref string) *chat.ProtocolError {
	if pe := chat.AsProtocolError(err); pe != nil {
		return pe
	}
	switch {
	case errors.Is(err, chat.ErrOverloaded):
		return chat.Errorf(chat.CodeOverloaded, ref, "server at capacity; resend the same frame later")
	case errors.Is(err, chat.ErrShuttingDown):
		return chat.Errorf(chat.CodeShuttingDown, ref, "server is shutting down; reconnect and resend the same frame")
	default:
		return chat.Errorf(chat.CodeUnavailable, ref, "could not hand the message to its jobs; resend the same frame later")
	}
}
