package results_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/results/resultstest"
)

// TestPoolRepeats checks a pooled path keeps each repeat whole and pools
// every kind of field the way repeats (one after another) add up.
func TestPoolRepeats(t *testing.T) {
	slow := []float64{1, 1.5, 2}
	run := resultstest.Repeats(slow...)
	if err := run.Validate(); err != nil {
		t.Fatal(err)
	}
	for pi, p := range run.Paths {
		if len(p.Repeats) != len(slow) || p.Repeat != 0 {
			t.Fatalf("%s: %d repeats, repeat %d", p.Name, len(p.Repeats), p.Repeat)
		}
		var want *results.Histogram
		var cpu, rate float64
		var peak int64
		for i, r := range p.Repeats {
			single := resultstest.Run(slow[i]).Paths[pi]
			if r.Repeat != i+1 || r.Name != p.Name {
				t.Errorf("%s repeat %d: numbered %d, name %s", p.Name, i, r.Repeat, r.Name)
			}
			// Each repeat keeps its own raw histograms.
			if r.FromScheduled["all"].Hist != single.FromScheduled["all"].Hist {
				t.Errorf("%s repeat %d: histogram changed", p.Name, i+1)
			}
			var err error
			if want, err = mergeOrFirst(want, single.FromScheduled["all"]); err != nil {
				t.Fatal(err)
			}
			cpu += single.Components[0].CPUSeconds
			peak = max(peak, single.Components[0].PeakRSS)
			rate += single.Messages.PerSecond
		}
		got := p.FromScheduled["all"]
		if got.Count != want.Count || got.P50 != want.P50 || got.P99 != want.P99 || got.Max != want.Max {
			t.Errorf("%s: pooled %+v, exact sum %+v", p.Name, *got, *want)
		}
		if c := p.Components[0]; c.CPUSeconds != cpu || c.PeakRSS != peak {
			t.Errorf("%s: component %+v, want cpu %v peak %d", p.Name, c, cpu, peak)
		}
		if d := p.Messages.PerSecond - rate/3; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s: msgs/s %v, want the mean %v", p.Name, p.Messages.PerSecond, rate/3)
		}
		// The series is summed by second of the replay, not spread over
		// the wall clock the repeats span.
		if len(p.Series) != 60 || p.Series[5].Sent != 3*p.Repeats[0].Series[5].Sent {
			t.Errorf("%s: series of %d seconds, second 5 sent %d", p.Name, len(p.Series), p.Series[5].Sent)
		}
		if !p.Start.Equal(p.Repeats[0].Start) || !p.End.Equal(p.Repeats[2].End) {
			t.Errorf("%s: span %s–%s", p.Name, p.Start, p.End)
		}
	}
	if _, err := results.PoolRepeats(nil); err == nil {
		t.Error("pooled no repeats")
	}
	a, b := resultstest.Run(1), resultstest.Run(1)
	if _, err := results.PoolRepeats([]*results.Path{a.Paths[0], b.Paths[1]}); err == nil || !strings.Contains(err.Error(), "one path at a time") {
		t.Errorf("pooled two paths: %v", err)
	}
	if _, err := results.PoolRepeats([]*results.Path{run.Paths[0]}); err == nil || !strings.Contains(err.Error(), "holds repeats") {
		t.Errorf("pooled a pooled path: %v", err)
	}
}

func mergeOrFirst(a, b *results.Histogram) (*results.Histogram, error) {
	if a == nil {
		return b, nil
	}
	return results.Merge(a, b)
}

// TestRepeatsOldReader checks that a reader that does not know repeats
// (which ignores the fields it does not know) reads a valid document of
// pooled paths, with the same figures.
func TestRepeatsOldReader(t *testing.T) {
	run := resultstest.Repeats(1, 1.2, 0.9)
	var buf bytes.Buffer
	if err := results.Write(&buf, run); err != nil {
		t.Fatal(err)
	}
	back, err := results.Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(back.Path("queue").Repeats) != 3 || back.Path("queue").Repeats[2].FromScheduled["class:ml"].Hist != run.Path("queue").Repeats[2].FromScheduled["class:ml"].Hist {
		t.Fatal("round trip lost the repeats")
	}
	// An old reader: the same document without the fields it does not know.
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range doc["paths"].([]any) {
		delete(p.(map[string]any), "repeats")
	}
	old, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := results.Read(bytes.NewReader(old))
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	if got.Path("direct").FromScheduled["all"].P99 != run.Path("direct").FromScheduled["all"].P99 || got.Path("direct").Ledger["all"].Expected != 3*resultstest.Run(1).Path("direct").Ledger["all"].Expected {
		t.Error("an old reader sees other figures than the pooled path's")
	}
}

// TestMergeRepeats merges two shards that each hold repeats: repeat k of
// the merge is exactly the merge of the shards' repeat k, and the path is
// pooled from the merged repeats.
func TestMergeRepeats(t *testing.T) {
	a, b := resultstest.Repeats(1, 2, 3), resultstest.Repeats(1.5, 2.5, 3.5)
	m, err := results.MergeRuns(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	for pi, p := range m.Paths {
		if len(p.Repeats) != 3 {
			t.Fatalf("%s: %d repeats", p.Name, len(p.Repeats))
		}
		var pooled *results.Histogram
		for k, r := range p.Repeats {
			want, err := results.Merge(a.Paths[pi].Repeats[k].FromScheduled["all"], b.Paths[pi].Repeats[k].FromScheduled["all"])
			if err != nil {
				t.Fatal(err)
			}
			if got := r.FromScheduled["all"]; got.Count != want.Count || got.P50 != want.P50 || got.Max != want.Max {
				t.Errorf("%s repeat %d: %+v, want %+v", p.Name, k+1, *got, *want)
			}
			if r.Repeat != k+1 {
				t.Errorf("%s repeat %d numbered %d", p.Name, k+1, r.Repeat)
			}
			if pooled, err = mergeOrFirst(pooled, want); err != nil {
				t.Fatal(err)
			}
		}
		if got := p.FromScheduled["all"]; got.Count != pooled.Count || got.P99 != pooled.P99 {
			t.Errorf("%s: pooled %+v, want %+v", p.Name, *got, *pooled)
		}
	}
	short := resultstest.Repeats(1, 2)
	if _, err := results.MergeRuns(a, short); err == nil || !strings.Contains(err.Error(), "run 2 holds 2 repeats, run 1 holds 3") {
		t.Errorf("shards with 3 and 2 repeats: %v", err)
	}
	if _, err := results.MergeRuns(resultstest.Run(1), a); err == nil || !strings.Contains(err.Error(), "run 2 holds 3 repeats, run 1 holds 0") {
		t.Errorf("a shard without repeats and one with: %v", err)
	}
}

func TestValidateRepeats(t *testing.T) {
	cases := map[string]struct {
		break_ func(p *results.Path)
		want   string
	}{
		"numbering": {func(p *results.Path) { p.Repeats[1].Repeat = 3 }, "repeat 3, want 2"},
		"name":      {func(p *results.Path) { p.Repeats[0].Name = "queue" }, `repeats[0]: name "queue"`},
		"nested":    {func(p *results.Path) { p.Repeats[0].Repeats = []*results.Path{p.Repeats[1]} }, "holds repeats itself"},
		"not pooled": {func(p *results.Path) {
			p.FromScheduled["class:ml"] = p.Repeats[0].FromScheduled["class:ml"]
		}, `latency_from_scheduled["class:ml"]: count`},
		"ledger not pooled": {func(p *results.Path) { p.Ledger["all"] = p.Repeats[0].Ledger["all"] }, `ledger["all"]: expected`},
		"repeat outside":    {func(p *results.Path) { p.Repeat = 1 }, "outside repeats"},
		"bad repeat":        {func(p *results.Path) { p.Repeats[2].FromSent["all"].Hist = "!!" }, "repeats[2]: latency_from_sent"},
		"null repeat":       {func(p *results.Path) { p.Repeats[1] = nil }, "repeats[1]: null"},
	}
	var doc bytes.Buffer
	if err := results.Write(&doc, resultstest.Repeats(1, 1.1, 1.2)); err != nil {
		t.Fatal(err)
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := results.Read(bytes.NewReader(doc.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			c.break_(r.Paths[0])
			if err := r.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}
