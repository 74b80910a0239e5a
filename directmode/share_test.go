package directmode_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/internal/wstest"
)

// heldCatalog has one type, "note", whose n ML jobs answer only once
// release is closed: their tasks hold their share until the test lets them
// go.
func heldCatalog(t *testing.T, release <-chan struct{}, n int) *chat.Catalog {
	t.Helper()
	hold := chat.HandlerFunc(func(ctx context.Context, _ *chat.Message, _ chat.Deps) (json.RawMessage, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return json.RawMessage(`{}`), nil
	})
	var js []chat.Job
	for i := range n {
		js = append(js, chat.Job{Name: fmt.Sprintf("hold%d", i), Class: chat.ClassML, Model: "hold_model", Event: "held",
			Audience: chat.AudienceSender, Triggers: []chat.Trigger{{Type: "note"}}, Handler: hold})
	}
	cat, err := chat.NewCatalog([]chat.MessageType{{Name: "note", Op: chat.OpSend}, {Name: chat.OpJoin, Op: chat.OpJoin}}, js)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// TestUserShare floods the server from one user while its ML tasks are
// held: the flood takes the free slots, then beyond the user's share its
// messages are refused with the retryable overloaded, while another user's
// are admitted and answered; once the flood's tasks finish, the refused
// frame is accepted on resend. Before the share existed the flood filled
// every slot and the pending queue (16 × --max-tasks) ahead of everyone.
func TestUserShare(t *testing.T) {
	const slots, share = 4, 2
	release := make(chan struct{})
	cat := heldCatalog(t, release, 1)
	srv := startDirect(t, nil, func(c *directmode.Config) {
		c.Catalog, c.MaxTasks, c.MaxUserTasks = cat, slots, share
	})
	defer func() {
		select {
		case <-release:
		default:
			close(release) // a failed test's tasks end too
		}
	}()
	s := wstest.NewScript(t, cat)
	flooder := dial(t, srv.URL(), "pf", chat.RolePatient, "flood")
	s.Do(flooder, chat.OpJoin, "flood", "", "")
	perNote := len(cat.JobsFor("note", chat.RolePatient))
	for range slots / perNote { // within the share, then into free slots
		s.Do(flooder, chat.OpSend, "flood", "note", "x")
	}
	flooder.C.Send(chat.ClientFrame{Op: chat.OpSend, ID: "over", Conv: "flood", Type: "note", Body: "x", SentAt: chat.NowMicros()})
	over, evs := flooder.C.AwaitReply("over")
	flooder.Got = append(flooder.Got, evs...)
	if over.Op != chat.OpError || over.Code != chat.CodeOverloaded || !over.Retryable {
		t.Fatalf("note beyond the share, every slot taken: %s %s retryable=%v (%s), want a retryable %s", over.Op, over.Code, over.Retryable, over.Message, chat.CodeOverloaded)
	}

	// The neighbour's ML jobs are admitted while the flooder's are refused.
	neighbour := dial(t, srv.URL(), "pn", chat.RolePatient, "calm")
	s.Do(neighbour, chat.OpJoin, "calm", "", "")
	for range share / perNote {
		s.Do(neighbour, chat.OpSend, "calm", "note", "y")
	}
	close(release)
	for _, p := range []*wstest.Participant{flooder, neighbour} {
		s.Settle(p)
		s.Check(p)
	}
	flooder.C.Send(chat.ClientFrame{Op: chat.OpSend, ID: "over", Conv: "flood", Type: "note", Body: "x", SentAt: chat.NowMicros()})
	if r, _ := flooder.C.AwaitReply("over"); r.Op != chat.OpAck {
		t.Fatalf("resend once the flood's tasks ended: %s %s (%s), want an ack", r.Op, r.Code, r.Message)
	}
}

// TestUserShareAdmitsOneMessage: a message with more ML jobs than the
// share is admitted when its sender holds none (a message's jobs are
// admitted together), so a small share never locks a user out; the next
// is refused while those hold every slot.
func TestUserShareAdmitsOneMessage(t *testing.T) {
	release := make(chan struct{})
	const jobs = 3
	cat := heldCatalog(t, release, jobs)
	srv := startDirect(t, nil, func(c *directmode.Config) { c.Catalog, c.MaxTasks, c.MaxUserTasks = cat, jobs, 1 })
	s := wstest.NewScript(t, cat)
	p := dial(t, srv.URL(), "p", chat.RolePatient, "c")
	s.Do(p, chat.OpJoin, "c", "", "")
	s.Do(p, chat.OpSend, "c", "note", "x")
	p.C.Send(chat.ClientFrame{Op: chat.OpSend, ID: "next", Conv: "c", Type: "note", Body: "x", SentAt: chat.NowMicros()})
	r, evs := p.C.AwaitReply("next")
	p.Got = append(p.Got, evs...)
	if r.Code != chat.CodeOverloaded {
		t.Fatalf("second note while the first runs: %s %s, want %s", r.Op, r.Code, chat.CodeOverloaded)
	}
	close(release)
	s.Settle(p)
	s.Do(p, chat.OpSend, "c", "note", "x") // all three given back before their events
	s.Settle(p)
	s.Check(p)
}
