package driver_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/driver"
	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/internal/redistest"
	"github.com/chatbench/chatbench/socket"
)

// TestReplayInstances replays a trace over two direct servers sharing one
// Redis broker: the driver spreads the participants over both (each
// server holds some), and every expected delivery arrives once — a
// conversation whose participants sit on different instances behaves as
// on one server.
func TestReplayInstances(t *testing.T) {
	url := redistest.Start(t).URL()
	a := startDirectWith(t, socket.Config{Broker: url}, "")
	b := startDirectWith(t, socket.Config{Broker: url}, "")
	h, recs, err := trace.Generate(trace.Params{Days: 0.02, Messages: 120, Conversations: 4, Seed: 7, Bodies: true})
	if err != nil {
		t.Fatal(err)
	}
	counts := make(chan [2]int, 1)
	cfg := driver.Config{
		Targets: []string{a.URL(), b.URL()}, Secret: secret, Path: driver.PathDirect, Header: h, Records: recs,
		Speed: 400, Catalog: jobs.Catalog(), Drain: 20 * time.Second,
	}
	go func() {
		// While the replay runs, both instances hold connections.
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && (a.Front().Conns() == 0 || b.Front().Conns() == 0) {
			time.Sleep(5 * time.Millisecond)
		}
		counts <- [2]int{a.Front().Conns(), b.Front().Conns()}
	}()
	p, err := driver.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c := <-counts; c[0] == 0 || c[1] == 0 {
		t.Errorf("connections per instance %v: want both used", c)
	}
	all := p.Ledger["all"]
	t.Logf("ledger %+v", *all)
	if all.Expected == 0 || all.Delivered != all.Expected || all.Lost != 0 || all.Duplicates != 0 || all.Unexpected != 0 {
		t.Fatalf("two instances: ledger %+v, want every expected delivery once", *all)
	}
}
