package results

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// MergeRuns adds shard runs of the same trace into one run, exactly where
// the document allows it: histograms are added with Merge (percentiles are
// recomputed from the sum, never averaged), message counts, ledger counts and
// components (by name: CPU seconds and peak memory) are summed, and the
// per-second series is summed second by second on the shards' wall clock
// (shards that started at different instants line up by absolute second).
// A series second's Sent, Delivered and Lost are sums; its P50, P99 and Max
// are the largest of the shards' (the series carries no histograms, so this
// is an upper bound, not an exact percentile). Messages.PerSecond is summed
// too: shards run side by side. Paths are matched by name.
//
// MergeRuns refuses runs of another schema version or of another trace
// (digest), and soaks. Paths that hold repeats (PoolRepeats) merge repeat by repeat:
// repeat k of every shard adds into repeat k, and the path is pooled again
// from the merged repeats; shards holding different numbers of repeats of a
// path are refused. Meta is the first run's, with Started the earliest
// start, Shards the sum of the runs' shards (a run with 0 counts as 1),
// Modified set if any run's is, Clock the first that was not shared, and:
//   - Sources: where each merged run ran (a merged run's own sources, so
//     merges of merges keep every shard), and Shard nil;
//   - ClockID: the one clock every source read, or empty if they read
//     several;
//   - Warnings (mergeWarnings): shards that ran on different machines,
//     whose clocks disagree (by ~100 ms across hosts, the skew
//     OpenMessaging Benchmark users report), shards missing from the
//     split, shards that started apart.
//
// Shards (bench --shard i/n) must be of one split: shards of different n,
// one shard twice, or shards beside a whole-trace run are refused, as they
// do not add up to one replay of the trace. The inputs are not modified.
func MergeRuns(runs ...*Run) (*Run, error) {
	if len(runs) == 0 {
		return nil, errors.New("results: merge: no runs")
	}
	for i, r := range runs {
		if r == nil {
			return nil, fmt.Errorf("results: merge: run %d is nil", i+1)
		}
		if r.Schema != SchemaVersion {
			return nil, fmt.Errorf("results: merge: run %d has schema version %d, want %d", i+1, r.Schema, SchemaVersion)
		}
		if r.Meta.TraceDigest != runs[0].Meta.TraceDigest {
			return nil, fmt.Errorf("results: merge: run %d replayed trace %s (sha256 %q), run 1 trace %s (sha256 %q): only shards of the same trace add up",
				i+1, r.Meta.TraceName, r.Meta.TraceDigest, runs[0].Meta.TraceName, runs[0].Meta.TraceDigest)
		}
	}
	if slices.ContainsFunc(runs, func(r *Run) bool { return r.Sweep != nil }) {
		return MergeSweeps(runs...)
	}
	srcs, from := sources(runs)
	if err := checkSplit(srcs, from); err != nil {
		return nil, fmt.Errorf("results: merge: %w", err)
	}
	out := &Run{Schema: SchemaVersion, Meta: runs[0].Meta}
	out.Meta.Shard, out.Meta.Sources, out.Meta.Warnings = nil, srcs, mergeWarnings(srcs)
	out.Meta.ClockID = ""
	if clocks := clocksOf(srcs); len(clocks) == 1 {
		out.Meta.ClockID = srcs[0].ClockID
	}
	if runs[0].Meta.Config != nil {
		out.Meta.Config = make(map[string]string, len(runs[0].Meta.Config))
		for k, v := range runs[0].Meta.Config {
			out.Meta.Config[k] = v
		}
	}
	out.Meta.Shards = 0
	for _, r := range runs {
		out.Meta.Shards += max(r.Meta.Shards, 1)
		out.Meta.Modified = out.Meta.Modified || r.Meta.Modified // one shard built from a modified tree taints the merge
		if !r.Meta.Started.IsZero() && (out.Meta.Started.IsZero() || r.Meta.Started.Before(out.Meta.Started)) {
			out.Meta.Started = r.Meta.Started
		}
		if r.Meta.Clock != "" && !strings.HasPrefix(out.Meta.Clock, "separate") && !strings.HasPrefix(r.Meta.Clock, "shared") {
			out.Meta.Clock = r.Meta.Clock // one shard whose driver and servers did not share a clock makes the merge's hops suspect
		}
	}
	for _, r := range runs {
		for _, p := range r.Paths {
			if p == nil {
				continue
			}
			if p.Soak != nil {
				return nil, fmt.Errorf("results: merge: path %s is a soak, which does not add up across runs (it measures one server's return to its baseline)", p.Name)
			}
			dst := out.Path(p.Name)
			if dst == nil {
				dst = &Path{Name: p.Name, Target: p.Target, SenderNice: p.SenderNice}
				out.Paths = append(out.Paths, dst)
			}
			if err := mergePath(dst, p); err != nil {
				return nil, fmt.Errorf("results: merge: path %s: %w", p.Name, err)
			}
		}
	}
	if err := mergeShardRepeats(out, runs); err != nil {
		return nil, err
	}
	return out, nil
}

// mergePath adds p into dst.
func mergePath(dst, p *Path) error {
	// Series: shift both onto a common origin (the earlier Start).
	origin := dst.Start
	if dst.Start.IsZero() || (!p.Start.IsZero() && p.Start.Before(dst.Start)) {
		origin = p.Start
	}
	if origin.IsZero() {
		origin = dst.Start
	}
	dst.Series = addSeries(shiftSeries(dst.Series, dst.Start, origin), shiftSeries(p.Series, p.Start, origin))
	if dst.Start.IsZero() || (!p.Start.IsZero() && p.Start.Before(dst.Start)) {
		dst.Start = p.Start
	}
	if p.End.After(dst.End) {
		dst.End = p.End
	}

	dst.SenderNice = max(dst.SenderNice, p.SenderNice) // a shard at the default priority makes the merge "not raised"

	m := &dst.Messages
	m.Scheduled += p.Messages.Scheduled
	m.Sent += p.Messages.Sent
	m.Acked += p.Messages.Acked
	m.Unacked += p.Messages.Unacked
	m.Warmup += p.Messages.Warmup
	m.Retried += p.Messages.Retried
	m.HeldLeaves += p.Messages.HeldLeaves
	m.Resent += p.Messages.Resent
	m.Reconnects += p.Messages.Reconnects
	m.Replayed += p.Messages.Replayed
	m.ResumeGaps += p.Messages.ResumeGaps
	m.PerSecond += p.Messages.PerSecond
	for code, n := range p.Messages.Rejected {
		if m.Rejected == nil {
			m.Rejected = map[string]int{}
		}
		m.Rejected[code] += n
	}

	var err error
	if dst.FromScheduled, err = mergeHistMap(dst.FromScheduled, p.FromScheduled); err != nil {
		return fmt.Errorf("latency_from_scheduled: %w", err)
	}
	if dst.FromSent, err = mergeHistMap(dst.FromSent, p.FromSent); err != nil {
		return fmt.Errorf("latency_from_sent: %w", err)
	}
	if dst.ScheduleLag, err = mergeOpt(dst.ScheduleLag, p.ScheduleLag); err != nil {
		return fmt.Errorf("schedule_lag: %w", err)
	}
	if dst.Connect, err = mergeOpt(dst.Connect, p.Connect); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	for g, c := range p.Ledger {
		if c == nil {
			continue
		}
		if dst.Ledger == nil {
			dst.Ledger = map[string]*Counts{}
		}
		if dst.Ledger[g] == nil {
			dst.Ledger[g] = &Counts{}
		}
		dst.Ledger[g].Add(c)
	}
	for class, hops := range p.Hops {
		if dst.Hops == nil {
			dst.Hops = map[string]map[string]*Histogram{}
		}
		if dst.Hops[class], err = mergeHistMap(dst.Hops[class], hops); err != nil {
			return fmt.Errorf("hops[%s]: %w", class, err)
		}
	}
	for _, c := range p.Components {
		i := slices.IndexFunc(dst.Components, func(d Component) bool { return d.Name == c.Name })
		if i < 0 {
			dst.Components = append(dst.Components, c)
			continue
		}
		dst.Components[i].CPUSeconds += c.CPUSeconds
		dst.Components[i].PeakRSS += c.PeakRSS
		dst.Components[i].Killed = dst.Components[i].Killed || c.Killed
		dst.Components[i].Backlog = addBacklog(dst.Components[i].Backlog, c.Backlog, func(a, b int64) int64 { return a + b })
	}
	mergeDriver(dst, p)
	return nil
}

// mergeOpt merges two optional histograms, keeping nil when both are nil.
func mergeOpt(a, b *Histogram) (*Histogram, error) {
	if b == nil {
		return a, nil
	}
	if a == nil {
		c := *b
		return &c, nil
	}
	return Merge(a, b)
}

// mergeHistMap adds src into dst by key and returns dst.
func mergeHistMap(dst, src map[string]*Histogram) (map[string]*Histogram, error) {
	for k, h := range src {
		if h == nil {
			continue
		}
		if dst == nil {
			dst = map[string]*Histogram{}
		}
		m, err := mergeOpt(dst[k], h)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		dst[k] = m
	}
	return dst, nil
}

// shiftSeries returns s re-based from start to origin (whole seconds).
func shiftSeries(s []Second, start, origin time.Time) []Second {
	if start.IsZero() || origin.IsZero() || !start.After(origin) {
		return s
	}
	d := int(start.Sub(origin) / time.Second)
	out := make([]Second, len(s))
	for i, x := range s {
		x.T += d
		out[i] = x
	}
	return out
}

// addSeries sums two series second by second, in order of T.
func addSeries(a, b []Second) []Second {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	byT := map[int]*Second{}
	var ts []int
	for _, s := range [][]Second{a, b} {
		for _, x := range s {
			y, ok := byT[x.T]
			if !ok {
				c := x
				byT[x.T] = &c
				ts = append(ts, x.T)
				continue
			}
			y.Sent += x.Sent
			y.Delivered += x.Delivered
			y.Lost += x.Lost
			y.P50 = max(y.P50, x.P50)
			y.P99 = max(y.P99, x.P99)
			y.Max = max(y.Max, x.Max)
		}
	}
	slices.Sort(ts)
	out := make([]Second, 0, len(ts))
	for _, t := range ts {
		out = append(out, *byT[t])
	}
	return out
}

// Validate checks a document's consistency beyond what Read checks: schema
// version, unique non-empty path names, well-formed group keys ("all",
// "class:<class>", "job:<job>"), every histogram decodes and its count and
// summary agree with its encoding, ledger counts are non-negative and every
// expected delivery has exactly one outcome (expected = delivered + errored
// + lost + excused), hop names are among HopNames, the series is in order,
// components have non-negative CPU and memory, and repeats are valid paths
// of the same name numbered 1..N whose counts the path pools (PoolRepeats).
// It returns every problem found, joined, each naming where it is.
func (r *Run) Validate() error {
	if r == nil {
		return errors.New("results: nil run")
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if r.Schema != SchemaVersion {
		bad("schema: version %d, want %d", r.Schema, SchemaVersion)
	}
	if r.Meta.Shards < 0 || r.Meta.Cores < 0 || r.Meta.TraceMsgs < 0 {
		bad("meta: shards, cores and trace_messages must not be negative")
	}
	if s := r.Meta.Shard; s != nil && (s.Count < 1 || s.Index < 0 || s.Index >= s.Count) {
		bad("meta: shard %s does not exist (want i/n with 0 ≤ i < n)", s)
	}
	for i, src := range r.Meta.Sources {
		if s := src.Shard; s != nil && (s.Count < 1 || s.Index < 0 || s.Index >= s.Count) {
			bad("meta: sources[%d]: shard %s does not exist (want i/n with 0 ≤ i < n)", i, s)
		}
	}
	if math.IsNaN(r.Meta.Speed) || r.Meta.Speed < 0 {
		bad("meta: speed %v must be a non-negative number", r.Meta.Speed)
	}
	seen := map[string]bool{}
	for i, p := range r.Paths {
		if p == nil {
			bad("paths[%d]: null", i)
			continue
		}
		where := fmt.Sprintf("paths[%d] (%s)", i, p.Name)
		if p.Name == "" {
			bad("paths[%d]: empty name", i)
		} else if seen[p.Name] {
			bad("%s: duplicate path name", where)
		}
		seen[p.Name] = true
		errs = append(errs, p.problems(where)...)
		errs = append(errs, p.repeatProblems(where)...)
	}
	errs = append(errs, r.Sweep.problems()...)
	if len(errs) > 0 {
		return fmt.Errorf("results: invalid document: %w", errors.Join(errs...))
	}
	return nil
}

// problems checks one path's fields (Validate), each problem naming where.
func (p *Path) problems(where string) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !p.End.IsZero() && p.End.Before(p.Start) {
		bad("%s: end %s before start %s", where, p.End, p.Start)
	}
	m := p.Messages
	if m.Scheduled < 0 || m.Sent < 0 || m.Acked < 0 || m.Unacked < 0 || m.Warmup < 0 || m.PerSecond < 0 || math.IsNaN(m.PerSecond) {
		bad("%s: messages: counts must not be negative", where)
	}
	for _, hm := range []struct {
		name string
		m    map[string]*Histogram
	}{{"latency_from_scheduled", p.FromScheduled}, {"latency_from_sent", p.FromSent}} {
		for _, g := range sortedKeys(hm.m) {
			if err := checkGroup(g); err != nil {
				bad("%s: %s: %v", where, hm.name, err)
			}
			if err := hm.m[g].check(); err != nil {
				bad("%s: %s[%q]: %v", where, hm.name, g, err)
			}
		}
	}
	if err := p.ScheduleLag.check(); err != nil {
		bad("%s: schedule_lag: %v", where, err)
	}
	if err := p.Connect.check(); err != nil {
		bad("%s: connect: %v", where, err)
	}
	for _, g := range sortedKeys(p.Ledger) {
		if err := checkGroup(g); err != nil {
			bad("%s: ledger: %v", where, err)
		}
		c := p.Ledger[g]
		if c == nil {
			bad("%s: ledger[%q]: null", where, g)
			continue
		}
		if c.Expected < 0 || c.Delivered < 0 || c.Errored < 0 || c.Lost < 0 || c.Excused < 0 || c.Duplicates < 0 || c.Reordered < 0 || c.Unexpected < 0 {
			bad("%s: ledger[%q]: counts must not be negative", where, g)
		}
		if sum := c.Delivered + c.Errored + c.Lost + c.Excused; sum != c.Expected {
			bad("%s: ledger[%q]: expected %d but delivered+errored+lost+excused = %d", where, g, c.Expected, sum)
		}
	}
	for _, class := range sortedKeys(p.Hops) {
		for _, hop := range sortedKeys(p.Hops[class]) {
			if !slices.Contains(HopNames, hop) {
				bad("%s: hops[%q]: unknown hop %q (known: %s)", where, class, hop, strings.Join(HopNames, ", "))
			}
			if err := p.Hops[class][hop].check(); err != nil {
				bad("%s: hops[%q][%q]: %v", where, class, hop, err)
			}
		}
	}
	for j, s := range p.Series {
		if s.T < 0 || (j > 0 && s.T <= p.Series[j-1].T) {
			bad("%s: series[%d]: t %d out of order", where, j, s.T)
			break
		}
	}
	for _, c := range p.Components {
		if c.CPUSeconds < 0 || math.IsNaN(c.CPUSeconds) || c.PeakRSS < 0 {
			bad("%s: component %q: negative CPU or memory", where, c.Name)
		}
	}
	return errs
}

// checkGroup checks a group key.
func checkGroup(g string) error {
	if g == "all" {
		return nil
	}
	for _, prefix := range []string{"class:", "job:"} {
		if rest, ok := strings.CutPrefix(g, prefix); ok && rest != "" {
			return nil
		}
	}
	return fmt.Errorf("group %q: want all, class:<class> or job:<job>", g)
}

// check decodes x and compares it with its summary.
func (x *Histogram) check() (err error) {
	if x == nil {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decode histogram: %v", p)
		}
	}()
	if x.Hist == "" {
		if x.Count != 0 {
			return fmt.Errorf("count %d but no encoded histogram", x.Count)
		}
		return nil
	}
	h, err := x.HDR()
	if err != nil {
		return err
	}
	if h.TotalCount() != x.Count {
		return fmt.Errorf("count %d but the encoded histogram holds %d", x.Count, h.TotalCount())
	}
	if x.Count > 0 && (h.Max() != x.Max || h.ValueAtQuantile(99) != x.P99) {
		return fmt.Errorf("summary (p99 %d, max %d) disagrees with the encoded histogram (p99 %d, max %d)", x.P99, x.Max, h.ValueAtQuantile(99), h.Max())
	}
	return nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sources returns where each run ran — a merged run's own Sources, else
// the run itself — with the number (from 1) of the run each came from.
func sources(runs []*Run) (srcs []Source, from []int) {
	for i, r := range runs {
		own := r.Meta.Sources
		if len(own) == 0 {
			own = []Source{{Shard: r.Meta.Shard, Hostname: r.Meta.Hostname, ClockID: r.Meta.ClockID, Started: r.Meta.Started}}
		}
		for _, s := range own {
			if s.Shard != nil {
				c := *s.Shard // the merge shares no memory with its inputs
				s.Shard = &c
			}
			srcs = append(srcs, s)
			from = append(from, i+1)
		}
	}
	return srcs, from
}

// checkSplit refuses sources that are not shards of one split: shards of
// different counts, one shard twice, or shards beside a whole-trace run.
// Sources that are all whole-trace runs pass (they add up as before shards
// were recorded).
func checkSplit(srcs []Source, from []int) error {
	first, whole := -1, -1
	seen := map[int]int{} // shard index → run number
	for k, s := range srcs {
		if s.Shard == nil {
			if whole < 0 {
				whole = k
			}
			continue
		}
		if first < 0 {
			first = k
		}
		if f := srcs[first].Shard; s.Shard.Count != f.Count {
			return fmt.Errorf("run %d is shard %s and run %d shard %s: only shards of one split (the same n) add up to the trace", from[first], f, from[k], s.Shard)
		}
		if r, dup := seen[s.Shard.Index]; dup {
			return fmt.Errorf("runs %d and %d are both shard %s: merging a shard twice counts its deliveries twice", r, from[k], s.Shard)
		}
		seen[s.Shard.Index] = from[k]
	}
	if first >= 0 && whole >= 0 {
		return fmt.Errorf("run %d replayed the whole trace and run %d shard %s: a whole replay and shards do not add up to one replay; merge the shards alone", from[whole], from[first], srcs[first].Shard)
	}
	return nil
}

// clocksOf returns the distinct clocks srcs ran on, each with the
// hostnames that read it, in order of first appearance.
func clocksOf(srcs []Source) [][]string {
	var clocks [][]string
	idx := map[string]int{}
	for _, s := range srcs {
		c := s.clock()
		i, ok := idx[c]
		if !ok {
			i = len(clocks)
			idx[c] = i
			clocks = append(clocks, nil)
		}
		if !slices.Contains(clocks[i], s.Hostname) {
			clocks[i] = append(clocks[i], s.Hostname)
		}
	}
	return clocks
}

// startSpread is how far apart shards may start before a merge says their
// load was not the trace's schedule.
const startSpread = time.Second

// mergeWarnings says what makes a merge of srcs suspect.
func mergeWarnings(srcs []Source) []string {
	var warns []string
	if clocks := clocksOf(srcs); len(clocks) > 1 {
		var hosts []string
		for _, c := range clocks {
			hosts = append(hosts, strings.Join(c, "+"))
		}
		warns = append(warns, fmt.Sprintf("the shards ran on %d machines (%s), each with its own clock: clocks of different hosts "+
			"commonly disagree by ~100 ms (the skew OpenMessaging Benchmark users hit), so whatever compares times taken on "+
			"different hosts is suspect by that much: here the merged per-second series and start/end, which line shards up by "+
			"wall clock. Each delivery's latency is timed by the one driver that sent and received it (a conversation stays in "+
			"one shard), so the latency histograms are not affected; hop durations compare each driver's clock with its "+
			"servers' (meta.clock)", len(clocks), strings.Join(hosts, ", ")))
	}
	if s := srcs[0].Shard; s != nil && len(srcs) < s.Count {
		have := map[int]bool{}
		for _, x := range srcs {
			have[x.Shard.Index] = true
		}
		var missing []string
		for i := range s.Count {
			if !have[i] {
				missing = append(missing, Shard{Index: i, Count: s.Count}.String())
			}
		}
		what := "shard " + missing[0] + " is"
		if len(missing) > 1 {
			what = "shards " + strings.Join(missing, ", ") + " are"
		}
		warns = append(warns, fmt.Sprintf("%s missing: the merge covers %d of the trace's %d shards, not all of it (merge every shard's results)",
			what, len(srcs), s.Count))
	}
	var lo, hi time.Time
	for _, s := range srcs {
		if s.Started.IsZero() {
			continue
		}
		if lo.IsZero() || s.Started.Before(lo) {
			lo = s.Started
		}
		if s.Started.After(hi) {
			hi = s.Started
		}
	}
	if d := hi.Sub(lo); srcs[0].Shard != nil && d > startSpread {
		warns = append(warns, fmt.Sprintf("the shards started %s apart: each replays its slice on its own schedule from its own start, "+
			"so together they did not offer the trace's load as one driver would; start them within %s of each other", d.Round(time.Millisecond), startSpread))
	}
	return warns
}

// addBacklog combines two optional backlogs with f, keeping nil when both
// are nil.
func addBacklog(a, b *int64, f func(a, b int64) int64) *int64 {
	switch {
	case b == nil:
		return a
	case a == nil:
		v := *b
		return &v
	}
	v := f(*a, *b)
	return &v
}
