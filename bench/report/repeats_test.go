package report_test

import (
	"bytes"
	stdhtml "html"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/bench/report"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/results/resultstest"
)

// TestGoldenRepeats renders a run whose paths hold three repeats: the
// medians across repeats with their intervals beside the pooled figures.
func TestGoldenRepeats(t *testing.T) {
	run := resultstest.Repeats(1, 1.2, 0.9)
	run.Meta.Modified = true
	table := render(t, func(b *bytes.Buffer, r *results.Run) error { return report.Table(b, r) }, run)
	golden(t, "repeats.txt", table)
	md := render(t, func(b *bytes.Buffer, r *results.Run) error { return report.Markdown(b, r) }, run)
	golden(t, "repeats.md", md)
	html := render(t, func(b *bytes.Buffer, r *results.Run) error { return report.HTML(b, r) }, run)

	// The median of the repeats' p50 for the queue's ml class is the
	// unslowed run's; its interval spans the 0.9 and 1.2 repeats.
	ml := func(slow float64) string {
		h := resultstest.Run(slow).Path("queue").FromScheduled["class:ml"]
		return strings.TrimSpace(report.Ms(h.P50))
	}
	want := ml(1) + " [" + ml(0.9) + ", " + ml(1.2) + "]"
	for name, out := range map[string]string{"table": string(table), "markdown": string(md), "html": stdhtml.UnescapeString(string(html))} {
		s := out
		for _, w := range []string{"Across 3 repeats, ms: median [75% confidence interval: the repeats' range, too few for 95%]", want, "(all 3 repeats pooled)", "3 repeats", ", modified)"} {
			if !strings.Contains(s, w) {
				t.Errorf("%s lacks %q", name, w)
			}
		}
	}
	// A run without repeats has no such table.
	single := render(t, func(b *bytes.Buffer, r *results.Run) error { return report.Table(b, r) }, resultstest.Run(1))
	if bytes.Contains(single, []byte("repeats")) {
		t.Errorf("a single run's table mentions repeats:\n%s", single)
	}
}
