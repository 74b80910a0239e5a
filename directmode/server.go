package directmode

import (
	"context"
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/internal/obs"
	"github.com/chatbench/chatbench/internal/serve"
	"github.com/chatbench/chatbench/socket"
)

// Server is a running direct-path server: the shared front door on /ws
// with a direct Dispatcher behind it, plus /metrics and /healthz.
type Server struct {
	hub   *socket.Hub
	front *socket.Server
	disp  *Dispatcher
	http  *serve.Server
	tls   bool

	once sync.Once
	err  error
}

// Start builds the hub, the dispatcher and the front door and serves them on
// addr. front.Hub and front.Dispatcher, and direct.Emitter, are filled in
// here; the metrics served on /metrics come from gatherer.
func Start(addr string, front socket.Config, direct Config, gatherer prometheus.Gatherer) (*Server, error) {
	if direct.Catalog == nil {
		return nil, errors.New("directmode: Config.Catalog is required")
	}
	hub := socket.NewHub(direct.Catalog, front.Registerer, front.Resume)
	direct.Emitter = hub
	d, err := New(direct)
	if err != nil {
		return nil, err
	}
	front.Hub, front.Dispatcher = hub, d
	fs, err := socket.NewServer(front)
	if err != nil {
		_ = d.Shutdown(context.Background())
		return nil, err
	}
	mux := obs.Mux(gatherer)
	mux.Handle("/ws", fs)
	h, err := serve.ListenTLS(addr, mux, direct.TLS)
	if err != nil {
		_ = d.Shutdown(context.Background())
		return nil, err
	}
	return &Server{hub: hub, front: fs, disp: d, http: h, tls: direct.TLS != nil}, nil
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.http.Addr() }

// URL returns the WebSocket URL of the front door: wss:// when serving TLS.
func (s *Server) URL() string { return wsScheme(s.tls) + s.http.Addr() + "/ws" }

// MetricsURL returns the URL of /metrics (https:// when serving TLS).
func (s *Server) MetricsURL() string {
	if s.tls {
		return "https://" + s.http.Addr() + "/metrics"
	}
	return "http://" + s.http.Addr() + "/metrics"
}

func wsScheme(tls bool) string {
	if tls {
		return "wss://"
	}
	return "ws://"
}

// Front returns the front door (for tests and metrics).
func (s *Server) Front() *socket.Server { return s.front }

// Shutdown drains gracefully: it stops accepting messages, lets queued sync
// jobs and background tasks finish and emit (cancelling them when ctx
// ends), then closes every connection with 1001 after flushing its queue,
// and stops the HTTP server. Safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.once.Do(func() {
		s.err = errors.Join(
			s.disp.Shutdown(ctx),
			s.front.Shutdown(ctx),
			s.http.Shutdown(ctx),
		)
	})
	return s.err
}
