// Package echo is the benchmark's floor: a bare WebSocket server speaking
// just enough of the chat protocol (docs/protocol.md) for the driver, with
// no rooms, jobs or token checks. Each send is answered with one "echo"
// event to the sender and then an ack, so a replay through it measures the
// cost of the wire, the driver and the machine alone.
package echo

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/chat"
)

// Server is a running echo server. It is safe for concurrent use.
type Server struct {
	ln   net.Listener
	tls  bool
	http *http.Server
	up   websocket.Upgrader

	mu       sync.Mutex
	closed   bool
	conns    map[*websocket.Conn]struct{}
	handlers sync.WaitGroup
	served   chan struct{}
	once     sync.Once
	err      error
}

// Start listens on addr ("127.0.0.1:0" for any free port) and serves the
// echo protocol on /ws.
func Start(addr string) (*Server, error) { return StartTLS(addr, nil) }

// StartTLS is Start serving wss:// with cfg; nil cfg means plain ws://.
func StartTLS(addr string, cfg *tls.Config) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		cfg = cfg.Clone()
		cfg.NextProtos = []string{"http/1.1"}
		ln = tls.NewListener(ln, cfg)
	}
	s := &Server{ln: ln, tls: cfg != nil, conns: make(map[*websocket.Conn]struct{}), served: make(chan struct{})}
	// The same buffer sizes as the real front door (package socket).
	s.up = websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096, CheckOrigin: func(*http.Request) bool { return true }}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", s.serveWS)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.served)
		_ = s.http.Serve(ln)
	}()
	return s, nil
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL returns the server's WebSocket URL.
func (s *Server) URL() string {
	if s.tls {
		return "wss://" + s.Addr() + "/ws"
	}
	return "ws://" + s.Addr() + "/ws"
}

// Shutdown stops accepting connections, closes every connection with 1001
// and waits for their handlers (until ctx ends). Safe to call more than
// once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		for c := range s.conns {
			_ = c.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
			_ = c.NetConn().SetReadDeadline(time.Now().Add(time.Second))
		}
		s.mu.Unlock()
		s.err = s.http.Shutdown(ctx)
		done := make(chan struct{})
		go func() { s.handlers.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.mu.Lock()
			for c := range s.conns {
				_ = c.NetConn().Close()
			}
			s.mu.Unlock()
			<-done
			s.err = errors.Join(s.err, ctx.Err())
		}
		<-s.served
	})
	return s.err
}

// userOf reads the "sub" claim of a bearer token without verifying it.
func userOf(token string) string {
	p, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return ""
	}
	var c struct {
		Sub string `json:"sub"`
	}
	_ = json.Unmarshal(b, &c)
	return c.Sub
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	s.handlers.Add(1)
	s.mu.Unlock()
	defer s.handlers.Done()
	user := ""
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		user = userOf(tok)
	}
	c, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		in := chat.NowMicros()
		var f chat.ClientFrame
		if json.Unmarshal(data, &f) != nil {
			if c.WriteMessage(websocket.TextMessage, chat.EncodeError(chat.Errorf(chat.CodeBadJSON, "", "frame is not a JSON object"))) != nil {
				return
			}
			continue
		}
		var out [][]byte
		switch f.Op {
		case chat.OpAuth:
			user = userOf(f.Token)
			out = append(out, chat.EncodeAck(f.ID, user, nil))
		case chat.OpJoin, chat.OpLeave:
			out = append(out, chat.EncodeAck(f.ID, "", []string{user}))
		case chat.OpSend:
			ev := &chat.Event{Name: "echo", Job: "echo", Conv: f.Conv, From: user, Type: f.Type, Status: chat.StatusOK,
				ReplyTo: f.ID, Hops: chat.Hops{ClientSent: f.SentAt, GatewayIn: in}}
			ev.Hops.Emitted = chat.NowMicros()
			b, _ := chat.EncodeEvent(ev)
			out = append(out, b, chat.EncodeAck(f.ID, "", []string{user}))
		default:
			out = append(out, chat.EncodeError(chat.Errorf(chat.CodeUnknownOp, f.ID, "unknown op")))
		}
		for _, b := range out {
			if c.WriteMessage(websocket.TextMessage, b) != nil {
				return
			}
		}
	}
}
