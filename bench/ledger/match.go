package ledger

import (
	"time"

	"github.com/chatbench/chatbench/chat"
)

// early is an event that arrived before its message's ack.
type early struct {
	recipient string
	ev        chat.Event
	received  time.Time
}

// orderKey names the events of one job in one conversation to one
// recipient, which must arrive in the order of their messages.
type orderKey struct{ recipient, conv, job string }

// Event records an event frame f received by recipient at received.
func (l *Ledger) Event(recipient string, f *chat.ServerFrame, received time.Time) {
	if f == nil || f.Event == nil {
		return
	}
	m := l.msgs[msgKey{f.Event.From, f.ReplyTo}]
	sh := l.shardOf(f.Event.Conv)
	if m != nil {
		sh = m.shard
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	switch {
	case l.finished.Load():
	case m == nil || m.rejected || m.sent.Load() == 0:
		l.unexpected(sh, f.Event.Job)
	case !m.acked:
		m.early = append(m.early, early{recipient: recipient, ev: *f.Event, received: received})
	default:
		l.match(sh, m, recipient, f.Event, received)
	}
}

// reconcileEarly matches the events held for m, now acked.
func (l *Ledger) reconcileEarly(sh *shard, m *message) {
	held := m.early
	m.early = nil
	for _, e := range held {
		l.match(sh, m, e.recipient, &e.ev, e.received)
	}
}

// dropEarly counts the events held for m, which will never be acked, as
// unexpected.
func (l *Ledger) dropEarly(sh *shard, m *message) {
	for _, e := range m.early {
		l.unexpected(sh, e.ev.Job)
	}
	m.early = nil
}

func (m *message) hasEarly(e *expectation) bool {
	for i := range m.early {
		if m.early[i].recipient == e.user && m.early[i].ev.Job == e.job {
			return true
		}
	}
	return false
}

// match settles one arrived event against m's expectations.
func (l *Ledger) match(sh *shard, m *message, recipient string, ev *chat.Event, received time.Time) {
	e := m.expectationOf(recipient, ev.Job)
	if e == nil {
		l.unexpected(sh, ev.Job)
		return
	}
	switch e.out {
	case delivered, errored:
		for _, g := range sh.groupsOf(e.job, e.class) {
			g.counts.Duplicates++
		}
		sh.stats.Duplicates++
		return
	case lost, excused:
		// After the leave's ack or the drain deadline: not owed any more.
		l.unexpected(sh, ev.Job)
		return
	}
	sh.unowe(recipient, m)
	out := delivered
	if ev.Status != chat.StatusOK {
		out = errored
	}
	l.settle(sh, m, e, out)
	l.done(1)
	sh.checkOrder(orderKey{recipient, m.conv, e.job}, e, ev.Hops.GatewayIn)
	if !m.warm(l) {
		l.recordLatency(sh, m, e, ev, received)
	}
}

// expectationOf returns m's expected delivery of job to recipient, or nil.
func (m *message) expectationOf(recipient, job string) *expectation {
	for i := range m.exps {
		if m.exps[i].user == recipient && m.exps[i].job == job {
			return &m.exps[i]
		}
	}
	return nil
}

// checkOrder counts e reordered when its message entered the gateway
// (gatewayIn, 0 = not stamped) before the last one seen for k.
func (sh *shard) checkOrder(k orderKey, e *expectation, gatewayIn int64) {
	if gatewayIn == 0 {
		return
	}
	if last, seen := sh.order[k]; seen && gatewayIn < last {
		for _, g := range sh.groupsOf(e.job, e.class) {
			g.counts.Reordered++
		}
		sh.stats.Reordered++
		return
	}
	sh.order[k] = gatewayIn
}

// recordLatency records a delivery of e received at received: its latency
// from the scheduled and the actual send, its second of the series, and
// its hops.
func (l *Ledger) recordLatency(sh *shard, m *message, e *expectation, ev *chat.Event, received time.Time) {
	fs := micros(received.Sub(m.scheduled(l)))
	fsent := micros(received.Sub(time.Unix(0, m.sent.Load())))
	for _, g := range sh.groupsOf(e.job, e.class) {
		_ = g.fromSched.RecordValue(fs)
		_ = g.fromSent.RecordValue(fsent)
	}
	l.recordSecond(sh, received, fs, false)
	sh.recordHops(e.class, &ev.Hops, received)
}
