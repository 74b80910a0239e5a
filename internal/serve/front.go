package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/obs"
	"github.com/chatbench/chatbench/socket"
)

// FrontDoorConfig configures StartFrontDoor: everything of a path's
// client-facing process that does not depend on the path. Zero values mean
// the documented defaults.
type FrontDoorConfig struct {
	// Addr serves /ws, /metrics and /healthz. Required ("127.0.0.1:0" = a
	// free port).
	Addr string
	// Catalog labels the hub's events by job class. Required.
	Catalog *chat.Catalog
	// Front configures the front door; its Hub and Dispatcher are filled in.
	Front socket.Config
	// Gatherer is served on /metrics. Nil means an empty registry.
	Gatherer prometheus.Gatherer
	// TLS, when set, serves Addr over TLS: wss:// and https:// metrics.
	// Nil means plain TCP.
	TLS *tls.Config
}

// Dispatcher is the one part a path puts behind the shared front door: it
// takes accepted messages to their jobs, and Shutdown stops it taking more
// and waits, until ctx ends, for the events of those it took to be emitted.
type Dispatcher interface {
	socket.Dispatcher
	Shutdown(ctx context.Context) error
}

// FrontDoor is a running front door: the hub, the WebSocket front door on
// /ws with a path's Dispatcher behind it, and /metrics and /healthz, on one
// listener. Both paths start through it, so they differ only in what
// newDispatcher builds. It is safe for concurrent use.
type FrontDoor struct {
	hub   *socket.Hub
	front *socket.Server
	disp  Dispatcher
	http  *Server
	tls   bool

	once sync.Once
	err  error
}

// StartFrontDoor builds the hub, asks newDispatcher for the dispatcher whose
// events go to it, puts the front door in front of that dispatcher and
// serves it on cfg.Addr. When it fails, nothing it started is left running.
func StartFrontDoor(cfg FrontDoorConfig, newDispatcher func(socket.Emitter) (Dispatcher, error)) (*FrontDoor, error) {
	switch {
	case cfg.Addr == "":
		return nil, errors.New("serve: front door: Addr is required (\"127.0.0.1:0\" picks a free port)")
	case cfg.Catalog == nil:
		return nil, errors.New("serve: front door: Catalog is required")
	}
	if err := cfg.Front.Validate(); err != nil {
		return nil, err
	}
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.NewRegistry()
	}
	// The one place a front door's broker is chosen: every instance of a
	// path that shares cfg.Front.Broker behaves as one front door.
	broker, err := socket.OpenBroker(cfg.Front.Broker, socket.BrokerOptions{
		Resume: cfg.Front.Resume, Logger: cfg.Front.Logger, Registerer: cfg.Front.Registerer,
	})
	if err != nil {
		return nil, err
	}
	hub := socket.NewHub(cfg.Catalog, cfg.Front.Registerer, broker)
	disp, err := newDispatcher(hub)
	if err != nil {
		closeBroker(broker)
		return nil, err
	}
	front := cfg.Front
	front.Hub, front.Dispatcher = hub, disp
	fs, err := socket.NewServer(front)
	if err != nil {
		_ = disp.Shutdown(context.Background())
		closeBroker(broker)
		return nil, err
	}
	mux := obs.Mux(cfg.Gatherer)
	mux.Handle("/ws", fs)
	h, err := ListenTLS(cfg.Addr, mux, cfg.TLS)
	if err != nil {
		_ = disp.Shutdown(context.Background())
		closeBroker(broker)
		return nil, err
	}
	return &FrontDoor{hub: hub, front: fs, disp: disp, http: h, tls: cfg.TLS != nil}, nil
}

// closeBroker releases b when it holds anything (socket.Closer).
func closeBroker(b socket.Broker) error {
	if c, ok := b.(socket.Closer); ok {
		return c.Close()
	}
	return nil
}

// flushBroker waits, when b delivers asynchronously (socket.Flusher),
// until what this process published has come back to its connections.
func flushBroker(ctx context.Context, b socket.Broker) error {
	if f, ok := b.(socket.Flusher); ok {
		return f.Flush(ctx)
	}
	return nil
}

// Addr returns the host:port of /ws, /metrics and /healthz.
func (d *FrontDoor) Addr() string { return d.http.Addr() }

// URL returns the WebSocket URL of the front door: wss:// when serving TLS.
func (d *FrontDoor) URL() string {
	if d.tls {
		return "wss://" + d.http.Addr() + "/ws"
	}
	return "ws://" + d.http.Addr() + "/ws"
}

// MetricsURL returns the URL of /metrics: https:// when serving TLS.
func (d *FrontDoor) MetricsURL() string {
	if d.tls {
		return "https://" + d.http.Addr() + "/metrics"
	}
	return "http://" + d.http.Addr() + "/metrics"
}

// Front returns the front door (for tests and metrics).
func (d *FrontDoor) Front() *socket.Server { return d.front }

// Hub returns the hub events are emitted through.
func (d *FrontDoor) Hub() *socket.Hub { return d.hub }

// Shutdown drains gracefully, in the order both paths need: the
// dispatcher stops taking messages (clients get shutting_down, retryable)
// and waits for what it took to be emitted; a broker that delivers
// asynchronously is waited for until those events have reached this
// process's connections; then every connection is closed with 1001 after
// its send queue is flushed; then the listener stops, and last the broker
// is closed. When ctx ends, each step cuts short what it waits for. Safe
// to call more than once; later calls return the first result.
func (d *FrontDoor) Shutdown(ctx context.Context) error {
	d.once.Do(func() {
		b := d.hub.Broker()
		d.err = errors.Join(
			d.disp.Shutdown(ctx),
			flushBroker(ctx, b),
			d.front.Shutdown(ctx),
			d.http.Shutdown(ctx),
			closeBroker(b),
		)
	})
	return d.err
}
