package report_test

import (
	"bytes"
	"encoding/xml"
	"flag"
	"html"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/bench/report"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/results/resultstest"
	goldenfile "github.com/chatbench/chatbench/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, name, got, *update)
}

func render(t *testing.T, f func(*bytes.Buffer, *results.Run) error, run *results.Run) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f(&buf, run); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	run := resultstest.Run(1)
	table := render(t, func(b *bytes.Buffer, r *results.Run) error { return report.Table(b, r) }, run)
	golden(t, "table.txt", table)
	golden(t, "report.md", render(t, func(b *bytes.Buffer, r *results.Run) error { return report.Markdown(b, r) }, run))
	html := render(t, func(b *bytes.Buffer, r *results.Run) error { return report.HTML(b, r) }, run)
	golden(t, "report.html", html)

	for _, want := range []string{"echo (floor)", "class ml", "job triage", "2 / 1 /", "queue_wait", "msgs/s", "peak MB"} {
		if !bytes.Contains(table, []byte(want)) {
			t.Errorf("table lacks %q", want)
		}
	}
	// Self-contained: no scripts, no external resources; the SVGs parse.
	s := string(html)
	for _, bad := range []string{"<script", "http://", "https://", "<link", "@import", "src="} {
		if strings.Contains(strings.ReplaceAll(s, `xmlns="http://www.w3.org/2000/svg"`, ""), bad) {
			t.Errorf("HTML contains %q", bad)
		}
	}
	// The CDF, latency over time, one hop chart per class and p99 per job.
	if n, want := strings.Count(s, `<figure class="cb-chart`), 2+len(run.Paths[0].Hops)+1; n != want {
		t.Errorf("%d charts, want %d", n, want)
	}
	checkSVGs(t, s)
}

// checkSVGs checks that every SVG in html is well-formed XML.
func checkSVGs(t *testing.T, html string) {
	t.Helper()
	for rest := html; ; {
		i := strings.Index(rest, "<svg")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i:], "</svg>") + i + len("</svg>")
		if err := xml.Unmarshal([]byte(rest[i:j]), new(struct{})); err != nil {
			t.Errorf("SVG is not well-formed XML: %v", err)
		}
		rest = rest[j:]
	}
}

// TestSparse renders a run with a single path and missing parts.
func TestSparse(t *testing.T) {
	run := resultstest.Run(1)
	run.Paths = run.Paths[2:]
	run.Paths[0].Series = nil
	for _, f := range []func(*bytes.Buffer, *results.Run) error{
		func(b *bytes.Buffer, r *results.Run) error { return report.Table(b, r) },
		func(b *bytes.Buffer, r *results.Run) error { return report.Markdown(b, r) },
		func(b *bytes.Buffer, r *results.Run) error { return report.HTML(b, r) },
	} {
		if out := render(t, f, run); !bytes.Contains(out, []byte("echo")) {
			t.Errorf("output lacks the echo path: %s", out)
		}
	}
	if err := report.HTML(new(bytes.Buffer), &results.Run{Schema: 1}); err != nil {
		t.Fatal(err)
	}
}

// TestScope checks every header says what part of the trace was replayed.
func TestScope(t *testing.T) {
	run := resultstest.Run(1)
	run.Meta.Config["limit"] = "1500"
	for _, p := range run.Paths {
		p.Messages.Scheduled = 1500
	}
	for name, f := range map[string]func(*bytes.Buffer, *results.Run) error{
		"table":    func(b *bytes.Buffer, r *results.Run) error { return report.Table(b, r) },
		"markdown": func(b *bytes.Buffer, r *results.Run) error { return report.Markdown(b, r) },
		"html":     func(b *bytes.Buffer, r *results.Run) error { return report.HTML(b, r) },
	} {
		out := html.UnescapeString(string(render(t, f, run)))
		for _, want := range []string{"subset of the trace's 14,700 messages (--limit 1500)", "1,500 scheduled on each path"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q", name, want)
			}
		}
	}
	whole := resultstest.Run(1)
	for _, p := range whole.Paths {
		p.Messages.Scheduled = whole.Meta.TraceMsgs
	}
	if out := string(render(t, func(b *bytes.Buffer, r *results.Run) error { return report.Table(b, r) }, whole)); !strings.Contains(out, "replayed: the whole trace, 14,700 messages") {
		t.Errorf("whole-trace run: %s", out[:200])
	}
	run.Meta.Config["duration"] = "30s"
	run.Paths[1].Messages.Scheduled = 1400
	out := string(render(t, func(b *bytes.Buffer, r *results.Run) error { return report.Table(b, r) }, run))
	if !strings.Contains(out, "(--limit 1500, --duration 30s); scheduled: direct 1,500, queue 1,400, echo (floor) 1,500") {
		t.Errorf("paths differing: %s", out[:300])
	}
}

// TestPathsAndFindings checks the sections an architecture review reads
// first: what each path stands for and the claim it tests, and — for an
// overloaded path — which component was killed and what it still held.
// A run without either has neither section.
func TestPathsAndFindings(t *testing.T) {
	run := resultstest.Run(1)
	plain := string(render(t, func(b *bytes.Buffer, r *results.Run) error { return report.Table(b, r) }, run))
	for _, absent := range []string{"Paths:", "Findings:"} {
		if strings.Contains(plain, absent) {
			t.Errorf("a run without descriptions or findings has a %q section", absent)
		}
	}
	q := run.Path("queue")
	q.Desc, q.Claim = "every job through one SQS FIFO group per conversation", "the story's backlog"
	held := int64(625)
	for i := range q.Components {
		if q.Components[i].Name == "gateway" {
			q.Components[i].Killed, q.Components[i].Backlog = true, &held
		}
	}
	table := string(render(t, func(b *bytes.Buffer, r *results.Run) error { return report.Table(b, r) }, run))
	md := string(render(t, func(b *bytes.Buffer, r *results.Run) error { return report.Markdown(b, r) }, run))
	page := html.UnescapeString(string(render(t, func(b *bytes.Buffer, r *results.Run) error { return report.HTML(b, r) }, run)))
	for name, out := range map[string]string{"table": table, "markdown": md, "html": page} {
		for _, want := range []string{"the story's backlog", "every job through one SQS FIFO group per conversation",
			"gateway still held 625 when asked to stop; did not exit within its stop grace and was killed"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q", name, want)
			}
		}
	}
}
