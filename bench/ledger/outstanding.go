package ledger

// Outstanding returns how many sent messages are unanswered plus how many
// expected deliveries are pending.
func (l *Ledger) Outstanding() int { return int(max(0, l.outstanding.Load())) }

// Idle returns a channel closed once nothing is outstanding (at once if
// nothing is now). Wait on it after the last send.
func (l *Ledger) Idle() <-chan struct{} {
	l.idleMu.Lock()
	defer l.idleMu.Unlock()
	ch := make(chan struct{})
	if l.outstanding.Load() <= 0 {
		close(ch)
		return ch
	}
	if l.idle == nil {
		l.idle = ch
	}
	return l.idle
}

// done marks n outstanding items answered and wakes Idle waiters at zero.
func (l *Ledger) done(n int) {
	if n != 0 && l.outstanding.Add(int64(-n)) <= 0 {
		l.wake()
	}
}

// wake closes the channel Idle handed out, if nothing is outstanding.
func (l *Ledger) wake() {
	l.idleMu.Lock()
	defer l.idleMu.Unlock()
	if l.idle != nil && l.outstanding.Load() <= 0 {
		close(l.idle)
		l.idle = nil
	}
}

// Hold counts a message the driver holds back as outstanding, so Idle
// waits for it; Release undoes Hold (after the message was Sent, or when it
// will not be).
func (l *Ledger) Hold() { l.outstanding.Add(1) }

// Release undoes one Hold.
func (l *Ledger) Release() { l.done(1) }
