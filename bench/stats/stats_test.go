package stats_test

import (
	"math"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/bench/results/resultstest"
	"github.com/chatbench/chatbench/bench/stats"
)

func TestSummarize(t *testing.T) {
	cases := []struct {
		name           string
		values         []float64
		median, lo, hi float64
		confidence     float64 // at least
	}{
		{"one run: no interval", []float64{7}, 7, 7, 7, 0},
		// Too few for 95%: the range, at the confidence it has.
		{"three repeats", []float64{12, 10, 11}, 11, 10, 12, 0.75 - 1e-6},
		{"five repeats", []float64{5, 1, 4, 2, 3}, 3, 1, 5, 0.9375 - 1e-6},
		// Enough for a 95% interval inside the range.
		{"nine repeats", []float64{9, 1, 8, 2, 7, 3, 6, 4, 5}, 5, 2, 8, stats.Confidence},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := stats.Summarize(c.values)
			if s.N != len(c.values) || s.Median != c.median || s.Lo != c.lo || s.Hi != c.hi || s.Confidence < c.confidence {
				t.Errorf("got %+v, want median %v [%v, %v] at ≥ %v", s, c.median, c.lo, c.hi, c.confidence)
			}
			if len(c.values) > 1 && s.Confidence >= 1 {
				t.Errorf("confidence %v", s.Confidence)
			}
		})
	}
	for n, want := range map[int]float64{1: 0, 2: 0.5, 3: 0.75, 5: 0.9375} {
		if got := stats.ConfidenceOf(n); math.Abs(got-want) > 1e-9 {
			t.Errorf("ConfidenceOf(%d) = %v, want %v", n, got, want)
		}
	}
	if got := stats.ConfidenceOf(6); got < stats.Confidence || got >= 1 {
		t.Errorf("ConfidenceOf(6) = %v", got)
	}
	if s := stats.Summarize(nil); s.N != 0 {
		t.Errorf("no values: %+v", s)
	}
}

// TestMinP checks the pitfall docs/results.md warns about: 3 repeats
// against 3 can never reach p ≤ 0.05.
func TestMinP(t *testing.T) {
	if p := stats.MinP(3, 3); math.Abs(p-0.1) > 1e-12 {
		t.Errorf("MinP(3, 3) = %v, want 0.1", p)
	}
	if p := stats.MinP(4, 4); math.Abs(p-2.0/70) > 1e-12 {
		t.Errorf("MinP(4, 4) = %v, want 2/70", p)
	}
	if p := stats.MinP(1, 9); p <= 0.1 {
		t.Errorf("MinP(1, 9) = %v: one run cannot be significant", p)
	}
	if p := stats.MinP(20, 20); p > 1e-10 {
		t.Errorf("MinP(20, 20) = %v", p)
	}
	for alpha, want := range map[float64]int{0.05: 4, 0.1: 3, 0.01: 5, 0.34: 2} {
		if got := stats.MinRepeats(alpha); got != want {
			t.Errorf("MinRepeats(%v) = %d, want %d", alpha, got, want)
		}
	}
}

func TestCompare(t *testing.T) {
	cases := []struct {
		name     string
		base     []float64
		cur      []float64
		alpha    float64
		want     stats.Outcome
		change   float64 // approximately
		maxP     float64 // P must be at most this (0: no bound)
		minP     float64 // P must be at least this
		wantNeed int
	}{
		{name: "same distribution", base: []float64{100, 103, 98, 101, 99}, cur: []float64{102, 97, 101, 104, 99}, alpha: 0.05, want: stats.Unchanged, change: 0.01, minP: 0.2},
		{name: "a clear 2x shift", base: []float64{100, 103, 98, 101, 99}, cur: []float64{201, 197, 205, 199, 203}, alpha: 0.05, want: stats.Worse, change: 1.0099, maxP: 0.01},
		{name: "a clear halving", base: []float64{201, 197, 205, 199, 203}, cur: []float64{100, 103, 98, 101, 99}, alpha: 0.05, want: stats.Better, change: -0.5024, maxP: 0.01},
		// The noisy runs of the issue: medians 50% apart, repeats overlapping.
		{name: "noisy overlap", base: []float64{50, 164, 60, 48, 115}, cur: []float64{164, 49, 75, 58, 120}, alpha: 0.05, want: stats.Unchanged, change: 0.25, minP: 0.3},
		// 3 against 3 never reaches 0.05, however far apart.
		{name: "3 vs 3 at 0.05", base: []float64{10, 11, 12}, cur: []float64{20, 21, 22}, alpha: 0.05, want: stats.Unjudged, change: 0.9091, wantNeed: 4},
		{name: "3 vs 3 at 0.1", base: []float64{10, 11, 12}, cur: []float64{20, 21, 22}, alpha: 0.1, want: stats.Worse, change: 0.9091, wantNeed: 3},
		{name: "single runs", base: []float64{10}, cur: []float64{15}, alpha: 0.05, want: stats.Unjudged, change: 0.5, wantNeed: 4},
		// Equal values: the test cannot run; nothing changed.
		{name: "all equal", base: []float64{10, 10, 10, 10}, cur: []float64{10, 10, 10, 10}, alpha: 0.05, want: stats.Unchanged, change: 0, minP: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := stats.Compare(c.base, c.cur, c.alpha)
			if err != nil {
				t.Fatal(err)
			}
			if got.Outcome != c.want || math.Abs(got.Change-c.change) > 1e-3 {
				t.Errorf("outcome %s change %v, want %s %v (%+v)", got.Outcome, got.Change, c.want, c.change, got)
			}
			if (c.maxP > 0 && got.P > c.maxP) || got.P < c.minP {
				t.Errorf("p = %v, want in [%v, %v]", got.P, c.minP, c.maxP)
			}
			if c.wantNeed > 0 && got.Need != c.wantNeed {
				t.Errorf("need %d, want %d", got.Need, c.wantNeed)
			}
			if got.Significant() != (c.want == stats.Better || c.want == stats.Worse) {
				t.Errorf("significant %v for %s", got.Significant(), got.Outcome)
			}
		})
	}
	if _, err := stats.Compare(nil, []float64{1}, 0.05); err == nil {
		t.Error("compared no values")
	}
	if _, err := stats.Compare([]float64{1}, []float64{1}, 1.5); err == nil || !strings.Contains(err.Error(), "alpha 1.5") {
		t.Errorf("alpha 1.5: %v", err)
	}
	if c, _ := stats.Compare([]float64{0}, []float64{3}, 0.05); !math.IsInf(c.Change, 1) {
		t.Errorf("change from 0: %v", c.Change)
	}
}

// TestValues reads one figure per repeat from a run built with repeats, and
// the single figure from a run without.
func TestValues(t *testing.T) {
	slow := []float64{1, 2, 1.5}
	run := resultstest.Repeats(slow...)
	vs, err := stats.Values(run.Path("queue"), "class:ml", "p50")
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range slow {
		want, _ := stats.Latency(resultstest.Run(s).Path("queue").FromScheduled["class:ml"], "p50")
		if vs[i] != want {
			t.Errorf("repeat %d: %v, want %v", i+1, vs[i], want)
		}
	}
	single := resultstest.Run(1)
	if vs, err := stats.Values(single.Path("direct"), "all", "p99"); err != nil || len(vs) != 1 || vs[0] != float64(single.Path("direct").FromScheduled["all"].P99) {
		t.Errorf("single run: %v %v", vs, err)
	}
	run.Path("direct").Repeats[1].FromScheduled["job:triage"] = nil
	if _, err := stats.Values(run.Path("direct"), "job:triage", "max"); err == nil || !strings.Contains(err.Error(), "repeat 2") {
		t.Errorf("a repeat without the group: %v", err)
	}
	if _, err := stats.Values(single.Path("direct"), "all", "lost"); err == nil {
		t.Error("lost read as a latency")
	}
}
