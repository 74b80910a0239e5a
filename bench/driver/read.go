package driver

import (
	"io"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/chat"
)

// read decodes p's frames into the ledger until the connection ends (and
// then reconnects, resend.go, after recording a frame the close refused,
// refuse.go), and releases held messages whose users are owed nothing any
// more (hold.go).
func (s *scheduler) read(p *peer) {
	led := s.led
	p.wmu.Lock()
	ws := p.ws
	p.wmu.Unlock()
	var data []byte   // reused: the decoder copies what it keeps
	lastRefused := "" // the id the connection's last frame refused (refuse.go)
	for {
		var err error
		data, err = readMessage(ws, data[:0])
		if err != nil {
			p.dead.Store(true)
			s.refused(p, err, lastRefused)
			lastRefused = ""
			if ws = s.reconnect(p); ws == nil {
				return
			}
			continue
		}
		now := time.Now()
		f, err := chat.DecodeServerFrame(data)
		if err != nil {
			continue
		}
		lastRefused = ""
		if f.Op == chat.OpError {
			lastRefused = f.ReplyTo
		}
		if f.LastSeq != 0 || (f.Event != nil && f.Event.Seq != 0) {
			s.sawSeq(p, f)
		}
		if internal(f.ReplyTo) {
			continue // the driver's own re-joins are not part of the trace
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
		if s.heldNow.Load() > 0 {
			s.releaseHeld()
		}
	}
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
