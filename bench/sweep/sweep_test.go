package sweep_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/gate"
	"github.com/chatbench/chatbench/bench/report"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/stack"
	"github.com/chatbench/chatbench/bench/sweep"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/internal/wstest"
)

// TestSweepQuick sweeps the direct path and the legacy queue as real
// processes over two short steps of the small fixture's visits and checks
// what the product promises: a series per path with its steps judged, a
// knee with capacity and cost, SQS requests counted for the queue only, a
// document that validates, survives JSON, renders, and that the gate
// reads a knee from.
func TestSweepQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds chatbench and runs four steps on real processes")
	}
	exe := wstest.BuildChatbench(t)
	tr, err := os.ReadFile("testdata/small.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	paths := []string{"direct", "queue"}
	run, err := sweep.Run(ctx, sweep.Config{
		Stack:     stack.Config{Exe: exe, MLProfile: "fast", Secret: "sweep-test-secret-0123456789", LogDir: filepath.Join(t.TempDir(), "logs")},
		TraceName: "small", TraceBytes: tr, Catalog: jobs.Catalog(),
		Paths: paths, From: 2, To: 8, Factor: 4, Quick: true,
		// This test checks the sweep's mechanics on real processes, not
		// how quiet the machine is: the lag may reach the SLO itself
		// before a step is distrusted (plan_test.go tests the lag stop).
		LagFraction: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	sw := run.Sweep
	if sw == nil || len(sw.Series) != len(paths) {
		t.Fatalf("sweep %+v: want a series per path %v", sw, paths)
	}
	for _, s := range sw.Series {
		if len(s.Steps) == 0 {
			t.Fatalf("%s: no steps", s.ID())
		}
		for _, st := range s.Steps {
			if st.Error != "" || st.Path == nil || len(st.Checks) == 0 || st.LagLimit <= 0 || st.Path.Steady == nil {
				t.Errorf("%s step %d not measured and judged: error %q, checks %v, lag limit %d", s.ID(), st.N, st.Error, st.Checks, st.LagLimit)
			}
			_, hasSQS := mustLookup(t, s.Path).Component("sqs")
			if hasSQS != (len(st.SQS) > 0) {
				t.Errorf("%s step %d: SQS counts %v, want them exactly for a path with SQS", s.ID(), st.N, st.SQS)
			}
			if hasSQS && st.Path.Messages.Sent > 0 {
				i := slices.IndexFunc(st.SQS, func(n results.SQSCount) bool { return strings.HasPrefix(n.Action, "SendMessage") })
				if i < 0 || st.SQS[i].Entries == 0 {
					t.Errorf("%s step %d: no SQS sends counted for %d messages: %v", s.ID(), st.N, st.Path.Messages.Sent, st.SQS)
				}
			}
		}
		if s.Stop == "" || s.Detail == "" {
			t.Errorf("%s: no reason given for its end", s.ID())
		}
		// The fixture's low loads hold on the fast ML profile for both.
		k := s.KneeStep()
		if k == nil || s.Capacity == nil || s.Cost == nil {
			t.Fatalf("%s: no knee (stop %s: %s)", s.ID(), s.Stop, s.Detail)
		}
		if s.Capacity.PerCore <= 0 || s.Capacity.Headroom <= 1 || s.Cost.Volume != sw.Volume {
			t.Errorf("%s capacity %+v cost %+v", s.ID(), *s.Capacity, *s.Cost)
		}
		if _, hasSQS := mustLookup(t, s.Path).Component("sqs"); hasSQS != (s.Cost.Requests > 0) {
			t.Errorf("%s: %v SQS requests a month", s.ID(), s.Cost.Requests)
		}
	}
	if len(run.Paths) != len(paths) {
		t.Errorf("run paths %d, want each series' knee step", len(run.Paths))
	}
	// The document validates, survives JSON and renders.
	var buf bytes.Buffer
	if err := results.Write(&buf, run); err != nil {
		t.Fatal(err)
	}
	back, err := results.Read(&buf)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	var out bytes.Buffer
	if err := report.Table(&out, back); err != nil || !strings.Contains(out.String(), "Verdict") {
		t.Errorf("table: %v\n%s", err, out.String())
	}
	// A knee rule reads it: the direct path's knee is at least the first
	// step's load and not above the last.
	knee := sw.Lookup("direct", 0).KneeStep().Offered
	for rule, pass := range map[string]bool{"knee{path=direct} > 0": true, "knee{path=direct} > " + strconv.FormatFloat(knee*2, 'f', 3, 64): false} {
		r, err := gate.Parse(rule)
		if err != nil {
			t.Fatal(err)
		}
		v := gate.Check(back, nil, []gate.Rule{r})
		if len(v) != 1 || v[0].Pass != pass {
			t.Errorf("gate %q on knee %v: %+v, want pass %v", rule, knee, v, pass)
		}
	}
}

func mustLookup(t *testing.T, name string) stack.Variant {
	t.Helper()
	v, err := stack.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
