package chaos_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/chaos"
	"github.com/chatbench/chatbench/bench/stack"
	"github.com/chatbench/chatbench/internal/redistest"
	"github.com/chatbench/chatbench/internal/wstest"
)

// TestInstanceFaults runs the direct path as two servers sharing a Redis
// the stack starts, and checks the faults that only exist there: after
// redis-restart every client is asked to resume and the lost history is
// reported as gaps (never silence); after instance-kill the killed
// server's clients reconnect to the other and the killed one is started
// again. On one instance with the in-memory broker neither applies.
func TestInstanceFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds chatbench and starts 4 processes")
	}
	redistest.Binary(t)
	exe := wstest.BuildChatbench(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := func(scale int) chaos.Config {
		c := testConfig(t, exe, "redis-restart", "instance-kill")
		c.Stack.Scale, c.Paths = scale, []string{"direct"}
		c.Windows = map[string]time.Duration{"instance-kill": 2 * time.Second}
		return c
	}
	if run, err := chaos.Run(ctx, cfg(1)); err != nil || len(run.Paths) != 0 {
		t.Fatalf("one instance, in-memory broker: %v, %d cells; want both n/a", err, len(run.Paths))
	}
	run, err := chaos.Run(ctx, cfg(2))
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Paths) != 2 {
		t.Fatalf("%d cells, want 2", len(run.Paths))
	}
	for _, p := range run.Paths {
		all := p.Ledger["all"]
		t.Logf("%s: ledger %+v, messages %+v", p.Fault, *all, p.Messages)
		if p.Instances != 2 || p.Broker != stack.BrokerRedis {
			t.Errorf("%s: topology %d × %q, want 2 on redis", p.Fault, p.Instances, p.Broker)
		}
		if p.Messages.Reconnects == 0 {
			t.Errorf("%s: no client reconnected", p.Fault)
		}
		procs := map[string]int{}
		for _, c := range p.Components {
			procs[c.Name]++
		}
		switch p.Fault {
		case "redis-restart":
			if p.Messages.ResumeGaps == 0 {
				t.Errorf("redis-restart: no gap reported, though Redis lost every history")
			}
			if procs["direct-redis"] != 2 {
				t.Errorf("redis-restart: processes %v, want redis killed and started again", procs)
			}
		case "instance-kill":
			if procs["direct-server-1"] != 2 || procs["direct-server-0"] != 1 {
				t.Errorf("instance-kill: processes %v, want the last server killed and started again", procs)
			}
		}
	}
}
