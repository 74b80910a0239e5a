package results

import "slices"

// TrustFactor is how many times the driver's own schedule-lag p99 a
// group's latency p99 (from the scheduled send) must reach for the
// driver's part in it to be small: at 5, at most a fifth of the group's
// p99 can be time the driver took to send on schedule. A group below it
// measured the driver as much as the path (docs/results.md, "Trusting the
// driver").
const TrustFactor = 5

// DriverSelf is what the driver measured of itself while it replayed a
// path: its sender threads' time and the groups its schedule lag leaves
// untrusted. Readers should call Path.Untrusted, which works on documents
// written before the field existed.
type DriverSelf struct {
	// Senders is the number of sender threads of one replay
	// (Config.Senders resolved; merged paths keep the largest).
	Senders int `json:"senders"`
	// SenderCPUMs is the CPU time the sender threads ran, ms, and
	// SenderRunQueueMs the time they waited runnable for a CPU
	// (/proc/thread-self/schedstat; both 0 where the kernel does not say).
	// A sender that waits is late: a run queue time near the replay's
	// length means the machine, not the path, set the schedule lag.
	SenderCPUMs      float64 `json:"sender_cpu_ms"`
	SenderRunQueueMs float64 `json:"sender_runqueue_ms"`
	// Untrusted is Path.Untrusted when the path was written.
	Untrusted []string `json:"untrusted,omitempty"`
}

// Untrusted returns, sorted, the latency groups of p whose p99 from the
// scheduled send is below TrustFactor times the schedule-lag p99: groups
// whose figures the driver's own lateness could account for. Groups without
// deliveries are left out; nil when p has no schedule lag.
func (p *Path) Untrusted() []string {
	if p.ScheduleLag == nil || p.ScheduleLag.Count == 0 {
		return nil
	}
	var out []string
	for g, h := range p.FromScheduled {
		if h != nil && h.Count > 0 && h.P99 < TrustFactor*p.ScheduleLag.P99 {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return out
}

// Trusted reports whether group's latency in p is well above the
// driver's schedule lag (not in Untrusted). A sweep stops at a step the
// driver cannot hold: one where the group it judges is not Trusted.
func (p *Path) Trusted(group string) bool {
	return !slices.Contains(p.Untrusted(), group)
}

// mergeDriver adds p's driver figures into dst's, after their histograms
// are merged (mergePath), and works out the merged path's untrusted
// groups again.
func mergeDriver(dst, p *Path) {
	if dst.Driver == nil && p.Driver == nil {
		return
	}
	d := &DriverSelf{}
	for _, x := range []*DriverSelf{dst.Driver, p.Driver} {
		if x != nil {
			d.Senders = max(d.Senders, x.Senders)
			d.SenderCPUMs += x.SenderCPUMs
			d.SenderRunQueueMs += x.SenderRunQueueMs
		}
	}
	d.Untrusted = dst.Untrusted()
	dst.Driver = d
}
