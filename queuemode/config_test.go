package queuemode_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/queuemode"
	"github.com/chatbench/chatbench/socket"
)

// wantErr fails t unless err contains want.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v; want an error with %q", err, want)
	}
}

// TestConfigsRefuseBadValues gives each queue-path config a bad value: it is
// refused with an error naming the field (and the fix), before any SQS call
// or goroutine (TestMain checks for leaks); nothing panics. The client
// points at a closed loopback port: a call would fail differently.
func TestConfigsRefuseBadValues(t *testing.T) {
	ctx := context.Background()
	cl, err := queuemode.NewClient(ctx, queuemode.ClientConfig{Endpoint: "http://127.0.0.1:9"})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := queuemode.NewCallbackClient("http://127.0.0.1:9", cbSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	dispatcher := func() queuemode.DispatcherConfig {
		return queuemode.DispatcherConfig{Catalog: jobs.Catalog(), Client: cl, QueueURL: "http://127.0.0.1:9/q.fifo"}
	}
	worker := func() queuemode.WorkerConfig {
		return queuemode.WorkerConfig{Catalog: jobs.Catalog(), Client: cl, QueueURL: "http://127.0.0.1:9/q.fifo", Poster: cc}
	}
	gateway := func() queuemode.GatewayConfig {
		return queuemode.GatewayConfig{Addr: "127.0.0.1:0", Front: socket.Config{Secret: secret},
			Dispatcher: dispatcher(), Callback: queuemode.CallbackConfig{Secret: cbSecret}, CallbackAddr: "127.0.0.1:0"}
	}
	tests := []struct {
		name string
		try  func() error
		want string
	}{
		{"dispatcher: required fields", func() error {
			_, err := queuemode.NewDispatcher(queuemode.DispatcherConfig{})
			return err
		}, "Catalog, Client and QueueURL are required"},
		{"dispatcher: negative call timeout", func() error {
			c := dispatcher()
			c.CallTimeout = -time.Second
			_, err := queuemode.NewDispatcher(c)
			return err
		}, "DispatcherConfig.CallTimeout is -1s: must be ≥ 0 (0 means 5s)"},
		{"dispatcher: negative retries", func() error {
			c := dispatcher()
			c.BatchRetries = -1
			_, err := queuemode.NewDispatcher(c)
			return err
		}, "DispatcherConfig.BatchRetries is -1"},
		{"callback: short secret", func() error {
			_, err := queuemode.NewCallback(queuemode.CallbackConfig{Secret: []byte("short"), Emitter: &recorder{}})
			return err
		}, "callback secret is 5 bytes"},
		{"callback: no emitter", func() error {
			_, err := queuemode.NewCallback(queuemode.CallbackConfig{Secret: cbSecret})
			return err
		}, "Emitter is required"},
		{"callback: negative window, ttl and size", func() error {
			_, err := queuemode.NewCallback(queuemode.CallbackConfig{Secret: cbSecret, Emitter: &recorder{}, Window: -1, DedupTTL: -1, MaxKeys: -1})
			return err
		}, "CallbackConfig.Window is -1ns: must be ≥ 0 (0 means 30s)\nqueuemode: CallbackConfig.DedupTTL is -1ns: must be ≥ 0 (0 means 10m)\nqueuemode: CallbackConfig.MaxKeys is -1"},
		{"worker: required fields", func() error {
			_, err := queuemode.StartWorker(queuemode.WorkerConfig{})
			return err
		}, "Catalog, Client, QueueURL and Poster are required"},
		{"worker: negative pollers", func() error {
			c := worker()
			c.Pollers = -1
			_, err := queuemode.StartWorker(c)
			return err
		}, "WorkerConfig.Pollers is -1: must be ≥ 0 (0 means 2)"},
		{"worker: negative in-flight bound", func() error {
			c := worker()
			c.MaxInFlight = -1
			_, err := queuemode.StartWorker(c)
			return err
		}, "WorkerConfig.MaxInFlight is -1"},
		{"worker: negative durations", func() error {
			c := worker()
			c.JobTimeout, c.VisibilityTimeout, c.WaitTime, c.CallTimeout, c.DLQPoll = -1, -1, -1, -1, -1
			_, err := queuemode.StartWorker(c)
			return err
		}, "JobTimeout is -1ns: must be ≥ 0 (0 means 10s)\nqueuemode: WorkerConfig.VisibilityTimeout is -1ns"},
		// SQS refuses a long poll over 20s on every receive.
		{"worker: wait time over SQS's limit", func() error {
			c := worker()
			c.WaitTime = 21 * time.Second
			_, err := queuemode.StartWorker(c)
			return err
		}, "WorkerConfig.WaitTime is 21s: must be at most 20s"},
		{"worker: visibility over SQS's limit", func() error {
			c := worker()
			c.VisibilityTimeout = 13 * time.Hour
			_, err := queuemode.StartWorker(c)
			return err
		}, "WorkerConfig.VisibilityTimeout is 13h0m0s: must be at most 12h0m0s"},
		{"worker: visibility not above the job timeout", func() error {
			c := worker()
			c.JobTimeout, c.VisibilityTimeout = 10*time.Second, 10*time.Second
			_, err := queuemode.StartWorker(c)
			return err
		}, "must exceed the job timeout"},
		{"gateway: the dispatcher's, the callback's and the front door's values at once", func() error {
			c := gateway()
			c.Dispatcher.CallTimeout, c.Callback.MaxKeys, c.Front.SendQueue = -1, -1, -1
			_, err := queuemode.StartGateway(c)
			return err
		}, "DispatcherConfig.CallTimeout is -1ns: must be ≥ 0 (0 means 5s)\nqueuemode: CallbackConfig.MaxKeys is -1: must be ≥ 0 (0 means 200000)\nsocket: Config.SendQueue is -1"},
		{"gateway: negative drain poll", func() error {
			c := gateway()
			c.DrainPoll = -time.Millisecond
			_, err := queuemode.StartGateway(c)
			return err
		}, "GatewayConfig.DrainPoll is -1ms"},
		{"gateway: no callback secret", func() error {
			c := gateway()
			c.Callback.Secret = nil
			_, err := queuemode.StartGateway(c)
			return err
		}, "callback secret is 0 bytes"},
		// The front door is serving by then: it must be shut down again.
		{"gateway: callback address unusable", func() error {
			c := gateway()
			c.CallbackAddr = "127.0.0.1:-1"
			_, err := queuemode.StartGateway(c)
			return err
		}, "callback listener"},
		{"client: negative attempts and backoff", func() error {
			_, err := queuemode.NewClient(ctx, queuemode.ClientConfig{MaxAttempts: -1, MaxBackoff: -1})
			return err
		}, "ClientConfig.MaxAttempts is -1: must be ≥ 0 (0 means 3)\nqueuemode: ClientConfig.MaxBackoff is -1ns"},
		{"setup: negative values", func() error {
			_, err := queuemode.Setup(ctx, cl, "q", queuemode.SetupOptions{VisibilityTimeout: -1, MaxReceiveCount: -1, CallTimeout: -1})
			return err
		}, "SetupOptions.VisibilityTimeout is -1ns: must be ≥ 0 (0 means 30s)\nqueuemode: SetupOptions.MaxReceiveCount is -1: must be ≥ 0 (0 means 5)\nqueuemode: SetupOptions.CallTimeout is -1ns"},
		{"setup: over SQS's limits", func() error {
			_, err := queuemode.Setup(ctx, cl, "q", queuemode.SetupOptions{VisibilityTimeout: 13 * time.Hour, MaxReceiveCount: 1001})
			return err
		}, "SetupOptions.VisibilityTimeout is 13h0m0s: must be at most 12h0m0s (SQS's limit)\nqueuemode: SetupOptions.MaxReceiveCount is 1001: must be at most 1000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.try(), tc.want) })
	}
}
