package socket_test

import (
	"context"
	"testing"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/socket"
)

// TestResume drops a provider's connection in the way that loses events:
// the server still counts the old connection in the room, so events are
// addressed to it and written to a connection nobody reads. A new
// connection that joins with since gets exactly those events, in order,
// before its ack; one whose since is older than the buffer is told there
// is a gap and gets what is left.
// It runs on each broker: the Redis one keeps the buffer in Redis.
func TestResume(t *testing.T) { eachBroker(t, testResume) }

func testResume(t *testing.T, broker string) {
	e := start(t, func(c *socket.Config) { c.Resume, c.Broker = socket.ResumeConfig{Events: 3}, broker })
	tokD := token(t, "d1", chat.RoleProvider, "c1")
	d1 := wstest.Dial(t, e.url, tokD)
	d1.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "dj1", Conv: "c1"})
	ack, _ := d1.AwaitReply("dj1")
	if ack.Op != chat.OpAck || ack.LastSeq == 0 || ack.Replayed != 0 || ack.Gap {
		t.Fatalf("first join ack %+v: want last_seq set, nothing replayed, no gap", ack)
	}
	p := wstest.Dial(t, e.url, token(t, "p1", chat.RolePatient, "c1"))
	p.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "pj", Conv: "c1"})
	_, early := p.AwaitReply("pj")
	// Every event of both joins is emitted before what follows, so that
	// the buffer's contents below are known: the patient's join emits
	// these five, and d1's presence came before them (same sync lane).
	awaitEvents(t, p, early, "pj", "wait_time", "provider_assign", "consent_check")
	awaitEvents(t, d1, nil, "pj", "presence", "provider_assign")

	typing := func(id string) {
		t.Helper()
		p.Send(chat.ClientFrame{Op: chat.OpSend, ID: id, Conv: "c1", Type: "typing"})
		if r, _ := p.AwaitReply(id); r.Op != chat.OpAck {
			t.Fatalf("typing %s: %+v", id, r)
		}
		// An asynchronous broker (Redis) acks before the relay is stored:
		// wait for it, so that the buffer's contents below are known.
		if f, ok := e.srv.Hub().Broker().(socket.Flusher); ok {
			if err := f.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	typing("t1")
	s1 := awaitEvent(t, d1, "t1", "typing").Seq
	if s1 <= ack.LastSeq {
		t.Fatalf("event seq %d not above the join's last_seq %d", s1, ack.LastSeq)
	}
	// d1's first connection goes silent: from here on nobody reads it.
	typing("t2")
	typing("t3")

	d2 := wstest.Dial(t, e.url, tokD)
	d2.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "dj2", Conv: "c1", Since: s1})
	ack2, events := d2.AwaitReply("dj2")
	got := relays(events)
	if len(got) != 2 || got[0].ReplyTo != "t2" || got[1].ReplyTo != "t3" || got[0].Seq <= s1 || got[1].Seq <= got[0].Seq {
		t.Fatalf("replayed before the ack: %+v, want t2 then t3 with growing seqs above %d", got, s1)
	}
	if ack2.Replayed != 2 || ack2.Gap || ack2.LastSeq < got[1].Seq {
		t.Fatalf("resuming join ack %+v: want replayed 2, no gap, last_seq ≥ %d", ack2, got[1].Seq)
	}
	s3 := got[1].Seq
	awaitEvent(t, p, "dj2", "presence") // so it is older than what follows

	// Five more while d2 goes silent too: only the newest 3 stay buffered.
	for _, id := range []string{"t4", "t5", "t6", "t7", "t8"} {
		typing(id)
	}
	d3 := wstest.Dial(t, e.url, tokD)
	d3.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "dj3", Conv: "c1", Since: s3})
	ack3, events := d3.AwaitReply("dj3")
	got = relays(events)
	if len(got) != 3 || got[0].ReplyTo != "t6" || got[2].ReplyTo != "t8" {
		t.Fatalf("replayed after the buffer overflowed: %+v, want t6, t7, t8", got)
	}
	if ack3.Replayed != 3 || !ack3.Gap {
		t.Fatalf("join ack %+v: want replayed 3 and gap (t4, t5 are gone)", ack3)
	}

	// A join without since replays nothing.
	d4 := wstest.Dial(t, e.url, tokD)
	d4.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "dj4", Conv: "c1"})
	ack4, events := d4.AwaitReply("dj4")
	if len(relays(events)) != 0 || ack4.Replayed != 0 || ack4.LastSeq < got[2].Seq {
		t.Fatalf("join without since: ack %+v, relays %+v", ack4, relays(events))
	}
	if n := counter(t, e.reg, "chatbench_resume_replayed_total", nil); n != 5 {
		t.Errorf("chatbench_resume_replayed_total = %v, want 5", n)
	}
	if n := counter(t, e.reg, "chatbench_resume_gaps_total", nil); n != 1 {
		t.Errorf("chatbench_resume_gaps_total = %v, want 1", n)
	}
}

// TestResumeOff checks that with resuming off a join with since is served
// as a plain join.
func TestResumeOff(t *testing.T) {
	e := start(t, func(c *socket.Config) { c.Resume = socket.ResumeConfig{Events: -1} })
	p := wstest.Dial(t, e.url, token(t, "p1", chat.RolePatient, "c1"))
	p.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "pj", Conv: "c1"})
	p.AwaitReply("pj")
	tokD := token(t, "d1", chat.RoleProvider, "c1")
	d1 := wstest.Dial(t, e.url, tokD)
	d1.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "dj1", Conv: "c1"})
	d1.AwaitReply("dj1")
	p.Send(chat.ClientFrame{Op: chat.OpSend, ID: "t1", Conv: "c1", Type: "typing"})
	p.AwaitReply("t1")
	d2 := wstest.Dial(t, e.url, tokD)
	d2.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "dj2", Conv: "c1", Since: 1})
	ack, events := d2.AwaitReply("dj2")
	if ack.Op != chat.OpAck || ack.Replayed != 0 || ack.Gap || len(relays(events)) != 0 {
		t.Fatalf("resuming off: ack %+v, relays %+v", ack, relays(events))
	}
}

// awaitEvents reads c's frames until it has seen an event of each job
// replying to ref, counting those in seen (frames already read).
func awaitEvents(t *testing.T, c *wstest.Client, seen []*chat.ServerFrame, ref string, jobs ...string) {
	t.Helper()
	missing := map[string]bool{}
	for _, j := range jobs {
		missing[j] = true
	}
	for len(missing) > 0 {
		var f *chat.ServerFrame
		if len(seen) > 0 {
			f, seen = seen[0], seen[1:]
		} else {
			f = c.Next()
		}
		if f.Op == chat.OpEvent && f.ReplyTo == ref {
			delete(missing, f.Event.Job)
		}
	}
}

// awaitEvent reads c's frames until event name replying to ref, and
// returns it.
func awaitEvent(t *testing.T, c *wstest.Client, ref, name string) *chat.Event {
	t.Helper()
	for {
		if f := c.Next(); f.Op == chat.OpEvent && f.ReplyTo == ref && f.Event.Name == name {
			return f.Event
		}
	}
}

// relays returns the relay events among frames.
func relays(frames []*chat.ServerFrame) []*chat.Event {
	var out []*chat.Event
	for _, f := range frames {
		if f.Op == chat.OpEvent && f.Event.Job == chat.RelayJob {
			out = append(out, f.Event)
		}
	}
	return out
}
