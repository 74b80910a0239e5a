package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/results"
)

func TestFaultTable(t *testing.T) {
	now := time.Now()
	run := &results.Run{Paths: []*results.Path{
		{Name: "queue", Fault: "worker-kill", Ledger: map[string]*results.Counts{"all": {Delivered: 10, Lost: 2}},
			FaultWindow: &results.FaultWindow{Start: now, End: now.Add(5 * time.Second)}, RecoverySeconds: 3,
			FaultLatency: &results.FaultLatency{DuringP99: 5_000_000, AfterP99: 40_000}},
		{Name: "direct", Fault: "ml-errors", Ledger: map[string]*results.Counts{"all": {Delivered: 9}},
			FaultLatency: &results.FaultLatency{DuringP99: 2_000}},
	}}
	var b bytes.Buffer
	if err := FaultTable(&b, run); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"Fault matrix", "worker-kill", "10 / 2 / 0 / 0 · 3 s", "9 / 0 / 0 / 0 · whole run", "n/a"} {
		if !strings.Contains(out, want) {
			t.Errorf("fault table lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "direct") > strings.Index(out, "queue") {
		t.Errorf("direct column should come first:\n%s", out)
	}
	b.Reset()
	if err := Markdown(&b, run); err != nil || !strings.Contains(b.String(), "Fault matrix") {
		t.Errorf("markdown lacks the fault matrix (%v)", err)
	}
}
