package results_test

import (
	"strings"
	"testing"

	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/results/resultstest"
)

// sweepOf is a sweep document of one series of path, its knee at its one
// step (the fixture's path of that name).
func sweepOf(path string) *results.Run {
	run := resultstest.Run(1)
	p := run.Path(path)
	run.Paths = []*results.Path{p}
	run.Sweep = &results.Sweep{SLO: []string{"lost == 0"}, Factor: 10, Volume: 14700,
		Reference: results.Reference{TraceName: "day", TraceDigest: run.Meta.TraceDigest},
		Series: []*results.SweepSeries{{Path: path, Pace: 20, Knee: 0, StopStep: -1, Stop: results.StopLimit,
			Steps: []*results.Step{{N: 1, Target: 10, Offered: 10, Path: p, Pass: true, Trusted: true}}}}}
	return run
}

func TestMergeSweeps(t *testing.T) {
	m, err := results.MergeRuns(sweepOf("direct"), sweepOf("queue"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("merged sweep invalid: %v", err)
	}
	if len(m.Sweep.Series) != 2 || m.Sweep.Lookup("queue", 0) == nil || len(m.Paths) != 2 {
		t.Fatalf("merged %d series, %d paths: want both", len(m.Sweep.Series), len(m.Paths))
	}
	other := sweepOf("queue")
	other.Sweep.SLO = []string{"lost == 1"}
	for name, runs := range map[string][]*results.Run{
		"in more than one sweep": {sweepOf("direct"), sweepOf("direct")},
		"is not a sweep":         {sweepOf("direct"), resultstest.Run(1)},
		"another SLO":            {sweepOf("direct"), other},
	} {
		if _, err := results.MergeRuns(runs...); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("merge: %v, want an error saying %q", err, name)
		}
	}
}

func TestValidateSweep(t *testing.T) {
	for want, spoil := range map[string]func(*results.Sweep){
		"no such step":      func(s *results.Sweep) { s.Series[0].Knee = 3 },
		"did not hold":      func(s *results.Sweep) { s.Series[0].Steps[0].Pass = false },
		"n 2, want 1":       func(s *results.Sweep) { s.Series[0].Steps[0].N = 2 },
		"duplicate path":    func(s *results.Sweep) { s.Series = append(s.Series, s.Series[0]) },
		"factor 1: must be": func(s *results.Sweep) { s.Factor = 1 },
	} {
		run := sweepOf("direct")
		spoil(run.Sweep)
		if err := run.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validate: %v, want %q", err, want)
		}
	}
}
