package queuemode

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/internal/serve"
	"github.com/chatbench/chatbench/socket"
)

// GatewayConfig configures StartGateway. Zero values mean the documented
// defaults.
type GatewayConfig struct {
	// Addr serves /ws, /metrics and /healthz. Required ("127.0.0.1:0" = a
	// free port).
	Addr string
	// Front configures the front door; its Hub and Dispatcher are filled in.
	Front socket.Config
	// Dispatcher configures the queue dispatcher: Catalog (the hub uses it
	// too), Client and QueueURL (the job queue, see NewClient and Setup) are
	// required. Nil Metrics and Logger are the gateway's. Its Inline is
	// built from InlineSync. Its MaxConvOutstanding and MaxUserOutstanding
	// are the gateway's backpressure.
	Dispatcher DispatcherConfig
	// InlineSync, when set, makes the gateway hybrid: sync jobs run here,
	// in the direct path's lanes (directmode.SyncRunner; its Catalog,
	// Emitter and a nil Logger are filled in), and only ML jobs go through
	// the queue. Nil queues every job.
	InlineSync *directmode.SyncConfig
	// Callback configures the endpoint workers post events to: Secret is
	// required, Emitter (the hub) and Answered (the dispatcher's) are
	// filled in. Nil Metrics and Logger are the gateway's.
	Callback CallbackConfig
	// CallbackAddr serves POST CallbackPath. Empty means "127.0.0.1:8081".
	// Keep it on loopback or a private network.
	CallbackAddr string
	// Recreate, when set, is how the queues were set up: when SQS says the
	// job queue does not exist (an endpoint that restarted empty), the
	// gateway creates it again (with the DLQ and redrive policy; backoff
	// between failed attempts), logs it and sends the message again —
	// from Dispatch, and from the drain's and the scrape's depth reads.
	// Nil: the message is refused as unavailable until the queue exists.
	Recreate *QueueSpec
	// DrainPoll is how often Shutdown checks whether the queue is empty.
	// Zero means 50ms.
	DrainPoll time.Duration
	// Metrics receives the queue metrics of the dispatcher, the callback and
	// the drain; nil means NewMetrics(Registerer).
	Metrics *Metrics
	// Registerer receives the queue metrics when Metrics is nil, and the
	// queue depth read at each scrape (chatbench_queue_depth). Nil = not
	// registered.
	Registerer prometheus.Registerer
	Logger     *slog.Logger // nil = discard
	// Gatherer is served on /metrics. Nil means an empty registry.
	Gatherer prometheus.Gatherer
	// TLS, when set, serves Addr (the client-facing /ws, /metrics and
	// /healthz) over TLS: wss://. The callback listener stays plain HTTP
	// (it is signed, and belongs on loopback or a private network).
	TLS *tls.Config
}

// validate reports every value of c that is out of range.
func (c *GatewayConfig) validate() error {
	return errors.Join(
		c.Dispatcher.validate(),
		c.Callback.validate(),
		c.Front.Validate(),
		notNegative("GatewayConfig.DrainPoll", c.DrainPoll, "50ms"),
	)
}

// Gateway is a running queue-path gateway: the shared front door on /ws with
// a queue Dispatcher behind it, /metrics and /healthz on the same address,
// and the signed callback endpoint on its own listener. Its accessors (URL,
// MetricsURL, Front…) are the front door's: the paths differ only in the
// dispatcher, and here in the callback that brings its events back.
type Gateway struct {
	*serve.FrontDoor
	cfg GatewayConfig
	cb  *serve.Server
	rec *recreator // nil without cfg.Recreate
}

// StartGateway checks cfg, builds the hub, the queue dispatcher, the front
// door and the callback, and serves them.
func StartGateway(cfg GatewayConfig) (*Gateway, error) {
	// Every problem at once, before anything starts.
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.CallbackAddr == "" {
		cfg.CallbackAddr = "127.0.0.1:8081"
	}
	if cfg.DrainPoll == 0 {
		cfg.DrainPoll = 50 * time.Millisecond
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(cfg.Registerer)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Dispatcher.Metrics == nil {
		cfg.Dispatcher.Metrics = cfg.Metrics
	}
	if cfg.Dispatcher.Logger == nil {
		cfg.Dispatcher.Logger = cfg.Logger.With("component", "dispatcher")
	}
	if cfg.Callback.Metrics == nil {
		cfg.Callback.Metrics = cfg.Metrics
	}
	if cfg.Callback.Logger == nil {
		cfg.Callback.Logger = cfg.Logger.With("component", "callback")
	}
	if cfg.Callback.Catalog == nil {
		cfg.Callback.Catalog = cfg.Dispatcher.Catalog
	}
	// The callback's port is taken first: a bad address fails before
	// anything runs, and a worker that posts as soon as /ws accepts
	// messages waits in the listen backlog instead of being refused.
	cbLn, err := net.Listen("tcp", cfg.CallbackAddr)
	if err != nil {
		return nil, fmt.Errorf("queuemode: callback listener: %w", err)
	}
	g := &Gateway{cfg: cfg,
		rec: newRecreator(cfg.Dispatcher.Client, cfg.Recreate, cfg.Dispatcher.QueueURL, "gateway", cfg.Logger, cfg.Metrics)}
	var cb *Callback
	door, err := serve.StartFrontDoor(serve.FrontDoorConfig{
		Addr: cfg.Addr, Catalog: cfg.Dispatcher.Catalog, Front: cfg.Front, Gatherer: cfg.Gatherer, TLS: cfg.TLS,
	}, func(hub socket.Emitter) (serve.Dispatcher, error) {
		dc := cfg.Dispatcher
		var err error
		if cfg.InlineSync != nil {
			sc := *cfg.InlineSync
			sc.Catalog, sc.Emitter = dc.Catalog, hub
			if sc.Logger == nil {
				sc.Logger = cfg.Logger.With("component", "inline-sync")
			}
			if dc.Inline, err = directmode.NewSyncRunner(sc); err != nil {
				return nil, err
			}
		}
		d, err := NewDispatcher(dc)
		if err != nil {
			if dc.Inline != nil {
				_ = dc.Inline.Shutdown(context.Background())
			}
			return nil, err
		}
		// The callback tells the dispatcher which messages are answered:
		// its backpressure's count goes down as events come back.
		cc := cfg.Callback
		cc.Emitter, cc.Answered = hub, d.Answered
		if cb, err = NewCallback(cc); err != nil {
			_ = d.Shutdown(context.Background())
			return nil, err
		}
		return drainingDispatcher{d, g, cb}, nil
	})
	if err != nil {
		_ = cbLn.Close()
		return nil, err
	}
	g.FrontDoor = door
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(depthCollector{g})
	}
	cbMux := http.NewServeMux()
	cbMux.Handle(CallbackPath, cb)
	// The whole request within ReadTimeout, however slowly it is sent;
	// idle connections closed after a while (a worker keeps its own open
	// while it posts).
	rt := cb.cfg.ReadTimeout
	g.cb = serve.ServeWith(cbLn, &http.Server{Handler: cbMux, ReadHeaderTimeout: rt, ReadTimeout: rt,
		WriteTimeout: 2*rt + 2*recordTimeout, IdleTimeout: 60 * time.Second,
		ErrorLog: slog.NewLogLogger(cfg.Callback.Logger.Handler(), slog.LevelDebug)})
	return g, nil
}

// CallbackAddr returns the host:port of the callback listener.
func (g *Gateway) CallbackAddr() string { return g.cb.Addr() }

// CallbackURL returns the URL workers post events to.
func (g *Gateway) CallbackURL() string { return "http://" + g.cb.Addr() + CallbackPath }

// Shutdown drains gracefully, in this order:
//
//  1. stop accepting messages (clients get shutting_down, retryable) and
//     wait for SQS sends in progress;
//  2. keep the callback listener and client connections open while the job
//     queue still holds messages (visible or in flight), so workers deliver
//     what they can — until ctx ends;
//  3. close every connection with 1001 after flushing its send queue, and
//     stop the HTTP server;
//  4. stop the callback listener.
//
// Steps 1 to 3 are the front door's shutdown (serve.FrontDoor), with the
// queue's drain as its dispatcher's. Workers should be shut down after the
// gateway (their last posts need the callback). Safe to call more than
// once; later calls return the first result.
func (g *Gateway) Shutdown(ctx context.Context) error {
	return errors.Join(g.FrontDoor.Shutdown(ctx), g.cb.Shutdown(ctx))
}

// drainingDispatcher is the gateway's dispatcher as the front door sees it:
// its Shutdown also waits for the queue to empty, so that the events of
// every accepted message come back through the callback before the
// connections close.
type drainingDispatcher struct {
	*Dispatcher
	g  *Gateway
	cb *Callback
}

var _ serve.Dispatcher = drainingDispatcher{}

// Dispatch records msg's queued jobs with the callback before they are
// sent — a worker may post their events as soon as they are queued — and
// sends them. A record of a message whose send then fails costs memory
// until it expires, nothing else: a resend of it is recorded again.
func (d drainingDispatcher) Dispatch(ctx context.Context, msg *chat.Message) error {
	if jobs := d.queued(msg); len(jobs) > 0 {
		d.cb.Accept(ctx, msg, jobs)
	}
	err := d.Dispatcher.Dispatch(ctx, msg)
	if err != nil && d.g.rec.recover(ctx, err) {
		// Sent again to the new queue: what the lost one held is gone
		// (its sync jobs, in the hybrid design, are not run twice).
		err = d.Dispatcher.Dispatch(ctx, msg)
	}
	return err
}

func (d drainingDispatcher) Shutdown(ctx context.Context) error {
	err := d.Dispatcher.Shutdown(ctx)
	return errors.Join(err, d.g.awaitEmptyQueue(ctx))
}

// awaitEmptyQueue polls the job queue until it holds no message or ctx ends.
func (g *Gateway) awaitEmptyQueue(ctx context.Context) error {
	t := time.NewTicker(g.cfg.DrainPoll)
	defer t.Stop()
	for {
		visible, inFlight, err := g.depth(ctx)
		if ctx.Err() != nil {
			g.cfg.Logger.Warn("drain: gave up with jobs still queued", "visible", visible, "in_flight", inFlight)
			return ctx.Err()
		}
		if err != nil {
			g.cfg.Logger.Warn("drain: cannot read queue depth; closing now", "err", err)
			return nil
		}
		if visible+inFlight == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			g.cfg.Logger.Warn("drain: gave up with jobs still queued", "visible", visible, "in_flight", inFlight)
			return ctx.Err()
		case <-t.C:
		}
	}
}

// depth reads the job queue's visible and in-flight messages
// (approximate, as SQS counts them).
func (g *Gateway) depth(ctx context.Context) (visible, inFlight int, err error) {
	dc := &g.cfg.Dispatcher
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	out, err := dc.Client.GetQueueAttributes(cctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(dc.QueueURL),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if ctx.Err() == nil {
		g.cfg.Metrics.observe("GetQueueAttributes", start, err)
	}
	if err != nil {
		if g.rec.recover(ctx, err) {
			return 0, 0, nil // a new queue holds nothing
		}
		return 0, 0, err
	}
	visible, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible, inFlight, nil
}

// depthCollector exports chatbench_queue_depth, read from SQS at each
// scrape: what a stop would leave queued is read just before it begins.
type depthCollector struct{ g *Gateway }

func (c depthCollector) Describe(ch chan<- *prometheus.Desc) { c.g.cfg.Metrics.QueueDepth.Describe(ch) }

func (c depthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	qd := c.g.cfg.Metrics.QueueDepth
	if visible, inFlight, err := c.g.depth(ctx); err == nil {
		qd.WithLabelValues("visible").Set(float64(visible))
		qd.WithLabelValues("in_flight").Set(float64(inFlight))
	} else {
		qd.Reset() // unknown: no sample rather than a stale one
	}
	qd.Collect(ch)
}
