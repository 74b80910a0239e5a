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

// TestGoldenNoise renders a run with repeats whose queue path was noisy,
// the echo floor's drift recorded, and the region SQS latency assumed:
// the noise table, the flag on the queue's column, and the notes under the
// summary, in every format.
func TestGoldenNoise(t *testing.T) {
	run := resultstest.Repeats(1, 1.2, 0.9)
	run.Meta.Config["sqs_latency"] = "region"
	run.Meta.Config["sqs_latency_profile"] = "median:10ms,p99:40ms"
	run.Meta.Config["sqs_latency_paths"] = "queue"
	steal := 0.0
	drift := 0.08
	for _, p := range run.Paths {
		p.Noise = &results.Noise{CPU: &results.CPUNoise{SpanSeconds: 300, Cores: 2, BusySeconds: 100, OwnSeconds: 94,
			OtherSeconds: 6, StealSeconds: &steal, Share: 0.01, Threshold: 0.1}, Repeats: 3, FloorDrift: &drift, DriftThreshold: 0.25}
	}
	q := run.Path("queue").Noise
	q.CPU.OtherSeconds, q.CPU.Share, q.NoisyRepeats, q.Noisy = 150, 0.25, 2, true
	q.Reason = "2 of 3 repeats noisy (the worst, repeat 2: other processes took 90.0 CPU s in 100 s on 2 cores: 45.0% of the machine (threshold 10.0%))"
	run.Path("echo").Noise.CPU = nil // unknown: shown as such, not as 0

	table := render(t, func(b *bytes.Buffer, r *results.Run) error { return report.Table(b, r) }, run)
	golden(t, "noise.txt", table)
	md := render(t, func(b *bytes.Buffer, r *results.Run) error { return report.Markdown(b, r) }, run)
	html := stdhtml.UnescapeString(string(render(t, func(b *bytes.Buffer, r *results.Run) error { return report.HTML(b, r) }, run)))
	for name, out := range map[string]string{"table": string(table), "markdown": string(md), "html": html} {
		for _, w := range []string{
			"Noise: the machine's CPU outside the run (noisy above 10.0%)",
			"queue (noisy)",
			"NOISY: path queue: 2 of 3 repeats noisy",
			"Assumption: every SQS call of path queue took the region (median:10ms,p99:40ms) latency profile",
			"unknown",
			"2 of 3",
		} {
			if !strings.Contains(out, w) {
				t.Errorf("%s lacks %q", name, w)
			}
		}
	}
	if !strings.Contains(html, `<p class="note"`) {
		t.Errorf("html has no note paragraphs")
	}

	// The bare endpoint is called what it is.
	run.Meta.Config["sqs_latency"], run.Meta.Config["sqs_latency_profile"] = "none", "none"
	table = render(t, func(b *bytes.Buffer, r *results.Run) error { return report.Table(b, r) }, run)
	if !strings.Contains(string(table), "SQS latency: none. Path queue used the embedded SQS endpoint on loopback") {
		t.Errorf("no note on the bare endpoint:\n%s", table)
	}
	// A run that says nothing of noise or SQS has no such table or notes.
	plain := string(render(t, func(b *bytes.Buffer, r *results.Run) error { return report.Table(b, r) }, resultstest.Run(1)))
	if strings.Contains(plain, "Noise") || strings.Contains(plain, "SQS latency") || strings.Contains(plain, "Assumption") {
		t.Errorf("a run without noise or SQS settings mentions them:\n%s", plain)
	}
}
