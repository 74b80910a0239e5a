package driver

import (
	"strings"
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/ledger"
)

// TestProgressSays checks what each phase's line and bar say: the label,
// how far (k of n), when it ends, and in the drain what it waits for.
func TestProgressSays(t *testing.T) {
	st := ledger.Stats{Acked: 3100, Delivered: 5012, Lost: 2}
	sending := snapshot{label: "queue (path 2 of 4)", phase: phaseSending, sent: 3120, total: 14700, left: 70 * time.Second, st: st, lag: 410 * time.Microsecond}
	draining := snapshot{label: "queue (path 2 of 4)", phase: phaseDraining, sent: 14700, total: 14700, left: 12 * time.Second, outstanding: 134, atDrain: 2011, st: st}
	drained := draining
	drained.outstanding = 0
	done := snapshot{label: "queue (path 2 of 4)", phase: phaseDone, sent: 14700, total: 14700, st: st}
	for _, c := range []struct {
		name string
		got  string
		want []string
	}{
		{"sending line", sending.line(), []string{"queue (path 2 of 4): sending 3120/14700 (21%)", "last message due in 1m10s", "delivered 5012", "lost 2"}},
		{"draining line", draining.line(), []string{"queue (path 2 of 4): draining: waiting for 134 of the 2011 deliveries", "at most 12s more"}},
		// Everything came in before the drain was shown: no "0 of 0".
		{"drained line", drained.line(), []string{"queue (path 2 of 4): draining: every delivery in"}},
		{"done line", done.line(), []string{"queue (path 2 of 4): done: sent 14700/14700", "delivered 5012", "lost 2"}},
		{"sending bar", sending.barLine(newBar(sending.barMax(), true)), []string{"queue (path 2 of 4)  sending 21% [====>....", "(3120/14700)", "ETA 1m10s"}},
		// The drain's bar fills as the outstanding deliveries arrive.
		{"draining bar", draining.barLine(newBar(draining.barMax(), false)), []string{"queue (path 2 of 4)  draining 93% [=====================>..]", "waiting for 134 of 2011 deliveries", "≤12s left"}},
	} {
		for _, w := range c.want {
			if !strings.Contains(c.got, w) {
				t.Errorf("%s: %q does not say %q", c.name, c.got, w)
			}
		}
	}
}
