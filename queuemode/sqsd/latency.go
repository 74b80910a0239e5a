package sqsd

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LatencyProfile is the delay the server adds to every call, standing in for
// the network round trip and service time of a real SQS endpoint. The zero
// value adds nothing.
//
// Each call's delay is Fixed plus, when Median > 0, a lognormal draw with
// that median whose 99th percentile is P99 (P99 <= Median means no spread:
// always Median). Draws come from one PCG stream seeded by Seed, in arrival
// order. Half the delay is spent before the call takes effect and half
// after, so a message becomes receivable about a one-way trip after its
// SendMessage started, as it would in a region.
type LatencyProfile struct {
	Fixed  time.Duration
	Median time.Duration
	P99    time.Duration
	Seed   int64
}

// RegionLatency is the profile named "region": a same-region SQS API call
// from EC2, assumed at about 10 ms median and 40 ms p99 round trip. The
// figures are an assumption in line with commonly reported SendMessage and
// ReceiveMessage latencies ("single-digit to tens of milliseconds"), not a
// measurement; measure your own region and pass "median:..,p99:.." to
// replace them.
var RegionLatency = LatencyProfile{Median: 10 * time.Millisecond, P99: 40 * time.Millisecond}

// IsZero reports whether p adds no latency.
func (p LatencyProfile) IsZero() bool { return p.Fixed <= 0 && p.Median <= 0 }

// String renders p in the syntax ParseLatencyProfile reads.
func (p LatencyProfile) String() string {
	if p.IsZero() {
		return "none"
	}
	var parts []string
	if p.Fixed > 0 {
		parts = append(parts, "fixed:"+p.Fixed.String())
	}
	if p.Median > 0 {
		parts = append(parts, "median:"+p.Median.String())
		if p.P99 > 0 {
			parts = append(parts, "p99:"+p.P99.String())
		}
	}
	if p.Seed != 0 {
		parts = append(parts, "seed:"+strconv.FormatInt(p.Seed, 10))
	}
	return strings.Join(parts, ",")
}

// ParseLatencyProfile reads a latency profile from a command-line flag:
// "" or "none" (no added latency), "region" (RegionLatency), or a comma-separated
// list of key:value pairs among fixed:<duration>, median:<duration>,
// p99:<duration> and seed:<integer>, e.g. "fixed:20ms" or
// "median:15ms,p99:60ms,seed:7". "region" may be followed by pairs that
// override it ("region,seed:3").
func ParseLatencyProfile(s string) (LatencyProfile, error) {
	s = strings.TrimSpace(s)
	var p LatencyProfile
	if s == "" || s == "none" {
		return p, nil
	}
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "region" && i == 0 {
			p = RegionLatency
			continue
		}
		key, val, ok := strings.Cut(part, ":")
		if !ok {
			return LatencyProfile{}, fmt.Errorf("latency profile %q: %q is not key:value; use none, region, or pairs like fixed:20ms or median:15ms,p99:60ms", s, part)
		}
		if key == "seed" {
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return LatencyProfile{}, fmt.Errorf("latency profile %q: seed %q is not an integer", s, val)
			}
			p.Seed = n
			continue
		}
		d, err := time.ParseDuration(val)
		if err != nil || d < 0 {
			return LatencyProfile{}, fmt.Errorf("latency profile %q: %s %q is not a non-negative duration like 15ms", s, key, val)
		}
		switch key {
		case "fixed":
			p.Fixed = d
		case "median":
			p.Median = d
		case "p99":
			p.P99 = d
		default:
			return LatencyProfile{}, fmt.Errorf("latency profile %q: unknown key %q; use fixed, median, p99 or seed", s, key)
		}
	}
	if p.P99 > 0 && p.Median == 0 {
		return LatencyProfile{}, fmt.Errorf("latency profile %q: p99 needs a median", s)
	}
	if p.P99 > 0 && p.P99 < p.Median {
		return LatencyProfile{}, fmt.Errorf("latency profile %q: p99 %v is below the median %v", s, p.P99, p.Median)
	}
	return p, nil
}

// z99 is the standard normal 0.99 quantile.
const z99 = 2.3263478740408408

// latencySampler draws delays for a profile. Safe for concurrent use.
type latencySampler struct {
	p     LatencyProfile
	mu    sync.Mutex
	rng   *rand.Rand
	sigma float64
}

func newLatencySampler(p LatencyProfile) *latencySampler {
	if p.IsZero() {
		return nil
	}
	ls := &latencySampler{p: p, rng: rand.New(rand.NewPCG(uint64(p.Seed), 0x5eed5))}
	if p.Median > 0 && p.P99 > p.Median {
		ls.sigma = math.Log(float64(p.P99)/float64(p.Median)) / z99
	}
	return ls
}

// draw returns one call's delay.
func (ls *latencySampler) draw() time.Duration {
	if ls == nil {
		return 0
	}
	d := ls.p.Fixed
	if ls.p.Median > 0 {
		ls.mu.Lock()
		z := ls.rng.NormFloat64()
		ls.mu.Unlock()
		x := float64(ls.p.Median) * math.Exp(ls.sigma*z)
		// Cap far outliers at 100×p99 so one draw cannot stall a run.
		if limit := 100 * float64(max(ls.p.P99, ls.p.Median)); x > limit {
			x = limit
		}
		d += time.Duration(x)
	}
	return d
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
