package report

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/chatbench/chatbench/bench/results"
)

// faultSection is the fault matrix of run's paths carrying a Fault (rows
// scenario, columns path), or false if none does.
func faultSection(run *results.Run) (section, bool) {
	var scens, names []string
	cell := map[[2]string]*results.Path{}
	for _, p := range run.Paths {
		if p == nil || p.Fault == "" {
			continue
		}
		if !slices.Contains(scens, p.Fault) {
			scens = append(scens, p.Fault)
		}
		if !slices.Contains(names, p.Name) {
			names = append(names, p.Name)
		}
		cell[[2]string{p.Fault, p.Name}] = p
	}
	if len(scens) == 0 {
		return section{}, false
	}
	// Paths in the order compare runs them (direct before queue).
	rank := func(n string) int {
		if i := slices.Index(faultPathOrder, n); i >= 0 {
			return i
		}
		return len(faultPathOrder)
	}
	slices.SortStableFunc(names, func(a, b string) int { return rank(a) - rank(b) })
	s := section{title: "Fault matrix: delivered / lost / dup / reordered · recovery s · p99 during / after, ms",
		header: append([]string{"scenario"}, names...)}
	for _, sc := range scens {
		row := []string{sc}
		for _, n := range names {
			row = append(row, faultCell(cell[[2]string{sc, n}]))
		}
		s.rows = append(s.rows, row)
	}
	return s, true
}

// msOr is ms(us), or a dash when there was nothing to measure.
func msOr(us int64) string {
	if us == 0 {
		return dash
	}
	return ms(us)
}

func faultCell(p *results.Path) string {
	if p == nil {
		return "n/a"
	}
	var b strings.Builder
	if c := p.Ledger["all"]; c != nil {
		fmt.Fprintf(&b, "%d / %d / %d / %d", c.Delivered, c.Lost, c.Duplicates, c.Reordered)
	} else {
		b.WriteString(dash)
	}
	switch {
	case p.FaultWindow == nil:
		b.WriteString(" · whole run")
	case p.RecoverySeconds < 0:
		b.WriteString(" · never")
	default:
		fmt.Fprintf(&b, " · %.0f s", p.RecoverySeconds)
	}
	if fl := p.FaultLatency; fl != nil {
		if p.FaultWindow == nil {
			fmt.Fprintf(&b, " · %s", msOr(fl.DuringP99))
		} else {
			fmt.Fprintf(&b, " · %s / %s", msOr(fl.DuringP99), msOr(fl.AfterP99))
		}
	}
	return b.String()
}

// FaultTable writes the fault matrix of run (`chatbench chaos`): one row
// per scenario, one column per path, each cell the path's delivered / lost
// / duplicate / reordered deliveries, its recovery time and its p99 during
// and after the fault (docs/reliability.md). It writes nothing but a note
// when no path carries a Fault.
func FaultTable(w io.Writer, run *results.Run) error {
	s, ok := faultSection(run)
	return writeOne(w, "chaos", run, s, ok, "no fault scenarios in this run")
}

// writeOne writes the table of one section of run, under the run's
// summary headed by command, or the note none when the run has no such
// section (ok false).
func writeOne(w io.Writer, command string, run *results.Run, s section, ok bool, none string) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "chatbench %s: %s\n", command, summary(run))
	if run.Meta.TraceMsgs > 0 {
		fmt.Fprintf(ew, "replayed: %s\n", scope(run))
	}
	if !ok {
		fmt.Fprintf(ew, "\n%s\n", none)
		return ew.err
	}
	if err := s.writeText(ew); err != nil {
		return err
	}
	return ew.err
}

// faultPathOrder is the fault matrix's column order.
var faultPathOrder = []string{"direct", "queue"}
