package trace

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/chatbench/chatbench/chat/jobs"
)

// Visit is one conversation of a trace as a template: its records with T
// relative to the conversation's first record, in trace order.
type Visit struct {
	// Records are the visit's records, T from its first record (µs).
	Records []Record
	// Span is the time from its first record to its last.
	Span time.Duration
}

// Visits splits recs (sorted by T) into their conversations, in order of
// each one's first record: the shape of a workload — how long visits
// last, what their participants send and when — apart from when visits
// start.
func Visits(recs []Record) []Visit {
	idx := map[string]int{}
	var out []Visit
	var first []int64
	for _, r := range recs {
		i, ok := idx[r.Conv]
		if !ok {
			i = len(out)
			idx[r.Conv] = i
			out = append(out, Visit{})
			first = append(first, r.T)
		}
		r.T -= first[i]
		out[i].Records = append(out[i].Records, r)
		out[i].Span = max(out[i].Span, r.Offset())
	}
	return out
}

// SteadyParams configure Steady. VisitsPerHour and Span are required.
type SteadyParams struct {
	// VisitsPerHour is how many visits start per hour of trace time: the
	// load knob. A visit keeps its template's pace, so more visits per
	// hour means more conversations open at once, not faster ones.
	VisitsPerHour float64
	// Span is the trace time covered, from 0.
	Span time.Duration
	// Resume is the trace time over which the visits already under way at
	// 0 resume (below); zero means they all resume at 0.
	Resume time.Duration
	// Seed seeds the arrivals and the choice of templates (PCG).
	Seed uint64
	// Name names the trace (default "steady").
	Name string
}

// SteadyStats describe a trace Steady built.
type SteadyStats struct {
	// Visits is how many visits the trace holds (Resumed of them were
	// already under way at 0).
	Visits, Resumed int
	// Users is how many distinct participants the trace has: each visit's
	// participants are its own.
	Users int
	// MeanOpen is the mean number of visits open at once in steady state
	// (VisitsPerHour × the templates' mean span).
	MeanOpen float64
}

// Steady builds a stationary trace from visit templates: visits start as
// a Poisson process at VisitsPerHour, each a template drawn uniformly, so
// the load is constant over Span and its mix — message types, visit
// lengths, think times — is the templates'. To be stationary from 0 it
// also holds the visits that would be under way at 0 had visits been
// arriving for ever: each resumes at a moment drawn uniformly in [0,
// Resume) with its participants joining again there (a visit's other
// records before that moment are dropped) and continues as its template
// does. Each visit gets its own conversation and participants (user
// names get the suffix ".<n>"; roles and message ids are the
// template's), so ids stay unique and every visit's users are its own.
// The same params and visits give the same trace.
func Steady(visits []Visit, p SteadyParams) (Header, []Record, SteadyStats, error) {
	var st SteadyStats
	switch {
	case len(visits) == 0:
		return Header{}, nil, st, errors.New("trace: steady: no visit templates (an empty trace?)")
	case !(p.VisitsPerHour > 0) || math.IsInf(p.VisitsPerHour, 0):
		return Header{}, nil, st, fmt.Errorf("trace: steady: visits per hour %v: must be > 0", p.VisitsPerHour)
	case p.Span <= 0:
		return Header{}, nil, st, fmt.Errorf("trace: steady: span %s: must be > 0", p.Span)
	case p.Resume < 0 || p.Resume > p.Span:
		return Header{}, nil, st, fmt.Errorf("trace: steady: resume %s: must be between 0 and the span %s", p.Resume, p.Span)
	}
	rng := rand.New(rand.NewPCG(p.Seed, 0x73746479))
	var longest, sum time.Duration
	for _, v := range visits {
		longest = max(longest, v.Span)
		sum += v.Span
	}
	st.MeanOpen = p.VisitsPerHour * (sum / time.Duration(len(visits))).Hours()
	perUS := p.VisitsPerHour / float64(time.Hour/time.Microsecond)
	var out []Record
	n := 0
	resumed := map[string]bool{}
	// Arrivals from −longest: any visit that started earlier has ended.
	for t := -float64(longest.Microseconds()); ; {
		t += rng.ExpFloat64() / perUS
		start := int64(t)
		if start >= p.Span.Microseconds() {
			break
		}
		v := visits[rng.IntN(len(visits))]
		if start+v.Span.Microseconds() < 0 {
			continue // ended before 0
		}
		resume := int64(0)
		if start < 0 {
			resume = int64(rng.Float64() * float64(p.Resume.Microseconds()))
		}
		recs := place(v, n, start, resume)
		if len(recs) == 0 {
			continue
		}
		if start < 0 {
			resumed[recs[0].Conv] = true
		}
		out = append(out, recs...)
		n++
	}
	// Stable: a visit's records keep their order at equal T.
	slices.SortStableFunc(out, func(a, b Record) int { return cmp.Compare(a.T, b.T) })
	// Cut at the span (a visit's tail beyond it is not sent).
	if i := slices.IndexFunc(out, func(r Record) bool { return r.T >= p.Span.Microseconds() }); i >= 0 {
		out = out[:i]
	}
	convs, users := map[string]bool{}, map[string]bool{}
	for _, r := range out {
		convs[r.Conv], users[r.User] = true, true
	}
	st.Visits, st.Users = len(convs), len(users)
	for c := range resumed {
		if convs[c] {
			st.Resumed++
		}
	}
	name := cmp.Or(p.Name, "steady")
	h := Header{
		Version: Version, Name: name, Seed: p.Seed, Start: defaultStart,
		Generator: fmt.Sprintf("chatbench steady (visits/hour=%g span=%s resume=%s templates=%d)", p.VisitsPerHour, p.Span, p.Resume, len(visits)),
		DurationS: p.Span.Seconds(), Messages: len(out), Conversations: st.Visits,
	}
	return h, out, st, nil
}

// place returns visit v as instance n, starting at start (µs, may be
// negative): its records shifted and renamed. When start is negative the
// visit resumes at resume: the participants who are in the conversation
// then join at that moment, in the order they first joined, and the
// records before it are dropped.
func place(v Visit, n int, start, resume int64) []Record {
	conv := fmt.Sprintf("v%d", n)
	suffix := fmt.Sprintf(".%d", n)
	rename := func(r Record) Record {
		r.Conv, r.User = conv, r.User+suffix
		return r
	}
	var out []Record
	if start < 0 {
		var order []string
		joined := map[string]*Record{}
		for i := range v.Records {
			r := &v.Records[i]
			if start+r.T >= resume {
				break
			}
			switch r.Type {
			case jobs.TypeJoin:
				if _, ok := joined[r.User]; !ok {
					order = append(order, r.User)
				}
				joined[r.User] = r
			case jobs.TypeLeave:
				joined[r.User] = nil
			}
		}
		for _, u := range order {
			if j := joined[u]; j != nil {
				r := rename(*j)
				r.T = resume
				out = append(out, r)
			}
		}
	}
	for _, r := range v.Records {
		if t := start + r.T; t >= max(resume, 0) {
			r = rename(r)
			r.T = t
			out = append(out, r)
		}
	}
	return out
}
