package sweep

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/chatbench/chatbench/bench/gate"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/stats"
)

// DefaultSLO is the service level a step must meet, in the gate's rule
// syntax (docs/methodology.md, "The knee"): a sync job's event within
// 200 ms and an ML job's within 3 s for 99 % of deliveries, from the
// scheduled send; nothing lost, every message answered, and at most 2 %
// of deliveries errored (the default ML profile fails up to 1.5 % of one
// model's calls by design); and for the echo floor, its own round trip
// within 100 ms with nothing lost. As in the gate, a rule without path
// applies to every path except the echo floor.
var DefaultSLO = []string{
	"p99{class=sync} < 200ms",
	"p99{class=ml} < 3s",
	"lost == 0",
	"unanswered == 0",
	"errored_ratio < 2%",
	"p99{path=echo} < 100ms",
	"lost{path=echo} == 0",
}

// DefaultLagFraction bounds the driver's schedule lag p99 at a tenth of
// the tightest latency threshold of the SLO (20 ms for a 200 ms sync
// p99): above it the driver, not the server, could be what broke or
// barely held the SLO.
const DefaultLagFraction = 0.1

// noLatencyLimit is the lag limit of a path whose SLO has no latency
// threshold: the default's, a tenth of 200 ms.
const noLatencyLimit = 20 * time.Millisecond

// ParseSLO parses SLO rules. Regression rules and knee rules are refused:
// a step is judged on its own figures.
func ParseSLO(texts []string) ([]gate.Rule, error) {
	var rules []gate.Rule
	var errs []error
	for _, t := range texts {
		r, err := gate.Parse(t)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("--slo: %w", err))
		case r.Regression:
			errs = append(errs, fmt.Errorf("--slo %q: a regression compares two runs; an SLO rule is a threshold, e.g. 'p99{class=sync} < 100ms'", t))
		case r.Metric == "knee":
			errs = append(errs, fmt.Errorf("--slo %q: the knee is what the sweep finds, not a rule a step can meet; gate a sweep's results on it instead", t))
		default:
			rules = append(rules, r)
		}
	}
	if len(rules) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("--slo: no rules; give at least one, e.g. 'p99{class=sync} < 100ms'"))
	}
	return rules, errors.Join(errs...)
}

// applies reports whether rule r judges path name: its path, or without
// one every path but the echo floor (the gate's convention).
func applies(r gate.Rule, name string) bool {
	if r.Path != "" {
		return r.Path == name
	}
	return name != "echo"
}

// lagLimit is the schedule-lag p99 above which a step of path name is not
// trusted: fraction × the tightest latency threshold that applies to it.
func lagLimit(rules []gate.Rule, name string, fraction float64) time.Duration {
	tightest := math.Inf(1)
	for _, r := range rules {
		if applies(r, name) && stats.IsLatency(r.Metric) && strings.HasPrefix(r.Op, "<") {
			tightest = math.Min(tightest, r.Value)
		}
	}
	if math.IsInf(tightest, 1) {
		return noLatencyLimit
	}
	return time.Duration(fraction * tightest * float64(time.Microsecond))
}

// judge checks step's path against the rules that apply to it and the lag
// limit, and sets its Checks, Pass, Trusted and lag figures.
func judge(step *results.Step, rules []gate.Rule, fraction float64) {
	p := step.Path
	var mine []gate.Rule
	for _, r := range rules {
		if applies(r, p.Name) {
			mine = append(mine, r)
		}
	}
	if p.ScheduleLag != nil {
		step.LagP99 = p.ScheduleLag.P99
	}
	step.Pass = true
	if len(mine) > 0 {
		for _, v := range gate.Check(&results.Run{Paths: []*results.Path{p}}, nil, mine) {
			step.Checks = append(step.Checks, results.StepCheck{Rule: v.Rule.Text, Pass: v.Pass, Measured: v.Measured, Value: v.Value, Message: v.Message})
			// A rule with nothing to measure (no deliveries of its class
			// in a thin step) cannot fail the step.
			if v.Measured && !v.Pass {
				step.Pass = false
				// A latency from the scheduled send above its bound by
				// more than the driver's lag p99 is the server's: a late
				// send adds at most its lag.
				if stats.IsLatency(v.Rule.Metric) && strings.HasPrefix(v.Rule.Op, "<") && v.Value-float64(step.LagP99) > v.Rule.Value {
					step.Decisive = true
				}
			}
		}
	}
	step.LagLimit = lagLimit(rules, p.Name, fraction).Microseconds()
	step.Trusted = step.LagP99 <= step.LagLimit
}

// failed names the rules a step broke, for its series' Detail.
func failed(step *results.Step) string {
	var out []string
	for _, c := range step.Checks {
		if c.Measured && !c.Pass {
			out = append(out, c.Message)
		}
	}
	return strings.Join(out, "; ")
}
