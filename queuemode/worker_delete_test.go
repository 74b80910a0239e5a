package queuemode_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/queuemode"
	"github.com/chatbench/chatbench/queuemode/sqsd"
)

// deleteGate stands in front of the real embedded endpoint and holds every
// DeleteMessageBatch call until two are in flight together (or until
// giveUp passes, so a deleter that makes one call at a time is reported
// rather than hung). Every other call goes straight through.
type deleteGate struct {
	next    http.Handler
	giveUp  time.Duration
	first   chan struct{} // closed when the first delete call arrives
	both    chan struct{} // closed when a second arrives while the first is held
	mu      sync.Mutex
	waiting int
	most    int
}

func (g *deleteGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "AmazonSQS.DeleteMessageBatch" {
		g.next.ServeHTTP(w, r)
		return
	}
	g.mu.Lock()
	g.waiting++
	g.most = max(g.most, g.waiting)
	switch g.waiting {
	case 1:
		select {
		case <-g.first:
		default:
			close(g.first)
		}
	case 2:
		select {
		case <-g.both:
		default:
			close(g.both)
		}
	}
	g.mu.Unlock()
	select {
	case <-g.both:
	case <-time.After(g.giveUp):
	case <-r.Context().Done():
	}
	g.mu.Lock()
	g.waiting--
	g.mu.Unlock()
	g.next.ServeHTTP(w, r)
}

// TestBatchDeletesOverlap: with BatchDeletes, a full batch of deletes goes
// out while another delete call is still waiting on its round trip. One
// call at a time, a worker deleted at most ten messages per round trip, and
// since a message keeps its in-flight slot until deleted, the queue backed
// up behind the deletes at a region's round trip (docs/performance.md).
func TestBatchDeletesOverlap(t *testing.T) {
	srv := sqsd.New(sqsd.Config{})
	gate := &deleteGate{next: srv.Handler(), giveUp: 5 * time.Second,
		first: make(chan struct{}), both: make(chan struct{})}
	hs := httptest.NewServer(gate)
	t.Cleanup(hs.Close)
	t.Cleanup(func() { _ = srv.Close() })
	e := newEnv(t, envOpts{endpoint: hs.URL})
	e.worker(startML(t), func(c *queuemode.WorkerConfig) { c.BatchDeletes = true })
	s := newScript(t, e.cat)
	convs := []string{"c0"}
	for i := 1; i <= 10; i++ {
		convs = append(convs, fmt.Sprint("c", i))
	}
	p1 := dial(t, e.gw.URL(), "p1", chat.RolePatient, convs...)
	s.Do(p1, chat.OpJoin, "c0", "", "")
	// The first join's jobs are deleted first; that call is held at the gate.
	select {
	case <-gate.first:
	case <-time.After(gate.giveUp):
		t.Fatal("the join's queued jobs were never deleted")
	}
	// Ten joins of other conversations (other FIFO groups) are received and
	// done meanwhile: a full batch, which must go out beside the held call.
	for _, c := range convs[1:] {
		s.Do(p1, chat.OpJoin, c, "", "")
	}
	select {
	case <-gate.both:
	case <-time.After(gate.giveUp):
		gate.mu.Lock()
		most := gate.most
		gate.mu.Unlock()
		t.Fatalf("a full DeleteMessageBatch never went out while the first was in flight (most at once: %d)", most)
	}
	for _, c := range convs {
		s.Do(p1, chat.OpSend, c, "text", "after the held deletes")
	}
	s.Settle(p1)
	s.Check(p1)
}
