package compare

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chatbench/chatbench/bench/results"
)

// Thresholds of SteadyState (docs/results.md, "Steady state").
const (
	// BackingUpGrowth: a path whose per-second median latency in the last
	// third of its sending seconds is at least this many times that of
	// the first third was backing up — as long as the rise is also
	// BackingUpRise or more, so that a sub-millisecond figure doubling on
	// a busy machine does not count.
	BackingUpGrowth = 2.0
	BackingUpRise   = 20 * time.Millisecond
	// BackingUpDrain: a path that delivered this share of its events or
	// more after the last second in which messages were sent was still
	// working off a backlog when the sends ended. A path in steady state
	// delivers after the end only what its latency holds back (an ML job's
	// second or two of a minute-long replay).
	BackingUpDrain = 0.15
)

// SteadyState judges whether p reached a steady state over its replay or
// was still backing up: its per-second median latency (series p50) rising
// from the first third of the seconds in which messages were sent to the
// last (by BackingUpGrowth and BackingUpRise), or a share of its
// deliveries arriving only after the sends ended (BackingUpDrain), or work
// its components still held when they were stopped. It adds
// the queue_wait hop's median and p99, the time jobs waited in the queue,
// for the paths that have one. nil when p has no series to judge (a soak,
// an echo-less replay of nothing).
func SteadyState(p *results.Path) *results.Steady {
	if p == nil || len(p.Series) == 0 {
		return nil
	}
	lastSend := -1
	var delivered, after int
	for _, s := range p.Series {
		if s.Sent > 0 {
			lastSend = s.T
		}
	}
	if lastSend < 0 {
		return nil
	}
	var lat []int64
	for _, s := range p.Series {
		delivered += s.Delivered
		if s.T > lastSend {
			after += s.Delivered
		} else if s.Sent > 0 && s.Delivered > 0 {
			lat = append(lat, s.P50)
		}
	}
	st := &results.Steady{Steady: true}
	if delivered > 0 {
		st.DrainShare = float64(after) / float64(delivered)
	}
	if n := len(lat) / 3; n > 0 {
		st.FirstP50, st.LastP50 = median(lat[:n]), median(lat[len(lat)-n:])
		if st.FirstP50 > 0 {
			st.Growth = float64(st.LastP50) / float64(st.FirstP50)
		}
	}
	for _, hops := range p.Hops {
		if h := hops["queue_wait"]; h != nil && h.Count > 0 {
			st.QueueWaitP50 = max(st.QueueWaitP50, h.P50)
			st.QueueWaitP99 = max(st.QueueWaitP99, h.P99)
		}
	}
	var left int64
	var holders []string
	for _, c := range p.Components {
		if c.Backlog != nil && *c.Backlog > 0 {
			left += *c.Backlog
			holders = append(holders, c.Name)
		}
	}
	rise := time.Duration(st.LastP50-st.FirstP50) * time.Microsecond
	switch {
	case st.Growth >= BackingUpGrowth && rise >= BackingUpRise:
		st.Steady = false
		st.Reason = fmt.Sprintf("its median latency rose from %s to %s (%.1f×) over the run", us(st.FirstP50), us(st.LastP50), st.Growth)
	case st.DrainShare >= BackingUpDrain:
		st.Steady = false
		st.Reason = fmt.Sprintf("%.0f%% of its deliveries came after the last message was sent", st.DrainShare*100)
	case left > 0:
		// Work still held after the drain (results.Component.Backlog):
		// the path had not caught up with what it was sent.
		st.Steady = false
		st.Reason = fmt.Sprintf("%d jobs were still held by %s after the drain", left, strings.Join(holders, ", "))
	}
	if !st.Steady && st.QueueWaitP50 > 0 {
		st.Reason += fmt.Sprintf("; jobs waited %s in the queue (median, p99 %s)", us(st.QueueWaitP50), us(st.QueueWaitP99))
	}
	return st
}

// judgeSteady sets the steady-state verdict of every path of run (and of
// each of its repeats).
func judgeSteady(run *results.Run) {
	for _, p := range run.Paths {
		for _, r := range p.Repeats {
			r.Steady = SteadyState(r)
		}
		if len(p.Repeats) == 0 {
			p.Steady = SteadyState(p)
			continue
		}
		// A pooled path is backing up when any repeat was: its figures
		// hold that repeat's queueing.
		for _, r := range p.Repeats {
			if r.Steady != nil && (p.Steady == nil || p.Steady.Steady && !r.Steady.Steady) {
				c := *r.Steady
				if !c.Steady {
					c.Reason = fmt.Sprintf("repeat %d: %s", r.Repeat, c.Reason)
				}
				p.Steady = &c
			}
		}
	}
}

// median of vs (not modified).
func median(vs []int64) int64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	return s[len(s)/2]
}

// us formats µs as a rounded duration.
func us(v int64) string {
	d := time.Duration(v) * time.Microsecond
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Microsecond).String()
}
