package socket_test

import (
	"context"
	"strconv"
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

// joinedPair starts a server on broker that buffers 3 events per
// conversation, and joins provider d1 (tokD) then patient p1 to c1. It
// returns once every event of both joins was emitted, so that the
// buffer's contents after it are known: the patient's join emits five,
// and d1's presence came before them (same sync lane). ack is d1's join's.
func joinedPair(t *testing.T, broker string) (e *env, tokD string, d1, p *wstest.Client, ack *chat.ServerFrame) {
	t.Helper()
	e = start(t, func(c *socket.Config) { c.Resume, c.Broker = socket.ResumeConfig{Events: 3}, broker })
	tokD = token(t, "d1", chat.RoleProvider, "c1")
	d1 = wstest.Dial(t, e.url, tokD)
	d1.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "dj1", Conv: "c1"})
	ack, _ = d1.AwaitReply("dj1")
	p = wstest.Dial(t, e.url, token(t, "p1", chat.RolePatient, "c1"))
	p.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "pj", Conv: "c1"})
	_, early := p.AwaitReply("pj")
	awaitEvents(t, p, early, "pj", "wait_time", "provider_assign", "consent_check")
	awaitEvents(t, d1, nil, "pj", "presence", "provider_assign")
	return e, tokD, d1, p, ack
}

func testResume(t *testing.T, broker string) {
	e, tokD, d1, p, ack := joinedPair(t, broker)
	if ack.Op != chat.OpAck || ack.LastSeq == 0 || ack.Replayed != 0 || ack.Gap {
		t.Fatalf("first join ack %+v: want last_seq set, nothing replayed, no gap", ack)
	}

	typing := func(id string) {
		t.Helper()
		p.Send(chat.ClientFrame{Op: chat.OpSend, ID: id, Conv: "c1", Type: "typing"})
		if r, _ := p.AwaitReply(id); r.Op != chat.OpAck {
			t.Fatalf("typing %s: %+v", id, r)
		}
		flushBroker(t, e)
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

// flushBroker waits until e's broker has stored what it was given: an
// asynchronous broker (Redis) acks before a relay is stored, and the
// tests must know the buffer's contents.
func flushBroker(t *testing.T, e *env) {
	t.Helper()
	if f, ok := e.srv.Hub().Broker().(socket.Flusher); ok {
		if err := f.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
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

// TestResumeAudience checks how the buffer's cap and the audience filter
// meet (docs/protocol.md, "Resuming"): the cap counts every event of the
// conversation, whoever it is for; replayed counts only the resuming
// user's; gap says an event after since left the buffer, the user's or
// not.
func TestResumeAudience(t *testing.T) { eachBroker(t, testResumeAudience) }

func testResumeAudience(t *testing.T, broker string) {
	e, tokD, d, p, _ := joinedPair(t, broker)

	// send has p1 send typ and waits until its event is in the buffer: a
	// typing's relay goes to the provider only, a wait_time_request's
	// wait_time to the patient only.
	send := func(id, typ string) {
		t.Helper()
		p.Send(chat.ClientFrame{Op: chat.OpSend, ID: id, Conv: "c1", Type: typ})
		if typ == "wait_time_request" {
			awaitEvent(t, p, id, "wait_time")
		} else if r, _ := p.AwaitReply(id); r.Op != chat.OpAck {
			t.Fatalf("%s %s: %+v", typ, id, r)
		}
		flushBroker(t, e)
	}
	// rejoin opens another provider connection (the previous one stays in
	// the room, unread) and resumes after since.
	n := 0
	rejoin := func(since uint64) (*wstest.Client, *chat.ServerFrame, []*chat.Event) {
		t.Helper()
		n++
		id := "rj" + strconv.Itoa(n)
		c := wstest.Dial(t, e.url, tokD)
		c.Send(chat.ClientFrame{Op: chat.OpJoin, ID: id, Conv: "c1", Since: since})
		ack, events := c.AwaitReply(id)
		for _, f := range events {
			if f.Op == chat.OpEvent && f.Event.Name == "wait_time" {
				t.Errorf("a provider was replayed the patient's wait_time %s", f.ReplyTo)
			}
		}
		awaitEvent(t, p, id, "presence") // the join's own event is in the buffer too
		return c, ack, relays(events)
	}

	send("t1", "typing")
	s1 := awaitEvent(t, d, "t1", "typing").Seq
	// From here on d is not read. The buffer keeps w1, t2, w2: everything
	// after s1, of which only t2 is the provider's.
	send("w1", "wait_time_request")
	send("t2", "typing")
	send("w2", "wait_time_request")
	_, ack, got := rejoin(s1)
	if len(got) != 1 || got[0].ReplyTo != "t2" || ack.Replayed != 1 || ack.Gap {
		t.Fatalf("resume with the buffer intact: relays %+v, ack %+v; want t2 alone, replayed 1, no gap", got, ack)
	}

	// Events for the patient alone push the provider's t3 out: nothing
	// is replayed, and the gap says so.
	since := ack.LastSeq
	send("t3", "typing")
	for _, id := range []string{"w3", "w4", "w5"} {
		send(id, "wait_time_request")
	}
	_, ack, got = rejoin(since)
	if len(got) != 0 || ack.Replayed != 0 || !ack.Gap {
		t.Fatalf("resume after the provider's event left the buffer: relays %+v, ack %+v; want nothing replayed, gap", got, ack)
	}

	// Only events for others leave the buffer: the provider missed
	// nothing, yet the gap is reported (the server keeps nothing of what
	// it dropped, so it cannot tell).
	since = ack.LastSeq
	for _, id := range []string{"w6", "w7", "w8", "w9"} {
		send(id, "wait_time_request")
	}
	_, ack, got = rejoin(since)
	if len(got) != 0 || ack.Replayed != 0 || !ack.Gap {
		t.Fatalf("resume after others' events left the buffer: relays %+v, ack %+v; want nothing replayed, gap", got, ack)
	}
}
