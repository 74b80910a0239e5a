package report

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/stats"
)

// maxRepeats returns the most repeats any of the paths holds (0 without).
func maxRepeats(paths []*results.Path) int {
	n := 0
	for _, p := range paths {
		if p != nil {
			n = max(n, len(p.Repeats))
		}
	}
	return n
}

// withRepeats adds to the sections of a run whose paths hold repeats the
// table of medians across repeats with their confidence intervals, after
// the latency table (whose figures are then every repeat pooled, as the
// title says). A run without repeats keeps its sections as they are.
func withRepeats(out []section, paths []*results.Path) []section {
	n := maxRepeats(paths)
	if n == 0 {
		return out
	}
	if len(out) > 0 {
		out[0].title += fmt.Sprintf(" (all %d repeats pooled)", n)
	}
	s := section{
		title:  fmt.Sprintf("Across %d repeats, ms: median [%s] of each repeat's p50 · p99", n, ciLabel(n)),
		header: []string{"group"},
	}
	for _, p := range paths {
		s.header = append(s.header, colName(p))
	}
	for _, g := range groups(paths) {
		row := []string{groupLabel(g)}
		for _, p := range paths {
			row = append(row, acrossRepeats(p, g))
		}
		s.rows = append(s.rows, row)
	}
	return slices.Insert(out, min(1, len(out)), s)
}

// ciLabel names the interval of a median of n repeats.
func ciLabel(n int) string {
	c := stats.ConfidenceOf(n)
	switch {
	case n < 2:
		return "no interval from one run"
	case c >= stats.Confidence:
		return fmt.Sprintf("%g%% confidence interval", stats.Confidence*100)
	}
	return fmt.Sprintf("%g%% confidence interval: the repeats' range, too few for %g%%", math.Round(c*10000)/100, stats.Confidence*100)
}

// acrossRepeats formats group's p50 and p99 on p: medians with their
// intervals across its repeats, or the plain figures of a path without.
func acrossRepeats(p *results.Path, g string) string {
	var cells []string
	for _, metric := range []string{"p50", "p99"} {
		vs, err := stats.Values(p, g, metric)
		if err != nil {
			return dash
		}
		s := stats.Summarize(vs)
		if s.N <= 1 {
			cells = append(cells, ms(int64(s.Median)))
			continue
		}
		cells = append(cells, fmt.Sprintf("%s [%s, %s]", ms(int64(s.Median)), ms(int64(s.Lo)), ms(int64(s.Hi))))
	}
	return strings.Join(cells, " · ")
}

// revision formats the run's git revision, short, marked when the tree was
// modified.
func revision(m results.Meta) string {
	if m.Modified {
		return short(m.Revision) + ", modified"
	}
	return short(m.Revision)
}
