package driver

import (
	"errors"
	"strconv"

	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/chat"
)

// Frames the server refuses with a close (docs/protocol.md, "Close
// codes"): 1009 for a frame over its limit, 1008 for a policy (persistent
// rate-limit abuse). Resending such a frame would only be refused again —
// a trace message over the limit once made the driver reconnect thousands
// of times — so it is recorded as rejected (frame_too_large, or
// close_1008) and left out of the reconnect, which resends the user's
// other unanswered messages once. With Config.NoResend nothing is tracked,
// and the frame stays unacked like the rest.

// refusedBy returns the unanswered message of p that a close with code
// refused, and the code its rejection is counted under; ok is false when
// the close refuses none. lastRefused is the id named by the error frame
// the connection received last before the close ("" if its last frame was
// no error).
//
// The server reads a connection's frames in order. On a frame over its
// limit it closes with 1009 at once, without flushing the answers queued
// for earlier frames, so the refused frame is one of the unanswered ones
// and bigger than the limit: the biggest unanswered frame is then bigger
// than the limit too (were another one, it is refused on the next
// connection). Before a 1008 the server flushes what it queued, ending with
// the refusal of the frame it closed on: lastRefused.
func (p *peer) refusedBy(code int, lastRefused string) (id, why string, ok bool) {
	p.rs.mu.Lock()
	defer p.rs.mu.Unlock()
	switch code {
	case websocket.CloseMessageTooBig:
		biggest := -1
		for _, pid := range p.rs.order {
			r, pending := p.rs.pending[pid]
			if !pending {
				continue
			}
			if n := r.FrameSize(); n > biggest {
				id, biggest = pid, n
			}
		}
		return id, chat.CodeFrameTooLarge, biggest >= 0
	case websocket.ClosePolicyViolation:
		if _, pending := p.rs.pending[lastRefused]; pending {
			return lastRefused, "close_" + strconv.Itoa(code), true
		}
	}
	return "", "", false
}

// refused records as rejected the message of p that the close ending its
// connection with err refused, if any (refusedBy), so the reconnect does
// not resend it.
func (s *scheduler) refused(p *peer, err error, lastRefused string) {
	var ce *websocket.CloseError
	if s.cfg.NoResend || !errors.As(err, &ce) {
		return
	}
	id, why, ok := p.refusedBy(ce.Code, lastRefused)
	if !ok {
		return
	}
	p.answered(id, false)
	s.led.Rejected(p.user, id, why)
	s.cfg.Logger.Warn("the server closed the connection on a message: counted rejected, not resent",
		"user", p.user, "id", id, "close_code", ce.Code, "code", why)
}
