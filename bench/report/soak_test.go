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
			Baseline: results.SoakSample{Goroutines: 26, RSS: 20 << 20, HeapInuse: 4 << 20, StackInuse: 1 << 20, GCCycles: 0},
			Peak:     results.SoakSample{Goroutines: 20026, RSS: 680 << 20, HeapInuse: 400 << 20, StackInuse: 205 << 20, GCCycles: 30},
			After:    results.SoakSample{Goroutines: 27, RSS: 290 << 20, HeapInuse: 60 << 20, StackInuse: 1 << 20, GCCycles: 32},
			Sent:     600, Received: 2400, GoroutineLimit: 36, RSSLimit: -1, HeldLimit: 155 << 20, GCsAfterClose: 2,
			GoroutinesOK: true, MemoryOK: true,
		},
	}}}
	var b bytes.Buffer
	if err := SoakTable(&b, run); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"no trace replayed", "10000 (1000 active), 3m0s", "26 / 20026 / 27",
		"server goroutines per connection", "2.00", "67.6 KiB", "13.2 / 700.0", "600 / 2400",
		"yes (after 27 ≤ limit 36)", "yes (heap+stacks after 61.0 ≤ limit 155.0 MiB)", "2m3s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("soak table lacks %q:\n%s", want, out)
		}
	}
	for label, want := range map[string]string{
		"heap+stacks MiB: baseline / peak / after": "5.0 / 605.0 / 61.0",
		"RSS MiB: baseline / peak / after":         "20.0 / 680.0 / 290.0",
		"server heap+stacks per connection":        "61.4 KiB",
		"collections after the close":              "2",
	} {
		if got := soakRow(out, label); got != want {
			t.Errorf("soak table row %q: %q, want %q", label, got, want)
		}
	}
	b.Reset()
	if err := Table(&b, run); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "Soak:") || strings.Contains(out, "Latency from scheduled") || !strings.Contains(out, "msgs/s") {
		t.Errorf("report table of a soak:\n%s", out)
	}
	k := run.Paths[0].Soak
	for _, tc := range []struct {
		name  string
		edit  func(k *results.Soak)
		wants []string
	}{
		{"goroutines not back, memory not checked", func(k *results.Soak) { k.GoroutinesOK, k.HeldLimit = false, -1 },
			[]string{"NO (after 27", "not checked"}},
		// Above the limit before any collection: held memory still counts
		// garbage, and the table says so rather than call it a leak.
		{"no collection after the close", func(k *results.Soak) { k.MemoryOK, k.GCsAfterClose, k.HeldLimit = false, 0, 50<<20 },
			[]string{"NO (heap+stacks after 61.0 ≤ limit 50.0 MiB); no collection after the close"}},
		// A document written when RSS was judged: its verdict as judged then.
		{"RSS judged", func(k *results.Soak) {
			k.HeldLimit, k.RSSLimit = 0, 300<<20
			k.Baseline.HeapInuse, k.Baseline.StackInuse = 0, 0
		}, []string{"yes (RSS after 290.0 ≤ limit 300.0 MiB)"}},
	} {
		saved := *k
		tc.edit(k)
		b.Reset()
		err := SoakTable(&b, run)
		for _, want := range tc.wants {
			if err != nil || !strings.Contains(b.String(), want) {
				t.Errorf("%s (%v): lacks %q:\n%s", tc.name, err, want, b.String())
			}
		}
		if tc.name == "RSS judged" && soakRow(b.String(), "heap+stacks MiB: baseline / peak / after") != dash {
			t.Errorf("a document without held memory shows figures for it:\n%s", b.String())
		}
		*k = saved
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

// soakRow returns the value of the soak table's row label in out, its one
// path's column.
func soakRow(out, label string) string {
	for line := range strings.Lines(out) {
		if rest, ok := strings.CutPrefix(line, label); ok && strings.HasPrefix(rest, "  ") {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}
