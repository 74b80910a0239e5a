package chaos_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/chaos"
	"github.com/chatbench/chatbench/internal/wstest"
)

// TestNoisyNeighbour runs the noisy-neighbour scenario on both paths as
// real processes, with a small flood against a direct server of 4 ML
// slots, and checks that the flood ran beside the whole replay (its counts
// are in the results), that the direct server refused the flood beyond its
// share as overloaded, that the neighbours were still served, and that the
// neighbour table shows each path.
func TestNoisyNeighbour(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds chatbench and starts 6 processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := testConfig(t, wstest.BuildChatbench(t), chaos.NoisyNeighbour)
	cfg.Stack.MaxTasks, cfg.Flood = 4, chaos.Flood{Users: 2, Conns: 4, Rate: 40}
	run, err := chaos.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Paths) != 2 {
		t.Fatalf("got %d paths, want the scenario on direct and queue", len(run.Paths))
	}
	for _, p := range run.Paths {
		note := run.Meta.Config[chaos.NoisyNeighbour+"/"+p.Name]
		t.Logf("%s: flood %s; neighbours %+v", p.Name, note, *p.Ledger["all"])
		if p.Fault != chaos.NoisyNeighbour || p.FaultWindow != nil {
			t.Errorf("%s: fault %q window %v, want %s for the whole run", p.Name, p.Fault, p.FaultWindow, chaos.NoisyNeighbour)
		}
		if !strings.HasPrefix(note, "sent ") || strings.HasPrefix(note, "sent 0,") {
			t.Errorf("%s: flood note %q, want what it sent", p.Name, note)
		}
		if p.Name == "direct" && !strings.Contains(note, "overloaded") {
			t.Errorf("direct: flood note %q: want refusals beyond the flooders' share of 4 slots", note)
		}
		if p.Ledger["all"].Delivered == 0 {
			t.Errorf("%s: no neighbour delivery beside the flood", p.Name)
		}
	}
	var b bytes.Buffer
	if err := chaos.NeighbourTable(&b, run); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Noisy neighbour", "\ndirect ", "\nqueue "} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("neighbour table lacks %q:\n%s", want, b.String())
		}
	}
	t.Logf("\n%s", b.String())
}
