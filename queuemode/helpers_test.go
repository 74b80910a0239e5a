package queuemode_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/mlservice"
	"github.com/chatbench/chatbench/queuemode"
	"github.com/chatbench/chatbench/queuemode/sqsd"
	"github.com/chatbench/chatbench/socket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	secret   = []byte("queue-test-secret-0123456789")
	cbSecret = []byte("queue-callback-secret-0123456789")
)

// startML runs the real ML service (zero preset) on loopback.
func startML(t *testing.T) chat.ML {
	t.Helper()
	profiles, err := mlservice.Preset(mlservice.PresetZero)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := mlservice.New(mlservice.Config{Profiles: profiles})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(ms.Handler())
	t.Cleanup(hs.Close)
	cl, err := mlservice.NewClient(mlservice.ClientConfig{BaseURL: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// env is one queue-path setup: embedded SQS, queues, gateway.
type env struct {
	t      *testing.T
	cat    *chat.Catalog
	client *sqs.Client
	queues queuemode.Queues
	gw     *queuemode.Gateway
	reg    *prometheus.Registry
	sqs    *sqsd.Server // nil with envOpts.endpoint
}

type envOpts struct {
	catalog    *chat.Catalog
	visibility time.Duration
	maxRecv    int
	endpoint   string // "" = a fresh embedded sqsd
	queueURL   string // with endpoint: skip Setup and use this URL
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
		srv := sqsd.New(sqsd.Config{})
		var err error
		if endpoint, err = srv.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		e.sqs = srv
	}
	cl, err := queuemode.NewClient(ctx, queuemode.ClientConfig{Endpoint: endpoint, MaxAttempts: 2, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.client = cl
	if o.queueURL != "" {
		e.queues.URL = o.queueURL
	} else if e.queues, err = queuemode.Setup(ctx, cl, "jobs", queuemode.SetupOptions{VisibilityTimeout: o.visibility, MaxReceiveCount: o.maxRecv}); err != nil {
		t.Fatal(err)
	}
	gw, err := queuemode.StartGateway(queuemode.GatewayConfig{
		Addr: "127.0.0.1:0", CallbackAddr: "127.0.0.1:0",
		Front:   socket.Config{Secret: secret, Registerer: e.reg},
		Catalog: o.catalog, Client: cl, QueueURL: e.queues.URL, CallbackSecret: cbSecret,
		DispatchTimeout: 2 * time.Second, Registerer: e.reg, Gatherer: e.reg,
	})
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

// participant is one test user with one connection.
type participant struct {
	user string
	role chat.Role
	c    *wstest.Client
	got  []*chat.ServerFrame
}

// script drives a conversation, waiting for each message's ack, and records
// what the catalog says each message must deliver.
type script struct {
	t       *testing.T
	cat     *chat.Catalog
	members map[string][]chat.Member
	want    map[string][]string // user → "reply_to/job/event"
	n       int
}

func newScript(t *testing.T, cat *chat.Catalog) *script {
	return &script{t: t, cat: cat, members: map[string][]chat.Member{}, want: map[string][]string{}}
}

func dial(t *testing.T, url, user string, role chat.Role, convs ...string) *participant {
	tok, err := socket.MintToken(secret, socket.Claims{User: user, Role: role, Convs: convs, Exp: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	return &participant{user: user, role: role, c: wstest.Dial(t, url, tok)}
}

func (s *script) do(p *participant, op, conv, typ, body string) string {
	s.t.Helper()
	s.n++
	id := fmt.Sprintf("m%03d", s.n)
	if op != chat.OpSend {
		typ = op
	}
	switch op {
	case chat.OpJoin:
		s.members[conv] = append(s.members[conv], chat.Member{User: p.user, Role: p.role})
	case chat.OpLeave:
		s.members[conv] = slices.DeleteFunc(s.members[conv], func(m chat.Member) bool { return m.User == p.user })
	}
	p.c.Send(chat.ClientFrame{Op: op, ID: id, Conv: conv, Type: typ, Body: body, SentAt: chat.NowMicros()})
	reply, evs := p.c.AwaitReply(id)
	if reply.Op != chat.OpAck {
		s.t.Fatalf("%s %s from %s: %s %s", op, typ, p.user, reply.Code, reply.Message)
	}
	p.got = append(p.got, evs...)
	for _, d := range s.cat.Deliveries(typ, p.user, p.role, s.members[conv]) {
		s.want[d.User] = append(s.want[d.User], id+"/"+d.Job+"/"+d.Event)
	}
	return id
}

func (s *script) settle(p *participant) {
	s.t.Helper()
	for len(keys(p.got)) < len(s.want[p.user]) {
		p.got = append(p.got, p.c.Next())
	}
}

// drain reads every remaining frame of p until the server closes the
// connection.
func drain(p *participant) {
	p.got = append(p.got, p.c.Drain()...)
}

func keys(frames []*chat.ServerFrame) []string {
	var out []string
	for _, f := range frames {
		if f != nil && f.Op == chat.OpEvent {
			out = append(out, f.ReplyTo+"/"+f.Event.Job+"/"+f.Event.Name)
		}
	}
	sort.Strings(out)
	return out
}

func isGoingAway(err error) bool {
	var ce *websocket.CloseError
	return errors.As(err, &ce) && ce.Code == websocket.CloseGoingAway
}
