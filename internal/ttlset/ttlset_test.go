package ttlset

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

// step is one call on a set at a time offset: add (Add), put (Put) or get
// (Get) of key with value v, and what it must answer.
type step struct {
	op  string
	key string
	v   int
	at  time.Duration
	ok  bool // add: added; get: found
	got int  // get: the value found
}

func TestSet(t *testing.T) {
	const ttl = 10 * time.Minute
	tests := []struct {
		name  string
		cfg   Config
		steps []step
		len   int // keys remembered after the last step, at its time
	}{
		{
			name: "remembered for the ttl, forgotten after",
			cfg:  Config{TTL: ttl},
			steps: []step{
				{op: "add", key: "a", v: 1, at: 0, ok: true},
				{op: "add", key: "a", v: 2, at: time.Minute, ok: false}, // keeps its value
				{op: "get", key: "a", at: ttl, ok: true, got: 1},        // the last instant of its life
				{op: "get", key: "a", at: ttl + time.Nanosecond, ok: false},
				{op: "add", key: "a", v: 3, at: ttl + time.Nanosecond, ok: true},
			},
			len: 1,
		},
		{
			name: "without refresh a hit does not extend a life",
			cfg:  Config{TTL: ttl},
			steps: []step{
				{op: "add", key: "a", at: 0, ok: true},
				{op: "get", key: "a", at: 9 * time.Minute, ok: true},
				{op: "add", key: "a", at: 9 * time.Minute, ok: false},
				{op: "get", key: "a", at: 11 * time.Minute, ok: false},
			},
		},
		{
			name: "with refresh a hit remembers the key for another ttl",
			cfg:  Config{TTL: ttl, Refresh: true},
			steps: []step{
				{op: "add", key: "a", at: 0, ok: true},
				{op: "add", key: "b", at: 0, ok: true},
				{op: "get", key: "a", at: 9 * time.Minute, ok: true},
				{op: "add", key: "b", at: 9 * time.Minute, ok: false},
				{op: "get", key: "a", at: 19 * time.Minute, ok: true},
				{op: "get", key: "b", at: 19 * time.Minute, ok: true},
				{op: "get", key: "a", at: 40 * time.Minute, ok: false}, // idle for more than a ttl
				{op: "get", key: "b", at: 40 * time.Minute, ok: false},
			},
		},
		{
			name: "put replaces the value and starts a new life",
			cfg:  Config{TTL: ttl},
			steps: []step{
				{op: "put", key: "a", v: 1, at: 0},
				{op: "put", key: "a", v: 2, at: 5 * time.Minute},
				{op: "get", key: "a", at: 12 * time.Minute, ok: true, got: 2}, // the first life's end did not forget it
				{op: "get", key: "a", at: 16 * time.Minute, ok: false},
			},
		},
		{
			name: "a full set forgets the oldest key first",
			cfg:  Config{TTL: ttl, MaxKeys: 2},
			steps: []step{
				{op: "add", key: "a", at: 0, ok: true},
				{op: "add", key: "b", at: time.Second, ok: true},
				{op: "add", key: "a", at: 2 * time.Second, ok: false}, // a hit is not an addition: nothing forgotten
				{op: "add", key: "c", at: 3 * time.Second, ok: true},  // forgets a
				{op: "get", key: "a", at: 3 * time.Second, ok: false},
				{op: "get", key: "b", at: 3 * time.Second, ok: true},
				{op: "put", key: "b", at: 4 * time.Second},           // b now lives longest
				{op: "add", key: "d", at: 5 * time.Second, ok: true}, // forgets c
				{op: "get", key: "c", at: 5 * time.Second, ok: false},
				{op: "get", key: "b", at: 5 * time.Second, ok: true},
			},
			len: 2,
		},
		{
			name: "with refresh the least recently hit goes first when full",
			cfg:  Config{TTL: ttl, MaxKeys: 2, Refresh: true},
			steps: []step{
				{op: "add", key: "a", at: 0, ok: true},
				{op: "add", key: "b", at: time.Second, ok: true},
				{op: "get", key: "a", at: 2 * time.Second, ok: true},
				{op: "add", key: "c", at: 3 * time.Second, ok: true}, // forgets b, not a
				{op: "get", key: "b", at: 3 * time.Second, ok: false},
				{op: "get", key: "a", at: 3 * time.Second, ok: true},
			},
			len: 2,
		},
		{
			name: "expired keys make room before anything is evicted",
			cfg:  Config{TTL: time.Minute, MaxKeys: 2},
			steps: []step{
				{op: "add", key: "a", at: 0, ok: true},
				{op: "add", key: "b", at: 50 * time.Second, ok: true},
				{op: "add", key: "c", at: 70 * time.Second, ok: true}, // a has expired: b stays
				{op: "get", key: "b", at: 70 * time.Second, ok: true},
			},
			len: 2,
		},
		{
			name: "zero ttl remembers nothing",
			cfg:  Config{},
			steps: []step{
				{op: "add", key: "a", at: 0, ok: true},
				{op: "add", key: "a", at: 0, ok: true},
				{op: "put", key: "b", at: 0},
				{op: "get", key: "b", at: 0, ok: false},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Now()
			s := New[string, int](tc.cfg)
			var last time.Time
			for i, st := range tc.steps {
				last = t0.Add(st.at)
				switch st.op {
				case "add":
					if got := s.Add(st.key, st.v, last); got != st.ok {
						t.Errorf("step %d: Add(%q) at %v = %v, want %v", i, st.key, st.at, got, st.ok)
					}
				case "put":
					s.Put(st.key, st.v, last)
				case "get":
					v, ok := s.Get(st.key, last)
					if ok != st.ok || v != st.got {
						t.Errorf("step %d: Get(%q) at %v = %d, %v; want %d, %v", i, st.key, st.at, v, ok, st.got, st.ok)
					}
				}
			}
			if n := s.Len(last); n != tc.len {
				t.Errorf("Len = %d, want %d", n, tc.len)
			}
		})
	}
}

// TestSetBounded adds many more keys than fit, with hits in between, and
// checks the set never holds more than MaxKeys and its queue does not grow
// without bound.
func TestSetBounded(t *testing.T) {
	s := New[int, struct{}](Config{TTL: time.Hour, MaxKeys: 100, Refresh: true})
	t0 := time.Now()
	for i := range 10_000 {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		s.Add(i, struct{}{}, now)
		s.Get(i-50, now)
		if n := s.Len(now); n > 100 {
			t.Fatalf("after %d adds: %d keys, want at most 100", i+1, n)
		}
	}
	if q := len(s.q) - s.head; q > 4*100 {
		t.Errorf("queue holds %d lives for 100 keys", q)
	}
}

// TestSetConcurrent is for the race detector: adds and gets from several
// goroutines.
func TestSetConcurrent(t *testing.T) {
	s := New[string, int](Config{TTL: time.Minute, MaxKeys: 64, Refresh: true})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				k := strconv.Itoa((g*1000 + i) % 200)
				now := time.Now()
				s.Add(k, i, now)
				s.Get(k, now)
			}
		})
	}
	wg.Wait()
	if n := s.Len(time.Now()); n > 64 {
		t.Errorf("%d keys, want at most 64", n)
	}
}

// BenchmarkSet measures the three calls the front door and the callback make
// per message: adding a new key, hitting a remembered one, and adding while
// old keys expire (each add ends one life).
func BenchmarkSet(b *testing.B) {
	const n = 1 << 16
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "user-" + strconv.Itoa(i%1000) + "\x00m" + strconv.Itoa(i)
	}
	t0 := time.Now()
	for _, refresh := range []bool{false, true} {
		name := func(op string) string { return op + "/refresh=" + strconv.FormatBool(refresh) }
		b.Run(name("add"), func(b *testing.B) {
			s := New[string, struct{}](Config{TTL: time.Hour, Refresh: refresh})
			for i := 0; b.Loop(); i++ {
				if i%n == 0 {
					s = New[string, struct{}](Config{TTL: time.Hour, Refresh: refresh})
				}
				s.Add(keys[i%n], struct{}{}, t0)
			}
		})
		b.Run(name("hit"), func(b *testing.B) {
			s := New[string, struct{}](Config{TTL: time.Hour, Refresh: refresh})
			for _, k := range keys {
				s.Add(k, struct{}{}, t0)
			}
			for i := 0; b.Loop(); i++ {
				s.Get(keys[i%n], t0)
			}
		})
		b.Run(name("expire"), func(b *testing.B) {
			// The clock moves a microsecond per add with a ttl of n µs: from
			// the n-th add on, every add first forgets the oldest key.
			s := New[string, struct{}](Config{TTL: n * time.Microsecond, Refresh: refresh})
			for i := 0; b.Loop(); i++ {
				s.Add(keys[i%n], struct{}{}, t0.Add(time.Duration(i)*time.Microsecond))
			}
		})
	}
}
