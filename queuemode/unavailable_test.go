package queuemode_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/queuemode"
	"github.com/chatbench/chatbench/queuemode/sqsd"
	"github.com/chatbench/chatbench/socket"
)

// tcpProxy forwards loopback TCP connections to a target. Stop closes its
// listener and every live connection (clients then get connection refused);
// Start listens again on the same port. Every goroutine it starts is
// tracked and waited for.
type tcpProxy struct {
	t      *testing.T
	target string
	addr   string // fixed after the first Start

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target, addr: "127.0.0.1:0", conns: map[net.Conn]struct{}{}}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// Addr returns the proxy's host:port.
func (p *tcpProxy) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// Start listens (again) on the proxy's port and serves connections.
func (p *tcpProxy) Start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy listen %s: %v", p.addr, err)
	}
	p.ln, p.addr = ln, ln.Addr().String()
	p.wg.Add(1)
	go p.accept(ln)
}

// Stop closes the listener and all live connections and waits for every
// goroutine of the proxy. Safe to call when stopped.
func (p *tcpProxy) Stop() {
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// track registers c unless the proxy has been stopped since ln accepted it.
func (p *tcpProxy) track(ln net.Listener, cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != ln {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *tcpProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

func (p *tcpProxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		in, err := ln.Accept()
		if err != nil {
			return // closed by Stop
		}
		out, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			_ = in.Close()
			continue
		}
		if !p.track(ln, in, out) {
			_ = in.Close()
			_ = out.Close()
			return
		}
		p.wg.Add(1)
		go p.pipe(in, out)
	}
}

// pipe copies both ways until either side ends, then closes both.
func (p *tcpProxy) pipe(in, out net.Conn) {
	defer p.wg.Done()
	var half sync.WaitGroup
	half.Add(2)
	cp := func(dst, src net.Conn) {
		defer half.Done()
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
	}
	go cp(out, in)
	go cp(in, out)
	half.Wait()
	p.untrack(in, out)
}

// TestSQSUnreachableAtSendNothingAckedLost puts a TCP proxy between the
// gateway's SQS client and the embedded endpoint (the worker talks to the
// endpoint directly). With the proxy down, a text gets a retryable
// unavailable error while the connection keeps working (a job-free typing
// message is acked); with the proxy up again the same frame, same id, is
// accepted. After a graceful drain every acked message's deliveries have
// arrived exactly once, the refused-then-resent text counted once.
func TestSQSUnreachableAtSendNothingAckedLost(t *testing.T) {
	ctx := context.Background()
	cat := jobs.Catalog()
	if len(cat.JobsFor("text", chat.RolePatient)) == 0 {
		t.Fatal("text triggers no job: this test needs one that does")
	}
	if len(cat.JobsFor("typing", chat.RolePatient)) != 0 {
		t.Fatal("typing triggers a job: this test needs a job-free type")
	}
	srv := sqsd.New(sqsd.Config{})
	endpoint, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	direct, err := queuemode.NewClient(ctx, queuemode.ClientConfig{Endpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	queues, err := queuemode.Setup(ctx, direct, "jobs", queuemode.SetupOptions{VisibilityTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, endpoint[len("http://"):])
	// The gateway's client reaches SQS only through the proxy; the SDK's
	// retries are bounded (3 attempts, short backoff) and each send by
	// DispatchTimeout, so a refused send is answered in well under a second.
	viaProxy, err := queuemode.NewClient(ctx, queuemode.ClientConfig{Endpoint: "http://" + proxy.Addr(), MaxAttempts: 3, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	gw, err := queuemode.StartGateway(queuemode.GatewayConfig{
		Addr: "127.0.0.1:0", Front: socket.Config{Secret: secret, Registerer: reg},
		Dispatcher:   queuemode.DispatcherConfig{Catalog: cat, Client: viaProxy, QueueURL: queues.URL, CallTimeout: 2 * time.Second},
		Callback:     queuemode.CallbackConfig{Secret: cbSecret},
		CallbackAddr: "127.0.0.1:0", Registerer: reg, Gatherer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
	})
	e := &env{t: t, cat: cat, client: direct, queues: queues, gw: gw, reg: reg, sqs: srv}
	e.worker(startML(t), nil)

	s := newScript(t, cat)
	n := 0 // Script.Do calls so far: its next id is m%03d of n+1
	do := func(p *wstest.Participant, op, conv, typ, body string) string {
		n++
		return s.Do(p, op, conv, typ, body)
	}
	d1 := dial(t, gw.URL(), "d1", chat.RoleProvider, "c1")
	p1 := dial(t, gw.URL(), "p1", chat.RolePatient, "c1")
	all := []*wstest.Participant{d1, p1}
	do(d1, chat.OpJoin, "c1", "", "")
	do(p1, chat.OpJoin, "c1", "", "")
	for i := range 3 {
		do(p1, chat.OpSend, "c1", "text", fmt.Sprintf("before the outage %d", i))
	}
	do(d1, chat.OpSend, "c1", "text", "tell me more")

	proxy.Stop()
	refused := fmt.Sprintf("m%03d", n+1) // the id Script.Do will resend it with
	const body = "sent while SQS is unreachable"
	start := time.Now()
	p1.C.Send(chat.ClientFrame{Op: chat.OpSend, ID: refused, Conv: "c1", Type: "text", Body: body, SentAt: chat.NowMicros()})
	r, evs := p1.C.AwaitReply(refused)
	p1.Got = append(p1.Got, evs...)
	if r.Op != chat.OpError || r.Code != chat.CodeUnavailable || !r.Retryable {
		t.Fatalf("text with SQS unreachable: want a retryable %s error, got %+v", chat.CodeUnavailable, r)
	}
	t.Logf("unavailable after %v", time.Since(start).Round(time.Millisecond))
	// The connection stays usable: a message that triggers no job is acked.
	// It is sent outside the Script (whose ids are reserved for the resend),
	// so its deliveries are added here.
	p1.C.Send(chat.ClientFrame{Op: chat.OpSend, ID: "typing-1", Conv: "c1", Type: "typing", SentAt: chat.NowMicros()})
	r, evs = p1.C.AwaitReply("typing-1")
	p1.Got = append(p1.Got, evs...)
	if r.Op != chat.OpAck {
		t.Fatalf("typing with SQS unreachable: want an ack, got %+v", r)
	}
	members := []chat.Member{{User: "d1", Role: chat.RoleProvider}, {User: "p1", Role: chat.RolePatient}}
	for _, d := range cat.Deliveries("typing", "p1", chat.RolePatient, members) {
		s.Want[d.User] = append(s.Want[d.User], "typing-1/"+d.Job+"/"+d.Event)
	}

	proxy.Start()
	if id := do(p1, chat.OpSend, "c1", "text", body); id != refused {
		t.Fatalf("resend used id %s, want the refused frame's %s", id, refused)
	}
	do(p1, chat.OpSend, "c1", "text", "after the outage")
	do(d1, chat.OpSend, "c1", "end_visit", "")

	e.shutdown(20 * time.Second)
	for _, p := range all {
		p.Drain()
		if !wstest.IsGoingAway(p.C.CloseErr) {
			t.Errorf("%s: connection ended with %v, want close 1001", p.User, p.C.CloseErr)
		}
		lost, dups := ledger(s.Want[p.User], wstest.Keys(p.Got))
		if len(lost) > 0 || len(dups) > 0 {
			t.Errorf("%s: lost %d %v, duplicates %d %v", p.User, len(lost), lost, len(dups), dups)
		}
		s.Check(p)
	}
}

// ledger compares the expected delivery keys with those received: lost
// are expected and never received, dups received more often than expected
// (or not expected at all).
func ledger(want, got []string) (lost, dups []string) {
	count := map[string]int{}
	for _, k := range want {
		count[k]++
	}
	for _, k := range got {
		count[k]--
	}
	for k, c := range count {
		for ; c > 0; c-- {
			lost = append(lost, k)
		}
		for ; c < 0; c++ {
			dups = append(dups, k)
		}
	}
	slices.Sort(lost)
	slices.Sort(dups)
	return lost, dups
}
