package ledger

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newLedger(t testing.TB) *Ledger {
	t.Helper()
	l, err := New(Config{Catalog: jobs.Catalog(),
		Roles: map[string]chat.Role{"p1": chat.RolePatient, "d1": chat.RoleProvider, "p2": chat.RolePatient}})
	if err != nil {
		t.Fatal(err)
	}
	l.Begin(t0, 0)
	return l
}

// send plans and sends one message (tests run on one goroutine).
func send(l *Ledger, from, id, conv, typ string, role chat.Role, scheduled, sent time.Time) {
	l.Expect(from, id, conv, typ, role, scheduled.Sub(t0))
	l.Sent(from, id, sent)
}

func ev(from, id, job, conv string, gatewayIn int64) *chat.ServerFrame {
	return &chat.ServerFrame{V: 1, Op: chat.OpEvent, ReplyTo: id,
		Event: &chat.Event{Name: job, Job: job, Conv: conv, From: from, Status: chat.StatusOK, ReplyTo: id,
			Hops: chat.Hops{ClientSent: gatewayIn - 10, GatewayIn: gatewayIn, Emitted: gatewayIn + 20}}}
}

// deliverAll sends every event the catalog expects for a message.
func deliverAll(l *Ledger, from, id, typ, conv string, role chat.Role, members []string, at time.Time) {
	var mem []chat.Member
	for _, u := range members {
		mem = append(mem, chat.Member{User: u, Role: l.role(u)})
	}
	for _, d := range jobs.Catalog().Deliveries(typ, from, role, mem) {
		l.Event(d.User, ev(from, id, d.Job, conv, at.UnixMicro()), at)
	}
}

func TestEarlyEventsReconciledAtAck(t *testing.T) {
	l := newLedger(t)
	send(l, "d1", "j1", "c1", "join", chat.RoleProvider, t0, t0)
	l.Acked("d1", "j1", []string{"d1"})
	send(l, "p1", "j2", "c1", "join", chat.RolePatient, t0, t0)
	l.Acked("p1", "j2", []string{"d1", "p1"})
	deliverAll(l, "d1", "j1", "join", "c1", chat.RoleProvider, []string{"d1"}, t0)
	deliverAll(l, "p1", "j2", "join", "c1", chat.RolePatient, []string{"d1", "p1"}, t0)
	at := t0.Add(5 * time.Millisecond)
	send(l, "p1", "m1", "c1", "typing", chat.RolePatient, t0, t0)
	// Every event before the ack.
	deliverAll(l, "p1", "m1", "typing", "c1", chat.RolePatient, []string{"d1", "p1"}, at)
	if l.Counts("class:relay").Delivered != 0 {
		t.Fatal("events counted before the ack")
	}
	l.Acked("p1", "m1", []string{"d1", "p1"})
	l.Finish()
	c := l.Counts("all")
	if c.Expected == 0 || c.Delivered != c.Expected || c.Lost != 0 || c.Unexpected != 0 || c.Duplicates != 0 {
		t.Fatalf("counts %+v", c)
	}
	var p results.Path
	if err := l.Fill(&p); err != nil {
		t.Fatal(err)
	}
	if h := p.FromScheduled["class:relay"]; h == nil || h.Count != 1 || h.Max < 4990 || h.Max > 5010 {
		t.Fatalf("relay latency %+v", h)
	}
	if p.Hops["relay"]["egress"] == nil || p.Hops["relay"]["ingress"] == nil {
		t.Fatalf("hops %v", p.Hops)
	}
}

func TestExcusedOnLeave(t *testing.T) {
	l := newLedger(t)
	send(l, "d1", "j1", "c1", "join", chat.RoleProvider, t0, t0)
	l.Acked("d1", "j1", []string{"d1"})
	send(l, "p1", "j2", "c1", "join", chat.RolePatient, t0, t0)
	l.Acked("p1", "j2", []string{"d1", "p1"})
	// Deliver the joins' events so only the typing relay to d1 is owed.
	deliverAll(l, "d1", "j1", "join", "c1", chat.RoleProvider, []string{"d1"}, t0)
	deliverAll(l, "p1", "j2", "join", "c1", chat.RolePatient, []string{"d1", "p1"}, t0)
	send(l, "p1", "m1", "c1", "typing", chat.RolePatient, t0, t0)
	l.Acked("p1", "m1", []string{"d1", "p1"})
	// A message accepted before d1 left, acked only after d1's leave ack.
	send(l, "p1", "m2", "c1", "typing", chat.RolePatient, t0, t0)
	send(l, "d1", "l1", "c1", "leave", chat.RoleProvider, t0, t0)
	l.Acked("d1", "l1", []string{"p1"})
	l.Acked("p1", "m2", []string{"d1", "p1"})
	deliverAll(l, "d1", "l1", "leave", "c1", chat.RoleProvider, []string{"p1"}, t0)
	if n := l.Outstanding(); n != 0 {
		t.Fatalf("outstanding %d after the leave", n)
	}
	l.Finish()
	c := l.Counts("class:relay")
	if c.Excused != 2 || c.Lost != 0 || c.Delivered != 0 {
		t.Fatalf("relay counts %+v, want 2 excused", c)
	}
}

func TestReorderedDuplicateUnexpectedLost(t *testing.T) {
	l := newLedger(t)
	send(l, "d1", "j1", "c1", "join", chat.RoleProvider, t0, t0)
	l.Acked("d1", "j1", []string{"d1"})
	send(l, "p1", "j2", "c1", "join", chat.RolePatient, t0, t0)
	l.Acked("p1", "j2", []string{"d1", "p1"})
	deliverAll(l, "d1", "j1", "join", "c1", chat.RoleProvider, []string{"d1"}, t0)
	deliverAll(l, "p1", "j2", "join", "c1", chat.RolePatient, []string{"d1", "p1"}, t0)
	for _, id := range []string{"m1", "m2", "m3"} {
		send(l, "p1", id, "c1", "typing", chat.RolePatient, t0, t0)
		l.Acked("p1", id, []string{"d1", "p1"})
	}
	at := t0.Add(time.Millisecond)
	base := t0.UnixMicro()
	l.Event("d1", ev("p1", "m2", chat.RelayJob, "c1", base+200), at)
	l.Event("d1", ev("p1", "m1", chat.RelayJob, "c1", base+100), at) // reordered
	l.Event("d1", ev("p1", "m1", chat.RelayJob, "c1", base+100), at) // duplicate
	l.Event("p2", ev("p1", "m2", chat.RelayJob, "c1", base+200), at) // not a member: unexpected
	l.Event("p1", ev("p1", "m2", chat.RelayJob, "c1", base+200), at) // the sender does not get its relay
	l.Event("d1", ev("p9", "zz", chat.RelayJob, "c1", base+200), at) // unknown message
	l.Finish()                                                       // m3's relay is lost
	c := l.Counts("job:relay")
	want := results.Counts{Expected: 3, Delivered: 2, Lost: 1, Duplicates: 1, Reordered: 1, Unexpected: 3}
	if c != want {
		t.Fatalf("relay counts\n %+v\nwant\n %+v", c, want)
	}
}

func TestWarmupExcludedFromLatency(t *testing.T) {
	l, err := New(Config{Expect: EchoExpect})
	if err != nil {
		t.Fatal(err)
	}
	l.Begin(t0, time.Second)
	for i, s := range []time.Time{t0, t0.Add(2 * time.Second)} {
		id := []string{"a", "b"}[i]
		send(l, "u", id, "c", "text", chat.RolePatient, s, s)
		l.Acked("u", id, []string{"u"})
		l.Event("u", ev("u", id, Echo, "c", s.UnixMicro()), s.Add(time.Millisecond))
	}
	l.Finish()
	var p results.Path
	if err := l.Fill(&p); err != nil {
		t.Fatal(err)
	}
	if c := p.Ledger["class:echo"]; c.Delivered != 2 {
		t.Fatalf("counts %+v", c)
	}
	if h := p.FromScheduled["all"]; h.Count != 1 {
		t.Fatalf("latency count %d, want 1 (warm-up excluded)", h.Count)
	}
	if p.Messages.Warmup != 1 || len(p.Series) < 2 || p.Series[1].Delivered != 1 {
		t.Fatalf("messages %+v series %+v", p.Messages, p.Series)
	}
}

func TestRejected(t *testing.T) {
	l := newLedger(t)
	send(l, "p1", "m1", "c1", "typing", chat.RolePatient, t0, t0)
	l.Rejected("p1", "m1", chat.CodeNotJoined)
	select {
	case <-l.Idle():
	default:
		t.Fatal("not idle after the rejection")
	}
	l.Finish()
	var p results.Path
	_ = l.Fill(&p)
	if p.Messages.Rejected[chat.CodeNotJoined] != 1 || p.Messages.Acked != 0 {
		t.Fatalf("messages %+v", p.Messages)
	}
}

// TestSentHandle checks that sending by handle counts as Sent does: once
// per planned message, never for one not planned.
func TestSentHandle(t *testing.T) {
	l := newLedger(t)
	l.Expect("p1", "m1", "c1", "typing", chat.RolePatient, 0)
	if l.SentHandle(l.Handle("p1", "nope"), t0) {
		t.Fatal("SentHandle accepted a message that was not planned")
	}
	h := l.Handle("p1", "m1")
	if !l.SentHandle(h, t0) {
		t.Fatal("SentHandle refused a planned message")
	}
	if l.SentHandle(h, t0) || l.Sent("p1", "m1", t0) {
		t.Fatal("a message was sent twice")
	}
	if st := l.Stats(); st.Sent != 1 {
		t.Fatalf("sent %d, want 1", st.Sent)
	}
}

// TestOwes follows what a held leave waits on: a user is owed something in
// a conversation while a message there is sent and unanswered, and then
// while a delivery to the user is pending; a rejection owes nothing, and
// other conversations are not affected.
func TestOwes(t *testing.T) {
	l, err := New(Config{Expect: EchoExpect})
	if err != nil {
		t.Fatal(err)
	}
	l.Begin(t0, 0)
	l.Expect("a", "m1", "c1", "text", chat.RolePatient, 0)
	l.Expect("a", "m2", "c1", "text", chat.RolePatient, 0)
	l.Expect("b", "m3", "c2", "text", chat.RolePatient, 0)
	owes := func(user, conv string, want bool) {
		t.Helper()
		if got := l.Owes(user, conv); got != want {
			t.Fatalf("Owes(%s, %s) = %v, want %v", user, conv, got, want)
		}
	}
	owes("b", "c1", false) // planned, not sent
	l.Sent("a", "m1", t0)
	owes("b", "c1", true) // its deliveries are not known before the ack
	owes("b", "c2", false)
	l.Acked("a", "m1", []string{"a", "b"})
	owes("b", "c1", false) // the echo is a's alone
	owes("a", "c1", true)
	l.Event("a", ev("a", "m1", Echo, "c1", t0.UnixMicro()), t0)
	owes("a", "c1", false)
	l.Sent("a", "m2", t0)
	owes("a", "c1", true)
	l.Rejected("a", "m2", chat.CodeNotJoined)
	owes("a", "c1", false)
}
