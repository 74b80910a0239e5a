package results_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/results/resultstest"
)

// TestMergeExact checks that merging two shards' histograms gives exactly
// the histogram of all their values, at every quantile.
func TestMergeExact(t *testing.T) {
	a := resultstest.Values(1000, 2000, 0.4)
	b := resultstest.Values(333, 90000, 0.8)
	merged, err := results.Merge(resultstest.Hist(a), resultstest.Hist(b))
	if err != nil {
		t.Fatal(err)
	}
	direct := resultstest.Hist(append(append([]int64{}, a...), b...))
	hm, err := merged.HDR()
	if err != nil {
		t.Fatal(err)
	}
	hd, err := direct.HDR()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []float64{0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100} {
		if got, want := hm.ValueAtQuantile(q), hd.ValueAtQuantile(q); got != want {
			t.Errorf("q%v: merged %d, direct %d", q, got, want)
		}
	}
	if !hm.Equals(hd) {
		t.Error("merged histogram differs from the directly built one")
	}
	merged.Hist, direct.Hist = "", "" // encodings may differ in bytes only
	if *merged != *direct {
		t.Errorf("summary: merged %+v, direct %+v", *merged, *direct)
	}
}

// TestMergeRuns merges two shards of the fixture and checks every kind of
// field adds up.
func TestMergeRuns(t *testing.T) {
	a, b := resultstest.Run(1), resultstest.Run(2)
	b.Paths[0].Start = b.Paths[0].Start.Add(10 * time.Second) // shard b started 10 s later
	b.Paths[0].End = b.Paths[0].End.Add(10 * time.Second)
	// Every integer count of Messages gets its own value in each shard, so
	// that a count the merge forgets shows.
	for _, r := range []*results.Run{a, b} {
		for _, p := range r.Paths {
			v := reflect.ValueOf(&p.Messages).Elem()
			for i := range v.NumField() {
				if f := v.Field(i); f.Kind() == reflect.Int {
					f.SetInt(f.Int() + int64(i+1)*int64(r.Meta.Shards+1))
				}
			}
		}
	}
	m, err := results.MergeRuns(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if m.Meta.Shards != 2 || len(m.Paths) != 3 {
		t.Fatalf("shards %d paths %d", m.Meta.Shards, len(m.Paths))
	}
	for i, p := range m.Paths {
		pa, pb := a.Paths[i], b.Paths[i]
		for g, h := range p.FromScheduled {
			if h.Count != pa.FromScheduled[g].Count+pb.FromScheduled[g].Count {
				t.Errorf("%s %s: count %d", p.Name, g, h.Count)
			}
			want, _ := results.Merge(pa.FromScheduled[g], pb.FromScheduled[g])
			if h.P99 != want.P99 || h.Max != want.Max {
				t.Errorf("%s %s: p99 %d want %d", p.Name, g, h.P99, want.P99)
			}
		}
		if got, want := p.Ledger["all"].Expected, pa.Ledger["all"].Expected+pb.Ledger["all"].Expected; got != want {
			t.Errorf("%s ledger expected %d want %d", p.Name, got, want)
		}
		got, va, vb := reflect.ValueOf(p.Messages), reflect.ValueOf(pa.Messages), reflect.ValueOf(pb.Messages)
		for i := range got.NumField() {
			if got.Field(i).Kind() == reflect.Int && got.Field(i).Int() != va.Field(i).Int()+vb.Field(i).Int() {
				t.Errorf("%s messages.%s: merged %d, shards %d + %d", p.Name, got.Type().Field(i).Name,
					got.Field(i).Int(), va.Field(i).Int(), vb.Field(i).Int())
			}
		}
		if got, want := p.Components[0].CPUSeconds, pa.Components[0].CPUSeconds+pb.Components[0].CPUSeconds; got != want {
			t.Errorf("%s cpu %v want %v", p.Name, got, want)
		}
		for class, hops := range p.Hops {
			for hop, h := range hops {
				if h.Count != pa.Hops[class][hop].Count+pb.Hops[class][hop].Count {
					t.Errorf("%s hop %s %s count %d", p.Name, class, hop, h.Count)
				}
			}
		}
	}
	// Series of the direct path: b is 10 s behind a.
	s := m.Paths[0].Series
	if len(s) != 70 || s[0].Sent != a.Paths[0].Series[0].Sent || s[10].Sent != a.Paths[0].Series[10].Sent+b.Paths[0].Series[0].Sent || s[69].T != 69 {
		t.Fatalf("series not aligned: len %d first %+v", len(s), s[:2])
	}
	if m.Paths[1].Series[0].Sent != a.Paths[1].Series[0].Sent+b.Paths[1].Series[0].Sent {
		t.Error("queue series not summed")
	}
	// Inputs untouched.
	if a.Paths[0].FromScheduled["all"].Count != resultstest.Run(1).Paths[0].FromScheduled["all"].Count {
		t.Error("MergeRuns modified its input")
	}
}

func TestMergeRunsRefuses(t *testing.T) {
	a, b := resultstest.Run(1), resultstest.Run(1)
	b.Meta.TraceDigest = "other"
	if _, err := results.MergeRuns(a, b); err == nil || !strings.Contains(err.Error(), "same trace") {
		t.Errorf("different traces: %v", err)
	}
	b = resultstest.Run(1)
	b.Schema = 2
	if _, err := results.MergeRuns(a, b); err == nil || !strings.Contains(err.Error(), "schema") {
		t.Errorf("different schema: %v", err)
	}
	if _, err := results.MergeRuns(); err == nil {
		t.Error("no runs merged")
	}
}

func TestValidate(t *testing.T) {
	if err := resultstest.Run(1).Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		break_ func(r *results.Run)
		want   string
	}{
		"group":      {func(r *results.Run) { r.Paths[0].Ledger["klass:ml"] = &results.Counts{} }, `group "klass:ml"`},
		"ledger sum": {func(r *results.Run) { r.Paths[1].Ledger["all"].Lost++ }, "delivered+errored+lost+excused"},
		"hist count": {func(r *results.Run) { r.Paths[0].FromScheduled["all"].Count++ }, "encoded histogram holds"},
		"hist bytes": {func(r *results.Run) { r.Paths[0].FromSent["all"].Hist = "!!" }, "decode histogram"},
		"hop":        {func(r *results.Run) { r.Paths[0].Hops["class:ml"]["teleport"] = nil }, `unknown hop "teleport"`},
		"dup path":   {func(r *results.Run) { r.Paths[1].Name = "direct" }, "duplicate path"},
		"series":     {func(r *results.Run) { r.Paths[0].Series[3].T = 1 }, "out of order"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := resultstest.Run(1)
			c.break_(r)
			if err := r.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}

func TestWriteRead(t *testing.T) {
	r := resultstest.Run(1)
	var buf bytes.Buffer
	if err := results.Write(&buf, r); err != nil {
		t.Fatal(err)
	}
	got, err := results.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	if got.Path("queue").Ledger["class:ml"].Lost != 2 || got.Path("nope") != nil {
		t.Error("round trip lost data")
	}
}

// FuzzRead checks Read and Validate never panic, and that what Read accepts
// survives a Write/Read round trip.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	small := resultstest.Run(1)
	small.Paths = small.Paths[2:] // the echo floor only, to keep the seed small
	if err := results.Write(&buf, small); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	buf.Reset()
	reps := resultstest.Repeats(1, 2)
	reps.Paths = reps.Paths[2:] // the echo floor's two repeats
	if err := results.Write(&buf, reps); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"schema":1,"meta":{},"paths":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := results.Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		_ = r.Validate()
		var out bytes.Buffer
		if err := results.Write(&out, r); err != nil {
			return // e.g. a NaN speed cannot be written back
		}
		if _, err := results.Read(&out); err != nil {
			t.Fatalf("re-read of written document: %v", err)
		}
	})
}
