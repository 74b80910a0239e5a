package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

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

// TestServeQueueHybrid runs the hybrid configuration on a standard queue:
// a sync job's event comes back without passing the queue (no enqueued
// stamp), as on the direct path.
func TestServeQueueHybrid(t *testing.T) {
	_, c, stop := startServe(t, "serve", "queue", "--addr", "127.0.0.1:0", "--callback-addr", "127.0.0.1:0",
		"--ml-profile", "zero", "--log-level", "error", "--embedded-worker", "2",
		"--inline-sync", "--queue-type", "standard", "--visibility-timeout", "2s")
	c.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "j", Conv: "c1"})
	c.Send(chat.ClientFrame{Op: chat.OpSend, ID: "w", Conv: "c1", Type: "wait_time_request"})
	if h := awaitEvent(c, "w", "wait_time").Event.Hops; h.Enqueued != 0 || h.JobStart == 0 {
		t.Errorf("inline sync job's hops: %+v; want it run without the queue", h)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve queue exited with %v", err)
	}
}

// TestQueueFlagsRefused checks that a bad variant setting is refused by
// name before anything starts.
func TestQueueFlagsRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "queue", "--group-by", "user"}, `--group-by "user": use one of conversation, job, message`},
		{[]string{"queue", "setup", "--queue-type", "lifo", "--sqs-endpoint", "http://127.0.0.1:9"}, `--queue-type "lifo": use fifo or standard`},
		{[]string{"sqs", "--duplicates", "120%", "--addr", "127.0.0.1:0"}, `--duplicates: "120%": want a share between 0 and 1`},
	} {
		if _, err := run(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("chatbench %s: %v; want an error with %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

// TestSQSServesMetrics runs `chatbench sqs` alone: besides the SQS
// protocol it serves GET /metrics, with the calls it answered, and
// /healthz on the same address (it served neither).
func TestSQSServesMetrics(t *testing.T) {
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	root := newRootCmd()
	root.SetArgs([]string{"sqs", "--addr", "127.0.0.1:0", "--log-level", "error"})
	root.SetOut(pw)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); pw.Close() }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sqs exited with %v", err)
		}
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	endpoint := regexp.MustCompile(`http://\S+`).FindString(line)
	if out, err := run(t, "queue", "setup", "--sqs-endpoint", endpoint, "--queue-name", "m1"); err != nil {
		t.Fatalf("queue setup: %v\n%s", err, out)
	}
	get := func(path string) string {
		resp, err := http.Get(endpoint + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return string(b)
	}
	m := get("/metrics")
	for _, want := range []string{`chatbench_sqsd_requests_total{action="CreateQueue",outcome="ok"}`, "chatbench_build_info", "go_goroutines"} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	if h := get("/healthz"); h != "ok\n" {
		t.Errorf("/healthz: %q", h)
	}
}

// TestCallbackSecretRefused: a separate worker, or a gateway without
// embedded workers, refuses to start without a callback secret or with
// the built-in development one, which any local process can sign events
// with, unless --insecure-dev-secret says so; nothing starts before.
func TestCallbackSecretRefused(t *testing.T) {
	closed := "http://127.0.0.1:9" // nothing listens: a start would fail differently
	for _, tc := range []struct {
		args []string
		want string // "" = not refused for its secret
	}{
		{[]string{"worker", "--sqs-endpoint", closed}, "--callback-secret: required"},
		{[]string{"worker", "--sqs-endpoint", closed, "--callback-secret", devCallbackSecret}, "is the built-in development secret"},
		{[]string{"serve", "queue", "--sqs-endpoint", closed, "--embedded-worker", "0"}, "--callback-secret: required"},
		{[]string{"serve", "queue", "--sqs-endpoint", closed, "--callback-secret", devCallbackSecret}, "is the built-in development secret"},
		{[]string{"worker", "--sqs-endpoint", closed, "--insecure-dev-secret"}, ""},
		{[]string{"worker", "--sqs-endpoint", closed, "--callback-secret", "a-secret-of-this-deployment"}, ""},
	} {
		_, err := run(t, append(tc.args, "--log-level", "error")...)
		switch {
		case err == nil:
			t.Errorf("chatbench %s: started against a closed port", strings.Join(tc.args, " "))
		case tc.want != "" && !strings.Contains(err.Error(), tc.want):
			t.Errorf("chatbench %s: %v; want an error with %q", strings.Join(tc.args, " "), err, tc.want)
		case tc.want == "" && strings.Contains(err.Error(), "secret"):
			t.Errorf("chatbench %s: refused for its secret: %v", strings.Join(tc.args, " "), err)
		}
	}
}

// TestDrainedTimeoutIsNotAFailure: a drain that ran out of its timeout
// exits 0 (the work left is logged); any other shutdown error stands.
func TestDrainedTimeoutIsNotAFailure(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	if err := drained(fmt.Errorf("socket: shutdown: %w", context.DeadlineExceeded), time.Second, log); err != nil {
		t.Errorf("a timed-out drain: %v, want nil", err)
	}
	other := errors.New("listener closed")
	if err := drained(other, time.Second, log); err != other {
		t.Errorf("another error: %v, want it returned", err)
	}
}
