package driver_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/bench/driver"
	"github.com/chatbench/chatbench/internal/obs"
	"github.com/chatbench/chatbench/internal/obs/termtest"
)

// TestProgressAmidLogs replays through the echo floor with the bar and the
// driver's own logs on one console, as chatbench's commands run it, and
// plays the output as a terminal shows it: every log record is a line of
// its own, the bar (drawn, with its label) is gone at the end, and a line
// of totals is left in its place. Then the same with plain lines.
func TestProgressAmidLogs(t *testing.T) {
	srv := startEcho(t)
	h, recs := smallTrace(t)
	const label = "echo (path 1 of 1)"
	for _, bar := range []bool{true, false} {
		var out termtest.Buffer
		console := obs.NewConsole(&out)
		log, err := obs.NewLogger(console, "text", "debug")
		if err != nil {
			t.Fatal(err)
		}
		p, err := driver.Run(context.Background(), driver.Config{
			Target: srv.URL(), Secret: secret, Path: driver.PathEcho, Header: h, Records: recs, Speed: 2000,
			Progress: console, TTY: bar, Label: label, Logger: log,
		})
		if err != nil {
			t.Fatal(err)
		}
		raw := out.String()
		if bar && !strings.Contains(raw, label+"  sending ") {
			t.Errorf("bar: no frame drawn with the label in %q", raw)
		}
		logs, done := 0, 0
		for _, l := range termtest.Screen(raw) {
			switch {
			case strings.HasPrefix(l, "time=") && !strings.Contains(l, label):
				logs++
			case strings.HasPrefix(l, label+": done: sent "):
				done++
			case !bar && strings.HasPrefix(l, label+": "):
			default:
				t.Errorf("bar %v: line %q is neither a whole log record nor a progress line", bar, l)
			}
		}
		if logs == 0 || done != 1 || p.Messages.Sent == 0 {
			t.Errorf("bar %v: %d log lines, %d lines of totals (want 1), %d sent", bar, logs, done, p.Messages.Sent)
		}
	}
}
