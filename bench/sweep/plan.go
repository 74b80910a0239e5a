package sweep

import (
	"fmt"
	"math"

	"github.com/chatbench/chatbench/bench/results"
)

// planner chooses a series' next offered load: geometric steps (×factor)
// from `from` while the SLO holds, then `refine` geometric bisections
// between the highest load that held and the lowest that did not, so the
// knee ends bracketed within factor^(1/2^refine). It stops a series when
// the SLO broke and the bracket is refined, when a step could not be
// trusted (the driver's lag), when the next step would need more
// connections than allowed (maxRate), at `to`, or on an error. Not safe
// for concurrent use.
type planner struct {
	from, to, factor float64
	refine           int
	maxRate          float64 // the highest rate the connection limit allows (0 = no limit)

	lo, hi  float64 // highest rate that held, lowest that failed (0 = none yet)
	refined int
	last    float64

	stop, detail string // set when the series is done
}

// next returns the next target rate, or false when the series is done.
func (p *planner) next() (float64, bool) {
	if p.stop != "" {
		return 0, false
	}
	var x float64
	switch {
	case p.last == 0:
		x = p.from
	case p.hi == 0:
		x = p.lo * p.factor
		if p.to > 0 && x > p.to {
			if p.lo >= p.to*0.999 {
				p.done(results.StopLimit, fmt.Sprintf("the SLO held up to --to %s msgs/s", rate(p.to)))
				return 0, false
			}
			x = p.to
		}
	default:
		x = math.Sqrt(p.lo * p.hi)
		p.refined++
	}
	if p.maxRate > 0 && x > p.maxRate {
		if p.lo >= p.maxRate*0.999 {
			p.done(results.StopConnections, fmt.Sprintf("a step above %s msgs/s needs more connections than this process may open", rate(p.maxRate)))
			return 0, false
		}
		x = p.maxRate
	}
	return x, true
}

// record takes the outcome of the step at target x.
func (p *planner) record(x float64, st *results.Step) {
	p.last = x
	switch {
	case st.Error != "":
		p.done(results.StopError, st.Error)
		return
	case !st.Trusted && !st.Broke():
		p.done(results.StopLag, fmt.Sprintf("the driver's schedule lag p99 %s exceeded the limit %s at %s msgs/s, on the step and on its retry: the driver, not the server, may be what is measured from here on",
			dur(st.LagP99), dur(st.LagLimit), rate(st.Offered)))
		return
	case st.Pass:
		p.lo = max(p.lo, x)
	default:
		if p.hi == 0 || x < p.hi {
			p.hi = x
		}
		if p.lo == 0 {
			p.done(results.StopSLO, "the SLO broke at the lowest step: "+failed(st))
			return
		}
	}
	if p.hi != 0 && (p.refined >= p.refine || p.hi/p.lo < 1.05) {
		p.done(results.StopSLO, fmt.Sprintf("the SLO held at %s msgs/s and broke at %s", rate(p.lo), rate(p.hi)))
	}
}

func (p *planner) done(stop, detail string) {
	if p.stop == "" {
		p.stop, p.detail = stop, detail
	}
}
