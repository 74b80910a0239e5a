package compare_test

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/compare"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/stack"
	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/internal/wstest"
)

// TestCompareAllPaths builds chatbench, runs the default paths as real
// processes on a slice of the shipped day, and checks what the product
// promises: all paths measured, nothing lost, every process accounted for,
// and the echo floor below every path.
func TestCompareAllPaths(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds chatbench and starts 8 processes")
	}
	dir := t.TempDir()
	exe := wstest.BuildChatbench(t)
	// Half an hour of traffic, 20 visits, played fast.
	tr, recs := genTrace(t, trace.Params{Days: 1.0 / 48, Messages: 500, Conversations: 20, Seed: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run, err := compare.Run(ctx, compare.Config{
		Stack: stack.Config{Exe: exe, MLProfile: "fast", Secret: "compare-test-secret-0123456789", LogDir: filepath.Join(dir, "logs")},
		Replay: stack.Replay{TraceName: "half-hour", TraceBytes: tr, Speed: 900, Pace: 150,
			Warmup: -1, Drain: 10 * time.Second, Catalog: jobs.Catalog()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Paths) != len(stack.DefaultPaths()) {
		t.Fatalf("got %d paths, want the default ones: %v", len(run.Paths), stack.DefaultPaths())
	}
	if run.Meta.TraceDigest == "" || run.Meta.Speed != 900 || run.Meta.Cores == 0 {
		t.Errorf("metadata incomplete: %+v", run.Meta)
	}
	// compare's default SQS latency is the region profile, on the queue
	// path only, and the results say so.
	if c := run.Meta.Config; c["sqs_latency"] != compare.DefaultSQSLatency || c["sqs_latency_paths"] != "queue" || c["sqs_latency_profile"] == "" {
		t.Errorf("meta config %v: want the region SQS latency recorded, on path queue", c)
	}
	if h := run.Path("queue").Hops["sync"]["queue_wait"]; h == nil || h.P50 < 5000 {
		t.Errorf("queue_wait of the queue path %+v: want region-like SendMessage and ReceiveMessage calls (median 10 ms each, half of each in the wait), not loopback's 0.3 ms", h)
	}
	echo := run.Path("echo").FromScheduled["all"].P50
	for _, name := range stack.DefaultPaths() {
		if name == "echo" {
			continue
		}
		p := run.Path(name)
		all := p.Ledger["all"]
		if all.Lost != 0 || all.Duplicates != 0 || all.Unexpected != 0 || all.Delivered == 0 {
			t.Errorf("%s ledger: %+v", name, *all)
		}
		if p50 := p.FromScheduled["all"].P50; p50 <= echo {
			t.Errorf("%s p50 %dµs is not above the echo floor's %dµs", name, p50, echo)
		}
		if p.Messages.Sent != len(recs) {
			t.Errorf("%s sent %d of %d", name, p.Messages.Sent, len(recs))
		}
		var procs int
		for _, c := range p.Components {
			if c.CPUSeconds <= 0 || c.PeakRSS <= 0 {
				t.Errorf("%s component %s has no usage: %+v", name, c.Name, c)
			}
			procs++
		}
		if runtime.GOOS == "linux" && (p.Noise == nil || p.Noise.CPU == nil || p.Noise.CPU.OwnSeconds < procsCPU(p)) {
			t.Errorf("%s noise %+v: want the machine's CPU measured, the path's own at least its processes'", name, p.Noise)
		}
		v, _ := stack.Lookup(name)
		if want := len(v.Set.Components) + 1; procs != want {
			t.Errorf("%s: %d components, want %d (processes + driver)", name, procs, want)
		}
	}
}

// procsCPU sums the CPU seconds of p's processes, the driver's included.
func procsCPU(p *results.Path) float64 {
	var s float64
	for _, c := range p.Components {
		s += c.CPUSeconds
	}
	return s
}
