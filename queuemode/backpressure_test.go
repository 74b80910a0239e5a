package queuemode_test

import (
	"fmt"
	"testing"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/queuemode"
)

// await sends one frame from p and returns the ack or error replying
// to it, keeping the events that arrive meanwhile.
func await(p *wstest.Participant, op, id, conv, typ string) *chat.ServerFrame {
	if op != chat.OpSend {
		typ = op
	}
	p.C.Send(chat.ClientFrame{Op: op, ID: id, Conv: conv, Type: typ, Body: "x", SentAt: chat.NowMicros()})
	reply, evs := p.C.AwaitReply(id)
	p.Got = append(p.Got, evs...)
	return reply
}

// TestBackpressure floods the gateway while no worker answers: beyond the
// bound of outstanding messages (per conversation, per sender) a send is
// refused with the retryable overloaded, while another conversation's
// messages are accepted and, once a worker runs, delivered; when the
// flood's events are back, the refused frame is accepted on resend. Before
// the bound existed every send was accepted into an unbounded backlog.
func TestBackpressure(t *testing.T) {
	const bound = 4
	for _, c := range []struct {
		name  string
		tweak func(*queuemode.DispatcherConfig)
		convs []string // the flooder's conversations, sent to in turn
	}{
		{"conversation", func(d *queuemode.DispatcherConfig) { d.MaxConvOutstanding, d.MaxUserOutstanding = bound, -1 }, []string{"flood"}},
		// Each conversation stays under any per-conversation bound; the
		// sender's sum does not.
		{"user", func(d *queuemode.DispatcherConfig) { d.MaxConvOutstanding, d.MaxUserOutstanding = -1, bound }, []string{"flood-1", "flood-2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, envOpts{variant: func(gc *queuemode.GatewayConfig) { c.tweak(&gc.Dispatcher) }})
			url := e.gw.URL()
			flooder := dial(t, url, "pf", chat.RolePatient, c.convs...)
			self := []chat.Member{{User: "pf", Role: chat.RolePatient}}
			owed := 0 // events the flooder's accepted messages owe it
			accepted := func(op, id, conv, typ string) {
				t.Helper()
				if r := await(flooder, op, id, conv, typ); r.Op != chat.OpAck {
					t.Fatalf("%s %s: %s %s, want an ack", op, id, r.Code, r.Message)
				}
				owed += len(e.cat.Deliveries(typ, "pf", chat.RolePatient, self))
			}
			// Joins count too (their jobs are queued), but are never refused.
			counted := 0
			for _, conv := range c.convs {
				accepted(chat.OpJoin, "join-"+conv, conv, chat.OpJoin)
				if len(e.cat.JobsFor(chat.OpJoin, chat.RolePatient)) > 0 {
					counted++
				}
			}
			if counted >= bound {
				t.Fatalf("the joins alone fill the bound of %d: raise it", bound)
			}
			for i := range bound - counted {
				accepted(chat.OpSend, fmt.Sprintf("t%d", i), c.convs[i%len(c.convs)], "text")
			}
			over := await(flooder, chat.OpSend, "over", c.convs[0], "text")
			if over.Op != chat.OpError || over.Code != chat.CodeOverloaded || !over.Retryable {
				t.Fatalf("send beyond the bound: %s %s retryable=%v (%s), want a retryable %s", over.Op, over.Code, over.Retryable, over.Message, chat.CodeOverloaded)
			}

			// Another conversation is not held back by the flood.
			s := newScript(t, e.cat)
			p := dial(t, url, "p2", chat.RolePatient, "calm")
			d := dial(t, url, "d2", chat.RoleProvider, "calm")
			s.Do(p, chat.OpJoin, "calm", "", "")
			s.Do(d, chat.OpJoin, "calm", "", "")
			s.Do(p, chat.OpSend, "calm", "text", "I have a headache")
			s.Do(d, chat.OpSend, "calm", "text", "How long has it lasted?")
			e.worker(startML(t), nil)
			for _, x := range []*wstest.Participant{p, d} {
				s.Settle(x)
				s.Check(x)
			}

			// Once the flood's events are back, its refused frame goes in.
			for len(wstest.Keys(flooder.Got)) < owed {
				flooder.Got = append(flooder.Got, flooder.C.Next())
			}
			if r := await(flooder, chat.OpSend, "over", c.convs[0], "text"); r.Op != chat.OpAck {
				t.Fatalf("resend after the backlog drained: %s %s (%s), want an ack", r.Op, r.Code, r.Message)
			}
		})
	}
}
