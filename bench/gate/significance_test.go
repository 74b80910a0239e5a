package gate_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/bench/gate"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/results/resultstest"
	"github.com/chatbench/chatbench/bench/stats"
)

// Slow factors of five repeats around 1 and around 2: each repeat of a
// run is the fixture with every latency multiplied by its factor.
var (
	around1 = []float64{1, 1.03, 0.98, 1.01, 0.97}
	around2 = []float64{2, 2.05, 1.96, 2.03, 1.97}
)

// memo returns resultstest.Repeats, memoised: the fixture takes a while to
// build, and the tests do not modify the runs.
func memo() func(slow ...float64) *results.Run {
	runs := map[string]*results.Run{}
	return func(slow ...float64) *results.Run {
		key := fmt.Sprint(slow)
		if runs[key] == nil {
			runs[key] = resultstest.Repeats(slow...)
		}
		return runs[key]
	}
}

// TestSignificance is the case for the gate: with repeats it
// reports a change only when the U test finds it, and says when it cannot
// judge.
func TestSignificance(t *testing.T) {
	repeats := memo()
	base := repeats(around1...)
	cases := []struct {
		name     string
		base     *results.Run
		cur      *results.Run
		rule     string
		opts     []gate.Option
		outcome  stats.Outcome
		pass     bool
		messages []string
	}{
		{name: "same distribution", base: base, cur: repeats(1.02, 0.99, 1.04, 0.96, 1),
			rule: "p50 regression < 10% significant", outcome: stats.Unchanged, pass: true,
			messages: []string{"no significant change (p=", "n=5)", "(median of 5 repeats)"}},
		{name: "a clear 2x shift", base: base, cur: repeats(around2...),
			rule: "p50 regression < 10% significant", outcome: stats.Worse, pass: false,
			messages: []string{"worse by 1", "(p=0.008, n=5)", "+10", "threshold < 10%, significant"}},
		// The flaky CI: medians far apart, repeats overlapping.
		// The significant rule passes where the plain one would fail.
		{name: "noisy overlap", base: repeats(1, 1.6, 0.8, 1.3, 0.9), cur: repeats(1.5, 0.85, 1.25, 1.7, 0.95),
			rule: "p50 regression < 10% significant", outcome: stats.Unchanged, pass: true,
			messages: []string{"+25.0%", "no significant change (p=0.690, n=5)"}},
		{name: "noisy overlap, plain rule", base: repeats(1, 1.6, 0.8, 1.3, 0.9), cur: repeats(1.5, 0.85, 1.25, 1.7, 0.95),
			rule: "p50 regression < 10%", outcome: stats.Unchanged, pass: false,
			messages: []string{"no significant change"}},
		{name: "faster", base: repeats(around2...), cur: base,
			rule: "p50 regression < 10% significant", outcome: stats.Better, pass: true,
			messages: []string{"better by 50.0% (p=0.008, n=5)", "-50.0%"}},
		// Three repeats a side can never reach p ≤ 0.05: the rule falls
		// back to the medians, and says how many repeats would do.
		{name: "3 vs 3 at the default alpha", base: repeats(around1[:3]...), cur: repeats(around2[:3]...),
			rule: "p50 regression < 10% significant", outcome: stats.Unjudged, pass: false,
			messages: []string{"cannot judge significance: 3+3 repeats give p ≥ 0.100 at best; need ≥ 4 repeats per side for α=0.05"}},
		{name: "3 vs 3 at alpha 0.1", base: repeats(around1[:3]...), cur: repeats(around2[:3]...),
			rule: "p50 regression < 10% significant", opts: []gate.Option{gate.Alpha(0.1)}, outcome: stats.Worse, pass: false,
			messages: []string{"worse by", "(p=0.100, n=3)"}},
		{name: "single runs", base: resultstest.Run(1), cur: resultstest.Run(1.5),
			rule: "p50 regression < 10% significant", outcome: stats.Unjudged, pass: false,
			messages: []string{"+50.0%", "cannot judge significance: a single run on one side (n=1); need ≥ 4 repeats per side"}},
		{name: "repeats against a single run", base: resultstest.Run(1), cur: repeats(around1...),
			rule: "p50 regression < 10% significant", outcome: stats.Unjudged, pass: true,
			messages: []string{"single run on one side (n=1+5)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vs := gate.Check(c.cur, c.base, mustParse(t, c.rule), c.opts...)
			if len(vs) != 2 {
				t.Fatalf("%d verdicts: %v", len(vs), vs)
			}
			for _, v := range vs {
				if v.Figure == nil || v.Figure.Outcome != c.outcome || v.Pass != c.pass {
					t.Errorf("%s: pass %v, figure %+v; want pass %v, %s", v.Path, v.Pass, v.Figure, c.pass, c.outcome)
					continue
				}
				for _, m := range c.messages {
					if !strings.Contains(v.Message, m) {
						t.Errorf("%s: message %q lacks %q", v.Path, v.Message, m)
					}
				}
			}
			if gate.Failed(vs) == c.pass {
				t.Errorf("Failed = %v", gate.Failed(vs))
			}
		})
	}
}

// TestRepeatsThresholds checks threshold rules on a run with repeats: a
// latency is the median of the repeats' (one slow repeat does not move
// it), a ledger count the sum over them (a loss in any repeat shows).
func TestRepeatsThresholds(t *testing.T) {
	run := resultstest.Repeats(1, 3, 1)
	single := resultstest.Run(1)
	vs := gate.Check(run, nil, mustParse(t, "p99{path=queue,class=ml} < 2s", "lost{path=queue} == 0", "delivered_ratio{path=queue,job=triage} >= 99%"))
	if len(vs) != 3 {
		t.Fatalf("verdicts: %v", vs)
	}
	if want := float64(single.Path("queue").FromScheduled["class:ml"].P99); vs[0].Value != want || vs[0].Pass || vs[0].Summary == nil || vs[0].Summary.N != 3 {
		t.Errorf("p99 across repeats: %v (summary %+v), want the median %v", vs[0], vs[0].Summary, want)
	}
	if !strings.Contains(vs[0].Message, "(median of 3 repeats)") {
		t.Errorf("message: %s", vs[0])
	}
	if want := 3 * single.Path("queue").Ledger["all"].Lost; vs[1].Value != float64(want) || !strings.Contains(vs[1].Message, "(sum of 3 repeats)") {
		t.Errorf("lost across repeats: %v, want %d", vs[1], want)
	}
	if !vs[2].Pass || !strings.Contains(vs[2].Message, "(over 3 repeats)") {
		t.Errorf("ratio across repeats: %v", vs[2])
	}
}
