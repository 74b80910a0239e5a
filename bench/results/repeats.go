package results

import (
	"errors"
	"fmt"
	"slices"
)

// PoolRepeats returns the path that holds repeats, the runs of one path
// that `compare --repeat N` makes: Repeats holds a copy of each, numbered
// 1..N in the order given (their Repeat fields are overwritten), and the
// path's own fields pool them, so that a reader that does not know repeats
// sees every delivery of every repeat: histograms added exactly, message
// and ledger counts and component CPU seconds summed, a component's peak
// memory the largest of the repeats' (they ran one after another, not side
// by side as shards do), messages per second the repeats' mean, and the
// per-second series summed by second of the replay (t, not wall clock; its
// p50, p99 and max the largest of the repeats', an upper bound). Start is
// the earliest repeat's start and End the latest's end, so the span
// includes whatever ran between them (the other paths' repeats, when
// interleaved). Fault fields are the first repeat's.
//
// The repeats must share a name and hold no repeats themselves. The inputs
// are not modified.
func PoolRepeats(repeats []*Path) (*Path, error) {
	if len(repeats) == 0 {
		return nil, errors.New("results: pool repeats: no repeats")
	}
	reps := make([]*Path, len(repeats))
	for i, r := range repeats {
		switch {
		case r == nil:
			return nil, fmt.Errorf("results: pool repeats: repeat %d is nil", i+1)
		case r.Name != repeats[0].Name:
			return nil, fmt.Errorf("results: pool repeats: repeat %d is of path %q, repeat 1 of %q: pool the repeats of one path at a time", i+1, r.Name, repeats[0].Name)
		case len(r.Repeats) > 0:
			return nil, fmt.Errorf("results: pool repeats: repeat %d of path %s holds repeats itself", i+1, r.Name)
		}
		c := *r
		c.Repeat = i + 1
		reps[i] = &c
	}
	first := reps[0]
	out := &Path{Name: first.Name, Target: first.Target, Desc: first.Desc, Claim: first.Claim, SenderNice: first.SenderNice}
	for _, r := range reps {
		if err := mergePath(out, r); err != nil {
			return nil, fmt.Errorf("results: pool repeats: path %s, repeat %d: %w", r.Name, r.Repeat, err)
		}
	}
	// mergePath adds shards, which run side by side; repeats run one after
	// another, so rates, peaks and the series are pooled differently.
	out.Series = nil
	var rate float64
	for _, r := range reps {
		out.Series = addSeries(out.Series, r.Series)
		rate += r.Messages.PerSecond
	}
	out.Messages.PerSecond = rate / float64(len(reps))
	for i := range out.Components {
		c := &out.Components[i]
		c.PeakRSS, c.Backlog = 0, nil
		for _, r := range reps {
			if j := slices.IndexFunc(r.Components, func(d Component) bool { return d.Name == c.Name }); j >= 0 {
				c.PeakRSS = max(c.PeakRSS, r.Components[j].PeakRSS)
				c.Backlog = addBacklog(c.Backlog, r.Components[j].Backlog, func(a, b int64) int64 { return max(a, b) })
			}
		}
	}
	out.Fault, out.FaultWindow, out.RecoverySeconds, out.FaultLatency = first.Fault, first.FaultWindow, first.RecoverySeconds, first.FaultLatency
	out.Repeats = reps
	return out, nil
}

// mergeShardRepeats merges the repeats of shards (MergeRuns): repeat k of
// every shard is added into repeat k, exactly as shards are, and each path
// is pooled again from the merged repeats. Shards of one path must hold the
// same number of repeats.
func mergeShardRepeats(out *Run, runs []*Run) error {
	for i, dst := range out.Paths {
		var sets [][]*Path
		n, from := 0, 0
		for ri, r := range runs {
			p := r.Path(dst.Name)
			if p == nil {
				continue
			}
			if len(sets) > 0 && len(p.Repeats) != n {
				return fmt.Errorf("results: merge: path %s: run %d holds %d repeats, run %d holds %d; shards merge repeat by repeat, so each must come from compare --repeat with the same N",
					dst.Name, ri+1, len(p.Repeats), from+1, n)
			}
			if len(sets) == 0 {
				n, from = len(p.Repeats), ri
			}
			sets = append(sets, p.Repeats)
		}
		if n == 0 {
			continue
		}
		merged := make([]*Path, n)
		for k := range n {
			for _, set := range sets {
				if set[k] == nil {
					return fmt.Errorf("results: merge: path %s: repeat %d is null", dst.Name, k+1)
				}
			}
			m := &Path{Name: dst.Name, Target: sets[0][k].Target, SenderNice: sets[0][k].SenderNice}
			for _, set := range sets {
				if err := mergePath(m, set[k]); err != nil {
					return fmt.Errorf("results: merge: path %s, repeat %d: %w", dst.Name, k+1, err)
				}
			}
			merged[k] = m
		}
		pooled, err := PoolRepeats(merged)
		if err != nil {
			return err
		}
		out.Paths[i] = pooled
	}
	return nil
}

// repeatProblems checks a path's repeats (Validate): each is a valid path
// of the same name, numbered 1..N in order, without repeats of its own, and
// the path's own latency and ledger counts are the repeats' sums, as
// PoolRepeats makes them.
func (p *Path) repeatProblems(where string) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if p.Repeat != 0 {
		bad("%s: repeat %d set on a path outside repeats (only the entries of repeats are numbered)", where, p.Repeat)
	}
	if len(p.Repeats) == 0 {
		return errs
	}
	// Sums over the repeats, per group, that the pooled path must equal.
	latency, expected := map[string]int64{}, map[string]int64{}
	for j, r := range p.Repeats {
		at := fmt.Sprintf("%s: repeats[%d]", where, j)
		if r == nil {
			bad("%s: null", at)
			continue
		}
		if r.Name != p.Name {
			bad("%s: name %q, want the path's name %q", at, r.Name, p.Name)
		}
		if r.Repeat != j+1 {
			bad("%s: repeat %d, want %d (repeats are numbered 1..N in order)", at, r.Repeat, j+1)
		}
		if len(r.Repeats) > 0 {
			bad("%s: holds repeats itself", at)
		}
		errs = append(errs, r.problems(at)...)
		for g, h := range r.FromScheduled {
			if h != nil {
				latency[g] += h.Count
			}
		}
		for g, c := range r.Ledger {
			if c != nil {
				expected[g] += int64(c.Expected)
			}
		}
	}
	for _, sum := range []struct {
		field string
		want  map[string]int64
		got   func(g string) int64
	}{
		{"latency_from_scheduled[%q]: count", latency, func(g string) int64 {
			if h := p.FromScheduled[g]; h != nil {
				return h.Count
			}
			return 0
		}},
		{"ledger[%q]: expected", expected, func(g string) int64 {
			if c := p.Ledger[g]; c != nil {
				return int64(c.Expected)
			}
			return 0
		}},
	} {
		for _, g := range sortedKeys(sum.want) {
			if got := sum.got(g); got != sum.want[g] {
				bad("%s: "+sum.field+" %d, but its repeats sum to %d (the path must pool its repeats)", where, g, got, sum.want[g])
			}
		}
	}
	return errs
}
