package sweep

import (
	"math"
	"testing"

	"github.com/chatbench/chatbench/bench/results"
)

// TestCostMarginalCPU checks that the CPU per message priced leaves out
// what every step pays whatever its load (start-up, connecting): two
// steps with the same fixed cost and 1 ms per message of gateway CPU give
// 1 ms, where the knee step alone would say more.
func TestCostMarginalCPU(t *testing.T) {
	step := func(n, sent int) *results.Step {
		fixed, per := 2.0, 0.001 // CPU seconds: each start-up, each message
		return &results.Step{N: n, Offered: float64(sent), Pass: true, Trusted: true, Path: &results.Path{
			Name: "queue", Messages: results.Messages{Sent: sent},
			Components: []results.Component{
				{Name: "queue-gateway", CPUSeconds: fixed + per*float64(sent)},
				{Name: "queue-worker-2", CPUSeconds: fixed},
				{Name: "driver", CPUSeconds: 1},
			},
		}}
	}
	s := &results.SweepSeries{Path: "queue", Pace: 20, Steps: []*results.Step{step(1, 100), step(2, 1000)}, Knee: 1}
	sw := &results.Sweep{Reference: results.Reference{MeanRate: 1, PeakRate: 2}, Volume: 86400, Series: []*results.SweepSeries{s}}
	c := cost(sw, s)
	if !c.CPUMarginal || c.CPUBaseStep != 0 {
		t.Fatalf("cost %+v: want the marginal CPU from step 1 to the knee", c)
	}
	if g := c.CPUMillisPerMessage["gateway"]; math.Abs(g-1) > 1e-9 {
		t.Errorf("gateway %v ms per message, want 1", g)
	}
	if w := c.CPUMillisPerMessage["worker"]; w != 0 {
		t.Errorf("worker %v ms per message, want 0: its CPU did not grow with the messages", w)
	}
	if _, ok := c.CPUMillisPerMessage["driver"]; ok {
		t.Error("the driver is priced")
	}
	// One step alone: its CPU over its messages, start-up included.
	s.Steps, s.Knee = s.Steps[1:], 0
	if c := cost(sw, s); c.CPUMarginal || math.Abs(c.CPUMillisPerMessage["gateway"]-3) > 1e-9 {
		t.Errorf("one step: %+v, want 3 ms per message over the step", c)
	}
}
