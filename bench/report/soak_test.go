package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/bench/results"
)

// TestSoakTable renders a soak run: the soak table from the document, and
// `chatbench report`'s table, which shows the soak and leaves out the
// latency and ledger sections a soak has no rows for.
func TestSoakTable(t *testing.T) {
	run := &results.Run{Schema: results.SchemaVersion, Paths: []*results.Path{{
		Name: "direct", Target: "ws://127.0.0.1:1/ws", Messages: results.Messages{Sent: 600, PerSecond: 200},
		Components: []results.Component{
			{Name: "direct-ml", CPUSeconds: 0.5, PeakRSS: 20 << 20},
			{Name: "direct-server", CPUSeconds: 13.2, PeakRSS: 700 << 20},
			{Name: "driver", CPUSeconds: 12.4, PeakRSS: 126 << 20},
		},
		Soak: &results.Soak{
			Conns: 10000, Active: 1000, Opened: 10000, HeldUS: 180e6, SettleUS: 123e6,
			Baseline: results.SoakSample{Goroutines: 26, RSS: 20 << 20},
			Peak:     results.SoakSample{Goroutines: 20026, RSS: 680 << 20},
			After:    results.SoakSample{Goroutines: 27, RSS: 92 << 20},
			Sent:     600, Received: 2400, GoroutineLimit: 36, RSSLimit: 185 << 20, GoroutinesOK: true, MemoryOK: true,
		},
	}}}
	var b bytes.Buffer
	if err := SoakTable(&b, run); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"no trace replayed", "10000 (1000 active), 3m0s", "26 / 20026 / 27", "20.0 / 680.0 / 92.0",
		"server goroutines per connection", "2.00", "67.6 KiB", "13.2 / 700.0", "600 / 2400",
		"yes (after 27 ≤ limit 36)", "yes (after 92.0 ≤ limit 185.0 MiB)", "2m3s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("soak table lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := Table(&b, run); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "Soak:") || strings.Contains(out, "Latency from scheduled") || !strings.Contains(out, "msgs/s") {
		t.Errorf("report table of a soak:\n%s", out)
	}
	run.Paths[0].Soak.GoroutinesOK = false
	run.Paths[0].Soak.RSSLimit = -1
	b.Reset()
	if err := SoakTable(&b, run); err != nil || !strings.Contains(b.String(), "NO (after 27") || !strings.Contains(b.String(), "not checked") {
		t.Errorf("failed soak (%v):\n%s", err, b.String())
	}
	for _, f := range []func(*bytes.Buffer, *results.Run) error{
		func(b *bytes.Buffer, r *results.Run) error { return Markdown(b, r) },
		func(b *bytes.Buffer, r *results.Run) error { return HTML(b, r) },
	} {
		b.Reset()
		if err := f(&b, run); err != nil || !strings.Contains(b.String(), "Soak:") {
			t.Errorf("render (%v) lacks the soak section", err)
		}
	}
}
