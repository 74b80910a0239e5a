package sqsd

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// post sends one raw JSON-protocol call to h.
func post(t testing.TB, h http.Handler, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://sqs.local:4566/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-amz-json-1.0")
	if target != "" {
		r.Header.Set("X-Amz-Target", target)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestWireErrors(t *testing.T) {
	srv := New(Config{})
	defer srv.Close()
	h := srv.Handler()
	cases := []struct {
		name, target, body string
		status             int
		typ, queryError    string
	}{
		{"missing queue", "AmazonSQS.GetQueueUrl", `{"QueueName":"nope"}`, 400,
			"com.amazonaws.sqs#QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue;Sender"},
		{"bad receipt handle", "AmazonSQS.DeleteMessage", `{"QueueUrl":"http://x/000000000000/q","ReceiptHandle":"zz"}`, 404,
			"com.amazonaws.sqs#ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid;Sender"},
		{"unknown action", "AmazonSQS.FlyToTheMoon", `{}`, 400,
			"com.amazon.coral.service#UnknownOperationException", "InvalidAction;Sender"},
		{"no target", "", `{}`, 400,
			"com.amazon.coral.service#UnknownOperationException", "InvalidAction;Sender"},
		{"not JSON", "AmazonSQS.CreateQueue", `{"QueueName":`, 400,
			"com.amazon.coral.service#SerializationException", "SerializationException;Sender"},
		{"wrong JSON type", "AmazonSQS.CreateQueue", `{"QueueName":7}`, 400,
			"com.amazon.coral.service#SerializationException", "SerializationException;Sender"},
		{"bad queue name", "AmazonSQS.CreateQueue", `{"QueueName":"a b"}`, 400,
			"com.amazon.coral.service#InvalidParameterValueException", "InvalidParameterValue;Sender"},
	}
	// The receipt-handle case needs the queue to exist.
	if w := post(t, h, "AmazonSQS.CreateQueue", `{"QueueName":"q"}`); w.Code != 200 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := post(t, h, tc.target, tc.body)
			if w.Code != tc.status {
				t.Errorf("status = %d, want %d", w.Code, tc.status)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/x-amz-json-1.0" {
				t.Errorf("Content-Type = %q", ct)
			}
			if qe := w.Header().Get("x-amzn-query-error"); qe != tc.queryError {
				t.Errorf("x-amzn-query-error = %q, want %q", qe, tc.queryError)
			}
			var body struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if body.Type != tc.typ || body.Message == "" {
				t.Errorf("body = %+v, want __type %q and a message", body, tc.typ)
			}
		})
	}
}

func TestHandlerBuildsURLsFromHost(t *testing.T) {
	srv := New(Config{AccountID: "111122223333"})
	defer srv.Close()
	w := post(t, srv.Handler(), "AmazonSQS.CreateQueue", `{"QueueName":"q"}`)
	var out struct{ QueueUrl string }
	json.Unmarshal(w.Body.Bytes(), &out)
	if out.QueueUrl != "http://sqs.local:4566/111122223333/q" {
		t.Errorf("QueueUrl = %q", out.QueueUrl)
	}
	if srv.URL() != "" {
		t.Errorf("URL before Start = %q", srv.URL())
	}
}

func TestHandlerOnHTTPTestServer(t *testing.T) {
	// The Handler serves without Start, e.g. behind httptest or a proxy.
	srv := New(Config{})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	defer srv.Close()
	c := newClient(t, ts.URL)
	ctx := t.Context()
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("h")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(aws.ToString(q.QueueUrl), ts.URL+"/") {
		t.Errorf("QueueUrl %q not under %s", aws.ToString(q.QueueUrl), ts.URL)
	}
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("x")}); err != nil {
		t.Fatal(err)
	}
}

func TestClosedServerRefusesCalls(t *testing.T) {
	srv := New(Config{})
	srv.Close()
	w := post(t, srv.Handler(), "AmazonSQS.ListQueues", `{}`)
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("status after Close = %d", w.Code)
	}
	b, _ := io.ReadAll(w.Body)
	if !strings.Contains(string(b), "ServiceUnavailable") {
		t.Errorf("body = %s", b)
	}
}

// FuzzHandler feeds arbitrary bodies to every action: the server must answer
// with a JSON document (success or AWS-shaped error), never panic or hang.
func FuzzHandler(f *testing.F) {
	names := make([]string, 0, len(actions))
	for a := range actions {
		names = append(names, a)
	}
	for i, seed := range []string{
		`{}`, `{"QueueName":"q"}`, `{"QueueUrl":"http://h/0/q","MessageBody":"x"}`,
		`{"QueueUrl":"q","Entries":[{"Id":"a","MessageBody":"b"}]}`,
		`{"QueueUrl":"q","MaxNumberOfMessages":10,"WaitTimeSeconds":0}`,
		`{"QueueUrl":"q","ReceiptHandle":"AAAA","VisibilityTimeout":3}`,
		`{"QueueName":"f.fifo","Attributes":{"FifoQueue":"true","RedrivePolicy":"{}"}}`,
		`{"QueueUrl":"q","MessageBody":"x","MessageAttributes":{"a":{"DataType":"Binary","BinaryValue":"AAE="}}}`,
	} {
		f.Add(uint8(i), seed)
	}
	srv := New(Config{})
	f.Cleanup(func() { srv.Close() })
	h := srv.Handler()
	post(f, h, "AmazonSQS.CreateQueue", `{"QueueName":"q"}`)
	f.Fuzz(func(t *testing.T, action uint8, body string) {
		name := names[int(action)%len(names)]
		if name == "ReceiveMessage" {
			// Keep fuzzing fast: never long-poll (the queue's default wait
			// may have been raised by an earlier SetQueueAttributes).
			var m map[string]any
			if json.Unmarshal([]byte(body), &m) != nil || m == nil {
				return
			}
			m["WaitTimeSeconds"] = 0
			b, _ := json.Marshal(m)
			body = string(b)
		}
		w := post(t, h, "AmazonSQS."+name, body)
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %q: invalid JSON response %q", name, body, w.Body)
		}
	})
}
