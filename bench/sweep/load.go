package sweep

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/trace"
)

// resumeShare is the share of a step's warm-up over which the visits
// already under way at its start join again (trace.SteadyParams.Resume):
// their joins come on top of the step's own load, so they are spread over
// most of the warm-up, and the rest of it lets any backlog they made
// clear before the measured window.
const resumeShare = 0.5

// Workload is the reference workload a sweep builds its steps from: the
// visits of a trace, resampled at each step's rate (trace.Steady), so each
// step has the reference's mix of visits — their lengths, message types
// and think times — and only more or fewer of them open at once.
type Workload struct {
	// Ref describes the reference (results.Reference).
	Ref    results.Reference
	visits []trace.Visit
}

// NewWorkload reads the trace raw (gzip or plain) named name as the
// reference workload.
func NewWorkload(name string, raw []byte) (*Workload, error) {
	h, recs, err := trace.Load(raw)
	if err != nil {
		return nil, fmt.Errorf("trace %s: %w", name, err)
	}
	visits := trace.Visits(recs)
	sum := sha256.Sum256(raw)
	ref := results.Reference{TraceName: name, TraceDigest: hex.EncodeToString(sum[:]), Messages: len(recs), Visits: len(visits),
		DurationSeconds: h.DurationS}
	span := time.Duration(h.DurationS * float64(time.Second))
	if last := recs[len(recs)-1].Offset(); span < last {
		span = last
	}
	if span <= 0 {
		return nil, fmt.Errorf("trace %s: its messages span no time: a sweep needs visits spread over time", name)
	}
	ref.DurationSeconds = span.Seconds()
	ref.MeanRate = float64(len(recs)) / span.Seconds()
	// The busiest hour (the whole trace when it is shorter).
	bucket := min(time.Hour, span)
	counts := map[int64]int{}
	peak := 0
	for _, r := range recs {
		k := int64(r.Offset() / bucket)
		counts[k]++
		peak = max(peak, counts[k])
	}
	ref.PeakRate = float64(peak) / bucket.Seconds()
	var users int
	var visitSpan time.Duration
	for _, v := range visits {
		seen := map[string]bool{}
		for _, r := range v.Records {
			seen[r.User] = true
		}
		users += len(seen)
		visitSpan += v.Span
	}
	n := float64(len(visits))
	ref.MsgsPerVisit = float64(len(recs)) / n
	ref.UsersPerVisit = float64(users) / n
	ref.VisitSeconds = visitSpan.Seconds() / n
	if ref.VisitSeconds <= 0 {
		return nil, fmt.Errorf("trace %s: its visits last no time (each conversation's messages at one instant): a sweep needs visits with a pace", name)
	}
	return &Workload{Ref: ref, visits: visits}, nil
}

// stepPlan is the trace of one step and what it offers.
type stepPlan struct {
	header trace.Header
	recs   []trace.Record
	stats  trace.SteadyStats
	// offered is the messages scheduled in the measured window ÷ its
	// length, msgs/s.
	offered float64
}

// users estimates the connections a step at rate (msgs/s, wall) and pace
// needs over span (wall): every visit open at its start and every visit
// starting during it, each with its own participants.
func (w *Workload) users(rate, pace float64, span time.Duration) float64 {
	visitsPerSecond := rate / w.Ref.MsgsPerVisit
	return w.Ref.UsersPerVisit * visitsPerSecond * (w.Ref.VisitSeconds/pace + span.Seconds())
}

// maxRate is the highest rate whose step at pace over span needs at most
// conns connections.
func (w *Workload) maxRate(conns int, pace float64, span time.Duration) float64 {
	return float64(conns) / w.users(1, pace, span)
}

// step builds the trace of a step at rate msgs/s (wall) and pace: visits
// at the rate that gives it, over warm-up + window of wall time (trace
// time × pace), with the visits under way at the start resuming over the
// first resumeShare of the warm-up. The driver replays it with Speed and
// Pace both set to pace.
func (w *Workload) step(rate, pace float64, warmup, window time.Duration, seed uint64) (*stepPlan, error) {
	if !(rate > 0) || math.IsInf(rate, 0) || !(pace > 0) {
		return nil, fmt.Errorf("sweep: step at %v msgs/s, pace %v: both must be > 0", rate, pace)
	}
	if window <= 0 {
		return nil, errors.New("sweep: a step needs a measured window > 0")
	}
	traceTime := func(d time.Duration) time.Duration { return time.Duration(float64(d) * pace) }
	p := trace.SteadyParams{
		VisitsPerHour: rate / pace / w.Ref.MsgsPerVisit * 3600,
		Span:          traceTime(warmup + window),
		Resume:        traceTime(time.Duration(float64(warmup) * resumeShare)),
		Seed:          seed,
		Name:          fmt.Sprintf("steady %s at %g msgs/s, pace %g", w.Ref.TraceName, rate, pace),
	}
	from := traceTime(warmup).Microseconds()
	want := rate * window.Seconds()
	// A step's few visits at the lower rates make what its window offers
	// a coarse draw (at the reference day's real rate one message every
	// 6 s, and visits send in bursts): of up to maxDraws traces, keep the
	// one whose window offers nearest the target, so that the steps lie
	// where the planner put them. Each draw is the reference's shape all
	// the same; the offered rate recorded is what the kept draw schedules.
	var best *stepPlan
	bestOff := math.Inf(1)
	for try := 0; try < maxDraws && bestOff > nearEnough*want; try++ {
		h, recs, st, err := trace.Steady(w.visits, p)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, r := range recs {
			if r.T >= from {
				n++
			}
		}
		if off := math.Abs(float64(n) - want); n > 0 && off < bestOff {
			best, bestOff = &stepPlan{header: h, recs: recs, stats: st, offered: float64(n) / window.Seconds()}, off
		}
		p.Seed += 0x9e3779b97f4a7c15
	}
	if best == nil {
		return nil, fmt.Errorf("sweep: %d draws of a step at %g msgs/s sent nothing in its %s window: raise the rate (--from) or the window", maxDraws, rate, window)
	}
	return best, nil
}

// maxDraws bounds the draws of a step's trace (step), and nearEnough is
// the share of the target by which a draw may miss and be kept at once.
const (
	maxDraws   = 20
	nearEnough = 0.05
)
