package directmode_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/directmode"
)

// countingEmitter counts events; it stands in for the hub so the benchmark
// measures the dispatcher alone.
type countingEmitter struct{ n atomic.Int64 }

func (e *countingEmitter) Emit(*chat.Event) int { e.n.Add(1); return 1 }

// noopCatalog returns a catalog of one message type, typ, triggering one
// job like j (its class and model) that answers the sender with an empty
// event at once.
func noopCatalog(b *testing.B, typ string, j chat.Job) *chat.Catalog {
	j.Name, j.Event, j.Audience = "noop", "noop", chat.AudienceSender
	j.Triggers = []chat.Trigger{{Type: typ}}
	j.Handler = chat.HandlerFunc(func(context.Context, *chat.Message, chat.Deps) (json.RawMessage, error) {
		return json.RawMessage(`{}`), nil
	})
	cat, err := chat.NewCatalog([]chat.MessageType{{Name: typ}}, []chat.Job{j})
	if err != nil {
		b.Fatal(err)
	}
	return cat
}

// BenchmarkBackgroundTaskStart measures starting one ML background task
// (Dispatch) and, amortised, running it to its emit: the overhead the
// direct path adds to every ML job before any ML latency.
func BenchmarkBackgroundTaskStart(b *testing.B) {
	cat := noopCatalog(b, "text", chat.Job{Class: chat.ClassML, Model: "none"})
	em := &countingEmitter{}
	d, err := directmode.New(directmode.Config{Catalog: cat, Emitter: em, MaxPending: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	msg := &chat.Message{ID: "m1", Conv: "c1", From: "p1", Role: chat.RolePatient, Type: "text"}
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Dispatch(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := d.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if em.n.Load() == 0 {
		b.Fatal("no task emitted")
	}
}

// signalEmitter tells, through c, that an event was emitted; it stands in
// for the hub so the benchmark measures the dispatcher alone.
type signalEmitter struct{ c chan struct{} }

func (e *signalEmitter) Emit(*chat.Event) int { e.c <- struct{}{}; return 1 }

// BenchmarkSyncJobToEmit measures one sync job from Dispatch to its emit,
// one message at a time (the lane idle each time, as it is at a chat's
// pace): the hand-off to the lane's goroutine and the job, before a sync
// job's event can leave.
func BenchmarkSyncJobToEmit(b *testing.B) {
	cat := noopCatalog(b, "read", chat.Job{Class: chat.ClassSync})
	em := &signalEmitter{c: make(chan struct{}, 1)}
	d, err := directmode.New(directmode.Config{Catalog: cat, Emitter: em})
	if err != nil {
		b.Fatal(err)
	}
	msg := &chat.Message{ID: "m1", Conv: "c1", From: "p1", Role: chat.RolePatient, Type: "read"}
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Dispatch(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
		<-em.c
	}
	if err := d.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
}
