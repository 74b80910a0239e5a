package sweep

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/queuemode"
	"github.com/chatbench/chatbench/queuemode/sqsd"
)

// TestSQSCounterAgreesWithEndpoint makes SQS calls through the counter to
// the embedded endpoint with the AWS SDK and checks that the counter saw
// every request the endpoint counted (chatbench_sqsd_requests_total, the
// source of truth), by action; that an empty receive is counted as such
// and billed; and that a payload over 64 KiB is billed as two requests.
func TestSQSCounterAgreesWithEndpoint(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := sqsd.New(sqsd.Config{Registerer: reg})
	endpoint, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	c, err := newSQSCounter()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.close() })
	if got, err := c.via("ml", "127.0.0.1:1"); err != nil || got != "127.0.0.1:1" {
		t.Fatalf("via routed the ml hop: %q %v", got, err)
	}
	proxy, err := c.via("sqs", strings.TrimPrefix(endpoint, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := queuemode.NewClient(ctx, queuemode.ClientConfig{Endpoint: "http://" + proxy, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	q, err := cl.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("jobs.fifo"),
		Attributes: map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	send := func(body string) {
		t.Helper()
		if _, err := cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(body), MessageGroupId: aws.String("g")}); err != nil {
			t.Fatal(err)
		}
	}
	send("one")
	send(strings.Repeat("x", 100<<10)) // two 64 KiB chunks and a bit
	got, err := cl.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil || len(got.Messages) == 0 {
		t.Fatalf("receive: %v, %d messages", err, len(got.Messages))
	}
	var entries []types.DeleteMessageBatchRequestEntry
	for i, m := range got.Messages {
		entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(string(rune('a' + i))), ReceiptHandle: m.ReceiptHandle})
	}
	if _, err := cl.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: q.QueueUrl, Entries: entries}); err != nil {
		t.Fatal(err)
	}
	// Whatever the FIFO group held back, drain it, then one receive that
	// must come back empty.
	for {
		r, err := cl.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			break
		}
		for _, m := range r.Messages {
			if _, err := cl.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The worker's reading of the DLQ's depth recurs; a start-up read of
	// its ARN does not.
	dlq, err := cl.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("jobs-dlq.fifo"), Attributes: map[string]string{"FifoQueue": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, attr := range []types.QueueAttributeName{types.QueueAttributeNameQueueArn, types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessages} {
		if _, err := cl.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{attr}}); err != nil {
			t.Fatal(err)
		}
	}

	counted := map[string]int64{}
	var sends, empty int64
	for _, n := range c.snapshot() {
		counted[n.Action] += n.Calls
		if n.Queue != "fifo" && n.Action != "CreateQueue" {
			t.Errorf("%s counted on a %s queue, want fifo", n.Action, n.Queue)
		}
		switch n.Action {
		case "SendMessage":
			sends = n.Billed
		case "GetQueueAttributes":
			if n.Calls != 3 || n.Polls != 2 || n.PollRate(10) <= 0 {
				t.Errorf("GetQueueAttributes %+v: want 3 calls, 2 of them polls of the DLQ's depth", n)
			}
		case "ReceiveMessage":
			empty = n.Empty
			if n.WaitUS != int64(time.Second/time.Microsecond) || n.Pollers < 1 {
				t.Errorf("receive counts %+v: want the 1 s long poll and a poller recorded", n)
			}
		}
	}
	want := endpointRequests(t, reg)
	for action, n := range want {
		if counted[action] != n {
			t.Errorf("%s: the counter saw %d requests, the endpoint %d", action, counted[action], n)
		}
	}
	for action := range counted {
		if _, ok := want[action]; !ok {
			t.Errorf("%s: counted %d, the endpoint saw none", action, counted[action])
		}
	}
	if sends != 1+2 {
		t.Errorf("send billed %d requests, want 3 (a small one and one of 100 KiB = 2 chunks)", sends)
	}
	if empty < 1 {
		t.Errorf("empty receives %d, want at least the last one", empty)
	}
	if !perMessage("SendMessageBatch") || !perMessage("ChangeMessageVisibility") || perMessage("GetQueueAttributes") || !recurring("GetQueueAttributes") {
		t.Error("per-message and recurring actions misclassified")
	}
}

// endpointRequests reads chatbench_sqsd_requests_total by action.
func endpointRequests(t *testing.T, reg *prometheus.Registry) map[string]int64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, mf := range mfs {
		if mf.GetName() != "chatbench_sqsd_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "action" {
					out[l.GetValue()] += int64(m.GetCounter().GetValue())
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("the endpoint counted no requests")
	}
	return out
}
