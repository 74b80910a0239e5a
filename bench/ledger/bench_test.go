package ledger

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
)

// benchMsg is one planned message of a benchmark and the events it causes.
type benchMsg struct {
	from, id string
	h        Handle
	members  []string
	events   []benchEvent
}

type benchEvent struct {
	recipient string
	f         *chat.ServerFrame
}

// planBench plans n messages of type typ spread over 100 conversations of
// a patient and a provider (both joined), with the events the catalog
// expects for each, as the driver would before a replay. It first replays
// one message per conversation outside the measurement, so that the result
// groups and histograms a replay creates once are in place.
func planBench(b *testing.B, typ string, n int) (*Ledger, []benchMsg) {
	b.Helper()
	const convs = 100
	n += convs
	roles := map[string]chat.Role{}
	for c := range convs {
		roles[fmt.Sprintf("p%d", c)] = chat.RolePatient
		roles[fmt.Sprintf("d%d", c)] = chat.RoleProvider
	}
	l, err := New(Config{Catalog: jobs.Catalog(), Roles: roles})
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([]benchMsg, n)
	for i := range msgs {
		c := i % convs
		conv, from := fmt.Sprintf("c%d", c), fmt.Sprintf("p%d", c)
		id := fmt.Sprintf("m%d", i)
		if !l.Expect(from, id, conv, typ, chat.RolePatient, time.Duration(i)*time.Microsecond) {
			b.Fatal("duplicate id")
		}
		members := []string{from, fmt.Sprintf("d%d", c)}
		m := benchMsg{from: from, id: id, members: members}
		mem := []chat.Member{{User: members[0], Role: chat.RolePatient}, {User: members[1], Role: chat.RoleProvider}}
		for _, d := range jobs.Catalog().Deliveries(typ, from, chat.RolePatient, mem) {
			m.events = append(m.events, benchEvent{d.User, &chat.ServerFrame{V: 1, Op: chat.OpEvent, ReplyTo: id,
				Event: &chat.Event{Name: d.Job, Job: d.Job, Conv: conv, From: from, Status: chat.StatusOK, ReplyTo: id,
					Hops: chat.Hops{ClientSent: 1, GatewayIn: int64(i + 2), JobStart: int64(i + 3), JobEnd: int64(i + 4), Emitted: int64(i + 5)}}}})
		}
		msgs[i] = m
	}
	for i := range msgs {
		msgs[i].h = l.Handle(msgs[i].from, msgs[i].id)
	}
	now := time.Now()
	l.Begin(now, 0)
	for i := range msgs[:convs] {
		l.SentHandle(msgs[i].h, now)
		msgs[i].answer(l, now, false)
	}
	return l, msgs[convs:]
}

// answer records m's ack and its events, the events first if eventsFirst.
func (m *benchMsg) answer(l *Ledger, now time.Time, eventsFirst bool) {
	if !eventsFirst {
		l.Acked(m.from, m.id, m.members)
	}
	for _, e := range m.events {
		l.Event(e.recipient, e.f, now)
	}
	if eventsFirst {
		l.Acked(m.from, m.id, m.members)
	}
}

// BenchmarkLedger measures the ledger's hot paths per message: the
// sender's SentHandle, and the readers' Acked plus every Event the message
// causes (after the ack, and before it: held and reconciled).
func BenchmarkLedger(b *testing.B) {
	for _, typ := range []string{"typing", "text"} {
		b.Run("sent/"+typ, func(b *testing.B) {
			l, msgs := planBench(b, typ, b.N)
			now := time.Now()
			settle(b)
			for i := range msgs {
				l.SentHandle(msgs[i].h, now)
			}
		})
		for _, eventsFirst := range []bool{false, true} {
			name := map[bool]string{false: "ack-then-events/", true: "events-then-ack/"}[eventsFirst] + typ
			b.Run(name, func(b *testing.B) {
				l, msgs := planBench(b, typ, b.N)
				now := time.Now()
				for i := range msgs {
					l.SentHandle(msgs[i].h, now)
				}
				settle(b)
				for i := range msgs {
					msgs[i].answer(l, now, eventsFirst)
				}
				b.StopTimer()
				checkBench(b, l)
			})
		}
	}
}

// settle collects what planBench allocated, so that the collector's work
// stays out of the measurement, and starts it.
func settle(b *testing.B) {
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
}

// checkBench fails b unless every expected delivery was delivered once.
func checkBench(b *testing.B, l *Ledger) {
	b.Helper()
	st := l.Stats()
	if st.Expected == 0 || st.Delivered != st.Expected || st.Duplicates+st.Unexpected+st.Outstanding != 0 {
		b.Fatalf("the benchmark's replay was not clean: %+v", st)
	}
}
