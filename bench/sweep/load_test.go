package sweep

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/trace"
)

// TestWorkloadSteps checks the reference's figures against the shipped
// day's header, and that each step's trace offers about its target, has
// the reference's messages per visit, and is a trace the driver accepts.
func TestWorkloadSteps(t *testing.T) {
	h, recs, err := trace.Load(trace.Day())
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWorkload("day", trace.Day())
	if err != nil {
		t.Fatal(err)
	}
	if w.Ref.Messages != len(recs) || w.Ref.Visits != h.Conversations {
		t.Errorf("reference %+v: want the day's %d messages in %d visits", w.Ref, len(recs), h.Conversations)
	}
	if perDay := w.Ref.PerDay(); math.Abs(perDay-float64(len(recs))) > 0.01*float64(len(recs)) {
		t.Errorf("reference: %v messages a day, the day has %d", perDay, len(recs))
	}
	if w.Ref.PeakRate <= w.Ref.MeanRate {
		t.Errorf("peak hour %v msgs/s not above the mean %v: the day has a diurnal curve", w.Ref.PeakRate, w.Ref.MeanRate)
	}
	for _, rate := range []float64{2, 50, 400} {
		p, err := w.step(rate, 20, 3*time.Second, 8*time.Second, 1)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(p.offered-rate) > 0.1*rate {
			t.Errorf("step at %v msgs/s offers %v", rate, p.offered)
		}
		var buf bytes.Buffer
		if err := trace.Write(&buf, p.header, p.recs, false); err != nil {
			t.Fatal(err)
		}
		if _, _, err := trace.Load(buf.Bytes()); err != nil {
			t.Fatalf("step at %v msgs/s: its trace fails the trace checks: %v", rate, err)
		}
		// The connection estimate bounds what the step opens.
		if need := w.users(rate, 20, 11*time.Second); float64(p.stats.Users) > 1.5*need+10 {
			t.Errorf("step at %v msgs/s opens %d connections, the estimate says %.0f", rate, p.stats.Users, need)
		}
	}
	if _, err := w.step(0, 20, time.Second, time.Second, 1); err == nil {
		t.Error("a step at 0 msgs/s: no error")
	}
	if r := w.maxRate(1000, 20, 11*time.Second); !(r > 0) || math.Abs(w.users(r, 20, 11*time.Second)-1000) > 1e-6 {
		t.Errorf("maxRate %v does not invert users", r)
	}
}
