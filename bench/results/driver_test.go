package results_test

import (
	"slices"
	"testing"

	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/results/resultstest"
)

// TestUntrusted checks which groups the schedule lag leaves untrusted:
// those whose p99 is below TrustFactor times the lag's, derived from the
// histograms themselves.
func TestUntrusted(t *testing.T) {
	lag := resultstest.Hist(resultstest.Values(1000, 100, 0.3))
	p := &results.Path{ScheduleLag: lag, FromScheduled: map[string]*results.Histogram{
		"class:sync": resultstest.Hist(resultstest.Values(1000, 150, 0.3)), // about the lag
		"class:ml":   resultstest.Hist(resultstest.Values(1000, 70000, 0.3)),
		"job:empty":  {}, // no deliveries: nothing to judge
	}}
	var want []string
	for g, h := range p.FromScheduled {
		if h.Count > 0 && h.P99 < results.TrustFactor*lag.P99 {
			want = append(want, g)
		}
	}
	slices.Sort(want)
	if got := p.Untrusted(); !slices.Equal(got, want) || !slices.Equal(got, []string{"class:sync"}) {
		t.Fatalf("Untrusted() = %v, want %v", got, want)
	}
	if p.Trusted("class:sync") || !p.Trusted("class:ml") {
		t.Fatalf("Trusted: sync %v, ml %v", p.Trusted("class:sync"), p.Trusted("class:ml"))
	}
	if got := (&results.Path{FromScheduled: p.FromScheduled}).Untrusted(); got != nil {
		t.Fatalf("without a schedule lag nothing can be judged, got %v", got)
	}
}

// TestMergeDriver checks that merging shards adds the senders' times and
// judges the merged histograms again.
func TestMergeDriver(t *testing.T) {
	run := func(lagMedian float64, cpu float64) *results.Run {
		r := resultstest.Run(1)
		for _, p := range r.Paths {
			p.ScheduleLag = resultstest.Hist(resultstest.Values(1000, lagMedian, 0.3))
			p.Driver = &results.DriverSelf{Senders: 2, SenderCPUMs: cpu, SenderRunQueueMs: cpu / 2, Untrusted: p.Untrusted()}
		}
		return r
	}
	a, b := run(10, 100), run(100000, 300) // b's lag is far above every group
	m, err := results.MergeRuns(a, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Paths {
		d := p.Driver
		if d == nil || d.SenderCPUMs != 400 || d.SenderRunQueueMs != 200 || d.Senders != 2 {
			t.Fatalf("path %s: merged driver %+v", p.Name, d)
		}
		if !slices.Equal(d.Untrusted, p.Untrusted()) || len(d.Untrusted) == 0 {
			t.Fatalf("path %s: merged untrusted %v, the merged histograms say %v", p.Name, d.Untrusted, p.Untrusted())
		}
	}
}
