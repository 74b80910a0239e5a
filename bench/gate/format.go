package gate

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/chatbench/chatbench/bench/stats"
)

// Formats lists the output formats Write knows: text (one PASS or FAIL
// line per check), json (one object with every check and figure), and
// markdown (a table for a pull-request comment).
func Formats() []string { return []string{"text", "json", "markdown"} }

// writers are the writers of Formats, and "md" for markdown.
func writers() map[string]func(io.Writer, []Verdict) error {
	return map[string]func(io.Writer, []Verdict) error{"text": WriteText, "json": WriteJSON, "markdown": WriteMarkdown, "md": WriteMarkdown}
}

// CheckFormat returns an error naming the formats when Write does not know
// format.
func CheckFormat(format string) error {
	if writers()[format] == nil {
		return fmt.Errorf("--format %q: use %s", format, strings.Join(Formats(), ", "))
	}
	return nil
}

// Write writes the verdicts of Check in format (one of Formats; "md" is
// markdown).
func Write(w io.Writer, format string, vs []Verdict) error {
	if err := CheckFormat(format); err != nil {
		return err
	}
	return writers()[format](w, vs)
}

// tally counts the verdicts that failed.
func tally(vs []Verdict) (failed int) {
	for _, v := range vs {
		if !v.Pass {
			failed++
		}
	}
	return failed
}

// WriteText writes one PASS or FAIL line per verdict and a last line with
// the gate's result.
func WriteText(w io.Writer, vs []Verdict) error {
	var ew strings.Builder
	for _, v := range vs {
		fmt.Fprintln(&ew, v)
	}
	if failed := tally(vs); failed > 0 {
		fmt.Fprintf(&ew, "gate: FAIL (%d of %d checks failed)\n", failed, len(vs))
	} else {
		fmt.Fprintf(&ew, "gate: PASS (%d checks)\n", len(vs))
	}
	_, err := io.WriteString(w, ew.String())
	return err
}

// jsonReport is the document WriteJSON writes (docs/results.md, "Output").
type jsonReport struct {
	Pass    bool          `json:"pass"`
	Checks  int           `json:"checks"`
	Failed  int           `json:"failed"`
	Rules   []jsonVerdict `json:"rules"`
	Figures []jsonFigure  `json:"figures"`
}

type jsonVerdict struct {
	Rule        string         `json:"rule"`
	Metric      string         `json:"metric"`
	Path        string         `json:"path"`
	Group       string         `json:"group"`
	Regression  bool           `json:"regression"`
	Significant bool           `json:"significant"`
	Op          string         `json:"op"`
	Threshold   float64        `json:"threshold"`
	Pass        bool           `json:"pass"`
	Value       *float64       `json:"value"`
	Baseline    *float64       `json:"baseline,omitempty"`
	Summary     *stats.Summary `json:"summary,omitempty"`
	Figure      *jsonFigure    `json:"figure,omitempty"`
	Message     string         `json:"message"`
}

type jsonFigure struct {
	Path     string        `json:"path"`
	Group    string        `json:"group"`
	Metric   string        `json:"metric"`
	Outcome  stats.Outcome `json:"outcome"`
	Verdict  string        `json:"verdict"`
	Change   *float64      `json:"change"`
	P        float64       `json:"p"`
	Alpha    float64       `json:"alpha"`
	MinP     float64       `json:"min_p"`
	Need     int           `json:"need_repeats"`
	Baseline stats.Summary `json:"baseline"`
	Current  stats.Summary `json:"current"`
}

// finite returns &f, or nil for a value JSON cannot hold (±Inf, NaN).
func finite(f float64) *float64 {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil
	}
	return &f
}

func (f *Figure) json() *jsonFigure {
	if f == nil {
		return nil
	}
	return &jsonFigure{
		Path: f.Path, Group: f.Group, Metric: f.Metric, Outcome: f.Outcome, Verdict: f.Verdict(),
		Change: finite(f.Change), P: f.P, Alpha: f.Alpha, MinP: f.MinP, Need: f.Need,
		Baseline: f.Baseline, Current: f.Current,
	}
}

// WriteJSON writes one JSON object: the gate's result, every check (rule
// and path) with its value and verdict, and every latency figure a
// regression rule compared, once. Latencies are µs; a regression's value
// and a figure's change are fractions (0.1 for +10%); a value that was not
// measured, or is infinite, is null.
func WriteJSON(w io.Writer, vs []Verdict) error {
	rep := jsonReport{Pass: true, Checks: len(vs), Failed: tally(vs), Rules: []jsonVerdict{}, Figures: []jsonFigure{}}
	rep.Pass = rep.Failed == 0
	seen := map[[3]string]bool{}
	for _, v := range vs {
		j := jsonVerdict{
			Rule: v.Rule.Text, Metric: v.Rule.Metric, Path: v.Path, Group: v.Rule.Group,
			Regression: v.Rule.Regression, Significant: v.Rule.Significant, Op: v.Rule.Op, Threshold: v.Rule.Value,
			Pass: v.Pass, Summary: v.Summary, Figure: v.Figure.json(), Message: v.Message,
		}
		if v.Measured {
			j.Value = finite(v.Value)
			if v.Rule.Regression {
				j.Baseline = finite(v.Baseline)
			}
		}
		rep.Rules = append(rep.Rules, j)
		if f := v.Figure; f != nil && !seen[[3]string{f.Path, f.Group, f.Metric}] {
			seen[[3]string{f.Path, f.Group, f.Metric}] = true
			rep.Figures = append(rep.Figures, *f.json())
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(rep)
}

// WriteMarkdown writes the verdicts as a GitHub-flavoured Markdown table
// for one pull-request comment: a heading with the gate's result, one row
// per check (current and baseline figures with their intervals, the change
// and the verdict) and a note on how intervals and significance were
// computed when repeats were compared.
func WriteMarkdown(w io.Writer, vs []Verdict) error {
	var ew strings.Builder
	if failed := tally(vs); failed > 0 {
		fmt.Fprintf(&ew, "### chatbench gate: ❌ FAIL, %d of %d checks failed\n\n", failed, len(vs))
	} else {
		fmt.Fprintf(&ew, "### chatbench gate: ✅ PASS, %d checks\n\n", len(vs))
	}
	fmt.Fprintln(&ew, "| | rule | path | group | current | baseline | change | verdict |")
	fmt.Fprintln(&ew, "| --- | --- | --- | --- | --- | --- | --- | --- |")
	repeats, alpha := false, 0.0
	for _, v := range vs {
		mark := "✅"
		if !v.Pass {
			mark = "❌"
		}
		cur, base, change, verdict := "—", "", "", ""
		switch {
		case !v.Measured || v.Rule.Metric == noiseRule.Metric:
			verdict = v.Message
		case v.Figure != nil:
			f := v.Figure
			cur, base, change, verdict = cell(f.Current), cell(f.Baseline), fmtPct(f.Change, true, 1), f.Verdict()
			repeats = repeats || f.Current.N > 1 || f.Baseline.N > 1
			alpha = f.Alpha
		case v.Summary != nil:
			cur, verdict = cell(*v.Summary), "threshold "+v.Rule.Op+" "+format(v.Rule, v.Rule.Value)
			repeats = repeats || v.Summary.N > 1
		default:
			cur, verdict = format(v.Rule, v.Value), "threshold "+v.Rule.Op+" "+format(v.Rule, v.Rule.Value)
			if v.Rule.Metric == "delivered_ratio" {
				cur = strconv.FormatFloat(v.Value, 'f', 4, 64)
			}
		}
		if v.Rule.Significant && v.Figure != nil && !v.Pass && !v.Figure.Significant() {
			verdict += "; checked on the medians"
		}
		cells := []string{mark, "`" + v.Rule.Text + "`", v.Path, v.Rule.Group, cur, base, change, verdict}
		for i, c := range cells {
			cells[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		fmt.Fprintf(&ew, "| %s |\n", strings.Join(cells, " | "))
	}
	if repeats || alpha > 0 {
		fmt.Fprintln(&ew)
	}
	if repeats {
		fmt.Fprintln(&ew, "Across repeats, a latency is the median of the repeats' figures [its confidence interval: 95% from 6 repeats on; from fewer, the repeats' range, 75% for 3, 87.5% for 4, 93.75% for 5], and a ledger count the sum over the repeats.")
	}
	if alpha > 0 {
		fmt.Fprintf(&ew, "Significance: Mann-Whitney U test of the repeats at α=%g (golang.org/x/perf/benchmath, as benchstat).\n", alpha)
	}
	_, err := io.WriteString(w, ew.String())
	return err
}

// cell formats a latency across repeats for a table cell, to 3
// significant digits: the value, and its interval when there are repeats.
func cell(s stats.Summary) string { return interval(s, fmtDur3) }

// interval formats a latency across repeats with dur: the value, and its
// interval when there are repeats.
func interval(s stats.Summary, dur func(us float64) string) string {
	if s.N <= 1 {
		return dur(s.Median)
	}
	return fmt.Sprintf("%s [%s, %s]", dur(s.Median), dur(s.Lo), dur(s.Hi))
}

// fmtDur3 formats µs as a duration rounded to 3 significant digits, the
// precision of the histograms (95.551ms is 95.6ms).
func fmtDur3(us float64) string {
	if us >= 1000 {
		unit := math.Pow(10, math.Floor(math.Log10(us))-2)
		us = math.Round(us/unit) * unit
	}
	return fmtDur(us)
}
