package ledger

import (
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/chatbench/chatbench/bench/results"
)

// The per-second series: deliveries, losses and latency per second of the
// measured part of the replay (after the warm-up), kept in stripes apart
// from the shards so that a second's lock is shared by few readers.
const (
	nStripes  = 4
	maxSeries = 3600 // seconds of per-second series kept
)

type second struct {
	delivered, lost int
	lat             *hdrhistogram.Histogram
}

// stripe is part of the per-second series (striped to spread the lock).
type stripe struct {
	mu   sync.Mutex
	secs []*second
}

// newSecondHDR returns a histogram for one second's latencies: two
// significant figures are plenty for a per-second p50 and p99, and keep
// an hour of them small.
func newSecondHDR() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 2)
}

// secondOf returns the index in the series of the second t falls in; false
// when t is before the measured part or after the series' end.
func (l *Ledger) secondOf(t time.Time) (int, bool) {
	base := l.base()
	if base.IsZero() || t.Before(base) || t.Sub(base) >= maxSeries*time.Second {
		return 0, false
	}
	return int(t.Sub(base) / time.Second), true
}

// recordSecond counts a delivery (latency fs) or a loss in the series.
func (l *Ledger) recordSecond(sh *shard, t time.Time, fs int64, isLost bool) {
	i, ok := l.secondOf(t)
	if !ok {
		return
	}
	st := &l.stripes[sh.idx%nStripes]
	st.mu.Lock()
	defer st.mu.Unlock()
	for len(st.secs) <= i {
		st.secs = append(st.secs, nil)
	}
	s := st.secs[i]
	if s == nil {
		s = &second{}
		st.secs[i] = s
	}
	if isLost {
		s.lost++
		return
	}
	s.delivered++
	if s.lat == nil {
		s.lat = newSecondHDR()
	}
	_ = s.lat.RecordValue(fs)
}

// series merges the stripes into the per-second series, with the messages
// sent in each second from sentPer; it is as long as the last second
// anything happened in.
func (l *Ledger) series(sentPer map[int]int) []results.Second {
	n := 0
	for t := range sentPer {
		n = max(n, t+1)
	}
	for i := range l.stripes {
		st := &l.stripes[i]
		st.mu.Lock()
		n = max(n, len(st.secs))
		st.mu.Unlock()
	}
	out := make([]results.Second, n)
	for t := range out {
		out[t] = l.secondAt(t, sentPer[t])
	}
	return out
}

// secondAt merges second t of every stripe.
func (l *Ledger) secondAt(t, sent int) results.Second {
	r := results.Second{T: t, Sent: sent}
	lat := newSecondHDR()
	for i := range l.stripes {
		st := &l.stripes[i]
		st.mu.Lock()
		if t < len(st.secs) && st.secs[t] != nil {
			s := st.secs[t]
			r.Delivered += s.delivered
			r.Lost += s.lost
			if s.lat != nil {
				lat.Merge(s.lat)
			}
		}
		st.mu.Unlock()
	}
	if lat.TotalCount() > 0 {
		r.P50, r.P99, r.Max = lat.ValueAtQuantile(50), lat.ValueAtQuantile(99), lat.Max()
	}
	return r
}
