package queuemode

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/obs"
	"github.com/chatbench/chatbench/internal/serve"
	"github.com/chatbench/chatbench/socket"
)

// GatewayConfig configures StartGateway. Zero values mean the documented
// defaults.
type GatewayConfig struct {
	// Addr serves /ws, /metrics and /healthz. Required.
	Addr string
	// CallbackAddr serves POST /internal/events. Empty means
	// "127.0.0.1:8081". Keep it on loopback or a private network.
	CallbackAddr string
	// Front configures the front door; Hub and Dispatcher are filled in.
	Front   socket.Config
	Catalog *chat.Catalog // required
	// Client and QueueURL name the job queue (see NewClient and Setup).
	Client   *sqs.Client
	QueueURL string
	// CallbackSecret signs worker → gateway requests (at least 16 bytes).
	CallbackSecret []byte
	// DispatchTimeout bounds each SQS send. Zero means 5s.
	DispatchTimeout time.Duration
	// DrainPoll is how often Shutdown checks whether the queue is empty.
	// Zero means 50ms.
	DrainPoll time.Duration
	// Metrics receives the queue metrics; nil means NewMetrics(Registerer).
	Metrics    *Metrics
	Registerer prometheus.Registerer // nil = metrics not registered
	Gatherer   prometheus.Gatherer   // served on /metrics; nil = an empty registry
	Logger     *slog.Logger          // nil = discard
	// TLS, when set, serves Addr (the client-facing /ws, /metrics and
	// /healthz) over TLS: wss://. The callback listener stays plain HTTP
	// (it is signed, and belongs on loopback or a private network).
	TLS *tls.Config
}

// Gateway is a running queue-path gateway: the shared front door on /ws with
// a queue Dispatcher behind it, /metrics and /healthz on the same address,
// and the signed callback endpoint on its own listener.
type Gateway struct {
	cfg   GatewayConfig
	log   *slog.Logger
	hub   *socket.Hub
	front *socket.Server
	disp  *Dispatcher
	http  *serve.Server
	cb    *serve.Server

	once sync.Once
	err  error
}

// StartGateway builds the hub, the queue dispatcher, the front door and the
// callback, and serves them.
func StartGateway(cfg GatewayConfig) (*Gateway, error) {
	if cfg.Catalog == nil {
		return nil, errors.New("queuemode: GatewayConfig.Catalog is required")
	}
	if cfg.CallbackAddr == "" {
		cfg.CallbackAddr = "127.0.0.1:8081"
	}
	if cfg.DrainPoll <= 0 {
		cfg.DrainPoll = 50 * time.Millisecond
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(cfg.Registerer)
	}
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	hub := socket.NewHub(cfg.Catalog, cfg.Front.Registerer, cfg.Front.Resume)
	cb, err := NewCallback(CallbackConfig{Secret: cfg.CallbackSecret, Emitter: hub, Metrics: cfg.Metrics,
		Logger: cfg.Logger.With("component", "callback")})
	if err != nil {
		return nil, err
	}
	d, err := NewDispatcher(DispatcherConfig{Catalog: cfg.Catalog, Client: cfg.Client, QueueURL: cfg.QueueURL,
		CallTimeout: cfg.DispatchTimeout, Metrics: cfg.Metrics, Logger: cfg.Logger.With("component", "dispatcher")})
	if err != nil {
		return nil, err
	}
	front := cfg.Front
	front.Hub, front.Dispatcher = hub, d
	fs, err := socket.NewServer(front)
	if err != nil {
		return nil, err
	}
	cbMux := http.NewServeMux()
	cbMux.Handle(CallbackPath, cb)
	cbSrv, err := serve.Listen(cfg.CallbackAddr, cbMux)
	if err != nil {
		return nil, err
	}
	mux := obs.Mux(cfg.Gatherer)
	mux.Handle("/ws", fs)
	h, err := serve.ListenTLS(cfg.Addr, mux, cfg.TLS)
	if err != nil {
		_ = cbSrv.Shutdown(context.Background())
		return nil, err
	}
	return &Gateway{cfg: cfg, log: cfg.Logger, hub: hub, front: fs, disp: d, http: h, cb: cbSrv}, nil
}

// Addr returns the host:port of /ws, /metrics and /healthz.
func (g *Gateway) Addr() string { return g.http.Addr() }

// URL returns the WebSocket URL of the front door.
func (g *Gateway) URL() string {
	if g.cfg.TLS != nil {
		return "wss://" + g.http.Addr() + "/ws"
	}
	return "ws://" + g.http.Addr() + "/ws"
}

// MetricsURL returns the URL of /metrics (https:// when serving TLS).
func (g *Gateway) MetricsURL() string {
	if g.cfg.TLS != nil {
		return "https://" + g.http.Addr() + "/metrics"
	}
	return "http://" + g.http.Addr() + "/metrics"
}

// CallbackAddr returns the host:port of the callback listener.
func (g *Gateway) CallbackAddr() string { return g.cb.Addr() }

// CallbackURL returns the URL workers post events to.
func (g *Gateway) CallbackURL() string { return "http://" + g.cb.Addr() + CallbackPath }

// Front returns the front door (for tests and metrics).
func (g *Gateway) Front() *socket.Server { return g.front }

// Shutdown drains gracefully, in this order:
//
//  1. stop accepting messages (clients get shutting_down, retryable) and
//     wait for SQS sends in progress;
//  2. keep the callback listener and client connections open while the job
//     queue still holds messages (visible or in flight), so workers deliver
//     what they can — until ctx ends;
//  3. close every connection with 1001 after flushing its send queue;
//  4. stop the callback listener and the HTTP server.
//
// Workers should be shut down after the gateway (their last posts need the
// callback). Safe to call more than once; later calls return the first
// result.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.once.Do(func() {
		errDisp := g.disp.Shutdown(ctx)
		errDrain := g.awaitEmptyQueue(ctx)
		g.err = errors.Join(errDisp, errDrain,
			g.front.Shutdown(ctx),
			g.cb.Shutdown(ctx),
			g.http.Shutdown(ctx),
		)
	})
	return g.err
}

// awaitEmptyQueue polls the job queue until it holds no message or ctx ends.
func (g *Gateway) awaitEmptyQueue(ctx context.Context) error {
	if g.cfg.Client == nil || g.cfg.QueueURL == "" {
		return nil
	}
	t := time.NewTicker(g.cfg.DrainPoll)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		start := time.Now()
		out, err := g.cfg.Client.GetQueueAttributes(cctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(g.cfg.QueueURL),
			AttributeNames: []types.QueueAttributeName{
				types.QueueAttributeNameApproximateNumberOfMessages,
				types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			},
		})
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		g.cfg.Metrics.observe("GetQueueAttributes", start, err)
		if err != nil {
			g.log.Warn("drain: cannot read queue depth; closing now", "err", err)
			return nil
		}
		n := 0
		for _, k := range []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible} {
			v, _ := strconv.Atoi(out.Attributes[string(k)])
			n += v
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
