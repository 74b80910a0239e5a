package queuemode_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/queuemode"
)

// TestEveryJobEndToEnd runs a visit that triggers every job of the catalog
// through gateway → SQS (embedded, real protocol) → workers → callback →
// client, then drains and compares what each participant received with
// what the catalog says — the same expectation as the direct path.
func TestEveryJobEndToEnd(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.worker(startML(t), nil)
	s := newScript(t, e.cat)
	ps := s.Visit(e.gw.URL(), secret)
	e.shutdown(20 * time.Second)
	s.CheckDrained(ps, func(user string, f *chat.ServerFrame) { checkEvent(t, e.cat, user, f) })
}

// checkEvent checks status and that the queue path's hops are all stamped
// and in order.
func checkEvent(t *testing.T, cat *chat.Catalog, user string, f *chat.ServerFrame) {
	t.Helper()
	ev := f.Event
	if ev.Status != chat.StatusOK {
		t.Errorf("%s: %s/%s status %s (%s)", user, f.ReplyTo, ev.Job, ev.Status, ev.ErrCode)
	}
	h := ev.Hops
	seq := []int64{h.ClientSent, h.GatewayIn}
	if ev.Job != chat.RelayJob {
		seq = append(seq, h.Enqueued, h.Dequeued, h.JobStart)
		if cat.Job(ev.Job).Class == chat.ClassML {
			seq = append(seq, h.MLStart, h.MLEnd)
		}
		seq = append(seq, h.JobEnd, h.CallbackIn)
	}
	seq = append(seq, h.Emitted)
	for i := 1; i < len(seq); i++ {
		if seq[i] == 0 || seq[i] < seq[i-1] {
			t.Errorf("%s: %s/%s hops missing or out of order: %+v", user, f.ReplyTo, ev.Job, h)
			break
		}
	}
}

// TestConversationOrderWithSeveralWorkers sends many read receipts; with
// several worker pollers the others still see read_state in send order.
func TestConversationOrderWithSeveralWorkers(t *testing.T) {
	// 100 receipts at once: more than a conversation may have outstanding
	// by default. The order is under test here, not the bound.
	e := newEnv(t, envOpts{variant: func(gc *queuemode.GatewayConfig) { gc.Dispatcher.MaxConvOutstanding = -1 }})
	ml := startML(t)
	e.worker(ml, func(c *queuemode.WorkerConfig) { c.Pollers = 3 })
	e.worker(ml, func(c *queuemode.WorkerConfig) { c.Pollers = 3 })
	s := newScript(t, e.cat)
	d1 := dial(t, e.gw.URL(), "d1", chat.RoleProvider, "c1")
	p1 := dial(t, e.gw.URL(), "p1", chat.RolePatient, "c1")
	s.Do(d1, chat.OpJoin, "c1", "", "")
	s.Do(p1, chat.OpJoin, "c1", "", "")
	var ids []string
	for i := range 100 {
		id := fmt.Sprintf("r%03d", i)
		ids = append(ids, id)
		p1.C.Send(chat.ClientFrame{Op: chat.OpSend, ID: id, Conv: "c1", Type: "read", Body: id})
	}
	var got []string
	for len(got) < len(ids) {
		f := d1.C.Next()
		if f.Op == chat.OpEvent && f.Event.Job == "read_state" {
			got = append(got, f.ReplyTo)
		}
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("read_state order differs from send order:\n%v", got)
	}
}

// crashingPoster posts events for messages of one type to the gateway and
// then "crashes" before the worker can delete: it blocks until its context
// ends and fails. Other messages are posted normally.
type crashingPoster struct {
	inner  queuemode.Poster
	typ    string
	posted chan struct{}
	once   sync.Once
}

func (p *crashingPoster) Post(ctx context.Context, evs []*chat.Event) error {
	if err := p.inner.Post(ctx, evs); err != nil || evs[0].Type != p.typ {
		return err
	}
	p.once.Do(func() { close(p.posted) })
	<-ctx.Done()
	return errors.New("worker killed")
}

// TestKilledWorkerJobRedeliveredExactlyOnce kills a worker after it posted a
// job's event but before it deleted the message: SQS redelivers the job
// after the visibility timeout, a second worker runs it again, and the
// gateway drops the repeated event, so the client sees it exactly once.
func TestKilledWorkerJobRedeliveredExactlyOnce(t *testing.T) {
	e := newEnv(t, envOpts{visibility: 2 * time.Second})
	ml := startML(t)
	cc, err := queuemode.NewCallbackClient(e.gw.CallbackURL(), cbSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.CloseIdle()
	cp := &crashingPoster{inner: cc, typ: "wait_time_request", posted: make(chan struct{})}
	a := e.worker(ml, func(c *queuemode.WorkerConfig) {
		c.Poster, c.JobTimeout, c.VisibilityTimeout = cp, time.Second, 2*time.Second
	})
	s := newScript(t, e.cat)
	p1 := dial(t, e.gw.URL(), "p1", chat.RolePatient, "c1")
	s.Do(p1, chat.OpJoin, "c1", "", "")
	id := s.Do(p1, chat.OpSend, "c1", "wait_time_request", "")
	select {
	case <-cp.posted:
	case <-time.After(10 * time.Second):
		t.Fatal("worker A never posted")
	}
	hard, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if err := a.Shutdown(hard); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hard shutdown: %v", err)
	}
	cancel()
	breg := prometheus.NewRegistry()
	bm := queuemode.NewMetrics(breg)
	e.worker(ml, func(c *queuemode.WorkerConfig) {
		c.JobTimeout, c.VisibilityTimeout, c.Metrics = time.Second, 2*time.Second, bm
	})
	e.shutdown(20 * time.Second)
	p1.Drain()
	want := append([]string(nil), s.Want["p1"]...)
	sort.Strings(want)
	if got := wstest.Keys(p1.Got); !slices.Equal(got, want) {
		t.Errorf("p1 received\n  %v\nwant\n  %v", got, want)
	}
	if n := value(bm.Redeliveries); n < 1 {
		t.Errorf("redeliveries = %v, want ≥ 1 (message %s)", n, id)
	}
}

// TestPoisonJobLandsInDLQ registers a job whose handler panics: it is never
// deleted and, after maxReceiveCount receives, SQS moves it to the DLQ.
func TestPoisonJobLandsInDLQ(t *testing.T) {
	cat, err := chat.NewCatalog(
		[]chat.MessageType{{Name: "boom", Op: chat.OpSend}, {Name: chat.OpJoin, Op: chat.OpJoin}},
		[]chat.Job{{Name: "explode", Class: chat.ClassSync, Event: "exploded", Audience: chat.AudienceSender,
			Triggers: []chat.Trigger{{Type: "boom"}},
			Handler: chat.HandlerFunc(func(context.Context, *chat.Message, chat.Deps) (json.RawMessage, error) {
				panic("poison")
			})}},
	)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOpts{catalog: cat, visibility: 2 * time.Second, maxRecv: 2})
	wm := queuemode.NewMetrics(prometheus.NewRegistry())
	e.worker(nil, func(c *queuemode.WorkerConfig) {
		c.JobTimeout, c.VisibilityTimeout, c.DLQPoll, c.Metrics = 500*time.Millisecond, 2*time.Second, 100*time.Millisecond, wm
	})
	s := newScript(t, cat)
	p1 := dial(t, e.gw.URL(), "p1", chat.RolePatient, "c1")
	s.Do(p1, chat.OpJoin, "c1", "", "")
	s.Do(p1, chat.OpSend, "c1", "boom", "")
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := e.client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(e.queues.DLQURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages},
		})
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)]); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("poison message never reached the DLQ")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for value(wm.DLQDepth) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("chatbench_queue_dlq_depth = %v, want 1", value(wm.DLQDepth))
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.shutdown(10 * time.Second)
	p1.Drain()
	if got := wstest.Keys(p1.Got); len(got) != 0 {
		t.Errorf("poison job emitted %v", got)
	}
}

// TestSQSUnreachableIsRetryable points the gateway at a closed port: a
// join (which triggers jobs) gets a retryable unavailable error and the
// connection keeps working. Then, with a gateway whose SQS goes away after
// the client joined, a text gets unavailable while a job-free message is
// still acked.
func TestSQSUnreachableIsRetryable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + ln.Addr().String()
	_ = ln.Close()
	e := newEnv(t, envOpts{endpoint: endpoint, queueURL: endpoint + "/000000000000/jobs.fifo"})
	if len(e.cat.JobsFor(chat.OpJoin, chat.RolePatient)) == 0 {
		t.Skip("join triggers no job in this catalog")
	}
	p1 := dial(t, e.gw.URL(), "p1", chat.RolePatient, "c1")
	for _, id := range []string{"j1", "j2"} {
		p1.C.Send(chat.ClientFrame{Op: chat.OpJoin, ID: id, Conv: "c1"})
		if r, _ := p1.C.AwaitReply(id); r.Code != chat.CodeUnavailable || !r.Retryable {
			t.Fatalf("join %s with SQS down: want retryable unavailable, got %+v", id, r)
		}
	}

	e2 := newEnv(t, envOpts{})
	s := newScript(t, e2.cat)
	p2 := dial(t, e2.gw.URL(), "p2", chat.RolePatient, "c2")
	s.Do(p2, chat.OpJoin, "c2", "", "")
	if err := e2.sqs.Close(); err != nil {
		t.Fatal(err)
	}
	p2.C.Send(chat.ClientFrame{Op: chat.OpSend, ID: "t1", Conv: "c2", Type: "text", Body: "hello"})
	if r, _ := p2.C.AwaitReply("t1"); r.Code != chat.CodeUnavailable || !r.Retryable {
		t.Fatalf("text with SQS down: want retryable unavailable, got %+v", r)
	}
	found := false
	for _, mt := range e2.cat.Types() {
		if mt.Op == chat.OpSend && mt.CanSend(chat.RolePatient) && len(e2.cat.JobsFor(mt.Name, chat.RolePatient)) == 0 {
			found = true
			p2.C.Send(chat.ClientFrame{Op: chat.OpSend, ID: "ok1", Conv: "c2", Type: mt.Name, Body: "x"})
			if r, _ := p2.C.AwaitReply("ok1"); r.Op != chat.OpAck {
				t.Fatalf("%s (no jobs) with SQS down: %+v", mt.Name, r)
			}
			break
		}
	}
	if !found {
		t.Log("no job-free message type for patients; skipped that part")
	}
}

// value reads a gauge's or counter's current value.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}
