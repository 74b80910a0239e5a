package queuemode_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/queuemode"
)

// peakML passes every call to the real ML client and records the most calls
// in progress at once.
type peakML struct {
	inner     chat.ML
	mu        sync.Mutex
	now, peak int
}

func (p *peakML) Predict(ctx context.Context, model, input string) (json.RawMessage, error) {
	p.mu.Lock()
	p.now++
	p.peak = max(p.peak, p.now)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.now--
		p.mu.Unlock()
	}()
	return p.inner.Predict(ctx, model, input)
}

// TestGroupConcurrencyKeepsOrder: with GroupConcurrency, the messages of one
// FIFO group that one receive returns run their jobs side by side (in the
// legacy grouping, one conversation's ML calls overlap), and every job's
// events still reach the client in send order, although the ML service's
// latency spread makes later calls finish first.
func TestGroupConcurrencyKeepsOrder(t *testing.T) {
	for _, n := range []int{10, 3} { // all of a receive at once; fewer than it returns
		t.Run(fmt.Sprint(n), func(t *testing.T) { groupConcurrencyKeepsOrder(t, n) })
	}
}

func groupConcurrencyKeepsOrder(t *testing.T, n int) {
	// 40 texts at once: more than a conversation may have outstanding by
	// default. Order and overlap are under test here, not the bound.
	e := newEnv(t, envOpts{variant: func(gc *queuemode.GatewayConfig) { gc.Dispatcher.MaxConvOutstanding = -1 }})
	ml := &peakML{inner: wstest.StartML(t, "*=median:10ms,p99:80ms")}
	e.worker(ml, func(c *queuemode.WorkerConfig) { c.GroupConcurrency = n; c.Pollers = 1 })
	s := newScript(t, e.cat)
	d1 := dial(t, e.gw.URL(), "d1", chat.RoleProvider, "c1")
	p1 := dial(t, e.gw.URL(), "p1", chat.RolePatient, "c1")
	s.Do(d1, chat.OpJoin, "c1", "", "")
	s.Do(p1, chat.OpJoin, "c1", "", "")
	s.Settle(d1)
	d1.Got = nil
	var ids []string
	for i := range 40 {
		id := fmt.Sprintf("t%03d", i)
		ids = append(ids, id)
		p1.C.Send(chat.ClientFrame{Op: chat.OpSend, ID: id, Conv: "c1", Type: "text", Body: "a text"})
	}
	members := []chat.Member{{User: "d1", Role: chat.RoleProvider}, {User: "p1", Role: chat.RolePatient}}
	want := map[string]int{} // job → events d1 gets per text
	for _, d := range e.cat.Deliveries("text", "p1", chat.RolePatient, members) {
		if d.User == "d1" && d.Job != chat.RelayJob {
			want[d.Job]++
		}
	}
	total := 0
	for _, n := range want {
		total += n * len(ids)
	}
	got := map[string][]string{} // job → ReplyTo, in arrival order
	for n := 0; n < total; {
		f := d1.C.Next()
		if f.Op != chat.OpEvent || want[f.Event.Job] == 0 {
			continue
		}
		got[f.Event.Job] = append(got[f.Event.Job], f.ReplyTo)
		n++
	}
	for job, order := range got {
		if !slices.IsSorted(order) || len(slices.Compact(slices.Clone(order))) != len(ids) {
			t.Errorf("%s: events out of send order or missing: %v", job, order)
		}
	}
	// One group: a message's jobs run one after another, so the calls at
	// once are the messages at once.
	if ml.peak < 2 || ml.peak > n {
		t.Errorf("%d ML calls at most at once, want 2 to %d (GroupConcurrency): 1 means a receive's messages of one group ran one after another", ml.peak, n)
	}
}
