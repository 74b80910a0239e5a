package ledger

import "github.com/chatbench/chatbench/chat"

// Acked records the ack of message id of user from, with the members it
// lists, and reconciles events that arrived before it. The ack of a leave
// also excuses what is still owed to its sender in that conversation (see
// LeftAcked); the ack of a join makes deliveries to its sender owed again.
func (l *Ledger) Acked(from, id string, members []string) {
	m, sh := l.awaiting(from, id)
	if m == nil {
		return
	}
	defer sh.mu.Unlock()
	m.acked = true
	m.unanswered.Add(-1)
	sh.stats.Acked++
	if m.typ == chat.OpJoin {
		delete(sh.left, convUser{from, m.conv})
	}
	l.outstanding.Add(int64(l.expectDeliveries(sh, m, members)))
	l.done(1) // answered
	l.reconcileEarly(sh, m)
	if m.typ == chat.OpLeave {
		l.leftLocked(sh, from, m.conv)
	}
}

// Rejected records an error frame answering message id of user from (or a
// send the driver could not write), with its code. Events held for it
// become unexpected.
func (l *Ledger) Rejected(from, id, code string) {
	m, sh := l.awaiting(from, id)
	if m == nil {
		return
	}
	defer sh.mu.Unlock()
	m.rejected = true
	m.unanswered.Add(-1)
	sh.stats.Rejected++
	sh.rejected[code]++
	l.dropEarly(sh, m)
	l.done(1)
}

// awaiting returns planned message id of user from and its shard, locked,
// if the message was sent and is still unanswered in a ledger not
// finished; the caller unlocks the shard. Otherwise it returns nils and
// holds no lock.
func (l *Ledger) awaiting(from, id string) (*message, *shard) {
	m := l.msgs[msgKey{from, id}]
	if m == nil {
		return nil, nil
	}
	sh := m.shard
	sh.mu.Lock()
	if l.finished.Load() || m.acked || m.rejected || m.sent.Load() == 0 {
		sh.mu.Unlock()
		return nil, nil
	}
	return m, sh
}

// expectDeliveries lists the deliveries acked message m must cause to
// members, counts them expected and owes each to its recipient (or excuses
// it, see owe). It returns how many are owed.
func (l *Ledger) expectDeliveries(sh *shard, m *message, members []string) int {
	mem := make([]chat.Member, len(members))
	for i, u := range members {
		mem[i] = chat.Member{User: u, Role: l.role(u)}
	}
	ds := l.expect(m.typ, m.from, m.role, mem)
	m.exps = make([]expectation, 0, len(ds))
	owed := 0
	for _, d := range ds {
		m.exps = append(m.exps, expectation{job: d.Job, class: string(d.Class), user: d.User})
		e := &m.exps[len(m.exps)-1]
		for _, g := range sh.groupsOf(e.job, e.class) {
			g.counts.Expected++
		}
		sh.stats.Expected++
		if l.owe(sh, m, e) {
			owed++
		}
	}
	return owed
}

// owe records e as owed to its recipient, or excuses it at once when the
// recipient's leave was acked before m's ack (an event not in by then never
// comes). It reports whether e is owed.
func (l *Ledger) owe(sh *shard, m *message, e *expectation) bool {
	cu := convUser{e.user, m.conv}
	if sh.left[cu] && !m.hasEarly(e) {
		l.settle(sh, m, e, excused)
		return false
	}
	o := sh.owed[cu]
	if o == nil {
		o = make(map[*message]int)
		sh.owed[cu] = o
	}
	o[m]++
	return true
}

// unowe removes one delivery of m to recipient from what is owed.
func (sh *shard) unowe(recipient string, m *message) {
	cu := convUser{recipient, m.conv}
	o := sh.owed[cu]
	if o == nil {
		return
	}
	if o[m]--; o[m] <= 0 {
		delete(o, m)
		if len(o) == 0 {
			delete(sh.owed, cu)
		}
	}
}
