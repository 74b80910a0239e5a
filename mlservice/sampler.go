package mlservice

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// shape is the latency and failure law of one profile, precomputed. Its
// methods are pure functions of uniform variates, so tests can check the
// law without randomness or waiting.
type shape struct {
	median    float64 // ns
	sigma     float64
	tailRate  float64
	tailStart float64 // ns: the lognormal's (1−tailRate) quantile
	tailAlpha float64
	maxDraw   float64 // ns: cap on outlier draws (100×p99)
	failRate  float64
}

func newShape(p Profile) shape {
	s := shape{
		median:    float64(p.Median),
		sigma:     p.Sigma(),
		tailRate:  p.TailRate,
		tailAlpha: p.TailAlpha,
		maxDraw:   100 * float64(p.P99),
		failRate:  p.FailureRate,
	}
	if s.tailAlpha == 0 {
		s.tailAlpha = DefaultTailAlpha
	}
	if s.tailRate > 0 {
		s.tailStart = s.median * math.Exp(s.sigma*normQuantile(1-s.tailRate))
	}
	return s
}

// normQuantile is the standard normal inverse CDF.
func normQuantile(u float64) float64 { return math.Sqrt2 * math.Erfinv(2*u-1) }

// latency maps a uniform variate u in [0,1) to a latency by inverse CDF:
// below 1−tailRate the lognormal quantile, above it a Pareto tail that starts
// where the lognormal was.
func (s shape) latency(u float64) time.Duration {
	if s.median <= 0 {
		return 0
	}
	var x float64
	if s.tailRate > 0 && u >= 1-s.tailRate {
		v := (u - (1 - s.tailRate)) / s.tailRate // uniform in [0,1)
		x = s.tailStart * math.Pow(1-v, -1/s.tailAlpha)
		x = min(x, max(s.maxDraw, s.tailStart))
	} else {
		x = s.median * math.Exp(s.sigma*normQuantile(u))
	}
	if !(x < math.MaxInt64) { // also catches NaN
		return math.MaxInt64
	}
	return time.Duration(x)
}

// fails maps a uniform variate in [0,1) to an injected failure.
func (s shape) fails(u float64) bool { return u < s.failRate }

// draw is one call's fate.
type draw struct {
	latency time.Duration
	fail    bool
}

// sampler draws the fate of successive calls to one model from a seeded PCG
// stream. Every call consumes exactly two variates (latency, then failure),
// so a given seed yields the same sequence of draws whatever the outcomes;
// which request receives which draw follows arrival order. Safe for
// concurrent use.
type sampler struct {
	shape shape
	mu    sync.Mutex
	rng   *rand.Rand
}

// newSampler seeds the stream from (seed, model), so each model's sequence
// is independent of the traffic to other models.
func newSampler(p Profile, seed int64, model string) *sampler {
	h := fnv.New64a()
	h.Write([]byte(model))
	return &sampler{shape: newShape(p), rng: rand.New(rand.NewPCG(uint64(seed), h.Sum64()))}
}

func (s *sampler) next() draw {
	s.mu.Lock()
	u, f := s.rng.Float64(), s.rng.Float64()
	s.mu.Unlock()
	return draw{latency: s.shape.latency(u), fail: s.shape.fails(f)}
}
