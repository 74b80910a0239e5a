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
// starts and waits for. Only the writer writes data frames; everybody else
// queues frames with enqueue.
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

	send       chan []byte
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
	}
	if claims != nil {
		c.authed.Store(true)
	}
	return c
}

// enqueue queues frame for the writer without blocking. A full queue means
// the client reads slower than events arrive: the frame is dropped, counted,
// and the connection closed (1013), so one slow client cannot hold up an
// emit to everybody else.
func (c *Conn) enqueue(frame []byte) bool {
	select {
	case <-c.closing:
		return false
	default:
	}
	select {
	case c.send <- frame:
		return true
	default:
		c.srv.m.drops.Inc()
		c.close(websocket.CloseTryAgainLater, "slow consumer: send queue full", false, reasonSlow)
		return false
	}
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
			if err := c.write(f); err != nil {
				c.fail()
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.srv.cfg.WriteTimeout)); err != nil {
				c.fail()
				return
			}
		case <-c.closing:
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
			if c.write(f) != nil {
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
