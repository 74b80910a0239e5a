package directmode_test

import (
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/socket"
)

// TestStartRefusesBadConfig starts servers with bad values: each is refused
// with an error naming the field, before anything runs (TestMain's leak
// check would see a lane or a listener left behind).
func TestStartRefusesBadConfig(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name  string
		tweak func(*directmode.ServerConfig)
		want  string
	}{
		{"no catalog", func(c *directmode.ServerConfig) { c.Dispatcher.Catalog = nil }, "Config.Catalog is required"},
		{"no address", func(c *directmode.ServerConfig) { c.Addr = "" }, "Addr is required"},
		{"negative lanes", func(c *directmode.ServerConfig) { c.Dispatcher.SyncLanes = -1 }, "Config.SyncLanes is -1: must be ≥ 0 (0 means 16)"},
		// Lanes and their queues are allocated up front.
		{"too many lanes", func(c *directmode.ServerConfig) { c.Dispatcher.SyncLanes = math.MaxInt }, "Config.SyncLanes is"},
		{"huge lane queue", func(c *directmode.ServerConfig) { c.Dispatcher.LaneQueue = math.MaxInt }, "Config.LaneQueue is"},
		{"negative lane queue", func(c *directmode.ServerConfig) { c.Dispatcher.LaneQueue = -1 }, "Config.LaneQueue is -1"},
		{"negative tasks", func(c *directmode.ServerConfig) { c.Dispatcher.MaxTasks = -1 }, "Config.MaxTasks is -1"},
		{"negative pending", func(c *directmode.ServerConfig) { c.Dispatcher.MaxPending = -1 }, "Config.MaxPending is -1"},
		{"negative job timeout", func(c *directmode.ServerConfig) { c.Dispatcher.JobTimeout = -time.Second }, "Config.JobTimeout is -1s"},
		{"front door's values too", func(c *directmode.ServerConfig) { c.Front.SendQueue = -1 }, "socket: Config.SendQueue is -1"},
		{"both at once", func(c *directmode.ServerConfig) { c.Front.SendQueue, c.Dispatcher.MaxTasks = -1, -1 }, "MaxTasks is -1: must be ≥ 0 (0 means 256)\nsocket: Config.SendQueue"},
		// The dispatcher has started by then: it must be stopped again.
		{"address in use", func(c *directmode.ServerConfig) { c.Addr = busy.Addr().String() }, "address already in use"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := directmode.ServerConfig{
				Addr: "127.0.0.1:0", Front: socket.Config{Secret: secret},
				Dispatcher: directmode.Config{Catalog: jobs.Catalog()},
			}
			tc.tweak(&cfg)
			srv, err := directmode.Start(cfg)
			if err == nil {
				_ = srv.Shutdown(t.Context())
				t.Fatalf("started; want an error with %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start: %v; want an error with %q", err, tc.want)
			}
		})
	}
}

// TestNewNeedsEmitter: the dispatcher alone needs somewhere to emit.
func TestNewNeedsEmitter(t *testing.T) {
	if _, err := directmode.New(directmode.Config{Catalog: jobs.Catalog()}); err == nil || !strings.Contains(err.Error(), "Emitter is required") {
		t.Fatalf("New without an Emitter: %v", err)
	}
}
