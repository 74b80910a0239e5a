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
	// Each builds a valid config, lets tweak spoil it and starts it.
	dispatcher := func(tweak func(*queuemode.DispatcherConfig)) func() error {
		return func() error {
			c := queuemode.DispatcherConfig{Catalog: jobs.Catalog(), Client: cl, QueueURL: "http://127.0.0.1:9/q.fifo"}
			tweak(&c)
			_, err := queuemode.NewDispatcher(c)
			return err
		}
	}
	callback := func(tweak func(*queuemode.CallbackConfig)) func() error {
		return func() error {
			c := queuemode.CallbackConfig{Secret: cbSecret, Emitter: &recorder{}, Catalog: jobs.Catalog()}
			tweak(&c)
			_, err := queuemode.NewCallback(c)
			return err
		}
	}
	worker := func(tweak func(*queuemode.WorkerConfig)) func() error {
		return func() error {
			c := queuemode.WorkerConfig{Catalog: jobs.Catalog(), Client: cl, QueueURL: "http://127.0.0.1:9/q.fifo", Poster: cc}
			tweak(&c)
			w, err := queuemode.StartWorker(c)
			if err == nil {
				_ = w.Shutdown(ctx)
			}
			return err
		}
	}
	gateway := func(tweak func(*queuemode.GatewayConfig)) func() error {
		return func() error {
			c := queuemode.GatewayConfig{Addr: "127.0.0.1:0", Front: socket.Config{Secret: secret},
				Dispatcher: queuemode.DispatcherConfig{Catalog: jobs.Catalog(), Client: cl, QueueURL: "http://127.0.0.1:9/q.fifo"},
				Callback:   queuemode.CallbackConfig{Secret: cbSecret}, CallbackAddr: "127.0.0.1:0"}
			tweak(&c)
			gw, err := queuemode.StartGateway(c)
			if err == nil {
				_ = gw.Shutdown(ctx)
			}
			return err
		}
	}
	setup := func(o queuemode.SetupOptions) func() error {
		return func() error { _, err := queuemode.Setup(ctx, cl, "q", o); return err }
	}
	tests := []struct {
		name string
		try  func() error
		want string
	}{
		{"dispatcher: required fields", dispatcher(func(c *queuemode.DispatcherConfig) { *c = queuemode.DispatcherConfig{} }),
			"Catalog, Client and QueueURL are required"},
		{"dispatcher: negative call timeout", dispatcher(func(c *queuemode.DispatcherConfig) { c.CallTimeout = -time.Second }),
			"DispatcherConfig.CallTimeout is -1s: must be ≥ 0 (0 means 5s)"},
		{"dispatcher: negative retries", dispatcher(func(c *queuemode.DispatcherConfig) { c.BatchRetries = -1 }),
			"DispatcherConfig.BatchRetries is -1"},
		{"dispatcher: unknown grouping", dispatcher(func(c *queuemode.DispatcherConfig) { c.GroupBy = "user" }),
			`group-by "user": use one of conversation, job, message`},
		{"dispatcher: message size over SQS's limit", dispatcher(func(c *queuemode.DispatcherConfig) { c.MaxMessageBytes = 2 << 20 }),
			"DispatcherConfig.MaxMessageBytes is 2097152: must be at most 1048576 (SQS's limit)"},
		{"callback: short secret", callback(func(c *queuemode.CallbackConfig) { c.Secret = []byte("short") }),
			"callback secret is 5 bytes"},
		{"callback: no emitter", callback(func(c *queuemode.CallbackConfig) { c.Emitter = nil }),
			"Emitter and Catalog are required"},
		{"callback: negative window, ttl and size", callback(func(c *queuemode.CallbackConfig) { c.Window, c.DedupTTL, c.MaxKeys = -1, -1, -1 }),
			"CallbackConfig.Window is -1ns: must be ≥ 0 (0 means 30s)\nqueuemode: CallbackConfig.DedupTTL is -1ns: must be ≥ 0 (0 means 10m)\nqueuemode: CallbackConfig.MaxKeys is -1"},
		{"worker: required fields", worker(func(c *queuemode.WorkerConfig) { *c = queuemode.WorkerConfig{} }),
			"Catalog, Client, QueueURL and Poster are required"},
		{"worker: negative pollers", worker(func(c *queuemode.WorkerConfig) { c.Pollers = -1 }),
			"WorkerConfig.Pollers is -1: must be ≥ 0 (0 means 2)"},
		{"worker: negative in-flight bound", worker(func(c *queuemode.WorkerConfig) { c.MaxInFlight = -1 }),
			"WorkerConfig.MaxInFlight is -1"},
		{"worker: negative durations", worker(func(c *queuemode.WorkerConfig) {
			c.JobTimeout, c.VisibilityTimeout, c.WaitTime, c.CallTimeout, c.DLQPoll = -1, -1, -1, -1, -1
		}), "JobTimeout is -1ns: must be ≥ 0 (0 means 10s)\nqueuemode: WorkerConfig.VisibilityTimeout is -1ns"},
		// SQS refuses a long poll over 20s on every receive.
		{"worker: wait time over SQS's limit", worker(func(c *queuemode.WorkerConfig) { c.WaitTime = 21 * time.Second }),
			"WorkerConfig.WaitTime is 21s: must be at most 20s"},
		{"worker: visibility over SQS's limit", worker(func(c *queuemode.WorkerConfig) { c.VisibilityTimeout = 13 * time.Hour }),
			"WorkerConfig.VisibilityTimeout is 13h0m0s: must be at most 12h0m0s"},
		// The heartbeat beats every half visibility timeout: a second at least.
		{"worker: visibility too short to heartbeat", worker(func(c *queuemode.WorkerConfig) { c.VisibilityTimeout = time.Second }),
			"WorkerConfig.VisibilityTimeout is 1s: must be at least 2s"},
		{"gateway: the dispatcher's, the callback's and the front door's values at once", gateway(func(c *queuemode.GatewayConfig) {
			c.Dispatcher.CallTimeout, c.Callback.MaxKeys, c.Front.SendQueue = -1, -1, -1
		}), "DispatcherConfig.CallTimeout is -1ns: must be ≥ 0 (0 means 5s)\nqueuemode: CallbackConfig.MaxKeys is -1: must be ≥ 0 (0 means 200000)\nsocket: Config.SendQueue is -1"},
		{"gateway: negative drain poll", gateway(func(c *queuemode.GatewayConfig) { c.DrainPoll = -time.Millisecond }),
			"GatewayConfig.DrainPoll is -1ms"},
		{"gateway: no callback secret", gateway(func(c *queuemode.GatewayConfig) { c.Callback.Secret = nil }),
			"callback secret is 0 bytes"},
		{"gateway: callback address unusable", gateway(func(c *queuemode.GatewayConfig) { c.CallbackAddr = "127.0.0.1:-1" }),
			"callback listener"},
		// The callback's port is taken by then: it must be given back.
		{"gateway: front door address unusable", gateway(func(c *queuemode.GatewayConfig) { c.Addr = "127.0.0.1:-1" }),
			"invalid port"},
		{"client: negative attempts and backoff", func() error {
			_, err := queuemode.NewClient(ctx, queuemode.ClientConfig{MaxAttempts: -1, MaxBackoff: -1})
			return err
		}, "ClientConfig.MaxAttempts is -1: must be ≥ 0 (0 means 3)\nqueuemode: ClientConfig.MaxBackoff is -1ns"},
		{"setup: negative values", setup(queuemode.SetupOptions{VisibilityTimeout: -1, MaxReceiveCount: -1, CallTimeout: -1}),
			"SetupOptions.VisibilityTimeout is -1ns: must be ≥ 0 (0 means 30s)\nqueuemode: SetupOptions.MaxReceiveCount is -1: must be ≥ 0 (0 means 5)\nqueuemode: SetupOptions.CallTimeout is -1ns"},
		{"setup: over SQS's limits", setup(queuemode.SetupOptions{VisibilityTimeout: 13 * time.Hour, MaxReceiveCount: 1001}),
			"SetupOptions.VisibilityTimeout is 13h0m0s: must be at most 12h0m0s (SQS's limit)\nqueuemode: SetupOptions.MaxReceiveCount is 1001: must be at most 1000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.try(), tc.want) })
	}
}
