// Package stats judges figures that hold across repeated runs
// (`compare --repeat N`, results.PoolRepeats): per path, group and latency
// figure, the median of the repeats' figures with a confidence interval,
// and whether two runs' repeats differ significantly. The statistics are
// golang.org/x/perf/benchmath's, which benchstat uses: a median with a
// distribution-free (order statistic) confidence interval, and the
// Mann-Whitney U test, which assumes nothing about how latency figures are
// distributed (docs/results.md, "Repeats" and "Significance").
package stats

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"golang.org/x/perf/benchmath"

	"github.com/chatbench/chatbench/bench/results"
)

// DefaultAlpha is the significance level a comparison uses unless told
// otherwise: benchstat's. Two runs must hold at least 4 repeats each for a
// change to be significant at it (MinRepeats).
const DefaultAlpha = 0.05

// Confidence is the confidence level of the intervals Summarize asks for.
// Fewer than 6 repeats cannot give a 95% interval of a median; Summarize
// then gives the widest interval they can (their range), at the
// confidence that range has.
const Confidence = 0.95

// LatencyMetrics returns the names of a histogram's latency figures, in
// order: p50, p90, p99, p999, max.
func LatencyMetrics() []string { return []string{"p50", "p90", "p99", "p999", "max"} }

// IsLatency reports whether metric names a latency figure (LatencyMetrics).
func IsLatency(metric string) bool { return slices.Contains(LatencyMetrics(), metric) }

// Latency returns the latency figure metric (IsLatency) of h, µs; ok is
// false when h holds no values or metric is not a latency figure.
func Latency(h *results.Histogram, metric string) (v float64, ok bool) {
	if h == nil || h.Count == 0 {
		return 0, false
	}
	switch metric {
	case "p50":
		return float64(h.P50), true
	case "p90":
		return float64(h.P90), true
	case "p99":
		return float64(h.P99), true
	case "p999":
		return float64(h.P999), true
	case "max":
		return float64(h.Max), true
	}
	return 0, false
}

// Values returns the latency figure metric of group (latency from the
// scheduled send) in each repeat of p, in repeat order: one value per
// repeat, or p's own figure when it holds no repeats. It fails when a
// repeat measured no latency for the group: a median over the repeats
// that did would hide the one that did not.
func Values(p *results.Path, group, metric string) ([]float64, error) {
	if !IsLatency(metric) {
		return nil, fmt.Errorf("stats: %q is not a latency figure (p50, p90, p99, p999, max)", metric)
	}
	reps := p.Repeats
	if len(reps) == 0 {
		reps = []*results.Path{p}
	}
	if _, ok := Latency(p.FromScheduled[group], metric); !ok {
		return nil, fmt.Errorf("no latency measured for group %s", group)
	}
	out := make([]float64, 0, len(reps))
	for _, r := range reps {
		v, ok := Latency(r.FromScheduled[group], metric)
		if !ok {
			return nil, fmt.Errorf("repeat %d measured no latency for group %s (the others did)", r.Repeat, group)
		}
		out = append(out, v)
	}
	return out, nil
}

// Summary is the median of a figure across repeats, with a confidence
// interval.
type Summary struct {
	// N is the number of repeats.
	N int `json:"n"`
	// Median is the repeats' median; Lo and Hi bound its confidence
	// interval (both the median when N is 1: no interval).
	Median float64 `json:"median"`
	Lo     float64 `json:"lo"`
	Hi     float64 `json:"hi"`
	// Confidence is the interval's actual confidence level: at least
	// Confidence from 6 repeats on; from fewer, the confidence of their
	// range (75% for 3, 87.5% for 4, 93.75% for 5); 0 for one repeat.
	Confidence float64 `json:"confidence"`
}

// Summarize returns the median of values (one per repeat) and its
// confidence interval, from benchmath's distribution-free summary.
func Summarize(values []float64) Summary {
	n := len(values)
	if n == 0 {
		return Summary{}
	}
	if n == 1 {
		return Summary{N: 1, Median: values[0], Lo: values[0], Hi: values[0]}
	}
	s := benchmath.NewSample(slices.Clone(values), &benchmath.DefaultThresholds)
	sum := benchmath.AssumeNothing.Summary(s, Confidence)
	if math.IsInf(sum.Lo, 0) || math.IsInf(sum.Hi, 0) {
		// Too few repeats for the level asked: the range of n values
		// covers the median with probability 1 − 2·2⁻ⁿ, the most they
		// can give. Ask for that level (just under it, against
		// rounding), so the interval stays the library's.
		sum = benchmath.AssumeNothing.Summary(s, 1-math.Ldexp(1, 1-n)-1e-9)
	}
	return Summary{N: n, Median: sum.Center, Lo: sum.Lo, Hi: sum.Hi, Confidence: sum.Confidence}
}

// ConfidenceOf returns the confidence level of the interval Summarize gives
// for n repeats (whatever their values): at least Confidence from 6 on, the
// confidence of their range below, 0 for one.
func ConfidenceOf(n int) float64 { return Summarize(make([]float64, n)).Confidence }

// Outcome is what a comparison concludes.
type Outcome string

// Outcomes of a comparison of a latency figure (lower is better).
const (
	// Unchanged: the repeats do not differ significantly.
	Unchanged Outcome = "unchanged"
	// Better: significantly lower in the current run.
	Better Outcome = "better"
	// Worse: significantly higher in the current run.
	Worse Outcome = "worse"
	// Unjudged: too few repeats for the test to ever reach the
	// significance level (a single run on either side, or 3 against 3
	// at α = 0.05); only the medians can be compared.
	Unjudged Outcome = "unjudged"
)

// Comparison compares a latency figure's repeats in a baseline and a
// current run.
type Comparison struct {
	Baseline Summary `json:"baseline"`
	Current  Summary `json:"current"`
	// Change is (current median − baseline median) ÷ baseline median;
	// +Inf when the baseline is 0 and the current is not.
	Change float64 `json:"change"`
	// P is the Mann-Whitney U test's p-value for "both runs' repeats come
	// from one distribution" (1 when the test cannot run, e.g. every
	// value equal).
	P float64 `json:"p"`
	// Alpha is the significance level: the change is significant when
	// P ≤ Alpha (benchstat's rule, forgiving rounding in P).
	Alpha float64 `json:"alpha"`
	// MinP is the smallest p-value the test can give for these numbers of
	// repeats, whatever the values: when it exceeds Alpha the outcome is
	// Unjudged.
	MinP float64 `json:"min_p"`
	// Outcome is the conclusion.
	Outcome Outcome `json:"outcome"`
	// Need is the number of repeats per side that could show a change at
	// Alpha (MinRepeats), for telling the user when Outcome is Unjudged.
	Need int `json:"need"`
}

// Significant reports whether the change is statistically significant.
func (c Comparison) Significant() bool { return c.Outcome == Better || c.Outcome == Worse }

// Compare compares the repeats of a figure in the baseline and the current
// run at significance level alpha (0 < alpha < 1), with benchmath's
// Mann-Whitney U test. A figure from a single run on either side is
// compared on its medians only and comes out Unjudged, as do repeats too
// few for the test to reach alpha.
func Compare(baseline, current []float64, alpha float64) (Comparison, error) {
	if len(baseline) == 0 || len(current) == 0 {
		return Comparison{}, errors.New("stats: compare: no values")
	}
	if !(alpha > 0 && alpha < 1) {
		return Comparison{}, fmt.Errorf("stats: compare: alpha %v: must be between 0 and 1 (e.g. 0.05)", alpha)
	}
	c := Comparison{Baseline: Summarize(baseline), Current: Summarize(current), Alpha: alpha, P: 1}
	switch b, v := c.Baseline.Median, c.Current.Median; {
	case b != 0:
		c.Change = (v - b) / b
	case v > 0:
		c.Change = math.Inf(1)
	}
	c.MinP = MinP(len(baseline), len(current))
	c.Need = MinRepeats(alpha)
	th := benchmath.Thresholds{CompareAlpha: alpha}
	cmp := benchmath.AssumeNothing.Compare(benchmath.NewSample(slices.Clone(baseline), &th), benchmath.NewSample(slices.Clone(current), &th))
	c.P = cmp.P
	switch {
	case !atMost(c.MinP, alpha):
		c.Outcome = Unjudged
	case !atMost(c.P, alpha), c.Change == 0:
		c.Outcome = Unchanged
	case c.Change > 0:
		c.Outcome = Worse
	default:
		c.Outcome = Better
	}
	return c, nil
}

// atMost reports p ≤ alpha, forgiving the rounding of p's computation: the
// library gives 0.10000000000000002 for the exact 2/20 of 3 repeats
// against 3, which must count as reaching α = 0.1.
func atMost(p, alpha float64) bool { return p <= alpha*(1+1e-9) }

// MinP returns the smallest p-value the U test gives for n1 against n2
// repeats: that of two samples that do not overlap at all. It is computed
// by the library's own test on such samples, so it agrees with Compare
// (2 ÷ C(n1+n2, n1) without ties: 0.1 for 3 against 3).
func MinP(n1, n2 int) float64 {
	if n1 < 1 || n2 < 1 {
		return 1
	}
	lo, hi := make([]float64, n1), make([]float64, n2)
	for i := range lo {
		lo[i] = float64(i)
	}
	for i := range hi {
		hi[i] = float64(n1 + i)
	}
	th := benchmath.Thresholds{CompareAlpha: DefaultAlpha}
	return benchmath.AssumeNothing.Compare(benchmath.NewSample(lo, &th), benchmath.NewSample(hi, &th)).P
}

// maxRepeats bounds MinRepeats' search; 20 repeats a side reach any alpha
// a gate would use (MinP(20, 20) is below 1e-10).
const maxRepeats = 20

// MinRepeats returns the fewest repeats per side with which a change can
// be significant at alpha: 4 for 0.05, 3 for 0.1.
func MinRepeats(alpha float64) int {
	for n := 1; n < maxRepeats; n++ {
		if atMost(MinP(n, n), alpha) {
			return n
		}
	}
	return maxRepeats
}
