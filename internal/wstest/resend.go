package wstest

import (
	"slices"
	"sort"

	"github.com/chatbench/chatbench/chat"
)

// ResendScenario checks the front door's resend protocol on a running
// server (either path): frames resent with an id already accepted get the
// same ack — same members — and cause nothing else, and a join resent on a
// new connection puts that connection back in the room without running the
// join's jobs again. dial opens a connection as user; shutdown drains the
// server gracefully (every event flushed, connections closed with 1001).
// Every participant must then have received exactly the events the catalog
// expects for the messages sent once.
func ResendScenario(s *Script, dial func(user string, role chat.Role) *Participant, shutdown func()) {
	t := s.t
	t.Helper()
	d1 := dial("d1", chat.RoleProvider)
	p1 := dial("p1", chat.RolePatient)
	s.Do(d1, chat.OpJoin, "c1", "", "")
	join := s.Do(p1, chat.OpJoin, "c1", "", "")
	s.Settle(p1)
	members := []string{"d1", "p1"}

	// p1's connection drops; p1 reconnects and resends its (accepted) join.
	p1.C.Close()
	p1b := dial("p1", chat.RolePatient)
	resend := func(p *Participant, f chat.ClientFrame) {
		t.Helper()
		p.C.Send(f)
		reply, evs := p.C.AwaitReply(f.ID)
		p.Got = append(p.Got, evs...)
		if reply.Op != chat.OpAck || !slices.Equal(reply.Members, members) {
			t.Fatalf("resent %s %s: got %s %q members %v, want the original ack with members %v", f.Op, f.ID, reply.Op, reply.Code, reply.Members, members)
		}
	}
	resend(p1b, chat.ClientFrame{Op: chat.OpJoin, ID: join, Conv: "c1", SentAt: chat.NowMicros()})

	// The resent join put the new connection in the room: it can send.
	text := s.Do(p1b, chat.OpSend, "c1", "text", "still there?")
	form := s.Do(p1b, chat.OpSend, "c1", "symptom_form", `{"pain":3}`)
	reply := s.Do(d1, chat.OpSend, "c1", "text", "yes")
	resend(p1b, chat.ClientFrame{Op: chat.OpSend, ID: text, Conv: "c1", Type: "text", Body: "still there?", SentAt: chat.NowMicros()})
	resend(p1b, chat.ClientFrame{Op: chat.OpSend, ID: form, Conv: "c1", Type: "symptom_form", Body: `{"pain":3}`, SentAt: chat.NowMicros()})
	resend(d1, chat.ClientFrame{Op: chat.OpSend, ID: reply, Conv: "c1", Type: "text", Body: "yes", SentAt: chat.NowMicros()})

	shutdown()
	d1.Drain()
	p1b.Drain()
	got := map[string][]*chat.ServerFrame{"d1": d1.Got, "p1": append(slices.Clone(p1.Got), p1b.Got...)}
	for user, frames := range got {
		want := slices.Clone(s.Want[user])
		sort.Strings(want)
		if keys := Keys(frames); !slices.Equal(keys, want) {
			t.Errorf("%s received\n  %v\nwant (each exactly once)\n  %v", user, keys, want)
		}
		for _, f := range frames {
			if f.Op != chat.OpEvent {
				t.Errorf("%s: unexpected %s frame %q %q", user, f.Op, f.ReplyTo, f.Code)
			}
		}
	}
}
