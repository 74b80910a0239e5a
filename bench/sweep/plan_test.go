package sweep

import (
	"math"
	"testing"

	"github.com/chatbench/chatbench/bench/results"
)

// TestPlanner walks the planner against a server whose SLO holds up to a
// knee and checks the loads it asks for and why it stops.
func TestPlanner(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    planner
		knee float64 // the SLO holds at loads ≤ knee
		lag  float64 // the driver's lag breaks at loads ≥ lag (0 = never)
		want []float64
		stop string
	}{
		// Geometric ×10 until it breaks, then two bisections of the
		// decade: 100 held, 1000 broke, √(100·1000) = 316 broke, √(100·316)
		// = 178 held; the knee is bracketed in [178, 316].
		{name: "knee", p: planner{from: 1, factor: 10, refine: 2}, knee: 200,
			want: []float64{1, 10, 100, 1000, 316.2, 177.8}, stop: results.StopSLO},
		// --to caps the last geometric step, and a series that holds there
		// ends at the limit: its knee is a lower bound.
		{name: "limit", p: planner{from: 1, to: 50, factor: 10, refine: 2}, knee: 1e9,
			want: []float64{1, 10, 50}, stop: results.StopLimit},
		// The connection limit caps a step like --to, but says why.
		{name: "connections", p: planner{from: 1, factor: 10, refine: 2, maxRate: 30}, knee: 1e9,
			want: []float64{1, 10, 30}, stop: results.StopConnections},
		// An untrusted step ends the series at once, without bisecting:
		// the loads above it measure the driver.
		{name: "lag", p: planner{from: 1, factor: 10, refine: 3}, knee: 1e9, lag: 500,
			want: []float64{1, 10, 100, 1000}, stop: results.StopLag},
		// A break far beyond what the lag explains is the server's: the
		// series bisects as after a trusted break (see decisive below).
		{name: "decisive break", p: planner{from: 1, factor: 10, refine: 1}, knee: 50, lag: 100,
			want: []float64{1, 10, 100, 31.6}, stop: results.StopSLO},
		// Broken at the first step: nothing to bisect.
		{name: "broken at once", p: planner{from: 5, factor: 10, refine: 3}, knee: 1,
			want: []float64{5}, stop: results.StopSLO},
		// No refinement: the knee is the last step that held.
		{name: "no refine", p: planner{from: 1, factor: 10}, knee: 20,
			want: []float64{1, 10, 100}, stop: results.StopSLO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			var got []float64
			for len(got) < 20 {
				x, ok := p.next()
				if !ok {
					break
				}
				got = append(got, x)
				st := &results.Step{Offered: x, Pass: x <= tc.knee, Trusted: tc.lag == 0 || x < tc.lag}
				// In "decisive break" the steps that break do so by more
				// than the lag; in "lag" the SLO holds where the lag breaks.
				st.Decisive = !st.Pass && tc.name == "decisive break"
				p.record(x, st)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("loads %v, want %v", got, tc.want)
			}
			for i := range got {
				if math.Abs(got[i]-tc.want[i]) > 0.1 {
					t.Fatalf("loads %v, want %v", got, tc.want)
				}
			}
			if p.stop != tc.stop || p.detail == "" {
				t.Errorf("stop %q (%s), want %q with a detail", p.stop, p.detail, tc.stop)
			}
		})
	}
}
