package socket

import (
	"sync"
	"time"
)

// RelayWindow is how long (at least) the front door remembers a relayed message id:
// a message resent with the same id within it is not relayed again.
const RelayWindow = 10 * time.Minute

// seenSet remembers keys for at least window and at most twice that, in two
// generations of maps swapped every window: bounded memory, no sweeping.
// It is safe for concurrent use.
type seenSet struct {
	window time.Duration

	mu        sync.Mutex
	cur, prev map[string]struct{}
	rotated   time.Time
}

func newSeenSet(window time.Duration) *seenSet {
	return &seenSet{window: window, cur: map[string]struct{}{}, prev: map[string]struct{}{}, rotated: time.Now()}
}

// add records key and reports whether it was already there.
func (s *seenSet) add(key string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch age := now.Sub(s.rotated); {
	case age >= 2*s.window: // idle for two windows: everything has expired
		s.prev, s.cur, s.rotated = make(map[string]struct{}), make(map[string]struct{}), now
	case age >= s.window:
		s.prev, s.cur, s.rotated = s.cur, make(map[string]struct{}, len(s.cur)), now
	}
	if _, ok := s.cur[key]; ok {
		return true
	}
	if _, ok := s.prev[key]; ok {
		s.cur[key] = struct{}{}
		return true
	}
	s.cur[key] = struct{}{}
	return false
}
