// Package sweep finds where each design breaks: for each path variant it
// steps offered load from the reference day's real rate up past the load
// at which the SLO stops holding — the knee — each step on fresh
// processes (package stack) with a warm-up, and reports the knee, the
// capacity per core consumed, the CPU per message of each component, the
// SQS requests per message and what they cost at a given volume
// (`chatbench sweep`, docs/methodology.md "How load is raised").
//
// Load rises the way it does in production: more conversations open at
// once, each at the same pace, built from the reference workload's own
// visits (Workload, trace.Steady) — not by making one conversation talk
// faster. How fast one conversation talks is a second axis, Config.Paces.
package sweep

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chatbench/chatbench/bench/compare"
	"github.com/chatbench/chatbench/bench/driver"
	"github.com/chatbench/chatbench/bench/gate"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/stack"
	"github.com/chatbench/chatbench/chat"
)

// Defaults of Config's zero values, and of Quick.
const (
	// DefaultFactor steps load by a decade at a time until the SLO breaks:
	// the knees of the designs compared lie decades apart, and the
	// bisections that follow (DefaultRefine) place each knee within 33 %.
	DefaultFactor = 10
	// DefaultRefine bisects the decade the knee is in three times.
	DefaultRefine = 3
	// DefaultWarmup and DefaultWindow are a step's warm-up (the visits
	// under way rejoin in its first half) and its measured window.
	DefaultWarmup = 3 * time.Second
	DefaultWindow = 8 * time.Second
	// DefaultDrain is how long a step waits for outstanding deliveries
	// after its last send: an ML job of the default profile takes at most
	// 4.5 s, and a delivery later than the SLO's 3 s has failed it anyway.
	DefaultDrain = 5 * time.Second
	// DefaultStopGrace is how long a step's component may take to stop:
	// an overloaded gateway still draining a backlog is killed after it,
	// and the step records that (results.Component.Killed).
	DefaultStopGrace = 10 * time.Second

	// QuickWarmup, QuickWindow, QuickDrain, QuickFactor and QuickRefine
	// are --quick's: shorter steps, ×30 between them and one bisection, so
	// a series takes four or five steps of about 10 s and the knee is
	// placed within a factor of 5.5 (√30) instead of 1.33. What it gives
	// up: the knee's precision, and figures from 3 s windows, a few
	// hundred deliveries at the lower steps.
	QuickWarmup = 1500 * time.Millisecond
	QuickWindow = 3 * time.Second
	QuickDrain  = 3 * time.Second
	QuickFactor = 30
	QuickRefine = 1
)

// connReserve is the file descriptors kept back from the connection limit
// for everything else the driver and the servers open.
const connReserve = 512

// DefaultMaxConns and QuickMaxConns bound the connections a step opens
// (Config.MaxConns): the soak's 10,000, which this 2-core machine holds,
// is about 2,600 msgs/s of the shipped day's visits at pace 20; a step of
// 15,000 connections here took 92 s instead of 8 with the driver 41 s
// behind its schedule, measuring nothing but the machine. --quick stops
// at 3,000 (about 790 msgs/s). On a bigger machine raise --max-conns.
const (
	DefaultMaxConns = 10_000
	QuickMaxConns   = 3_000
)

// Config configures a sweep. Zero values mean the documented defaults.
type Config struct {
	// Stack starts each step's processes (Exe and LogDir are required;
	// each step logs in LogDir/<series>/step-<n>). An empty SQSLatency
	// means compare's default, "region"; StopGrace zero means
	// DefaultStopGrace.
	Stack stack.Config
	// TraceName and TraceBytes are the reference workload (gzip or
	// plain): its visits are resampled at each step's rate. Required.
	TraceName  string
	TraceBytes []byte
	// Catalog computes the expected deliveries. Required.
	Catalog *chat.Catalog
	// Paths are the variants swept, in order (stack.Names); empty means
	// compare's default set.
	Paths []string
	// Paces are the paces to sweep each path at (compression of time
	// within a conversation); empty means stack.DefaultPace alone.
	Paces []float64
	// From is the first step's offered load, msgs/s; zero means the
	// reference workload's real mean rate. To is the highest step; zero
	// means no limit but the connections this process may open.
	From, To float64
	// Factor is the ratio between steps before the SLO breaks (zero =
	// DefaultFactor, or QuickFactor); Refine the bisections after (zero =
	// DefaultRefine, or QuickRefine; negative = none).
	Factor float64
	Refine int
	// Warmup, Window and Drain shape each step (zero = the defaults, or
	// Quick's).
	Warmup, Window, Drain time.Duration
	// Quick runs the sweep for CI: QuickWarmup, QuickWindow, QuickDrain,
	// QuickFactor and QuickRefine where the fields above are zero.
	Quick bool
	// SLO is the rules a step must meet, in the gate's syntax; nil means
	// DefaultSLO.
	SLO []string
	// LagFraction bounds the driver's schedule lag (zero =
	// DefaultLagFraction).
	LagFraction float64
	// Volume is the messages a day the verdict and the cost are for; zero
	// means the reference workload's.
	Volume float64
	// Prices are the cost assumptions; the zero value means
	// DefaultPrices, any other is taken as given.
	Prices results.Prices
	// MaxConns is the most connections a step may open; zero means
	// DefaultMaxConns (QuickMaxConns with Quick), at most this process's
	// file limit less a reserve.
	MaxConns int
	// Seed seeds the steps' traces.
	Seed uint64
	// Progress receives each step's progress (nil = none), a bar when TTY.
	Progress io.Writer
	TTY      bool
	// Logger logs each step's outcome (nil = discard).
	Logger *slog.Logger
}

// DefaultPaths returns the variants a sweep runs by default: compare's
// (stack.DefaultPaths) without the echo floor, whose knee is the
// harness's, not a design's (--paths echo,... sweeps it too).
func DefaultPaths() []string {
	return slices.DeleteFunc(stack.DefaultPaths(), func(n string) bool { return n == "echo" })
}

// withDefaults fills in c's defaults, or returns an error naming each bad
// value by its flag.
func (c Config) withDefaults() (Config, error) {
	if c.Catalog == nil {
		return c, errors.New("sweep: Catalog is required")
	}
	if len(c.TraceBytes) == 0 {
		return c, errors.New("sweep: the reference trace is required")
	}
	var errs []error
	bad := func(cond bool, format string, args ...any) {
		if cond {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	bad(c.From < 0 || math.IsNaN(c.From) || math.IsInf(c.From, 0), "--from %v: must be ≥ 0 msgs/s (0 = the reference's real rate)", c.From)
	bad(c.To < 0 || math.IsNaN(c.To) || math.IsInf(c.To, 0), "--to %v: must be ≥ 0 msgs/s (0 = no limit)", c.To)
	bad(c.To > 0 && c.From > c.To, "--to %v: below --from %v", c.To, c.From)
	bad(c.Factor != 0 && !(c.Factor > 1.05) || math.IsInf(c.Factor, 0), "--factor %v: must be above 1.05 (0 = %d)", c.Factor, DefaultFactor)
	bad(c.Warmup < 0 || c.Window < 0 || c.Drain < 0, "--warmup, --window, --drain: must be ≥ 0 (0 = the default)")
	bad(c.LagFraction < 0 || math.IsNaN(c.LagFraction) || c.LagFraction > 1, "--lag-fraction %v: must be between 0 and 1 (0 = %g)", c.LagFraction, DefaultLagFraction)
	bad(c.Volume < 0 || math.IsNaN(c.Volume) || math.IsInf(c.Volume, 0), "--volume %v: must be ≥ 0 messages a day (0 = the reference day's)", c.Volume)
	bad(c.MaxConns < 0, "--max-conns %d: must be ≥ 0 (0 = %d, --quick %d)", c.MaxConns, DefaultMaxConns, QuickMaxConns)
	for _, p := range c.Paces {
		bad(!(p > 0) || math.IsInf(p, 0), "--pace %v: must be > 0", p)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"--price-fifo", c.Prices.FIFOPerMillion}, {"--price-standard", c.Prices.StandardPerMillion}, {"--free-requests", c.Prices.FreeRequests}, {"--price-core-hour", c.Prices.CoreHour}} {
		bad(f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0), "%s %v: must be ≥ 0", f.name, f.v)
	}
	for _, p := range c.Paths {
		if _, err := stack.Lookup(p); err != nil {
			errs = append(errs, fmt.Errorf("--paths: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	if len(c.Paths) == 0 {
		c.Paths = DefaultPaths()
	}
	if len(c.Paces) == 0 {
		c.Paces = []float64{stack.DefaultPace}
	}
	warm, window, drain, refine, factor := DefaultWarmup, DefaultWindow, DefaultDrain, DefaultRefine, float64(DefaultFactor)
	if c.Quick {
		warm, window, drain, refine, factor = QuickWarmup, QuickWindow, QuickDrain, QuickRefine, QuickFactor
	}
	c.Factor = cmp.Or(c.Factor, factor)
	c.Warmup, c.Window, c.Drain = cmp.Or(c.Warmup, warm), cmp.Or(c.Window, window), cmp.Or(c.Drain, drain)
	switch {
	case c.Refine == 0:
		c.Refine = refine
	case c.Refine < 0:
		c.Refine = 0
	}
	if c.SLO == nil {
		c.SLO = DefaultSLO
	}
	c.LagFraction = cmp.Or(c.LagFraction, DefaultLagFraction)
	c.Prices = withPriceDefaults(c.Prices)
	c.Stack.SQSLatency = cmp.Or(c.Stack.SQSLatency, compare.DefaultSQSLatency)
	c.Stack.StopGrace = cmp.Or(c.Stack.StopGrace, DefaultStopGrace)
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
		if c.Quick {
			c.MaxConns = QuickMaxConns
		}
	}
	c.MaxConns = min(c.MaxConns, fileLimit()-connReserve)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// fileLimit is this process's limit on open files (Go raises the soft
// limit to the hard one at start-up), or 1024 when unknown.
func fileLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur == 0 {
		return 1024
	}
	return int(min(l.Cur, 1<<20))
}

// series is one path at one pace while the sweep runs.
type series struct {
	out     *results.SweepSeries
	variant stack.Variant
	plan    planner
	replay  stack.Replay
	limit   time.Duration // the schedule-lag limit of its path
}

// Run sweeps every path at every pace and returns the run: the sweep, and
// as its paths each series' knee step at the first pace (docs/results.md,
// "Sweep"). The series run interleaved — one step of each in turn, as
// compare's repeats do — so that a slow change of the machine falls on
// every path alike. A step that fails to run ends its series and is
// reported; what was measured is returned with the error of ctx, if it
// ended.
func Run(ctx context.Context, cfg Config) (*results.Run, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	rules, err := ParseSLO(cfg.SLO)
	if err != nil {
		return nil, err
	}
	w, err := NewWorkload(cfg.TraceName, cfg.TraceBytes)
	if err != nil {
		return nil, err
	}
	sc, err := cfg.Stack.WithDefaults()
	if err != nil {
		return nil, err
	}
	from := cmp.Or(cfg.From, w.Ref.MeanRate)
	sw := &results.Sweep{
		Reference: w.Ref, SLO: cfg.SLO, LagFraction: cfg.LagFraction, Factor: cfg.Factor, Refine: cfg.Refine, Quick: cfg.Quick,
		WarmupUS: cfg.Warmup.Microseconds(), WindowUS: cfg.Window.Microseconds(),
		Volume: cmp.Or(cfg.Volume, w.Ref.PerDay()), Prices: cfg.Prices,
	}
	var all []*series
	for _, pace := range cfg.Paces {
		for _, name := range cfg.Paths {
			v, err := stack.Lookup(name)
			if err != nil {
				return nil, err
			}
			rp, err := stack.Replay{Speed: pace, Pace: pace, Warmup: cfg.Warmup, Drain: cfg.Drain, Catalog: cfg.Catalog,
				Progress: cfg.Progress, TTY: cfg.TTY, Logger: cfg.Logger}.WithDefaults()
			if err != nil {
				return nil, err
			}
			s := &series{
				out:     &results.SweepSeries{Path: name, Pace: pace, Knee: -1, StopStep: -1},
				variant: v, replay: rp, limit: lagLimit(rules, name, cfg.LagFraction),
				plan: planner{from: from, to: cfg.To, factor: cfg.Factor, refine: cfg.Refine,
					maxRate: w.maxRate(cfg.MaxConns, pace, cfg.Warmup+cfg.Window)},
			}
			all = append(all, s)
			sw.Series = append(sw.Series, s.out)
		}
	}
	e := &engine{cfg: cfg, stack: sc, rules: rules, w: w}
	err = e.loop(ctx, all)
	for _, s := range all {
		finish(s, ctx.Err() != nil)
	}
	analyze(sw)
	run := &results.Run{Schema: results.SchemaVersion, Sweep: sw, Meta: meta(cfg, sc, w)}
	for _, s := range sw.Series {
		if s.Pace != cfg.Paces[0] {
			continue
		}
		if st := cmp.Or(s.KneeStep(), first(s.Steps)); st != nil && st.Path != nil {
			run.Paths = append(run.Paths, st.Path)
		}
	}
	return run, err
}

// first returns the first step, or nil.
func first(steps []*results.Step) *results.Step {
	if len(steps) == 0 {
		return nil
	}
	return steps[0]
}

// engine runs the steps.
type engine struct {
	cfg   Config
	stack stack.Config
	rules []gate.Rule
	w     *Workload
}

// loop runs one step of each active series in turn until every series is
// done or ctx ends.
func (e *engine) loop(ctx context.Context, all []*series) error {
	for round := 1; ; round++ {
		active := 0
		for _, s := range all {
			x, ok := s.plan.next()
			if !ok {
				continue
			}
			active++
			st := e.step(ctx, s, x)
			s.out.Steps = append(s.out.Steps, st)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !st.Trusted && !st.Broke() && st.Error == "" {
				// On a shared machine one stall can push a thin step's
				// lag p99 (its few messages' worst) past the limit at any
				// load: run it once more, on fresh processes, before
				// taking the driver for the limit. Both steps are kept.
				e.log(s, st)
				st = e.step(ctx, s, x)
				st.Retry = true
				s.out.Steps = append(s.out.Steps, st)
				if ctx.Err() != nil {
					return ctx.Err()
				}
			}
			s.plan.record(x, st)
			if s.plan.stop != "" {
				s.out.StopStep = len(s.out.Steps) - 1
			}
			e.log(s, st)
		}
		if active == 0 {
			return nil
		}
	}
}

// step runs one step of s at target rate x.
func (e *engine) step(ctx context.Context, s *series, x float64) *results.Step {
	n := len(s.out.Steps) + 1
	st := &results.Step{N: n, Target: x}
	began := time.Now()
	defer func() { st.WallSeconds = time.Since(began).Seconds() }()
	seed := e.cfg.Seed ^ uint64(n)<<32 ^ uint64(len(s.out.Path))<<48 ^ math.Float64bits(s.out.Pace)
	plan, err := e.w.step(x, s.out.Pace, e.cfg.Warmup, e.cfg.Window, seed)
	if err != nil {
		st.Error = err.Error()
		return st
	}
	st.Offered, st.Open, st.Visits, st.Users = plan.offered, plan.stats.MeanOpen, plan.stats.Visits, plan.stats.Users
	sc := e.stack
	sc.LogDir = filepath.Join(e.stack.LogDir, s.out.ID(), fmt.Sprintf("step-%d", n))
	var counter *sqsCounter
	if _, ok := s.variant.Component("sqs"); ok {
		if counter, err = newSQSCounter(); err != nil {
			st.Error = fmt.Sprintf("count SQS requests: %v", err)
			return st
		}
		sc.Via = counter.via
	}
	rp := s.replay
	rp.Label = fmt.Sprintf("%s step %d: %s msgs/s", s.out.ID(), n, rate(x))
	p, err := stack.Run(ctx, sc, s.out.Path, func(ctx context.Context, stk *stack.Stack) (*results.Path, error) {
		dc := rp.Driver(stk.Target(), s.out.Path, []byte(sc.Secret), plan.header, plan.recs)
		dc.Targets = stk.Targets() // with --instances, connections spread over every front door
		p, err := driver.Run(ctx, dc)
		if p != nil {
			p.Instances, p.Broker = len(dc.Targets), stk.Broker()
		}
		return p, err
	})
	if counter != nil {
		st.SQS = counter.snapshot()
		if cerr := counter.close(); cerr != nil {
			e.cfg.Logger.Warn("sweep: stop the SQS counter", "err", cerr)
		}
	}
	if p == nil {
		st.Error = errText(err, "the step measured nothing")
		return st
	}
	// A component killed at the stop (an overloaded gateway draining its
	// backlog past the grace) is a finding of the step, which its
	// components record and stack.Run does not return as an error; any
	// other failure makes the step's figures suspect.
	if err != nil && ctx.Err() == nil {
		st.Error = err.Error()
	}
	p.Steady = compare.SteadyState(p)
	st.Path = p
	judge(st, e.rules, e.cfg.LagFraction)
	return st
}

// errText is err's text, or def without one.
func errText(err error, def string) string {
	if err == nil {
		return def
	}
	return err.Error()
}

// log logs a step's outcome.
func (e *engine) log(s *series, st *results.Step) {
	attrs := []any{"series", s.out.ID(), "step", st.N, "target", rate(st.Target), "offered", rate(st.Offered),
		"held", st.Held(), "lag_p99", dur(st.LagP99), "wall", time.Duration(st.WallSeconds * float64(time.Second)).Round(100 * time.Millisecond)}
	switch {
	case st.Error != "":
		attrs = append(attrs, "error", st.Error)
	case !st.Pass:
		attrs = append(attrs, "broke", failed(st))
	}
	if s.plan.stop != "" {
		attrs = append(attrs, "series_done", s.plan.stop)
	}
	e.cfg.Logger.Info("sweep step", attrs...)
}

// finish sets the series' knee and stop from its planner.
func finish(s *series, canceled bool) {
	o := s.out
	for i, st := range o.Steps {
		if st.Held() && (o.Knee < 0 || st.Offered > o.Steps[o.Knee].Offered) {
			o.Knee = i
		}
	}
	o.Stop, o.Detail = s.plan.stop, s.plan.detail
	if canceled && o.Stop == "" {
		o.Stop, o.Detail = results.StopCanceled, "the sweep was interrupted"
	}
}

// meta describes the sweep's run: the reference trace, the main pace as
// its speed, and the settings.
func meta(cfg Config, sc stack.Config, w *Workload) results.Meta {
	set := sc.Settings()
	var paces []string
	for _, p := range cfg.Paces {
		paces = append(paces, strconv.FormatFloat(p, 'g', -1, 64))
	}
	set["mode"] = "sweep"
	set["paths"] = strings.Join(cfg.Paths, ",")
	set["paces"] = strings.Join(paces, ",")
	set["quick"] = strconv.FormatBool(cfg.Quick)
	set["max_conns"] = strconv.Itoa(cfg.MaxConns)
	set["seed"] = strconv.FormatUint(cfg.Seed, 10)
	var sqs []string
	for _, name := range cfg.Paths {
		if v, err := stack.Lookup(name); err == nil {
			if _, ok := v.Component("sqs"); ok {
				sqs = append(sqs, name)
			}
		}
	}
	set["sqs_latency_paths"] = strings.Join(sqs, ",")
	return results.NewMeta(cfg.TraceName, cfg.TraceBytes, w.Ref.Messages, cfg.Paces[0], true, set)
}

// rate formats msgs/s with three significant digits.
func rate(f float64) string { return results.FormatRate(f) }

// dur formats µs as a duration.
func dur(us int64) string { return (time.Duration(us) * time.Microsecond).String() }
