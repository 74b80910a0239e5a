package driver

import "time"

// hold keeps a leave back until its user is owed nothing in that
// conversation; the ledger counts it outstanding meanwhile.
func (s *scheduler) hold(pl *planned) {
	s.led.Hold()
	s.heldMu.Lock()
	s.held = append(s.held, pl)
	s.heldNow.Store(int64(len(s.held)))
	s.heldMu.Unlock()
	s.heldTotal.Add(1)
}

// releaseHeld sends every held leave whose user is owed nothing now.
func (s *scheduler) releaseHeld() {
	s.heldMu.Lock()
	defer s.heldMu.Unlock()
	kept := s.held[:0]
	var buf []byte
	for _, pl := range s.held {
		if s.led.Owes(pl.r.User, pl.r.Conv) {
			kept = append(kept, pl)
			continue
		}
		buf = s.send(pl, time.Time{}, buf)
		s.led.Release()
	}
	s.held = kept
	s.heldNow.Store(int64(len(kept)))
}
