package socket_test

import (
	"context"
	"testing"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/internal/redistest"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/socket"
)

// eachBroker runs test on the in-memory broker and on a Redis broker (a
// redis-server of the test's own; skipped when it is not installed).
func eachBroker(t *testing.T, test func(t *testing.T, broker string)) {
	t.Run(socket.BrokerMemory, func(t *testing.T) { test(t, socket.BrokerMemory) })
	t.Run(socket.BrokerRedis, func(t *testing.T) { test(t, redistest.Start(t).URL()) })
}

// TestInstancesActAsOne runs the resend scenario (wstest.ResendScenario)
// over two direct servers sharing one Redis, each participant's
// connections spread over both: a reconnect lands on the other instance,
// resends are answered there with the original ack, and every participant
// gets exactly the events one server would have sent.
func TestInstancesActAsOne(t *testing.T) {
	url := redistest.Start(t).URL()
	var es []*env
	for range 2 {
		es = append(es, start(t, func(c *socket.Config) { c.Broker = url }))
	}
	s := wstest.NewScript(t, jobs.Catalog())
	n := 0
	dial := func(user string, role chat.Role) *wstest.Participant {
		n++
		return wstest.DialAs(t, es[n%2].url, secret, user, role, "c1")
	}
	wstest.ResendScenario(s, dial, func() {
		for _, e := range es {
			if err := e.srv.Shutdown(context.Background()); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		}
	})
}

// TestRestartRemembersRelays is the duplicate the in-memory broker cannot
// avoid (docs/reliability.md, server-restart): a text relayed by one
// instance, whose jobs were then refused, is resent to another instance
// after the first is gone; with the Redis broker the relayed-id window is
// shared, so the resend is not relayed again.
func TestRestartRemembersRelays(t *testing.T) {
	url := redistest.Start(t).URL()
	a := start(t, func(c *socket.Config) { c.Broker = url })
	b := start(t, func(c *socket.Config) { c.Broker = url })
	d := wstest.Dial(t, b.url, token(t, "d1", chat.RoleProvider, "c1"))
	d.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "dj", Conv: "c1"})
	d.AwaitReply("dj")
	p := wstest.Dial(t, a.url, token(t, "p1", chat.RolePatient, "c1"))
	p.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "pj", Conv: "c1"})
	p.AwaitReply("pj")
	awaitEvent(t, d, "pj", "presence")
	text := chat.ClientFrame{Op: chat.OpSend, ID: "m1", Conv: "c1", Type: "text", Body: "hello"}
	p.Send(text)
	p.AwaitReply("m1")
	awaitEvent(t, d, "m1", "text")
	if err := a.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	p2 := wstest.Dial(t, b.url, token(t, "p1", chat.RolePatient, "c1"))
	p2.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "pj2", Conv: "c1"})
	p2.AwaitReply("pj2")
	p2.Send(text)
	if r, _ := p2.AwaitReply("m1"); r.Op != chat.OpAck {
		t.Fatalf("resent m1 on the other instance: %+v", r)
	}
	// A marker after the resend: every relay before it has arrived.
	p2.Send(chat.ClientFrame{Op: chat.OpSend, ID: "m2", Conv: "c1", Type: "typing"})
	p2.AwaitReply("m2")
	for {
		f := d.Next()
		if f.Op == chat.OpEvent && f.ReplyTo == "m1" && f.Event.Job == chat.RelayJob {
			t.Fatal("m1 relayed again by the other instance")
		}
		if f.Op == chat.OpEvent && f.ReplyTo == "m2" {
			break
		}
	}
	if n := counter(t, b.reg, "chatbench_resends_total", map[string]string{"outcome": "duplicate_acked"}); n != 1 {
		t.Errorf("chatbench_resends_total{duplicate_acked} on the other instance = %v, want 1", n)
	}
}
