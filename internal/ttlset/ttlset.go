// Package ttlset remembers keys for a while: the one "have I seen this
// recently" type behind the front door's relayed and accepted ids and the
// queue callback's replay and duplicate-event caches.
//
// A Set keeps each key for its TTL after it was added (or, with Refresh,
// last hit), optionally bounded in size. Keys are kept in a queue in the
// order their lives end — every key lives the same TTL, so that is the order
// they were added or refreshed — and expired keys are dropped from its head
// on every call: no sweeping goroutine, O(1) amortised per call.
package ttlset

import (
	"sync"
	"time"
)

// Config configures a Set. Zero values mean the documented defaults.
type Config struct {
	// TTL is how long a key is remembered after it was added (with Refresh:
	// after it was last hit): a key added at t is remembered at t+TTL and
	// forgotten after. Zero or negative remembers nothing; callers check
	// their own configuration before building a Set.
	TTL time.Duration
	// MaxKeys bounds the keys remembered at once: adding a key to a full set
	// first forgets the oldest (the one whose life ends first). Zero or
	// negative means no bound.
	MaxKeys int
	// Refresh makes a hit (Get, or Add of a remembered key) remember the
	// key for another TTL from then, so a key in use is not forgotten.
	Refresh bool
}

// Set is a set of keys of type K, each with a value of type V, that expire.
// Every method takes the current time, so tests can move the clock. It is
// safe for concurrent use.
type Set[K comparable, V any] struct {
	cfg Config

	mu   sync.Mutex
	m    map[K]entry[V]
	q    []life[K] // q[head:] are the keys' lives, ending in this order
	head int
	seq  uint64 // of the last life queued
}

// entry is a remembered key's value and the seq of its current life; the
// key's earlier lives still in the queue are stale and skipped.
type entry[V any] struct {
	v   V
	seq uint64
}

// life is one stretch of a key's memory: it ends at ends.
type life[K comparable] struct {
	k    K
	seq  uint64
	ends time.Time
}

// New returns an empty Set.
func New[K comparable, V any](cfg Config) *Set[K, V] {
	return &Set[K, V]{cfg: cfg, m: make(map[K]entry[V])}
}

// Add remembers k with v unless k is already remembered, and reports whether
// it did; a remembered k keeps its value (and, with Refresh, is hit).
func (s *Set[K, V]) Add(k K, v V, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	if e, ok := s.m[k]; ok {
		if s.cfg.Refresh {
			s.live(k, e.v, now)
		}
		return false
	}
	s.live(k, v, now)
	return true
}

// Put remembers k with v for a new TTL, replacing what was remembered.
func (s *Set[K, V]) Put(k K, v V, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	s.live(k, v, now)
}

// Get returns the value remembered for k, and whether k is remembered. With
// Refresh a hit is remembered for another TTL.
func (s *Set[K, V]) Get(k K, now time.Time) (V, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	e, ok := s.m[k]
	if ok && s.cfg.Refresh {
		s.live(k, e.v, now)
	}
	return e.v, ok
}

// Len returns how many keys are remembered at now.
func (s *Set[K, V]) Len(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	return len(s.m)
}

// live starts a new life of k (with v) ending a TTL after now, first making
// room when the set is full. s is locked and expired at now.
func (s *Set[K, V]) live(k K, v V, now time.Time) {
	if s.cfg.TTL <= 0 {
		delete(s.m, k)
		return
	}
	if _, ok := s.m[k]; !ok && s.cfg.MaxKeys > 0 {
		for len(s.m) >= s.cfg.MaxKeys {
			s.pop()
		}
	}
	s.seq++
	s.m[k] = entry[V]{v: v, seq: s.seq}
	s.q = append(s.q, life[K]{k: k, seq: s.seq, ends: now.Add(s.cfg.TTL)})
}

// expire forgets the keys whose life ended before now. s is locked.
func (s *Set[K, V]) expire(now time.Time) {
	for s.head < len(s.q) && now.After(s.q[s.head].ends) {
		s.pop()
	}
}

// pop ends the oldest life in the queue, forgetting its key unless the key
// has lived again since. s is locked and the queue is not empty.
func (s *Set[K, V]) pop() {
	l := &s.q[s.head]
	if e, ok := s.m[l.k]; ok && e.seq == l.seq {
		delete(s.m, l.k)
	}
	*l = life[K]{} // let the key go
	s.head++
	// Compact once the dead head is half the slice, so each life is moved
	// at most once on average.
	if s.head == len(s.q) {
		s.q, s.head = s.q[:0], 0
	} else if s.head > len(s.q)/2 {
		n := copy(s.q, s.q[s.head:])
		clear(s.q[n:])
		s.q, s.head = s.q[:n], 0
	}
}
