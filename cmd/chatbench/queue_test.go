package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/queuemode/sqsd"
)

// TestServeQueue runs `chatbench serve queue` set-up free (embedded SQS,
// embedded workers, embedded ML), gets an ML-free job's event back through
// the queue and the callback, and stops it as SIGTERM would.
func TestServeQueue(t *testing.T) {
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	root := newRootCmd()
	root.SetArgs([]string{"serve", "queue", "--addr", "127.0.0.1:0", "--callback-addr", "127.0.0.1:0",
		"--ml-profile", "zero", "--log-level", "error", "--embedded-worker", "2"})
	root.SetOut(pw)
	root.SetErr(io.Discard)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	url := regexp.MustCompile(`ws://\S+/ws`).FindString(line)
	if url == "" {
		t.Fatalf("no URL in %q", line)
	}
	tok, err := run(t, "token", "--user", "p1", "--role", "patient", "--conv", "c1")
	if err != nil {
		t.Fatal(err)
	}
	c := wstest.Dial(t, url, "")
	c.Auth(strings.TrimSpace(tok))
	c.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "j", Conv: "c1"})
	c.Send(chat.ClientFrame{Op: chat.OpSend, ID: "w", Conv: "c1", Type: "wait_time_request"})
	for {
		f := c.Next()
		if f.Op == chat.OpEvent && f.ReplyTo == "w" && f.Event.Name == "wait_time" {
			if f.Event.Hops.Enqueued == 0 || f.Event.Hops.Dequeued == 0 || f.Event.Hops.CallbackIn == 0 {
				t.Errorf("queue hops missing: %+v", f.Event.Hops)
			}
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve queue exited with %v", err)
	}
	<-c.Done()
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
	if _, err := run(t, "sqs", "conformance", "--endpoint", endpoint, "--only", "no-such-check"); err == nil || errors.As(err, new(exitCodeError)) {
		t.Fatalf("unknown check: %v", err)
	}
}
