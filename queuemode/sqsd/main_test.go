package sqsd

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// env is one started Server and an SDK client pointed at it.
type env struct {
	t       testing.TB
	srv     *Server
	url     string
	sqs     *sqs.Client
	ctx     context.Context
	waiting chan struct{} // gets a token whenever a long poll starts waiting
}

// newEnv starts a Server on loopback with cfg and returns a client for it.
// Both are torn down when the test ends.
func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	srv := New(cfg)
	waiting := make(chan struct{}, 1)
	srv.waitHook = func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, url: url, ctx: context.Background(), waiting: waiting}
	e.sqs = newClient(t, url)
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return e
}

// newClient returns an SDK client for url whose idle connections are closed
// when the test ends (goleak would otherwise see their goroutines).
func newClient(t testing.TB, url string) *sqs.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	t.Cleanup(tr.CloseIdleConnections)
	return sqs.New(sqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDSQSDTEST", "secret", ""),
		HTTPClient:   &http.Client{Transport: tr},
	})
}

func (e *env) createQueue(name string, attrs map[string]string) string {
	e.t.Helper()
	out, err := e.sqs.CreateQueue(e.ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		e.t.Fatalf("create queue %s: %v", name, err)
	}
	return aws.ToString(out.QueueUrl)
}

func (e *env) fifo(name string, attrs map[string]string) string {
	e.t.Helper()
	a := map[string]string{"FifoQueue": "true"}
	for k, v := range attrs {
		a[k] = v
	}
	return e.createQueue(name, a)
}

func (e *env) send(url, body string) *sqs.SendMessageOutput {
	e.t.Helper()
	out, err := e.sqs.SendMessage(e.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)})
	if err != nil {
		e.t.Fatalf("send %q: %v", body, err)
	}
	return out
}

func (e *env) sendGroup(url, group, dedup, body string) *sqs.SendMessageOutput {
	e.t.Helper()
	in := &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body), MessageGroupId: aws.String(group)}
	if dedup != "" {
		in.MessageDeduplicationId = aws.String(dedup)
	}
	out, err := e.sqs.SendMessage(e.ctx, in)
	if err != nil {
		e.t.Fatalf("send %q to group %s: %v", body, group, err)
	}
	return out
}

// receive does one ReceiveMessage with all attributes.
func (e *env) receive(url string, maxN, wait int32, vt *int32) []types.Message {
	e.t.Helper()
	out, err := e.sqs.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(url),
		MaxNumberOfMessages:         maxN,
		WaitTimeSeconds:             wait,
		VisibilityTimeout:           aws.ToInt32(vt),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		e.t.Fatalf("receive: %v", err)
	}
	return out.Messages
}

func (e *env) del(url string, m types.Message) {
	e.t.Helper()
	if _, err := e.sqs.DeleteMessage(e.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
		e.t.Fatalf("delete %s: %v", aws.ToString(m.MessageId), err)
	}
}

func (e *env) setVisibility(url string, m types.Message, sec int32) {
	e.t.Helper()
	if _, err := e.sqs.ChangeMessageVisibility(e.ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: sec,
	}); err != nil {
		e.t.Fatalf("change visibility of %s: %v", aws.ToString(m.MessageId), err)
	}
}

func (e *env) attrs(url string) map[string]string {
	e.t.Helper()
	out, err := e.sqs.GetQueueAttributes(e.ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll},
	})
	if err != nil {
		e.t.Fatalf("get attributes: %v", err)
	}
	return out.Attributes
}

func bodies(ms []types.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, aws.ToString(m.Body))
	}
	return out
}

// waitForWaiters blocks until n ReceiveMessage calls are long-polling the
// queue named name, re-checking server state each time a poll starts waiting.
func (e *env) waitForWaiters(name string, n int) {
	e.t.Helper()
	timeout := time.After(30 * time.Second) // hang guard only
	for {
		e.srv.mu.Lock()
		got := 0
		if q := e.srv.queues[name]; q != nil {
			got = q.waiters.Len()
		}
		e.srv.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-e.waiting:
		case <-timeout:
			e.t.Fatalf("queue %s: %d long polls waiting, want %d", name, got, n)
		}
	}
}

// asyncReceive runs one long-polling receive in a goroutine.
type asyncReceive struct {
	done chan struct{}
	msgs []types.Message
	err  error
}

func (e *env) receiveAsync(url string, maxN, wait int32) *asyncReceive {
	r := &asyncReceive{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		out, err := e.sqs.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: maxN, WaitTimeSeconds: wait,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		r.err = err
		if out != nil {
			r.msgs = out.Messages
		}
	}()
	return r
}

// result waits for the receive; the bound is a hang guard far above any
// legitimate wake-up, not a latency assertion.
func (r *asyncReceive) result(t testing.TB) ([]types.Message, error) {
	t.Helper()
	select {
	case <-r.done:
		return r.msgs, r.err
	case <-time.After(30 * time.Second):
		t.Fatal("receive did not return")
		return nil, nil
	}
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// asAPIError returns err's SDK error code.
func errCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
