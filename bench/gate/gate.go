// Package gate checks a benchmark run against thresholds and against a
// baseline run, for CI: `chatbench gate` (docs/results.md, "Gate rules").
//
// A rule is
//
//	METRIC[{KEY=VALUE,...}] [regression] OP VALUE
//
// METRIC is p50, p90, p99, p999 (or p99.9) or max — latency from the
// scheduled send — or lost, duplicates, reordered, errored, unexpected,
// delivered_ratio (ledger). KEY is path, class or job (class and job
// exclusive); without path the rule applies to every path except the echo
// floor; without class or job to the group "all". OP is <, <=, ==, !=, >=,
// >. VALUE is a duration for latency (2s, 300ms, 850us), a count for the
// ledger, a ratio (0.999) or percentage (99.9%) for delivered_ratio, and a
// percentage for a regression, which compares a latency of the current run
// with the same path and group of the baseline: (current − baseline) /
// baseline. A regression rule may end in "significant": it then fails only
// when the change is also statistically significant across the runs'
// repeats (bench/stats).
//
// Runs that hold repeats (results.PoolRepeats) are judged on them: a
// latency figure is the median of the repeats' figures, a regression is the
// change of that median, reported with the verdict of a Mann-Whitney U test
// of the repeats ("no significant change", "worse by 12.0% (p=0.008,
// n=5)"), and ledger counts are the sums over the repeats. With a single
// run on either side the gate works as without repeats and says it cannot
// judge significance.
package gate

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/stats"
)

// Ledger metrics (latency metrics are stats.LatencyMetrics: µs, from the
// scheduled send) and operators.
var (
	ledgerMetrics = []string{"lost", "duplicates", "reordered", "errored", "unexpected", "delivered_ratio", "errored_ratio", "unanswered"}
	ops           = []string{"<=", ">=", "==", "!=", "<", ">"}
)

// Rule is one parsed gate rule.
type Rule struct {
	// Text is the rule as written.
	Text string
	// Metric is the metric name (p999 for p99.9).
	Metric string
	// Path is the path the rule applies to; "" means every path except echo.
	Path string
	// Group is the ledger/latency group: "all", "class:<class>" or "job:<job>".
	Group string
	// Regression compares against the baseline run: Value is then the
	// allowed relative change as a fraction (0.10 for 10%).
	Regression bool
	// Op is the comparison: <, <=, ==, !=, >= or >.
	Op string
	// Value is the threshold: µs for latency, a count, a ratio (0..1) for
	// delivered_ratio, or a fraction for a regression.
	Value float64
	// Significant makes a regression rule fail only when the change is
	// statistically significant across the runs' repeats; when it cannot
	// be judged (too few repeats) the rule is checked on the medians.
	Significant bool
	// Pace selects a sweep's series by pace, for the knee (0: the
	// sweep's first pace).
	Pace float64
}

// String returns the rule as written.
func (r Rule) String() string { return r.Text }

// Parse parses one rule. Its errors quote the rule and say how to fix it.
func Parse(text string) (Rule, error) {
	r := Rule{Text: strings.TrimSpace(text), Group: "all"}
	fail := func(format string, args ...any) (Rule, error) {
		return Rule{}, fmt.Errorf("rule %q: %s", r.Text, fmt.Sprintf(format, args...))
	}
	s := r.Text
	if s == "" {
		return fail("empty; write e.g. 'p99{class=ml} < 2s' or 'lost == 0'")
	}
	// Metric.
	i := strings.IndexAny(s, "{ <>=!")
	if i < 0 {
		return fail("no comparison; write METRIC OP VALUE, e.g. '%s < 2s'", s)
	}
	r.Metric, s = strings.ToLower(s[:i]), s[i:]
	if r.Metric == "p99.9" {
		r.Metric = "p999"
	}
	if !stats.IsLatency(r.Metric) && !slices.Contains(ledgerMetrics, r.Metric) && r.Metric != kneeMetric {
		return fail("unknown metric %q; use one of %s", r.Metric, strings.Join(append(append(stats.LatencyMetrics(), ledgerMetrics...), kneeMetric), ", "))
	}
	// Selector.
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return fail("unclosed '{'; write e.g. %s{class=ml}", r.Metric)
		}
		for _, kv := range strings.Split(s[1:end], ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"'`)
			if !ok || v == "" {
				return fail("selector %q is not KEY=VALUE; write e.g. {class=ml} or {path=queue,job=triage}", kv)
			}
			switch k {
			case "path":
				r.Path = v
			case "pace":
				f, err := strconv.ParseFloat(v, 64)
				if r.Metric != kneeMetric || err != nil || !(f > 0) {
					return fail("selector pace=%s: pace selects a sweep's series by its pace (a number > 0), for the knee only; write e.g. knee{path=queue,pace=5} >= 50", v)
				}
				r.Pace = f
			case "class", "job":
				if r.Metric == kneeMetric || r.Metric == "unanswered" {
					return fail("%s counts messages, not deliveries: it has no class or job; select a path only", r.Metric)
				}
				if r.Group != "all" {
					return fail("both class and job selected; a rule applies to one group, split it into two rules")
				}
				r.Group = k + ":" + v
			default:
				return fail("unknown selector key %q; use path, class or job (or pace, for the knee)", k)
			}
		}
		s = s[end+1:]
	}
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "regression"); ok {
		if !stats.IsLatency(r.Metric) {
			return fail("regression applies to latency metrics (%s), not %s; use a threshold such as '%s == 0'", strings.Join(stats.LatencyMetrics(), ", "), r.Metric, r.Metric)
		}
		r.Regression, s = true, strings.TrimSpace(rest)
	}
	// Operator.
	for _, op := range ops {
		if strings.HasPrefix(s, op) {
			r.Op = op
			break
		}
	}
	if r.Op == "" {
		return fail("missing or unknown operator before %q; use one of < <= == != >= >", s)
	}
	v := strings.TrimSpace(s[len(r.Op):])
	if rest, ok := strings.CutSuffix(v, "significant"); ok && (rest == "" || strings.HasSuffix(rest, " ")) {
		if !r.Regression {
			return fail("significant applies to regression rules (it tests the repeats of two runs); write e.g. '%s regression < 10%% significant'", r.Metric)
		}
		r.Significant, v = true, strings.TrimSpace(rest)
	}
	if v == "" {
		return fail("missing value after %s", r.Op)
	}
	var err error
	switch {
	case r.Regression:
		r.Value, err = parsePercent(v, false)
		if err != nil {
			return fail("regression threshold %q: %v; write a percentage such as 10%%", v, err)
		}
	case stats.IsLatency(r.Metric):
		r.Value, err = parseLatency(v)
		if err != nil {
			return fail("latency threshold %q: %v; write a duration such as 2s, 300ms or 850us", v, err)
		}
	case r.Metric == kneeMetric:
		r.Value, err = parseRate(v)
		if err != nil {
			return fail("knee %q: %v; write messages per second, e.g. 100 or 100/s", v, err)
		}
	case r.Metric == "delivered_ratio" || r.Metric == "errored_ratio":
		r.Value, err = parsePercent(v, true)
		if err == nil && (r.Value < 0 || r.Value > 1) {
			err = errors.New("out of range")
		}
		if err != nil {
			return fail("ratio %q: %v; write a ratio between 0 and 1 (0.999) or a percentage (99.9%%)", v, err)
		}
	default:
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil {
			return fail("count %q is not a whole number; write e.g. '%s == 0'", v, r.Metric)
		}
		r.Value = float64(n)
	}
	return r, nil
}

// parseLatency parses a duration into µs.
func parseLatency(v string) (float64, error) {
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return 0, errors.New("no unit")
	}
	d, err := time.ParseDuration(strings.ReplaceAll(v, "us", "µs"))
	if err != nil {
		return 0, errors.New("not a duration")
	}
	if d < 0 {
		return 0, errors.New("negative")
	}
	return float64(d) / float64(time.Microsecond), nil
}

// parsePercent parses "10%" into 0.10; a bare number only if bare is set.
func parsePercent(v string, bare bool) (float64, error) {
	num, pct := strings.CutSuffix(v, "%")
	if !pct && !bare {
		return 0, errors.New("no % sign")
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errors.New("not a number")
	}
	if pct {
		f = math.Round(f/100*1e12) / 1e12 // 99.9% is 0.999, not 0.9990000000000001
	}
	return f, nil
}

// ParseAll parses rules from a file's text: one rule per line; blank lines
// and lines starting with # are skipped, as is anything after " #". Errors
// name the line.
func ParseAll(r io.Reader, name string) ([]Rule, error) {
	var rules []Rule
	var errs []error
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rule, err := Parse(line)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", name, n, err))
			continue
		}
		rules = append(rules, rule)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	return rules, errors.Join(errs...)
}

// Verdict is the outcome of one rule on one path.
type Verdict struct {
	Rule Rule
	// Path is the path checked ("" when the rule matched no path).
	Path string
	// Pass says whether the rule held.
	Pass bool
	// Value is the measured value (µs, count, ratio, or relative change for
	// a regression); Baseline the baseline's value for a regression. A
	// latency of a run with repeats is the median of the repeats'.
	Value, Baseline float64
	// Measured says whether Value holds a measurement: false when the
	// path, group or baseline was missing (Message says which).
	Measured bool
	// Summary is the current run's latency figure across its repeats, for
	// a latency threshold rule (Value is its median); nil otherwise.
	Summary *stats.Summary
	// Figure is the comparison of the latency figure a regression rule
	// checks, across the runs' repeats; nil for other rules and for
	// regressions that could not be computed.
	Figure *Figure
	// Message explains the verdict: the value, the threshold, the path and
	// the group.
	Message string
}

// Figure is one latency figure of one path (metric of group) compared
// between the baseline's and the current run's repeats.
type Figure struct {
	Path, Group, Metric string
	stats.Comparison
}

// Verdict says what the comparison concludes, as a person reads it: "no
// significant change (p=0.310, n=5)", "better by 20.1% (p=0.008, n=5)",
// "worse by 50.0% (p=0.008, n=5+4)", or why significance cannot be judged.
func (f Figure) Verdict() string {
	n := fmt.Sprintf("n=%d", f.Baseline.N)
	if f.Baseline.N != f.Current.N {
		n += fmt.Sprintf("+%d", f.Current.N)
	}
	test := fmt.Sprintf("(p=%.3f, %s)", f.P, n)
	switch f.Outcome {
	case stats.Worse:
		return fmt.Sprintf("worse by %s %s", fmtPct(f.Change, false, 1), test)
	case stats.Better:
		return fmt.Sprintf("better by %s %s", fmtPct(-f.Change, false, 1), test)
	case stats.Unchanged:
		return "no significant change " + test
	}
	need := fmt.Sprintf("need ≥ %d repeats per side for α=%g (chatbench compare --repeat %d)", f.Need, f.Alpha, f.Need)
	if f.Baseline.N == 1 || f.Current.N == 1 {
		return fmt.Sprintf("cannot judge significance: a single run on one side (%s); %s", n, need)
	}
	return fmt.Sprintf("cannot judge significance: %d+%d repeats give p ≥ %.3f at best; %s", f.Baseline.N, f.Current.N, f.MinP, need)
}

// String formats the verdict as one PASS or FAIL line.
func (v Verdict) String() string {
	s := "PASS"
	if !v.Pass {
		s = "FAIL"
	}
	return fmt.Sprintf("%s  %s: %s", s, v.Rule.Text, v.Message)
}

// Failed reports whether any verdict failed.
func Failed(vs []Verdict) bool {
	return slices.ContainsFunc(vs, func(v Verdict) bool { return !v.Pass })
}

// Option sets how Check judges.
type Option func(*checker)

// Alpha sets the significance level of regression figures (default
// stats.DefaultAlpha, 0.05); it must be between 0 and 1.
func Alpha(alpha float64) Option { return func(c *checker) { c.alpha = alpha } }

// RefuseNoisy makes Check refuse noisy runs: before the rules' verdicts it
// adds the check "not noisy" for the current run (and the baseline, when
// given), which fails when any of the run's paths, the echo floor
// included, is flagged noisy (results.Noise), naming each with its reason.
// A path whose noise is unknown (not measured: not Linux, or an older
// file) does not fail it; the check says so.
func RefuseNoisy() Option { return func(c *checker) { c.refuseNoisy = true } }

// checker holds Check's options.
type checker struct {
	alpha       float64
	refuseNoisy bool
}

// noiseRule is the rule of RefuseNoisy's checks: the number of noisy paths
// must be 0.
var noiseRule = Rule{Text: "not noisy", Metric: "noisy", Group: "all", Op: "==", Value: 0}

// noiseVerdict checks that no path of run (the side named which) is noisy.
func noiseVerdict(which string, run *results.Run) Verdict {
	v := Verdict{Rule: noiseRule, Measured: true}
	var bad, reasons, figures, unknown []string
	for _, p := range run.Paths {
		switch n := p.Noise; {
		case n == nil:
			unknown = append(unknown, p.Name)
		case n.Noisy:
			bad = append(bad, p.Name)
			reasons = append(reasons, fmt.Sprintf("path %s is noisy: %s", p.Name, n.Reason))
		case n.CPU != nil:
			figures = append(figures, fmt.Sprintf("%s %.1f%%", p.Name, n.CPU.Share*100))
		default:
			figures = append(figures, p.Name+" quiet")
		}
	}
	v.Path, v.Value = strings.Join(bad, ","), float64(len(bad))
	v.Pass = len(bad) == 0
	switch {
	case !v.Pass:
		v.Message = fmt.Sprintf("%s run: %s; refused (--refuse-noisy): re-run it on a quieter machine", which, strings.Join(reasons, "; "))
	case len(figures) > 0:
		v.Message = fmt.Sprintf("%s run: no path noisy (other processes' share of the CPU: %s)", which, strings.Join(figures, ", "))
	default:
		v.Message = which + " run: no path noisy"
	}
	if len(unknown) > 0 {
		v.Message += fmt.Sprintf("; noise unknown for %s (not measured: not Linux, or written before chatbench measured it)", strings.Join(unknown, ", "))
	}
	return v
}

// Check applies every rule to current (and baseline, for regression
// rules; it may be nil when there are none) and returns one verdict per rule
// and path, in rule order. A rule whose path or group is missing from a run,
// or a regression rule without a baseline, fails: a gate must not pass on
// data it did not see.
func Check(current, baseline *results.Run, rules []Rule, opts ...Option) []Verdict {
	c := checker{alpha: stats.DefaultAlpha}
	for _, o := range opts {
		o(&c)
	}
	var out []Verdict
	if c.refuseNoisy {
		out = append(out, noiseVerdict("current", current))
		if baseline != nil {
			out = append(out, noiseVerdict("baseline", baseline))
		}
	}
	for _, r := range rules {
		if r.Metric == kneeMetric {
			out = append(out, checkKnees(current, r)...)
			continue
		}
		var paths []string
		if r.Path != "" {
			paths = []string{r.Path}
		} else {
			for _, p := range current.Paths {
				if p.Name != "echo" {
					paths = append(paths, p.Name)
				}
			}
		}
		if len(paths) == 0 {
			out = append(out, Verdict{Rule: r, Message: "the current run has no path to check (only the echo floor?); name one with {path=...}"})
			continue
		}
		for _, name := range paths {
			out = append(out, c.checkPath(current, baseline, r, name))
		}
	}
	return out
}

// checkPath applies r to one path.
func (c checker) checkPath(current, baseline *results.Run, r Rule, name string) Verdict {
	v := Verdict{Rule: r, Path: name}
	where := fmt.Sprintf("path %s, group %s", name, r.Group)
	if !stats.IsLatency(r.Metric) {
		val, n, err := ledgerValue(current, name, r)
		if err != nil {
			v.Message = fmt.Sprintf("%s: current run: %v", where, err)
			return v
		}
		v.Value, v.Measured = val, true
		v.Pass = compare(val, r.Op, r.Value)
		pooled := ""
		if n > 1 {
			pooled = fmt.Sprintf(" (sum of %d repeats)", n)
			if r.Metric == "delivered_ratio" {
				pooled = fmt.Sprintf(" (over %d repeats)", n)
			}
		}
		v.Message = fmt.Sprintf("%s = %s%s (threshold %s %s), %s", r.Metric, format(r, val), pooled, r.Op, format(r, r.Value), where)
		return v
	}
	cur, err := latencyValues(current, name, r)
	if err != nil {
		v.Message = fmt.Sprintf("%s: current run: %v", where, err)
		return v
	}
	if !r.Regression {
		sum := stats.Summarize(cur)
		v.Value, v.Measured, v.Summary = sum.Median, true, &sum
		v.Pass = compare(sum.Median, r.Op, r.Value)
		v.Message = fmt.Sprintf("%s = %s (threshold %s %s), %s", r.Metric, fmtSummary(sum), r.Op, format(r, r.Value), where)
		return v
	}
	if baseline == nil {
		v.Message = fmt.Sprintf("%s: regression rule needs a baseline run (--baseline)", where)
		return v
	}
	base, err := latencyValues(baseline, name, r)
	if err != nil {
		v.Message = fmt.Sprintf("%s: baseline run: %v", where, err)
		return v
	}
	cmp, err := stats.Compare(base, cur, c.alpha)
	if err != nil {
		v.Message = fmt.Sprintf("%s: %v", where, err)
		return v
	}
	f := &Figure{Path: name, Group: r.Group, Metric: r.Metric, Comparison: cmp}
	v.Figure = f
	v.Value, v.Baseline, v.Measured = cmp.Change, cmp.Baseline.Median, true
	v.Pass = compare(cmp.Change, r.Op, r.Value)
	sig := ""
	if r.Significant {
		sig = ", significant"
		if !v.Pass && cmp.Outcome == stats.Unchanged {
			v.Pass = true // a violation within the noise does not count
		}
	}
	v.Message = fmt.Sprintf("%s %s vs baseline %s: %s (threshold %s %s%s), %s; %s",
		r.Metric, fmtSummary(cmp.Current), fmtSummary(cmp.Baseline), fmtPct(cmp.Change, true, 1), r.Op, fmtPct(r.Value, false, -1), sig, where, f.Verdict())
	return v
}

// latencyValues reads r's latency figure for path name and r.Group from
// run: one value per repeat (one for a run without repeats).
func latencyValues(run *results.Run, name string, r Rule) ([]float64, error) {
	p, err := path(run, name)
	if err != nil {
		return nil, err
	}
	return stats.Values(p, r.Group, r.Metric)
}

// ledgerValue reads r's ledger metric for path name and r.Group from run,
// and how many repeats it sums (1 without repeats): a path's ledger
// counts every repeat's deliveries, so a loss in any repeat shows.
func ledgerValue(run *results.Run, name string, r Rule) (float64, int, error) {
	p, err := path(run, name)
	if err != nil {
		return 0, 0, err
	}
	c := p.Ledger[r.Group]
	if c == nil {
		return 0, 0, fmt.Errorf("no ledger for group %s", r.Group)
	}
	n := max(len(p.Repeats), 1)
	switch r.Metric {
	case "lost":
		return float64(c.Lost), n, nil
	case "duplicates":
		return float64(c.Duplicates), n, nil
	case "reordered":
		return float64(c.Reordered), n, nil
	case "errored":
		return float64(c.Errored), n, nil
	case "unexpected":
		return float64(c.Unexpected), n, nil
	case "unanswered":
		if r.Group != "all" {
			return 0, 0, fmt.Errorf("unanswered has no group %s", r.Group)
		}
		m := p.Messages
		n := m.Unacked
		for _, k := range m.Rejected {
			n += k
		}
		return float64(n), max(len(p.Repeats), 1), nil
	case "errored_ratio":
		due := c.Expected - c.Excused
		if due <= 0 {
			return 0, n, nil
		}
		return float64(c.Errored) / float64(due), n, nil
	default: // delivered_ratio
		due := c.Expected - c.Excused
		if due <= 0 {
			return 1, n, nil
		}
		return float64(c.Delivered) / float64(due), n, nil
	}
}

// path returns run's path name, or an error naming the paths it has.
func path(run *results.Run, name string) (*results.Path, error) {
	if p := run.Path(name); p != nil {
		return p, nil
	}
	var names []string
	for _, q := range run.Paths {
		names = append(names, q.Name)
	}
	return nil, fmt.Errorf("no path %q (it has %s)", name, strings.Join(names, ", "))
}

// fmtSummary formats a latency across repeats: the value of a single run,
// or the median with its confidence interval.
func fmtSummary(s stats.Summary) string {
	if s.N <= 1 {
		return fmtDur(s.Median)
	}
	return fmt.Sprintf("%s (median of %d repeats)", interval(s, fmtDur), s.N)
}

// compare applies op.
func compare(a float64, op string, b float64) bool {
	switch op {
	case "<":
		return a < b
	case "<=":
		return a <= b
	case "==":
		return a == b
	case "!=":
		return a != b
	case ">=":
		return a >= b
	default:
		return a > b
	}
}

// format formats a value of r's metric.
func format(r Rule, v float64) string {
	switch {
	case stats.IsLatency(r.Metric):
		return fmtDur(v)
	case r.Metric == "delivered_ratio" || r.Metric == "errored_ratio":
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
}

// fmtDur formats µs as a duration.
func fmtDur(us float64) string {
	return time.Duration(math.Round(us * float64(time.Microsecond))).String()
}

// fmtPct formats a fraction as a percentage, signed if sign, with prec
// decimals (-1: as many as needed).
func fmtPct(f float64, sign bool, prec int) string {
	switch {
	case math.IsInf(f, 1):
		return "+inf%"
	case math.IsInf(f, -1):
		return "-inf%"
	}
	s := strconv.FormatFloat(f*100, 'f', prec, 64) + "%"
	if sign && f >= 0 {
		s = "+" + s
	}
	return s
}
