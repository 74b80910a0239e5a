package chaos

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/chatbench/chatbench/bench/results"
)

// NeighbourTable writes, for each path of run that ran the noisy-neighbour
// scenario, what the neighbours (the trace's users) saw beside the flood —
// their ML and sync latency from the scheduled send, p50 / p99, and their
// refusals (retryable ones the driver resent, and final ones) — and what
// the flood was told. It writes nothing when no path ran it.
func NeighbourTable(w io.Writer, run *results.Run) error {
	var rows []*results.Path
	for _, p := range run.Paths {
		if p != nil && p.Fault == NoisyNeighbour {
			rows = append(rows, p)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nNoisy neighbour (%s beside the trace): the neighbours' latency, ms, and refusals\n", run.Meta.Config["flood"])
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "path\tML p50 / p99\tsync p50 / p99\tdelivered / lost\trefused (resent / final)\tthe flood")
	for _, p := range rows {
		var c results.Counts
		if l := p.Ledger["all"]; l != nil {
			c = *l
		}
		final := 0
		for _, n := range p.Messages.Rejected {
			final += n
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d / %d\t%d / %d\t%s\n", p.Name, pair(p.FromScheduled["class:ml"]), pair(p.FromScheduled["class:sync"]),
			c.Delivered, c.Lost, p.Messages.Retried, final, run.Meta.Config[NoisyNeighbour+"/"+p.Name])
	}
	return tw.Flush()
}

// pair formats a histogram's p50 / p99 in ms, or a dash without data.
func pair(h *results.Histogram) string {
	if h == nil || h.Count == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f / %.1f", float64(h.P50)/1000, float64(h.P99)/1000)
}
