package main

import (
	"strings"
	"testing"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/queuemode/sqsd"
)

// TestServeQueue runs `chatbench serve queue` set-up free (embedded SQS,
// embedded workers, embedded ML), gets an ML-free job's event back through
// the queue and the callback, and stops it as SIGTERM would.
func TestServeQueue(t *testing.T) {
	_, c, stop := startServe(t, "serve", "queue", "--addr", "127.0.0.1:0", "--callback-addr", "127.0.0.1:0",
		"--ml-profile", "zero", "--log-level", "error", "--embedded-worker", "2")
	c.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "j", Conv: "c1"})
	c.Send(chat.ClientFrame{Op: chat.OpSend, ID: "w", Conv: "c1", Type: "wait_time_request"})
	f := awaitEvent(c, "w", "wait_time")
	if h := f.Event.Hops; h.Enqueued == 0 || h.Dequeued == 0 || h.CallbackIn == 0 {
		t.Errorf("queue hops missing: %+v", h)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve queue exited with %v", err)
	}
}

// TestQueueSetupAndConformance runs `queue setup` twice (idempotent)
// and one conformance check against an embedded endpoint.
func TestQueueSetupAndConformance(t *testing.T) {
	s := sqsd.New(sqsd.Config{})
	endpoint, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	for range 2 {
		out, err := run(t, "queue", "setup", "--sqs-endpoint", endpoint, "--queue-name", "q1")
		if err != nil || !strings.Contains(out, "q1.fifo") || !strings.Contains(out, "q1-dlq.fifo") {
			t.Fatalf("queue setup: %q %v", out, err)
		}
	}
	out, err := run(t, "sqs", "conformance", "--endpoint", endpoint, "--only", "fifo-order*", "--log-level", "error")
	if err != nil {
		t.Fatalf("conformance: %v\n%s", err, out)
	}
	var rep conformanceReport
	decode(t, &rep, "sqs", "conformance", "--endpoint", endpoint, "--only", "fifo-order*", "--log-level", "error", "--format", "json")
	if rep.Endpoint != endpoint || rep.Passed == 0 || rep.Failed != 0 || len(rep.Checks) != rep.Passed+rep.Skipped || rep.Checks[0].Status != "PASS" {
		t.Errorf("conformance --format json: %+v", rep)
	}
	// A pattern that matches no check is a usage error, found before
	// anything connects.
	if _, err := run(t, "sqs", "conformance", "--endpoint", endpoint, "--only", "no-such-check"); exitCode(err) != exitUsage || !strings.HasPrefix(err.Error(), `--only "no-such-check": matches no check`) {
		t.Fatalf("unknown check: %v", err)
	}
}
