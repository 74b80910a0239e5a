package queuemode_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/obs/termtest"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/queuemode"
	"github.com/chatbench/chatbench/queuemode/sqsd"
)

// TestRecoversFromAnEndpointThatLostItsQueues restarts the embedded SQS
// endpoint on the same address — it comes back without its queues, as it
// does after a crash — twice. The first time with jobs queued and not yet
// answered: the worker, finding its queue gone, creates the queues again
// (the DLQ and the redrive policy with them) and a later message is
// delivered. The second time with no worker running: the gateway, whose
// send finds the queue gone, creates it again and sends the message, which
// a new worker then delivers; and the gateway's drain ends cleanly. Without
// the recreation the worker looped on NonExistentQueue for good.
func TestRecoversFromAnEndpointThatLostItsQueues(t *testing.T) {
	e := newEnv(t, envOpts{visibility: 5 * time.Second, maxRecv: 3})
	// Every ML call takes a second, so jobs are still in flight when the
	// endpoint restarts.
	ml := wstest.StartML(t, "*=median:1s,p99:1s")
	mlType := ""
	for _, ty := range e.cat.Types() {
		for _, j := range e.cat.JobsFor(ty.Name, chat.RolePatient) {
			if ty.Op == chat.OpSend && ty.CanSend(chat.RolePatient) && j.Class == chat.ClassML {
				mlType = ty.Name
			}
		}
	}
	if mlType == "" {
		t.Fatal("the catalog has no ML job a patient's message triggers")
	}
	wm := queuemode.NewMetrics(nil)
	logs := &termtest.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", logs.String())
		}
	})
	startWorker := func() *queuemode.Worker {
		return e.worker(ml, func(wc *queuemode.WorkerConfig) {
			wc.Recreate, wc.Metrics, wc.WaitTime = e.spec, wm, time.Second
			wc.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
	}
	w := startWorker()
	p := dial(t, e.gw.URL(), "p1", chat.RolePatient, "c1", "c2")
	conv := "c1"
	sendType := func(id, typ string) *chat.ServerFrame {
		p.C.Send(chat.ClientFrame{Op: chat.OpSend, ID: id, Conv: conv, Type: typ, Body: "hello"})
		reply, _ := p.C.AwaitReply(id)
		return reply
	}
	send := func(id string) *chat.ServerFrame { return sendType(id, "wait_time_request") }
	isWaitTime := func(f *chat.ServerFrame, id string) bool {
		return f.Op == chat.OpEvent && f.ReplyTo == id && f.Event.Job == "wait_time"
	}
	delivered := func(id string) {
		t.Helper()
		p.C.Send(chat.ClientFrame{Op: chat.OpSend, ID: id, Conv: conv, Type: "wait_time_request", Body: "hello"})
		r, evs := p.C.AwaitReply(id)
		if r.Op != chat.OpAck {
			t.Fatalf("%s: %+v, want an ack", id, r)
		}
		// The event may come before the ack: the worker can receive, run
		// and post the job while the gateway's send call is still
		// returning.
		for _, f := range evs {
			if isWaitTime(f, id) {
				return
			}
		}
		for f := p.C.Next(); !isWaitTime(f, id); f = p.C.Next() {
		}
	}
	for _, c := range []string{"c1", "c2"} {
		p.C.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "j-" + c, Conv: c})
		p.C.AwaitReply("j-" + c)
	}
	delivered("w1")

	addr := strings.TrimPrefix(e.endpoint, "http://")
	restart := func() {
		t.Helper()
		_ = e.sqs.Close()
		e.sqs = sqsd.New(sqsd.Config{})
		if _, err := e.sqs.Start(addr); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.sqs.Close() })
	}

	// 1. Jobs queued and unanswered when the endpoint restarts.
	for _, id := range []string{"f1", "f2", "f3"} {
		if r := sendType(id, mlType); r.Op != chat.OpAck {
			t.Fatalf("%s: %+v", id, r)
		}
	}
	awaitValue(t, wm.JobsInFlight, 1)
	restarted := time.Now()
	restart()
	awaitValue(t, wm.QueueRecreated.WithLabelValues("worker"), 1)
	t.Logf("worker: queues created again %v after the endpoint restarted", time.Since(restarted).Round(time.Millisecond))
	// In another conversation: c1's jobs from before the restart are still
	// in the worker's hands (each ML call a second), and the worker keeps a
	// conversation's order, so a c1 message would wait for them.
	conv = "c2"
	delivered("w2")
	conv = "c1"
	t.Logf("worker: a new message delivered %v after the endpoint restarted", time.Since(restarted).Round(time.Millisecond))
	out, err := e.client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(e.queues.URL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rp := out.Attributes[string(types.QueueAttributeNameRedrivePolicy)]; !strings.Contains(rp, e.queues.DLQARN) || !strings.Contains(rp, `"maxReceiveCount":3`) {
		t.Errorf("recreated queue's redrive policy %q: want the DLQ %s after 3 receives", rp, e.queues.DLQARN)
	}

	// 2. No worker: the gateway's send finds the queue gone.
	if err := w.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	restart()
	if r := send("w3"); r.Op != chat.OpAck {
		t.Fatalf("w3 after the second restart: %+v, want an ack (the gateway creates the queue again)", r)
	}
	if got := gathered(t, e.reg, "chatbench_queue_recreated_total", "gateway"); got != 1 {
		t.Errorf("gateway recreated the queues %v times, want 1", got)
	}
	startWorker()
	for f := p.C.Next(); !(f.Op == chat.OpEvent && f.ReplyTo == "w3" && f.Event.Job == "wait_time"); f = p.C.Next() {
	}
	e.shutdown(10 * time.Second)
}

// awaitValue waits until the counter or gauge c reaches at least want.
func awaitValue(t *testing.T, c prometheus.Metric, want float64) {
	t.Helper()
	deadline := time.Now().Add(wstest.Wait)
	for value(c) < want {
		if time.Now().After(deadline) {
			t.Fatalf("counter at %v after %v, want %v", value(c), wstest.Wait, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gathered returns the value of the series of name whose only label has
// the value label.
func gathered(t *testing.T, g prometheus.Gatherer, name, label string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no %s{%s}", name, label)
	return 0
}
