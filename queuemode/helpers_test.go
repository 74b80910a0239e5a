package queuemode_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/queuemode"
	"github.com/chatbench/chatbench/queuemode/sqsd"
	"github.com/chatbench/chatbench/socket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	secret   = []byte("queue-test-secret-0123456789")
	cbSecret = []byte("queue-callback-secret-0123456789")
)

// env is one queue-path setup: embedded SQS, queues, gateway.
type env struct {
	t      *testing.T
	cat    *chat.Catalog
	client *sqs.Client
	queues queuemode.Queues
	gw     *queuemode.Gateway
	reg    *prometheus.Registry
	sqs    *sqsd.Server // nil with envOpts.endpoint
	// spec is how the queues were set up (nil with envOpts.queueURL); the
	// gateway recreates them with it.
	spec *queuemode.QueueSpec
	// endpoint is the SQS endpoint's URL.
	endpoint string
}

type envOpts struct {
	catalog    *chat.Catalog
	visibility time.Duration
	maxRecv    int
	endpoint   string // "" = a fresh embedded sqsd
	queueURL   string // with endpoint: skip Setup and use this URL
	broker     string // the front door's --broker ("" = memory)
	sqsd       sqsd.Config
	setup      queuemode.SetupOptions
	// variant configures the gateway after the defaults (a queue variant).
	variant func(*queuemode.GatewayConfig)
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	if o.catalog == nil {
		o.catalog = jobs.Catalog()
	}
	if o.visibility == 0 {
		o.visibility = 30 * time.Second
	}
	ctx := context.Background()
	e := &env{t: t, cat: o.catalog, reg: prometheus.NewRegistry()}
	endpoint := o.endpoint
	if endpoint == "" {
		srv := sqsd.New(o.sqsd)
		var err error
		if endpoint, err = srv.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		e.sqs = srv
	}
	e.endpoint = endpoint
	cl, err := queuemode.NewClient(ctx, queuemode.ClientConfig{Endpoint: endpoint, MaxAttempts: 2, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.client = cl
	if o.queueURL != "" {
		e.queues.URL = o.queueURL
	} else {
		so := o.setup
		so.VisibilityTimeout, so.MaxReceiveCount = o.visibility, o.maxRecv
		if e.queues, err = queuemode.Setup(ctx, cl, "jobs", so); err != nil {
			t.Fatal(err)
		}
		e.spec = &queuemode.QueueSpec{Name: "jobs", Options: so}
	}
	gc := queuemode.GatewayConfig{
		Addr: "127.0.0.1:0", Front: socket.Config{Secret: secret, Registerer: e.reg, Broker: o.broker},
		Dispatcher: queuemode.DispatcherConfig{Catalog: o.catalog, Client: cl, QueueURL: e.queues.URL, CallTimeout: 2 * time.Second,
			Standard: o.setup.Standard, MaxMessageBytes: e.queues.MaxMessageSize},
		Callback:     queuemode.CallbackConfig{Secret: cbSecret},
		CallbackAddr: "127.0.0.1:0", Registerer: e.reg, Gatherer: e.reg, Recreate: e.spec,
	}
	if o.variant != nil {
		o.variant(&gc)
	}
	gw, err := queuemode.StartGateway(gc)
	if err != nil {
		t.Fatal(err)
	}
	e.gw = gw
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
	})
	return e
}

// worker starts a worker posting to the gateway through poster (nil = the
// real callback client).
func (e *env) worker(ml chat.ML, tweak func(*queuemode.WorkerConfig)) *queuemode.Worker {
	e.t.Helper()
	cc, err := queuemode.NewCallbackClient(e.gw.CallbackURL(), cbSecret, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	wc := queuemode.WorkerConfig{
		Catalog: e.cat, Deps: chat.Deps{ML: ml}, Client: e.client, QueueURL: e.queues.URL, DLQURL: e.queues.DLQURL,
		Poster: cc, Pollers: 2, WaitTime: 2 * time.Second, Registerer: prometheus.NewRegistry(),
	}
	if tweak != nil {
		tweak(&wc)
	}
	w, err := queuemode.StartWorker(wc)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.Shutdown(ctx)
		cc.CloseIdle()
	})
	return w
}

// shutdown drains the gateway (it waits for the queue to empty).
func (e *env) shutdown(d time.Duration) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := e.gw.Shutdown(ctx); err != nil {
		e.t.Fatalf("gateway shutdown: %v", err)
	}
}

func newScript(t *testing.T, cat *chat.Catalog) *wstest.Script { return wstest.NewScript(t, cat) }

func dial(t *testing.T, url, user string, role chat.Role, convs ...string) *wstest.Participant {
	return wstest.DialAs(t, url, secret, user, role, convs...)
}

// startML runs the real ML service (zero preset) on loopback.
func startML(t *testing.T) chat.ML { return wstest.StartML(t, "") }
