// Package serve holds the lifecycle chatbench's server processes share: an
// http.Handler on a listener with an owned serve goroutine and an idempotent
// Shutdown (serve.go), and the front door both paths start through — hub,
// WebSocket front door, /metrics and /healthz on one listener, shut down in
// one order — with only the path's dispatcher handed in (front.go).
package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is a running HTTP server.
type Server struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
	err  error // from Serve, read after done

	once    sync.Once
	shutErr error
}

// Listen listens on addr (e.g. "127.0.0.1:0") and serves h until Shutdown.
func Listen(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return Serve(ln, h), nil
}

// ListenTLS is Listen over TLS with cfg (nil cfg = plain Listen). The
// server then speaks HTTP/1.1 only, which WebSocket upgrades need.
func ListenTLS(addr string, h http.Handler, cfg *tls.Config) (*Server, error) {
	if cfg == nil {
		return Listen(addr, h)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	return Serve(tls.NewListener(ln, cfg), h), nil
}

// Serve serves h on ln until Shutdown.
func Serve(ln net.Listener, h http.Handler) *Server {
	return ServeWith(ln, &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second})
}

// ServeWith serves srv — its handler and timeouts — on ln until Shutdown.
func ServeWith(ln net.Listener, srv *http.Server) *Server {
	s := &Server{
		ln:   ln,
		srv:  srv,
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.err = err
		}
	}()
	return s
}

// Addr returns the listening address, host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting, waits for in-flight HTTP requests until ctx
// ends, and waits for the serve goroutine. Hijacked connections (WebSocket)
// are not waited for: their owner closes them. Safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.once.Do(func() {
		err := s.srv.Shutdown(ctx)
		if err != nil {
			_ = s.srv.Close()
		}
		<-s.done
		s.shutErr = errors.Join(err, s.err)
	})
	return s.shutErr
}
