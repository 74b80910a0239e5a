package driver

import (
	"time"

	"github.com/chatbench/chatbench/chat"
)

// Held leaves (docs/methodology.md): a leave whose user may still be owed
// something in that conversation waits until nothing is owed, and the
// user's later messages in that conversation wait behind it, in trace
// order. Sent before the leave, a re-join would reach a room the user is
// still in and be acked as a no-op (its jobs never run), and the leave
// would then take the user out for good. Each held message counts as
// outstanding in the ledger meanwhile (Hold, Release).

// heldKey names one user's messages in one conversation.
type heldKey struct{ user, conv string }

// holds reports whether pl must wait — a leave whose user is owed
// something, or a message behind a held one of the same user and
// conversation — and if so queues it. Only the sender of pl's user calls it,
// so only it starts that user's queues.
func (s *scheduler) holds(pl *planned) bool {
	r := pl.r
	owes := func() bool {
		return r.Type == chat.OpLeave && !s.cfg.SendLeavesOnTime && s.led.Owes(r.User, r.Conv)
	}
	k := heldKey{r.User, r.Conv}
	if pl.p.held.Load() == 0 {
		// Nothing of the user's is held (releaseHeld counts a message off
		// after sending it), and only this goroutine holds more: a leave
		// may start a queue, anything else goes now. This keeps the lock
		// off the sender's path.
		if !owes() {
			return false
		}
		s.heldMu.Lock()
		defer s.heldMu.Unlock()
		s.queue(k, pl)
		return true
	}
	s.heldMu.Lock()
	defer s.heldMu.Unlock()
	if _, behind := s.held[k]; !behind && !owes() {
		return false // what is held is in other conversations, or was just sent
	}
	s.queue(k, pl)
	return true
}

// queue appends pl to k's held messages; the caller holds heldMu.
func (s *scheduler) queue(k heldKey, pl *planned) {
	if s.held == nil {
		s.held = map[heldKey][]*planned{}
	}
	s.held[k] = append(s.held[k], pl)
	pl.p.held.Add(1)
	s.heldNow.Add(1)
	if pl.r.Type == chat.OpLeave {
		s.heldTotal.Add(1)
	}
	s.led.Hold()
}

// releaseHeld sends, for each user and conversation, the held messages up
// to the first leave whose user is still owed something.
func (s *scheduler) releaseHeld() {
	s.heldMu.Lock()
	defer s.heldMu.Unlock()
	var buf []byte
	for k, q := range s.held {
		n := 0
		for ; n < len(q); n++ {
			if q[n].r.Type == chat.OpLeave && s.led.Owes(k.user, k.conv) {
				break
			}
			buf = s.send(q[n], time.Time{}, buf)
			s.led.Release()
		}
		if n == 0 {
			continue
		}
		q[0].p.held.Add(-int64(n))
		s.heldNow.Add(-int64(n))
		if n == len(q) {
			delete(s.held, k)
		} else {
			s.held[k] = q[n:]
		}
	}
}
