package gate

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/chatbench/chatbench/bench/results"
)

// kneeMetric is the rule metric of a sweep's knee: the highest offered
// load, msgs/s, at which a path held the sweep's SLO (`chatbench sweep`,
// docs/results.md "Sweep").
const kneeMetric = "knee"

// parseRate parses a rate in messages per second: "100", "100/s" or
// "100 msgs/s".
func parseRate(v string) (float64, error) {
	for _, suffix := range []string{"msgs/s", "/s"} {
		if rest, ok := strings.CutSuffix(v, suffix); ok {
			v = strings.TrimSpace(rest)
			break
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errors.New("not a number")
	}
	if f < 0 {
		return 0, errors.New("negative")
	}
	return f, nil
}

// checkKnees applies a knee rule to the sweep of run: one verdict per
// series it selects (its path, or every path but the echo floor, at its
// pace or the sweep's first). A run without a sweep, or without the
// selected series, fails the rule.
func checkKnees(run *results.Run, r Rule) []Verdict {
	sw := run.Sweep
	if sw == nil || len(sw.Series) == 0 {
		return []Verdict{{Rule: r, Path: r.Path, Message: "the current run is not a sweep: a knee is measured by chatbench sweep"}}
	}
	pace := r.Pace
	if pace == 0 {
		pace = sw.Series[0].Pace
	}
	var out []Verdict
	for _, s := range sw.Series {
		if s.Pace != pace || (r.Path == "" && s.Path == "echo") || (r.Path != "" && s.Path != r.Path) {
			continue
		}
		out = append(out, kneeVerdict(s, r))
	}
	if len(out) == 0 {
		var have []string
		for _, s := range sw.Series {
			have = append(have, s.ID())
		}
		what := "a path"
		if r.Path != "" {
			what = "path " + r.Path
		}
		out = append(out, Verdict{Rule: r, Path: r.Path, Message: fmt.Sprintf("the sweep has no series of %s at pace %g (it has %s)", what, pace, strings.Join(have, ", "))})
	}
	return out
}

// kneeVerdict checks r on series s.
func kneeVerdict(s *results.SweepSeries, r Rule) Verdict {
	v := Verdict{Rule: r, Path: s.Path, Measured: true}
	k := s.KneeStep()
	what := "no step held the SLO"
	if k != nil {
		v.Value = k.Offered
		what = fmt.Sprintf("knee = %s msgs/s at step %d", results.FormatRate(k.Offered), k.N)
		if !s.KneeExact() {
			what = fmt.Sprintf("knee ≥ %s msgs/s at step %d (a lower bound: %s)", results.FormatRate(k.Offered), k.N, s.Stop)
		}
	}
	v.Pass = compare(v.Value, r.Op, r.Value)
	v.Message = fmt.Sprintf("%s (threshold %s %s), series %s", what, r.Op, results.FormatRate(r.Value), s.ID())
	return v
}
