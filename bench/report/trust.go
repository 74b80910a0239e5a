package report

import (
	"fmt"
	"strings"

	"github.com/chatbench/chatbench/bench/results"
)

// lagMark marks a latency cell of a group the driver's own schedule lag
// could account for (results.Path.Untrusted); trustNotes says what it means.
const lagMark = " †"

// lagMarked returns lagMark when group g of p is untrusted, else "".
func lagMarked(p *results.Path, g string) string {
	if p.Trusted(g) {
		return ""
	}
	return lagMark
}

// trustNotes says, per path, which groups' latency is not well above the
// driver's schedule lag: there the figures measured the driver as much as
// the path (docs/results.md, "Trusting the driver").
func trustNotes(run *results.Run) []string {
	var out []string
	for _, p := range columns(run) {
		un := p.Untrusted()
		if len(un) == 0 {
			continue
		}
		var classes []string
		jobs := 0
		for _, g := range un {
			switch {
			case strings.HasPrefix(g, "job:"):
				jobs++
			default:
				classes = append(classes, groupLabel(g))
			}
		}
		switch {
		case jobs == 1:
			classes = append(classes, "1 job")
		case jobs > 1:
			classes = append(classes, fmt.Sprintf("%d jobs", jobs))
		}
		out = append(out, fmt.Sprintf("DRIVER:%s path %s: schedule-lag p99 %s ms; %s have a p99 under %d× it, so the driver's own lateness may account for them (docs/results.md, \"Trusting the driver\").",
			lagMark, p.Name, ms(p.ScheduleLag.P99), strings.Join(classes, ", "), results.TrustFactor))
	}
	return out
}
