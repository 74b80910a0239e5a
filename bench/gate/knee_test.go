package gate_test

import (
	"strings"
	"testing"

	"github.com/chatbench/chatbench/bench/gate"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/results/resultstest"
)

func TestParseKnee(t *testing.T) {
	for text, want := range map[string]gate.Rule{
		"knee{path=direct} >= 1000":      {Metric: "knee", Path: "direct", Group: "all", Op: ">=", Value: 1000},
		"knee{path=queue,pace=5} > 50/s": {Metric: "knee", Path: "queue", Group: "all", Op: ">", Value: 50, Pace: 5},
		"knee >= 12.5 msgs/s":            {Metric: "knee", Group: "all", Op: ">=", Value: 12.5},
		"errored_ratio < 2%":             {Metric: "errored_ratio", Group: "all", Op: "<", Value: 0.02},
		"unanswered{path=queue} == 0":    {Metric: "unanswered", Path: "queue", Group: "all", Op: "==", Value: 0},
	} {
		got, err := gate.Parse(text)
		want.Text = text
		if err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", text, got, err, want)
		}
	}
	for text, msg := range map[string]string{
		"knee{class=ml} > 10":    "no class or job",
		"unanswered{job=x} == 0": "no class or job",
		"p99{pace=5} < 1s":       "for the knee only",
		"knee{pace=0} > 1":       "a number > 0",
		"knee > fast":            "messages per second",
	} {
		if _, err := gate.Parse(text); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: error %v, want one saying %q", text, err, msg)
		}
	}
}

// TestCheckKnee checks a knee rule per series of a sweep, a lower bound
// said so, and a run that is not a sweep failing the rule.
func TestCheckKnee(t *testing.T) {
	step := func(n int, offered float64) *results.Step {
		return &results.Step{N: n, Offered: offered, Pass: true, Trusted: true}
	}
	run := resultstest.Run(1)
	run.Sweep = &results.Sweep{Series: []*results.SweepSeries{
		{Path: "direct", Pace: 20, Steps: []*results.Step{step(1, 10), step(2, 100)}, Knee: 1, Stop: results.StopLag},
		{Path: "queue", Pace: 20, Steps: []*results.Step{step(1, 10)}, Knee: 0, Stop: results.StopSLO},
		{Path: "queue", Pace: 5, Steps: []*results.Step{step(1, 40)}, Knee: 0, Stop: results.StopSLO},
		{Path: "echo", Pace: 20, Steps: []*results.Step{step(1, 1)}, Knee: 0, Stop: results.StopSLO},
	}}
	check := func(rule string) []gate.Verdict {
		r, err := gate.Parse(rule)
		if err != nil {
			t.Fatal(err)
		}
		return gate.Check(run, nil, []gate.Rule{r})
	}
	if v := check("knee >= 50"); len(v) != 2 || !v[0].Pass || v[1].Pass || !strings.Contains(v[0].Message, "lower bound") {
		t.Errorf("knee >= 50 over the first pace, echo left out: %+v", v)
	}
	if v := check("knee{path=queue,pace=5} >= 30"); len(v) != 1 || !v[0].Pass {
		t.Errorf("the pace selects the series: %+v", v)
	}
	if v := check("knee{path=hybrid} > 0"); len(v) != 1 || v[0].Pass || !strings.Contains(v[0].Message, "no series") {
		t.Errorf("a missing series passed: %+v", v)
	}
	run.Sweep = nil
	if v := check("knee > 0"); len(v) != 1 || v[0].Pass || !strings.Contains(v[0].Message, "not a sweep") {
		t.Errorf("a run that is not a sweep passed: %+v", v)
	}
}
