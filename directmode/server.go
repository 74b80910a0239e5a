package directmode

import (
	"crypto/tls"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/internal/serve"
	"github.com/chatbench/chatbench/socket"
)

// ServerConfig configures Start. Zero values mean the documented defaults.
type ServerConfig struct {
	// Addr serves /ws, /metrics and /healthz. Required ("127.0.0.1:0" = a
	// free port).
	Addr string
	// Front configures the front door; its Hub and Dispatcher are filled in.
	Front socket.Config
	// Dispatcher configures the direct dispatcher: Catalog is required (the
	// hub uses it too), Emitter is filled in (the hub).
	Dispatcher Config
	// Gatherer is served on /metrics. Nil means an empty registry.
	Gatherer prometheus.Gatherer
	// TLS, when set, serves Addr over TLS: wss:// and https:// metrics.
	// Nil means plain TCP.
	TLS *tls.Config
}

// Server is a running direct-path server: the shared front door on /ws
// with a direct Dispatcher behind it, plus /metrics and /healthz. Its
// accessors (URL, MetricsURL, Front…) and its Shutdown are the front
// door's: the paths differ only in the dispatcher. Shutdown drains
// gracefully: it stops accepting messages, lets queued sync jobs and
// background tasks finish and emit (cancelling them when ctx ends), then
// closes every connection with 1001 after flushing its queue, and stops
// the HTTP server.
type Server struct {
	*serve.FrontDoor
}

// Start checks cfg, builds the hub, the direct dispatcher and the front
// door, and serves them on cfg.Addr.
func Start(cfg ServerConfig) (*Server, error) {
	// Every problem at once, before anything starts.
	if err := errors.Join(cfg.Dispatcher.validate(), cfg.Front.Validate()); err != nil {
		return nil, err
	}
	door, err := serve.StartFrontDoor(serve.FrontDoorConfig{
		Addr: cfg.Addr, Catalog: cfg.Dispatcher.Catalog, Front: cfg.Front, Gatherer: cfg.Gatherer, TLS: cfg.TLS,
	}, func(hub socket.Emitter) (serve.Dispatcher, error) {
		dc := cfg.Dispatcher
		dc.Emitter = hub
		return New(dc)
	})
	if err != nil {
		return nil, err
	}
	return &Server{door}, nil
}
