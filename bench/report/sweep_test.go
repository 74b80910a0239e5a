package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/bench/report"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/results/resultstest"
)

// sweepRun is a sweep of the fixture's direct and queue paths: three
// steps of rising load and latency each, the direct path's knee at its
// second step (the third broke), the queue's at its first with its
// second step still backing up.
func sweepRun() *results.Run {
	run := resultstest.Run(1)
	prices := results.Prices{FIFOPerMillion: 0.5, StandardPerMillion: 0.4, FreeRequests: 1e6, CoreHour: 0.05, Source: "test prices"}
	sw := &results.Sweep{
		Reference: results.Reference{TraceName: "day", Messages: 14700, Visits: 600, DurationSeconds: 86400, MeanRate: 0.17, PeakRate: 0.4,
			MsgsPerVisit: 24.5, UsersPerVisit: 2, VisitSeconds: 700},
		SLO: []string{"p99{class=sync} < 100ms", "lost == 0"}, LagFraction: 0.1, Factor: 10, Refine: 0,
		WarmupUS: 3e6, WindowUS: 8e6, Volume: 14700, Prices: prices,
	}
	for _, name := range []string{"direct", "queue"} {
		s := &results.SweepSeries{Path: name, Pace: 20, Knee: -1, StopStep: -1, Stop: results.StopSLO, Detail: "the SLO broke"}
		for i, slow := range []float64{1, 3, 30} {
			p := resultstest.Run(slow).Path(name)
			st := &results.Step{N: i + 1, Target: 10 * float64(i*9+1), Offered: 10 * float64(i*9+1), Path: p, Pass: true, Trusted: true,
				LagP99: 800, LagLimit: 10000, WallSeconds: 15}
			if (name == "direct" && i == 2) || (name == "queue" && i >= 1) {
				st.Pass = false
				st.Checks = []results.StepCheck{{Rule: "p99{class=sync} < 100ms", Measured: true, Message: "p99 too high"}}
			}
			if name == "queue" {
				st.SQS = []results.SQSCount{{Action: "SendMessage", Queue: "fifo", Calls: 100, Billed: 100, Entries: 100}}
			}
			s.Steps = append(s.Steps, st)
		}
		s.Knee = map[string]int{"direct": 1, "queue": 0}[name]
		s.StopStep = s.Knee + 1
		k := s.Steps[s.Knee]
		s.Capacity = &results.Capacity{Step: s.Knee, Rate: k.Offered, PerCore: 500, EventsPerCore: 900, ServerCores: 0.4, DriverCores: 0.2,
			Headroom: k.Offered / sw.Reference.PeakRate, CPUMillisPerMessage: map[string]float64{"driver": 0.5}}
		c := results.Cost{SQSStep: s.Knee, CPUStep: s.Knee, CPUMillisPerMessage: map[string]float64{"server": 1}}
		if name == "queue" {
			c.RequestsPerMessage, c.FIFO = map[string]float64{"SendMessage": 1, "ReceiveMessage": 1, "DeleteMessage": 1}, true
			c.CPUMillisPerMessage = map[string]float64{"gateway": 2, "worker": 2}
		}
		c = c.At(sw.Volume, prices)
		s.Cost = &c
		sw.Series = append(sw.Series, s)
	}
	sw.Series[1].Steps[1].Path.Steady = &results.Steady{Steady: false, Reason: "its median latency rose"}
	run.Sweep = sw
	run.Paths = []*results.Path{sw.Series[0].KneeStep().Path, sw.Series[1].Steps[1].Path}
	return run
}

func TestSweepReport(t *testing.T) {
	run := sweepRun()
	if err := run.Validate(); err != nil {
		t.Fatalf("the fixture is not a valid document: %v", err)
	}
	// The verdict is wrapped: compare its words.
	text := strings.Join(strings.Fields(string(render(t, func(b *bytes.Buffer, r *results.Run) error { return report.Table(b, r) }, run))), " ")
	for _, want := range []string{
		"Verdict", "direct (knee 100 msgs/s [direct·2])", "queue (knee 10.0 msgs/s [queue·1])", "hold the SLO",
		"Of those, direct costs least", "The cheapest choice does not change up to 3,672,000 messages a day", "Knees and capacity per core", "Cost at 14,700 messages a day",
		"broke p99{class=sync} < 100ms", "(knee)", "queue (backing up)", "BACKING UP: path queue",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("sweep table lacks %q:\n%s", want, text)
		}
	}
	md := string(render(t, func(b *bytes.Buffer, r *results.Run) error { return report.Markdown(b, r) }, run))
	if !strings.Contains(md, "**Verdict.**") || !strings.Contains(md, "<details><summary>Steps</summary>") {
		t.Errorf("sweep markdown:\n%s", md)
	}
	html := string(render(t, func(b *bytes.Buffer, r *results.Run) error { return report.HTML(b, r) }, run))
	// Every reference in the verdict links to a step row that exists.
	for rest := html; ; {
		i := strings.Index(rest, `href="#step-`)
		if i < 0 {
			break
		}
		rest = rest[i+len(`href="#`):]
		id := rest[:strings.IndexByte(rest, '"')]
		if !strings.Contains(html, `id="`+id+`"`) {
			t.Errorf("link to #%s has no row", id)
		}
	}
	if !strings.Contains(html, "latency against offered load, class sync") || !strings.Contains(html, "direct knee 100") {
		t.Error("HTML lacks the log-log chart of the sync class with the knees marked")
	}
	checkSVGs(t, html)
}
