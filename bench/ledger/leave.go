package ledger

// LeftAcked records that user's leave of conv was acked: deliveries still
// owed to the user for that conversation are excused (by the protocol, an
// event not arrived before the leave's ack never comes), as are those of
// messages acked later, until the user joins again. Acked calls it for the
// leaves it sees.
func (l *Ledger) LeftAcked(user, conv string) {
	sh := l.shardOf(conv)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !l.finished.Load() {
		l.leftLocked(sh, user, conv)
	}
}

func (l *Ledger) leftLocked(sh *shard, user, conv string) {
	cu := convUser{user, conv}
	sh.left[cu] = true
	n := 0
	for m := range sh.owed[cu] {
		for i := range m.exps {
			if e := &m.exps[i]; e.user == user && e.out == pending {
				l.settle(sh, m, e, excused)
				n++
			}
		}
	}
	delete(sh.owed, cu)
	l.done(n)
}

// Owes reports whether user may still be owed a delivery in conv: one is
// pending, or a message in conv was sent and not yet answered (its
// deliveries are not known yet). The driver holds a user's leave while it
// is true, since an event emitted after the leave never comes.
func (l *Ledger) Owes(user, conv string) bool {
	sh := l.shardOf(conv)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.owed[convUser{user, conv}]) > 0 {
		return true
	}
	un := sh.unanswered[conv]
	return un != nil && un.Load() > 0
}
