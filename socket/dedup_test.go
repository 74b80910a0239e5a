package socket

import (
	"testing"
	"time"
)

func TestRelayedSetWindow(t *testing.T) {
	t0 := time.Now()
	s := newRelayedSet(10 * time.Minute)
	tests := []struct {
		key  string
		at   time.Duration
		seen bool
	}{
		{"a", 0, false},
		{"a", time.Minute, true},       // within the window
		{"b", 9 * time.Minute, false},  //
		{"a", 11 * time.Minute, true},  // a window after it was last seen: still remembered (and refreshed)
		{"b", 18 * time.Minute, true},  // 9 minutes after it was added: remembered
		{"c", 18 * time.Minute, false}, //
		{"x", 45 * time.Minute, false}, // more than a window later everything old is gone
		{"a", 45 * time.Minute, false}, //
	}
	for _, tc := range tests {
		if added := s.Add(msgKey{"u", tc.key}, struct{}{}, t0.Add(tc.at)); added == tc.seen {
			t.Errorf("add(%q) at %s: seen %v, want %v", tc.key, tc.at, !added, tc.seen)
		}
	}
}
