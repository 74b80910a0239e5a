// Package socket is the WebSocket front door both paths share: it
// authenticates connections, keeps a room per conversation, validates
// client frames, relays chat messages to the other participants, acks, and
// hands every accepted message to a Dispatcher — the one thing the direct
// and the queue path do differently. Events come back through the Hub.
//
// Where a message goes after it is read: Server.ServeHTTP → Conn.readLoop →
// Conn.handle → Broker.Lookup (members, accepted and relayed ids) → (relay
// via Hub.Emit → Broker.Publish → Hub.Deliver on every instance) →
// Dispatcher.Dispatch → ack.
package socket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/chat"
)

// Dispatcher takes accepted messages to their jobs. Dispatch is called on
// the connection's reader goroutine, once per accepted message, in arrival
// order; it must not wait for jobs to run. A nil error means the message is
// accepted and the client is acked; otherwise the client gets an error frame
// (chat.ErrOverloaded, chat.ErrUnavailable and chat.ErrShuttingDown map to
// retryable codes). ctx ends when the connection closes.
type Dispatcher interface {
	Dispatch(ctx context.Context, msg *chat.Message) error
}

// Admitter is a Dispatcher that can tell before the relay that it will
// refuse a message: for good (the queue path: a body its queue cannot
// carry) or for now (overloaded: a conversation's or a user's work
// outstanding, both paths). The front door calls Admit for every send, on
// the connection's reader goroutine, before relaying it; an error refuses
// the message as a Dispatch error would, with no relay and no jobs.
type Admitter interface {
	Admit(msg *chat.Message) error
}

// Recorder is told of every message the front door accepted: bench/trace's
// trace recorder implements it, so the front door need not know the trace
// format. Record is called after the message was dispatched successfully and
// before it is acked, on the connection's reader goroutine — from many
// connections at once, so it must be safe for concurrent use, and it should
// not block. It must not modify or keep msg.
type Recorder interface {
	Record(msg *chat.Message)
}

// Server is the front door: an http.Handler that upgrades to WebSocket.
// It is safe for concurrent use.
type Server struct {
	cfg      Config
	hub      *Hub
	log      *slog.Logger
	m        *metrics
	upgrader websocket.Upgrader
	nextID   atomic.Uint64
	broker   Broker                 // the hub's: shared state (broker.go)
	limiter  ConnLimiter            // the per-user cap: the broker's, or this process's (limit.go)
	resends  *prometheus.CounterVec // chatbench_resends_total (accepted.go)

	mu       sync.Mutex
	closed   bool
	conns    map[*Conn]struct{}
	handlers sync.WaitGroup
}

// NewServer checks cfg (see Config.Validate) and returns a Server.
func NewServer(cfg Config) (*Server, error) {
	switch {
	case cfg.Hub == nil:
		return nil, errors.New("socket: Config.Hub is required")
	case cfg.Dispatcher == nil:
		return nil, errors.New("socket: Config.Dispatcher is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	s := &Server{cfg: cfg, hub: cfg.Hub, broker: cfg.Hub.broker, log: cfg.Logger, m: newMetrics(cfg.Registerer), conns: make(map[*Conn]struct{})}
	s.resends = newResendsCounter(cfg.Registerer)
	// A broker that shares the per-user cap applies it across instances;
	// otherwise each process counts its own.
	var ok bool
	if s.limiter, ok = s.broker.(ConnLimiter); !ok {
		s.limiter = NewMemoryBroker(ResumeConfig{})
	}
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		CheckOrigin:     s.checkOrigin,
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			writeHTTPError(w, status, "bad_handshake", reason.Error())
		},
	}
	return s, nil
}

// Hub returns the server's hub.
func (s *Server) Hub() *Hub { return s.hub }

func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if len(s.cfg.AllowedOrigins) > 0 {
		return slices.Contains(s.cfg.AllowedOrigins, "*") || slices.Contains(s.cfg.AllowedOrigins, origin)
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

func writeHTTPError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}

// ServeHTTP upgrades the request and runs the connection until it closes.
// A token may come in the Authorization header ("Bearer <token>") or, for
// browsers, in an auth frame.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeHTTPError(w, http.StatusServiceUnavailable, chat.CodeShuttingDown, "server is shutting down; reconnect later")
		return
	}
	s.handlers.Add(1)
	s.mu.Unlock()
	defer s.handlers.Done()

	var claims *Claims
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		var err error
		if ok {
			claims, err = VerifyToken(s.cfg.Secret, tok, time.Now())
		}
		if !ok || err != nil {
			s.m.errors.WithLabelValues(chat.CodeBadToken).Inc()
			writeHTTPError(w, http.StatusUnauthorized, chat.CodeBadToken, tokenErrMsg(err))
			return
		}
		release, ok := s.admitUserHTTP(w, claims.User)
		if !ok {
			return
		}
		defer release()
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := newConn(s, ws, s.nextID.Add(1), claims)
	if !s.register(c) {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server is shutting down"), time.Now().Add(time.Second))
		_ = ws.Close()
		return
	}
	s.log.Debug("connection opened", "conn", c.id, "authenticated", claims != nil)
	go c.writeLoop()
	c.readLoop()
	c.close(websocket.CloseNormalClosure, "", false, reasonClient)
	<-c.writerDone
	s.hub.removeAll(c, c.joined)
	_ = ws.Close()
	s.unregister(c)
}

func tokenErrMsg(err error) string {
	if err == nil {
		return "Authorization header must be \"Bearer <token>\"; mint a token with `chatbench token`"
	}
	return err.Error() + "; mint a new one with `chatbench token`"
}

func (s *Server) register(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.m.conns.Inc()
	s.m.opened.Inc()
	return true
}

func (s *Server) unregister(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.m.conns.Dec()
	s.m.disconnects.WithLabelValues(c.closeWhy).Inc()
	s.log.Debug("connection closed", "conn", c.id, "reason", c.closeWhy)
}

// Conns returns the number of open connections.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Shutdown refuses new connections, then closes every connection with
// 1001 (going away) after flushing its send queue, and waits for their
// goroutines until ctx ends. Call it after the dispatcher has drained, so
// the last events reach their clients. It is safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close(websocket.CloseGoingAway, "server shutting down", true, reasonShutdown)
	}
	done := make(chan struct{})
	go func() {
		s.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		// Stop waiting for peers that do not answer: end their sockets so
		// the handler goroutines finish, then wait for them.
		s.mu.Lock()
		for c := range s.conns {
			_ = c.ws.NetConn().SetDeadline(time.Now())
		}
		s.mu.Unlock()
		<-done
		return fmt.Errorf("socket: shutdown: %w", ctx.Err())
	}
}
