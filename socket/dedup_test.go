package socket

import (
	"testing"
	"time"
)

func TestSeenSetWindow(t *testing.T) {
	t0 := time.Now()
	s := newSeenSet(10 * time.Minute)
	s.rotated = t0
	tests := []struct {
		key  string
		at   time.Duration
		seen bool
	}{
		{"a", 0, false},
		{"a", time.Minute, true},       // within the window
		{"b", 9 * time.Minute, false},  //
		{"a", 11 * time.Minute, true},  // after a rotation: still remembered (and refreshed)
		{"b", 18 * time.Minute, true},  // 9 minutes after it was added: remembered
		{"c", 18 * time.Minute, false}, //
		{"x", 45 * time.Minute, false}, // two rotations later everything old is gone
		{"a", 45 * time.Minute, false}, //
	}
	for _, tc := range tests {
		if got := s.add(tc.key, t0.Add(tc.at)); got != tc.seen {
			t.Errorf("add(%q) at %s = %v, want %v", tc.key, tc.at, got, tc.seen)
		}
	}
}
