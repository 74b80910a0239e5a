package mlservice

import (
	"math"
	"slices"
	"testing"
	"time"
)

func drawN(s *sampler, n int) []draw {
	out := make([]draw, n)
	for i := range out {
		out[i] = s.next()
	}
	return out
}

func TestSamplerSameSeedSameSequence(t *testing.T) {
	p := DefaultProfiles()[ModelSummary]
	a := drawN(newSampler(p, 42, ModelSummary), 1000)
	b := drawN(newSampler(p, 42, ModelSummary), 1000)
	if !slices.Equal(a, b) {
		t.Fatal("two samplers with the same seed and model drew different sequences")
	}
	if slices.Equal(a, drawN(newSampler(p, 43, ModelSummary), 1000)) {
		t.Error("a different seed drew the same sequence")
	}
	// Each model has its own stream, so traffic to one does not shift another.
	if slices.Equal(a, drawN(newSampler(p, 42, ModelTriage), 1000)) {
		t.Error("a different model drew the same sequence")
	}
}

// quantile returns the q-quantile of sorted xs (nearest rank).
func quantile(xs []time.Duration, q float64) time.Duration {
	return xs[int(math.Ceil(q*float64(len(xs))))-1]
}

func TestSamplerDistribution(t *testing.T) {
	const n = 20000
	for m, p := range DefaultProfiles() {
		t.Run(m, func(t *testing.T) {
			s := newSampler(p, 1, m)
			lat := make([]time.Duration, n)
			fails := 0
			for i := range lat {
				d := s.next()
				lat[i] = d.latency
				if d.fail {
					fails++
				}
			}
			slices.Sort(lat)
			within := func(what string, got, want time.Duration) {
				if r := float64(got) / float64(want); r < 0.85 || r > 1.15 {
					t.Errorf("%s = %v, want %v ±15%%", what, got, want)
				}
			}
			within("median", quantile(lat, 0.5), p.Median)
			within("p99", quantile(lat, 0.99), p.P99)
			if top := lat[n-1]; top > 100*p.P99 {
				t.Errorf("max draw %v exceeds the 100×p99 cap %v", top, 100*p.P99)
			}
			// Binomial(20000, rate): allow about 5 standard deviations.
			mean := p.FailureRate * n
			sd := math.Sqrt(mean * (1 - p.FailureRate))
			if math.Abs(float64(fails)-mean) > 5*sd+1 {
				t.Errorf("failures = %d of %d, want about %.0f", fails, n, mean)
			}
		})
	}
}

func TestShapeQuantiles(t *testing.T) {
	p := Profile{Median: 100 * time.Millisecond, P99: 500 * time.Millisecond, TailRate: 0.001, TailAlpha: 1.5}
	s := newShape(p)
	near := func(what string, got, want time.Duration) {
		t.Helper()
		if math.Abs(float64(got-want)) > 0.001*float64(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	// The splice leaves every quantile below 1−TailRate on the lognormal.
	near("latency(0.5)", s.latency(0.5), p.Median)
	near("latency(0.99)", s.latency(0.99), p.P99)
	near("latency(1-tail)", s.latency(1-p.TailRate), time.Duration(s.tailStart))
	if s.latency(0.9995) <= s.latency(0.99899) {
		t.Error("the Pareto tail is not above the lognormal body")
	}
	// Pareto: P(X > x | tail) = (start/x)^alpha, so the tail's median is start·2^(1/alpha).
	near("tail median", s.latency(1-p.TailRate/2), time.Duration(s.tailStart*math.Pow(2, 1/1.5)))
	if got := s.latency(math.Nextafter(1, 0)); got != 100*p.P99 {
		t.Errorf("latency(→1) = %v, want the cap %v", got, 100*p.P99)
	}
	if got := s.latency(0); got != 0 {
		t.Errorf("latency(0) = %v, want 0", got)
	}

	constant := newShape(Profile{Median: time.Millisecond, P99: time.Millisecond})
	for _, u := range []float64{0.01, 0.5, 0.99} {
		if got := constant.latency(u); got != time.Millisecond {
			t.Errorf("constant profile latency(%v) = %v, want 1ms", u, got)
		}
	}
	if got := newShape(Profile{}).latency(0.99); got != 0 {
		t.Errorf("zero profile latency = %v, want 0", got)
	}
	f := newShape(Profile{FailureRate: 0.25})
	if !f.fails(0.2) || f.fails(0.25) || f.fails(0.9) {
		t.Error("fails(u) is not u < FailureRate")
	}
}
