package chaos_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/chaos"
	"github.com/chatbench/chatbench/bench/stack"
	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/internal/wstest"
)

// TestWorkerKill builds chatbench, runs the queue path as real processes,
// SIGKILLs its worker 30% into a short replay and restarts it 3 s later,
// and checks the fault happened (a second worker process, ML deliveries
// held up for about the window) and that deliveries resumed after it.
func TestWorkerKill(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds chatbench and starts 4 processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const window = 3 * time.Second
	cfg := testConfig(t, wstest.BuildChatbench(t), "worker-kill")
	cfg.Windows = map[string]time.Duration{"worker-kill": window}
	run, err := chaos.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Paths) != 1 {
		t.Fatalf("got %d paths, want worker-kill on queue only (n/a on direct)", len(run.Paths))
	}
	p := run.Paths[0]
	if p.Name != "queue" || p.Fault != "worker-kill" || p.FaultWindow == nil {
		t.Fatalf("path %q fault %q window %v", p.Name, p.Fault, p.FaultWindow)
	}
	if d := p.FaultWindow.End.Sub(p.FaultWindow.Start); d < window {
		t.Errorf("fault window %s, want at least %s", d, window)
	}
	workers := 0
	for _, c := range p.Components {
		if c.Name == "queue-worker" {
			workers++
		}
	}
	if workers != 2 {
		t.Errorf("%d worker processes, want 2 (killed and restarted): %+v", workers, p.Components)
	}
	if p.FaultLatency == nil || p.FaultLatency.DuringP99 < (window/2).Microseconds() {
		t.Errorf("p99 during the kill %+v, want ML deliveries held up ≥ %s", p.FaultLatency, window/2)
	}
	after := 0
	we := p.FaultWindow.End.Sub(p.Start)
	for _, s := range p.Series {
		if time.Duration(s.T)*time.Second > we {
			after += s.Delivered
		}
	}
	if after == 0 {
		t.Errorf("no deliveries after the window (ends %s in): %+v", we, p.Series)
	}
	if p.RecoverySeconds < 0 {
		t.Errorf("never recovered")
	}
	all := p.Ledger["all"]
	t.Logf("ledger %+v, recovery %.0f s, latency %+v", *all, p.RecoverySeconds, *p.FaultLatency)
}

// testConfig is the chaos tests' run of scenarios on both paths: the
// components of exe with the fast ML profile, logging to a temporary
// folder, replaying halfHour quickly.
func testConfig(t *testing.T, exe string, scenarios ...string) chaos.Config {
	return chaos.Config{
		Stack: stack.Config{Exe: exe, MLProfile: "fast", Secret: "chaos-test-secret-0123456789", LogDir: filepath.Join(t.TempDir(), "logs")},
		Replay: stack.Replay{TraceName: "half-hour", TraceBytes: halfHour(t), Speed: 900, Pace: 60,
			Warmup: -1, Drain: 8 * time.Second, Catalog: jobs.Catalog()},
		Paths:     []string{"direct", "queue"},
		Scenarios: scenarios,
	}
}

// halfHour is the chaos tests' trace: a generated half hour, 300 messages.
func halfHour(t *testing.T) []byte {
	t.Helper()
	h, recs, err := trace.Generate(trace.Params{Days: 1.0 / 48, Messages: 300, Conversations: 12, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	var tr bytes.Buffer
	if err := trace.Write(&tr, h, recs, false); err != nil {
		t.Fatal(err)
	}
	return tr.Bytes()
}
