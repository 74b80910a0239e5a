package socket

import (
	"context"
	"errors"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/chat"
)

// readLoop reads client frames until the connection ends. It is the only
// reader of c.ws and runs on the HTTP handler goroutine.
func (c *Conn) readLoop() {
	cfg := &c.srv.cfg
	c.ws.SetReadLimit(cfg.MaxFrameBytes)
	_ = c.ws.SetReadDeadline(time.Now().Add(cfg.PongTimeout))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(cfg.PongTimeout))
	})
	defer c.releaseUser()
	if !c.authed.Load() {
		t := time.AfterFunc(cfg.AuthTimeout, func() {
			if !c.authed.Load() {
				c.close(websocket.ClosePolicyViolation, "authenticate within "+cfg.AuthTimeout.String(), false, reasonAuthTimeout)
			}
		})
		defer t.Stop()
	}
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			// gorilla has already sent 1009 for an oversize frame.
			if errors.Is(err, websocket.ErrReadLimit) {
				c.srv.m.errors.WithLabelValues(chat.CodeFrameTooLarge).Inc()
				c.close(0, "", false, reasonTooLarge)
			}
			return
		}
		select {
		case <-c.closing: // closed from elsewhere (slow consumer, shutdown, auth timeout)
			c.awaitPeerClose()
			return
		default:
		}
		gatewayIn := chat.NowMicros()
		// Any frame shows the peer is alive, not only a pong.
		_ = c.ws.SetReadDeadline(time.Now().Add(cfg.PongTimeout))
		if ok, end := c.allowFrame(data); end {
			c.awaitPeerClose()
			return
		} else if !ok {
			continue
		}
		if mt != websocket.TextMessage {
			c.sendError(chat.Errorf(chat.CodeBinaryFrame, "", "binary frames are not part of the protocol; send JSON text frames"))
			continue
		}
		f, err := chat.DecodeClientFrame(data)
		if err != nil {
			c.sendError(chat.AsProtocolError(err))
			continue
		}
		if !c.handle(f, gatewayIn) {
			c.awaitPeerClose()
			return
		}
	}
}

// awaitPeerClose finishes the closing handshake after the server has asked
// to close: it reads and discards whatever the client still sends until the
// client's close frame (or any read error) arrives, at most closeGrace. Were
// the socket closed with client frames unread, the kernel would answer with
// a TCP reset, and the client could lose our close frame — and its code,
// which tells it why — before reading it. Frames read here are not acted on
// and not acked, so a resending client sends them again elsewhere.
func (c *Conn) awaitPeerClose() {
	c.ws.SetPongHandler(nil)
	_ = c.ws.SetReadDeadline(time.Now().Add(closeGrace))
	for {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			return
		}
	}
}

// handle acts on one valid client frame. It returns false when the
// connection must end.
func (c *Conn) handle(f *chat.ClientFrame, gatewayIn int64) bool {
	if f.Op == chat.OpAuth {
		return c.auth(f)
	}
	if !c.authed.Load() {
		c.sendError(chat.Errorf(chat.CodeNotAuthenticated, f.ID, "send {\"op\":\"auth\",\"token\":...} first, or connect with an Authorization: Bearer header"))
		return true
	}
	hub, cat := c.srv.hub, c.srv.hub.catalog
	switch f.Op {
	case chat.OpJoin:
		if !c.claims.MayJoin(f.Conv) {
			c.sendError(chat.Errorf(chat.CodeForbidden, f.ID, "your token does not allow conversation %q; mint one that lists it", f.Conv))
			return true
		}
		c.join(f, gatewayIn)
	case chat.OpLeave:
		if !hub.inRoom(c, f.Conv) {
			c.sendError(chat.Errorf(chat.CodeNotJoined, f.ID, "conversation %q was not joined on this connection", f.Conv))
			return true
		}
		// The broker is asked first, so that a refusal leaves the
		// connection in the room and a resend can leave it.
		ans, ok := c.lookup(f.ID, &Query{Conv: f.Conv, User: c.claims.User, ID: f.ID, Exit: hub.lastHere(c, f.Conv), Members: true})
		if !ok {
			return true
		}
		hub.leave(c, f.Conv)
		delete(c.joined, f.Conv)
		c.dispatch(c.message(f, chat.OpLeave, gatewayIn, ans.Members), nil, &ans)
	case chat.OpSend:
		t := cat.Type(f.Type)
		switch {
		case t == nil:
			c.sendError(chat.Errorf(chat.CodeUnknownType, f.ID, "message type %q is not in the catalog; see docs/catalog.md", chat.Truncate(f.Type, chat.MaxTypeLen)))
			return true
		case t.Op != chat.OpSend:
			c.sendError(chat.Errorf(chat.CodeBadField, f.ID, "type %q is sent with op %q, not send", t.Name, t.Op))
			return true
		case !t.CanSend(c.claims.Role):
			c.sendError(chat.Errorf(chat.CodeForbiddenType, f.ID, "role %s may not send type %q", c.claims.Role, t.Name))
			return true
		case !hub.inRoom(c, f.Conv):
			c.sendError(chat.Errorf(chat.CodeNotJoined, f.ID, "join conversation %q before sending to it", f.Conv))
			return true
		}
		// A message the dispatcher cannot take — never (too large for its
		// queue) or not now (a backlog bound: retryable) — is refused
		// before anything of it happens: no relay claimed or sent. A
		// resend of an accepted message meets the same check first, so at
		// a bound it is told overloaded and learns it was a duplicate on
		// the retry.
		msg := c.message(f, t.Name, gatewayIn, nil)
		if a, ok := c.srv.cfg.Dispatcher.(Admitter); ok {
			if err := a.Admit(msg); err != nil {
				c.sendError(dispatchError(err, msg.ID))
				return true
			}
		}
		ans, ok := c.lookup(f.ID, &Query{Conv: f.Conv, User: c.claims.User, ID: f.ID, Members: true, Relay: t.Relay})
		if !ok {
			return true
		}
		msg.Members = ans.Members
		// The relay is the front door's own work, done before and
		// whatever the dispatch — identical in both paths, so it is the
		// comparison's control group. A refusal concerns the message's
		// jobs; when the client resends the same id, the relay is not
		// repeated (the broker's relayed-id window).
		if t.Relay && ans.Relay {
			hub.Emit(chat.RelayEvent(msg))
		}
		c.dispatch(msg, nil, &ans)
	}
	return true
}

// join puts c in f.Conv's room, resuming after f.Since when it is set,
// and dispatches the join. The connection enters the room before the
// broker is asked, so that no event emitted meanwhile passes it by (with
// since, those are held until the replay is done: Hub.resume).
func (c *Conn) join(f *chat.ClientFrame, gatewayIn int64) {
	hub := c.srv.hub
	if !hub.enter(c, f.Conv, f.Since > 0) {
		// Joining twice is harmless and causes no jobs.
		if ans, ok := c.lookup(f.ID, &Query{Conv: f.Conv, User: c.claims.User, Members: true}); ok {
			c.enqueue(chat.EncodeJoinAck(f.ID, ans.Members, chat.Resume{LastSeq: ans.LastSeq}))
		}
		return
	}
	ans, ok := c.lookup(f.ID, &Query{Conv: f.Conv, User: c.claims.User, ID: f.ID, Enter: true, Members: true, Resume: f.Since > 0, Since: f.Since})
	if !ok {
		hub.part(c, f.Conv)
		return
	}
	res := hub.resume(c, f.Conv, f.Since, &ans)
	c.joined[f.Conv] = true
	if res.Gap || res.Replayed > 0 {
		c.srv.log.Debug("resumed", "conn", c.id, "conv", f.Conv, "replayed", res.Replayed, "gap", res.Gap)
	}
	if !c.dispatch(c.message(f, chat.OpJoin, gatewayIn, ans.Members), &res, &ans) {
		hub.part(c, f.Conv)
		delete(c.joined, f.Conv)
	}
}

// lookupTimeout bounds the broker's answer about one client frame.
const lookupTimeout = 2 * time.Second

// lookup asks the broker about a client frame (id); when it cannot
// answer, the client is told unavailable (retryable) and lookup reports
// false.
func (c *Conn) lookup(id string, q *Query) (Answer, bool) {
	ctx, cancel := context.WithTimeout(c.ctx, lookupTimeout)
	defer cancel()
	ans, err := c.srv.broker.Lookup(ctx, q)
	if err != nil {
		c.srv.log.Warn("broker lookup failed", "conn", c.id, "err", err)
		c.sendError(chat.Errorf(chat.CodeUnavailable, id, "the server cannot reach its broker (shared state) right now; resend the same frame later"))
		return Answer{}, false
	}
	return ans, true
}

func (c *Conn) auth(f *chat.ClientFrame) bool {
	if c.authed.Load() {
		c.sendError(chat.Errorf(chat.CodeAlreadyAuthed, f.ID, "this connection is already authenticated as %s; open a new connection for another user", c.claims.User))
		return true
	}
	claims, err := VerifyToken(c.srv.cfg.Secret, f.Token, time.Now())
	if err != nil {
		// An auth frame without a token can never authenticate, like one
		// whose token does not verify: the same refusal and close.
		msg := tokenErrMsg(err)
		if f.Token == "" {
			msg = "the auth frame has no token; send {\"op\":\"auth\",\"token\":\"<token>\"} with one minted by `chatbench token`"
		}
		c.sendError(chat.Errorf(chat.CodeBadToken, f.ID, "%s", msg))
		c.close(websocket.ClosePolicyViolation, "bad token", true, reasonBadToken)
		return false
	}
	if !c.admitUserFrame(claims.User, f.ID) {
		return false
	}
	c.claims = claims
	c.authed.Store(true)
	c.enqueue(chat.EncodeAck(f.ID, claims.User, nil))
	return true
}

func (c *Conn) message(f *chat.ClientFrame, typ string, gatewayIn int64, members []string) *chat.Message {
	c.srv.m.messagesIn.WithLabelValues(typ).Inc()
	return &chat.Message{
		ID: f.ID, Conv: f.Conv, From: c.claims.User, Role: c.claims.Role, Type: typ,
		Body: f.Body, SentAt: f.SentAt,
		Hops:    chat.Hops{ClientSent: f.SentAt, GatewayIn: gatewayIn},
		Members: members,
	}
}

// dispatch hands msg to the dispatcher and acks it, or sends the error. A
// join's ack carries what joining did to resume the conversation (res);
// ans is what the broker said about the message.
func (c *Conn) dispatch(msg *chat.Message, res *chat.Resume, ans *Answer) bool {
	if c.ackDuplicate(msg.ID, ans, res) { // a resend of an accepted message (accepted.go)
		return true
	}
	if err := c.srv.cfg.Dispatcher.Dispatch(c.ctx, msg); err != nil {
		pe := dispatchError(err, msg.ID)
		c.srv.log.Warn("dispatch failed", "conn", c.id, "msg", msg.ID, "type", msg.Type, "size", len(msg.Body), "code", pe.Code, "err", err)
		c.sendError(pe)
		return false
	}
	if r := c.srv.cfg.Recorder; r != nil {
		r.Record(msg)
	}
	c.srv.broker.Remember(msg.From, msg.ID, msg.Members)
	c.enqueue(encodeAck(msg.ID, msg.Members, res))
	return true
}

// encodeAck encodes the ack of a message; res, when not nil, is what its
// join did to resume the conversation.
func encodeAck(id string, members []string, res *chat.Resume) []byte {
	if res != nil {
		return chat.EncodeJoinAck(id, members, *res)
	}
	return chat.EncodeAck(id, "", members)
}
