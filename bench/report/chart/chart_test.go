package chart

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	cases := []struct {
		name   string
		axis   Axis
		vals   []float64
		log    bool
		lo, hi float64
	}{
		// The p99s of the issue: an echo job at 1.37 ms beside a queue job
		// at 15.8 s span four decades.
		{"auto spans decades", Axis{Title: "p99, ms"}, []float64{1.37, 15802}, true, 1, 1e5},
		{"auto within two decades", Axis{}, []float64{12, 230}, false, 0, 250},
		{"auto exactly two decades", Axis{}, []float64{1, 100}, true, 1, 100},
		{"linear forced", Axis{Scale: Linear}, []float64{1, 5000}, false, 0, 5000},
		{"log forced, fixed bounds", Axis{Scale: Log, Min: 0.1, Max: 1000}, []float64{5}, true, 0.1, 1000},
		{"linear fixed bounds", Axis{Scale: Linear, Min: 0, Max: 100}, []float64{3, 99.99}, false, 0, 100},
		{"negative data", Axis{Scale: Linear}, []float64{-3, 7}, false, -4, 8},
		// Bad input draws something sane instead of failing.
		{"no data", Axis{}, nil, false, 0, 1},
		{"NaN and Inf ignored", Axis{}, []float64{math.NaN(), math.Inf(1), 2}, false, 0, 2},
		{"log with no positive value", Axis{Scale: Log}, []float64{0, -1}, true, 1, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := resolve(c.axis, c.vals)
			if s.log != c.log || math.Abs(s.lo-c.lo) > 1e-9 || math.Abs(s.hi-c.hi) > 1e-9 {
				t.Fatalf("got log=%v %g..%g, want log=%v %g..%g", s.log, s.lo, s.hi, c.log, c.lo, c.hi)
			}
			if s.log && c.axis.Title != "" && !strings.HasSuffix(s.title, "(log scale)") {
				t.Errorf("log axis title %q does not say so", s.title)
			}
			ts := s.ticks()
			if len(ts) < 2 || len(ts) > 9 {
				t.Errorf("%d ticks: %v", len(ts), ts)
			}
			if !slices.IsSorted(ts) {
				t.Errorf("ticks not sorted: %v", ts)
			}
			for _, v := range ts {
				if f := s.frac(v); f < 0 || f > 1 {
					t.Errorf("tick %g outside the axis (frac %g)", v, f)
				}
			}
			for _, v := range c.vals {
				if f := s.frac(v); math.IsNaN(f) || f < 0 || f > 1 {
					t.Errorf("frac(%g) = %g", v, f)
				}
			}
		})
	}
}

func TestLogTicksAreDecades(t *testing.T) {
	s := resolve(Axis{Scale: Log}, []float64{0.02, 40_000})
	for _, v := range s.ticks() {
		if e := math.Log10(v); math.Abs(e-math.Round(e)) > 1e-9 {
			t.Errorf("log tick %g is not a power of ten", v)
		}
	}
	// Many decades: every second one, still evenly spaced.
	s = resolve(Axis{Scale: Log}, []float64{1e-3, 1e9})
	ts := s.ticks()
	if len(ts) > 8 {
		t.Errorf("%d ticks over 12 decades", len(ts))
	}
	for i := 2; i < len(ts); i++ {
		if r1, r2 := ts[i]/ts[i-1], ts[i-1]/ts[i-2]; math.Abs(r1/r2-1) > 1e-9 {
			t.Errorf("uneven ticks %v", ts)
		}
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 0.1: "0.1", 0.001: "0.001", 1: "1", 250: "250", 1000: "1k", 2500: "2.5k", 1e6: "1M", -2000: "-2k"} {
		if got := Num(v); got != want {
			t.Errorf("Num(%g) = %q, want %q", v, got, want)
		}
	}
}

func TestBarChartHTML(t *testing.T) {
	c := BarChart{
		Label: "p99 <per> job",
		Axis:  Axis{Title: "p99, ms"},
		Groups: []BarGroup{
			{Title: "attachment_classify", Bars: []Bar{
				{Label: "direct", Value: "1.37 ms", Segments: []Segment{{Name: "p99", Color: "#1f77b4", V: 1.37}}},
				{Label: "queue", Value: "15802 ms", Segments: []Segment{{Name: "p99", Color: "#d62728", V: 15802}}},
			}},
			{Title: "<script>alert(1)</script>", Bars: []Bar{{Label: "x", Segments: []Segment{{V: math.NaN()}, {V: -1}}}}},
		},
		Legend: []Key{{Name: "p99", Color: "#000"}},
	}
	h := string(c.HTML())
	for _, want := range []string{"(log scale)", "attachment_classify", "15802 ms", "&lt;script&gt;", `class="cb-legend"`, `aria-label="p99 &lt;per&gt; job"`} {
		if !strings.Contains(h, want) {
			t.Errorf("bar chart lacks %q", want)
		}
	}
	if strings.Contains(h, "<script>") {
		t.Error("bar chart does not escape a group title")
	}
	// On the shared log axis the shortest bar still has a visible length,
	// and the longest is most of the axis.
	var widths []float64
	for _, part := range strings.Split(h, "width:")[1:] {
		var w float64
		if _, err := fmt.Sscanf(part, "%g%%", &w); err != nil {
			t.Fatal(err)
		}
		widths = append(widths, w)
	}
	if len(widths) != 2 || widths[0] < 10 || widths[1] < 80 {
		t.Errorf("bar widths %v%%, want two, the shorter ≥ 10%% and the longer ≥ 80%% of the axis", widths)
	}
	if got := (BarChart{}).HTML(); got != "" {
		t.Errorf("empty bar chart rendered %q", got)
	}
}

func TestLineChartHTML(t *testing.T) {
	c := LineChart{
		Label: "latency vs offered load",
		X:     Axis{Title: "offered load, msg/s", Scale: Log},
		Y:     Axis{Title: "p99, ms", Scale: Log},
		Lines: []Line{
			{Name: "direct", Color: "#1f77b4", Points: []Point{{100, 2}, {1000, 3}, {10000, 900}}},
			{Name: "queue", Color: "#d62728", Dashed: true, Points: []Point{{100, 40}, {1000, 2000}}},
			{Name: "empty"},
		},
		Marks: []Mark{{X: 5000, Y: 250, Label: "knee 5k msg/s", Color: "#1f77b4"}},
	}
	h := string(c.HTML())
	for _, want := range []string{"<polyline", "stroke-dasharray", "knee 5k msg/s", "offered load, msg/s (log scale)", "p99, ms (log scale)", "direct", "queue"} {
		if !strings.Contains(h, want) {
			t.Errorf("line chart lacks %q", want)
		}
	}
	if n := strings.Count(h, "<polyline"); n != 2 {
		t.Errorf("%d lines drawn, want 2 (an empty line draws nothing)", n)
	}
	if strings.Contains(h, ">empty<") {
		t.Error("an empty line is in the legend")
	}
	if got := (LineChart{Lines: []Line{{Name: "x"}}}).HTML(); got != "" {
		t.Errorf("line chart without points rendered %q", got)
	}
}

// ExampleLineChart draws latency against offered load on log-log axes, with
// a knee marked, as a load sweep would.
func ExampleLineChart() {
	c := LineChart{
		Label: "p99 vs offered load",
		X:     Axis{Title: "offered load, msg/s", Scale: Log},
		Y:     Axis{Title: "p99 latency, ms"},
		Lines: []Line{{Name: "direct", Color: "#1f77b4", Points: []Point{{100, 2}, {1000, 3}, {10000, 900}}}},
		Marks: []Mark{{X: 5000, Y: 250, Label: "knee", Color: "#1f77b4"}},
	}
	page := "<style>" + string(CSS) + "</style>" + string(c.HTML())
	fmt.Println(strings.Contains(page, "p99 latency, ms (log scale)"))
	// Output: true
}
