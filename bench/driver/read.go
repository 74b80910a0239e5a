package driver

import (
	"io"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/chat"
)

// read decodes p's frames into the ledger until the connection ends (and
// then reconnects, resend.go, after recording a frame the close refused,
// refuse.go). This is the reader of a connection the poller does not own
// (poll_linux.go): a wss:// one, one after a reconnect, or any with
// Config.GoroutineReaders.
func (s *scheduler) read(p *peer) {
	p.wmu.Lock()
	ws := p.ws
	p.wmu.Unlock()
	s.readFrom(p, ws)
}

// readFrom is read from ws on.
func (s *scheduler) readFrom(p *peer, ws *websocket.Conn) {
	var data []byte   // reused: the decoder copies what it keeps
	lastRefused := "" // what frame reported for the last frame (refuse.go)
	for {
		var err error
		data, err = readMessage(ws, data[:0])
		if err != nil {
			if ws = s.ended(p, err, lastRefused); ws == nil {
				return
			}
			lastRefused = ""
			continue
		}
		lastRefused = s.frame(p, data, time.Now())
		s.releaseIfHeld()
	}
}

// releaseIfHeld has runReleases release held messages whose users are
// owed nothing any more (hold.go), if any are held. Readers call it after
// the frames they handled, which may have settled what was owed. The
// sending is not theirs: a write may wait for a slow server, and the
// poller reads every connection.
func (s *scheduler) releaseIfHeld() {
	if s.heldNow.Load() > 0 {
		select {
		case s.releaseWake <- struct{}{}:
		default: // a release is due already
		}
	}
}

// runReleases releases held messages whenever a reader asks, until the
// replay ends.
func (s *scheduler) runReleases() {
	for {
		select {
		case <-s.stop:
			return
		case <-s.releaseWake:
			s.releaseHeld()
		}
	}
}

// ended handles the end of p's connection with err: it records the frame
// the close refused, if any, and reconnects. It returns the new
// connection, or nil when there is none (reconnect).
func (s *scheduler) ended(p *peer, err error, lastRefused string) *websocket.Conn {
	p.dead.Store(true)
	s.refused(p, err, lastRefused)
	return s.reconnect(p)
}

// frameFunc is scheduler.frame's type, which the poller calls.
type frameFunc func(p *peer, data []byte, now time.Time) (refusedID string)

// frame records the server frame data, received at now, from p's
// connection in the ledger (releaseIfHeld is the caller's). It returns the id the frame refused (an
// error frame's), else "": what refused needs to know about the frame
// before a close.
func (s *scheduler) frame(p *peer, data []byte, now time.Time) (refusedID string) {
	led := s.led
	f, err := chat.DecodeServerFrame(data)
	if err != nil {
		return ""
	}
	if f.Op == chat.OpError {
		refusedID = f.ReplyTo
	}
	if f.LastSeq != 0 || (f.Event != nil && f.Event.Seq != 0) {
		s.sawSeq(p, f)
	}
	if internal(f.ReplyTo) {
		return refusedID // the driver's own re-joins are not part of the trace
	}
	switch f.Op {
	case chat.OpEvent:
		led.Event(p.user, f, now)
	case chat.OpAck:
		p.answered(f.ReplyTo, true)
		led.Acked(p.user, f.ReplyTo, f.Members)
	case chat.OpError:
		if f.ReplyTo == "" {
			break
		}
		if !s.cfg.NoResend && p.retryable(f.ReplyTo, f.Code, f.Retryable) && s.retryLater(p, f.ReplyTo) {
			break // still unanswered: the retry (or a reconnect) sends it again
		}
		p.answered(f.ReplyTo, false)
		led.Rejected(p.user, f.ReplyTo, f.Code)
	}
	return refusedID
}

// readMessage appends ws's next message to buf, which it grows as needed
// (gorilla's ReadMessage allocates a new slice per message instead).
func readMessage(ws *websocket.Conn, buf []byte) ([]byte, error) {
	_, r, err := ws.NextReader()
	if err != nil {
		return buf, err
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
