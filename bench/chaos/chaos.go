// Package chaos runs fault scenarios (docs/reliability.md) on the direct and
// queue paths: each scenario on each path on the same trace, components as
// separate processes (package stack) so kills are real, network faults
// through embedded loopback proxies (package faultproxy), the fault
// injected at a fixed point of the replay for a fixed window. Each
// scenario × path becomes one results.Path labelled with its Fault, with
// the fault window, the recovery time and the latency during and after the
// fault.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chatbench/chatbench/bench/faultproxy"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/stack"
)

// Scenario is one fault and how it is injected.
type Scenario struct {
	// Name is the scenario's label (results.Path.Fault).
	Name string
	// Desc says what is done, for help texts and reports.
	Desc string
	// Window is how long the fault lasts once injected; zero for a
	// kill-and-restart (the window then lasts until the component is
	// ready again).
	Window time.Duration
	// Whole marks a fault in effect for the whole replay (no window, no
	// recovery time).
	Whole bool

	// on selects what the scenario acts on: the component of that name,
	// or, with hop set instead, the component reached through that hop. A
	// path without it (or whose settings do not run it: the Redis broker
	// with the in-memory one) is n/a.
	on, hop string
	// instances is how many instances of that component the scenario
	// needs (instance-kill: 2); zero means one. It acts on the last.
	instances int
	hops      []string // proxied hops the scenario needs
	mlFail    string   // appended to the ML profile
	inject    func(ctx context.Context, e *env) error
	recover   func(ctx context.Context, e *env) error
	// beside, when set, runs beside the whole replay (the noisy
	// neighbour's flood): started before it, stopped by the returned
	// function after it, whose text describes what it did for the
	// results (Meta.Config "<scenario>/<path>").
	beside func(ctx context.Context, e *env) (stop func() string, err error)
}

// AppliesTo reports whether the scenario can be run on variant v: v has
// the component it acts on.
func (s Scenario) AppliesTo(v stack.Variant) bool {
	_, ok := s.target(v)
	return ok
}

// AppliesWith reports whether the scenario can be run on variant v started
// with cfg (defaults filled in): v has the component it acts on, cfg runs
// it, and in as many instances as the scenario needs.
func (s Scenario) AppliesWith(v stack.Variant, cfg stack.Config) bool {
	c, ok := s.target(v)
	if !ok || (c.When != nil && !c.When(cfg)) {
		return false
	}
	return s.instances <= 1 || instancesOf(c, cfg) >= s.instances
}

// instancesOf is how many instances of c a stack started with cfg runs.
func instancesOf(c stack.Component, cfg stack.Config) int {
	n := max(c.Instances, 1)
	if c.Scale {
		n = max(n, cfg.Scale)
	}
	if o := cfg.Instances[c.Name]; o > 0 {
		n = o
	}
	return n
}

// target returns the component of v the scenario acts on.
func (s Scenario) target(v stack.Variant) (stack.Component, bool) {
	if s.hop != "" {
		return v.ByHop(s.hop)
	}
	return v.Component(s.on)
}

// env is what a scenario acts on.
type env struct {
	// component is the name of the component the scenario acts on, and
	// instance which of its instances.
	component string
	instance  int
	stack     *stack.Stack
	px        *faultproxy.Set
	toxic     string
	// secret signs the flood's tokens; flood and span are its shape and
	// how long it lasts (the replay's schedule).
	secret []byte
	flood  Flood
	span   time.Duration
}

const killGrace = 10 * time.Second

func kill(sig syscall.Signal) func(ctx context.Context, e *env) error {
	return func(ctx context.Context, e *env) error {
		return e.stack.Signal(e.component, e.instance, sig, killGrace)
	}
}

func restart(ctx context.Context, e *env) error { return e.stack.Restart(ctx, e.component, e.instance) }

// latency adds a latency toxic to hop.
func latency(hop string, d, jitter time.Duration) func(context.Context, *env) error {
	return func(_ context.Context, e *env) (err error) {
		e.toxic, err = e.px.Latency(hop, d, jitter)
		return err
	}
}

// removeToxic ends the toxic the scenario added to hop.
func removeToxic(hop string) func(context.Context, *env) error {
	return func(_ context.Context, e *env) error { return e.px.Remove(hop, e.toxic) }
}

// scenarios are the known scenarios, in priority order.
var scenarios = []Scenario{
	{Name: "worker-kill", Desc: "SIGKILL the queue worker, restart it 5 s later", on: "worker", Window: 5 * time.Second,
		inject: kill(syscall.SIGKILL), recover: restart},
	{Name: "sqs-down", Desc: "SQS endpoint unreachable for 10 s (proxy down: connections refused and closed), then back",
		hop: stack.HopSQS, Window: 10 * time.Second, hops: []string{stack.HopSQS},
		inject:  func(_ context.Context, e *env) error { return e.px.Down(stack.HopSQS) },
		recover: func(_ context.Context, e *env) error { return e.px.Up(stack.HopSQS) }},
	{Name: "sqs-latency", Desc: "+20 ms ± 5 ms on every SQS call, whole run", hop: stack.HopSQS, Whole: true, hops: []string{stack.HopSQS},
		inject: latency(stack.HopSQS, 20*time.Millisecond, 5*time.Millisecond)},
	{Name: "ml-errors", Desc: "ML service fails 5% of calls (503), whole run", hop: stack.HopML, Whole: true, mlFail: ";*=fail:5%"},
	{Name: "ml-spike", Desc: "+3 s on every ML response for 10 s (proxy latency)", hop: stack.HopML, Window: 10 * time.Second,
		hops: []string{stack.HopML}, inject: latency(stack.HopML, 3*time.Second, 0), recover: removeToxic(stack.HopML)},
	{Name: "server-restart", Desc: "SIGTERM the direct server / queue gateway, start it again on the same port", hop: stack.HopServer,
		inject: kill(syscall.SIGTERM), recover: restart},
	{Name: "server-kill", Desc: "SIGKILL the direct server / queue gateway, start it again on the same port", hop: stack.HopServer,
		inject: kill(syscall.SIGKILL), recover: restart},
	{Name: "client-drops", Desc: "reset 5% of client connections (proxy driver→server) for 10 s", hop: stack.HopServer,
		Window: 10 * time.Second, hops: []string{stack.HopServer},
		inject: func(_ context.Context, e *env) (err error) {
			e.toxic, err = e.px.ResetPeers(stack.HopServer, 0.05)
			return err
		},
		recover: removeToxic(stack.HopServer)},
	{Name: "redis-down", Desc: "the front doors' Redis broker unreachable for 10 s (proxy down: connections refused and closed), then back",
		hop: stack.HopRedis, Window: 10 * time.Second, hops: []string{stack.HopRedis},
		inject:  func(_ context.Context, e *env) error { return e.px.Down(stack.HopRedis) },
		recover: func(_ context.Context, e *env) error { return e.px.Up(stack.HopRedis) }},
	{Name: "redis-restart", Desc: "SIGKILL the Redis broker and start it again, empty (no persistence): histories, members and ids lost",
		on: "redis", inject: kill(syscall.SIGKILL), recover: restart},
	{Name: NoisyNeighbour, Desc: "beside the trace, two users flood from 16 connections each (10 texts/s on each, under its rate limit; --flood-*): the trace's users' latency and refusals, the neighbours', are what is measured",
		hop: stack.HopServer, Whole: true, beside: flood},
	{Name: "instance-kill", Desc: "SIGKILL the last of N direct servers / queue gateways, start it again 10 s later; its clients reconnect to another",
		hop: stack.HopServer, instances: 2, Window: 10 * time.Second, inject: kill(syscall.SIGKILL), recover: restart},
}

// NoisyNeighbour is the scenario of a flood beside the trace
// (docs/reliability.md, "A noisy neighbour").
const NoisyNeighbour = "noisy-neighbour"

// floodMargin lengthens the flood beyond the replay's schedule by about
// the driver's time to connect before it (the flood starts first), so the
// last neighbours' sends still meet it. The flood stops when the replay
// ends, whichever comes first.
const floodMargin = 5 * time.Second

// flood starts e's flood on e's targets for the replay's span.
func flood(ctx context.Context, e *env) (func() string, error) {
	_, recs, err := FloodTrace(e.flood, e.span)
	if err != nil {
		return nil, err
	}
	fl, err := startFlood(ctx, e.stack.Targets(), e.secret, recs)
	if err != nil {
		return nil, err
	}
	return func() string {
		st := fl.finish()
		return st.String()
	}, nil
}

// Scenarios returns the known scenarios, in priority order.
func Scenarios() []Scenario { return slices.Clone(scenarios) }

// ScenarioNames returns the names of the known scenarios, in order.
func ScenarioNames() []string {
	var out []string
	for _, s := range scenarios {
		out = append(out, s.Name)
	}
	return out
}

// DefaultPaths returns the paths chaos runs when Config.Paths is empty.
func DefaultPaths() []string { return []string{"direct", "queue"} }

// DefaultFaultAt is the fraction of the replay's span at which a fault is
// injected.
const DefaultFaultAt = 0.3

// Config configures a chaos run.
type Config struct {
	// Stack starts each path's processes (Exe and LogDir are required;
	// each scenario's logs go to a folder of LogDir named for it).
	Stack stack.Config
	// Replay is the trace and how it is replayed (Catalog is required).
	Replay stack.Replay
	// Paths to run, by variant name. Empty means DefaultPaths.
	Paths []string
	// Scenarios to run, by name (default all).
	Scenarios []string
	// FaultAt is the fraction of the replay's span (within Limit and
	// Duration) at which the fault is injected. Zero means DefaultFaultAt.
	FaultAt float64
	// Windows overrides scenarios' windows by name (tests use it).
	Windows map[string]time.Duration
	// Flood is the noisy-neighbour scenario's flood (zero values: its
	// defaults).
	Flood Flood
}

// Run runs every selected scenario on every selected path it applies to
// and returns one results.Run whose Paths carry Fault labels. What was
// measured before an error is returned with it.
func Run(ctx context.Context, cfg Config) (*results.Run, error) {
	if cfg.FaultAt == 0 {
		cfg.FaultAt = DefaultFaultAt
	}
	if !(cfg.FaultAt > 0 && cfg.FaultAt < 1) {
		return nil, fmt.Errorf("--fault-at %v: must be between 0 and 1, a fraction of the replay (0 = %v)", cfg.FaultAt, DefaultFaultAt)
	}
	var scens []Scenario
	names := cfg.Scenarios
	if len(names) == 0 {
		names = ScenarioNames()
	}
	for _, n := range names {
		i := slices.IndexFunc(scenarios, func(s Scenario) bool { return s.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("chaos: unknown scenario %q; known: %s", n, strings.Join(ScenarioNames(), ","))
		}
		s := scenarios[i]
		if w, ok := cfg.Windows[n]; ok {
			s.Window = w
		}
		scens = append(scens, s)
	}
	paths := cfg.Paths
	if len(paths) == 0 {
		paths = DefaultPaths()
	}
	var err error
	if cfg.Flood, err = cfg.Flood.withDefaults(); err != nil {
		return nil, err
	}
	ss, err := stack.NewSession(cfg.Stack, cfg.Replay, paths)
	if err != nil {
		return nil, err
	}
	extra := map[string]string{
		"mode": "chaos", "scenarios": strings.Join(names, ","), "fault_at": strconv.FormatFloat(cfg.FaultAt, 'g', -1, 64),
	}
	if slices.Contains(names, NoisyNeighbour) {
		extra["flood"] = cfg.Flood.String()
	}
	run := &results.Run{Schema: results.SchemaVersion, Meta: ss.Meta(extra)}
	faultAt := time.Duration(cfg.FaultAt * float64(ss.Replay.Span(ss.Records)))
	runs, k := 0, 0 // scenario-path pairs to run, and the one running
	for _, s := range scens {
		for _, v := range ss.Variants {
			if s.AppliesTo(v) {
				runs++
			}
		}
	}
	for _, s := range scens {
		for _, v := range ss.Variants {
			if !s.AppliesWith(v, ss.Stack) {
				continue
			}
			k++
			ss.Replay.Label = fmt.Sprintf("%s on %s (%d of %d)", s.Name, v.Name, k, runs)
			p, note, err := runOne(ctx, ss, s, v, faultAt, cfg.Flood)
			if p != nil {
				run.Paths = append(run.Paths, p)
			}
			if note != "" {
				run.Meta.Config[s.Name+"/"+v.Name] = note
			}
			if err != nil {
				return run, fmt.Errorf("%s on %s: %w", s.Name, v.Name, err)
			}
			if ctx.Err() != nil {
				return run, ctx.Err()
			}
		}
	}
	return run, nil
}

// runOne runs scenario s on variant v and returns the path's results, and
// what s ran beside the replay did (its beside's note; "" without one).
func runOne(ctx context.Context, ss *stack.Session, s Scenario, v stack.Variant, faultAt time.Duration, fl Flood) (*results.Path, string, error) {
	ss.Replay.Logger.Info("chaos: starting", "scenario", s.Name, "path", v.Name)
	sc := ss.Stack
	sc.MLProfile += s.mlFail
	sc.LogDir = filepath.Join(sc.LogDir, s.Name)
	px := faultproxy.New()
	defer px.Close()
	sc.Via = func(hop, upstream string) (string, error) {
		if !slices.Contains(s.hops, hop) {
			return upstream, nil
		}
		return px.Add(hop, upstream)
	}
	target, _ := s.target(v)
	var (
		window *results.FaultWindow
		note   string
	)
	p, err := stack.Run(ctx, sc, v.Name, func(ctx context.Context, st *stack.Stack) (*results.Path, error) {
		e := &env{component: target.Name, instance: instancesOf(target, sc) - 1, stack: st, px: px,
			secret: []byte(sc.Secret), flood: fl, span: ss.Replay.Span(ss.Records) + floodMargin}
		if s.instances <= 1 {
			e.instance = 0
		}
		var faultErr error
		if s.Whole && s.inject != nil {
			faultErr = s.inject(ctx, e)
		}
		if s.beside != nil && faultErr == nil {
			var stop func() string
			if stop, faultErr = s.beside(ctx, e); faultErr == nil {
				defer func() { note = stop() }()
			}
		}
		type out struct {
			p   *results.Path
			err error
		}
		done := make(chan out, 1)
		go func() {
			p, err := ss.Drive(ctx, st)
			done <- out{p, err}
		}()
		var res out
		if !s.Whole && faultErr == nil {
			timer := time.NewTimer(faultAt)
			select {
			case res = <-done:
				timer.Stop()
				faultErr = errors.New("the replay ended before the fault was injected")
			case <-timer.C:
				window, faultErr = inject(ctx, s, e)
				res = <-done
			}
		} else {
			res = <-done
		}
		return res.p, errors.Join(res.err, faultErr)
	})
	if p != nil {
		p.Fault = s.Name
		p.FaultWindow = window
		summarise(p, window)
	}
	return p, note, err
}

// inject applies s's fault, waits its window, and ends it.
func inject(ctx context.Context, s Scenario, e *env) (*results.FaultWindow, error) {
	w := &results.FaultWindow{Start: time.Now()}
	if err := s.inject(ctx, e); err != nil {
		return w, err
	}
	if s.Window > 0 {
		t := time.NewTimer(s.Window)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	err := s.recover(context.WithoutCancel(ctx), e)
	w.End = time.Now()
	return w, err
}

// summarise sets p's recovery time and latency during and after the
// window from its per-second series (docs/reliability.md). Without a
// window (a whole-run fault) "during" is the whole measured replay.
func summarise(p *results.Path, w *results.FaultWindow) {
	fl := &results.FaultLatency{}
	p.FaultLatency = fl
	if w == nil {
		fl.DuringP50, fl.DuringP99 = agg(p.Series)
		return
	}
	ws := int(w.Start.Sub(p.Start) / time.Second)
	we := int((w.End.Sub(p.Start) + time.Second - 1) / time.Second) // first second wholly after the window
	var pre, during, after []results.Second
	for _, s := range p.Series {
		switch {
		case s.T < ws:
			pre = append(pre, s)
		case s.T < we:
			during = append(during, s)
		default:
			after = append(after, s)
		}
	}
	fl.DuringP50, fl.DuringP99 = agg(during)
	fl.AfterP50, fl.AfterP99 = agg(after)
	p.RecoverySeconds = recovery(pre, after, w.End.Sub(p.Start))
}

// agg returns the delivery-weighted median of the per-second p50s and the
// highest per-second p99.
func agg(ss []results.Second) (p50, p99 int64) {
	type v struct {
		p50 int64
		n   int
	}
	var vs []v
	total := 0
	for _, s := range ss {
		if s.Delivered == 0 {
			continue
		}
		vs = append(vs, v{s.P50, s.Delivered})
		total += s.Delivered
		p99 = max(p99, s.P99)
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].p50 < vs[j].p50 })
	acc := 0
	for _, x := range vs {
		acc += x.n
		if 2*acc >= total {
			return x.p50, p99
		}
	}
	return 0, p99
}

// recovery is the time from the window's end (end, from the series' start)
// to the start of the first second after it that begins a run of 3 seconds
// (or the rest of the series, if shorter) in which each second with
// deliveries has a p99 below 2× the pre-fault baseline (the median of the
// pre-fault seconds' p99s); -1 if there is none. A second without
// deliveries never starts the run.
func recovery(pre, after []results.Second, end time.Duration) float64 {
	var p99s []int64
	for _, s := range pre {
		if s.Delivered > 0 {
			p99s = append(p99s, s.P99)
		}
	}
	if len(p99s) == 0 || len(after) == 0 {
		return -1
	}
	slices.Sort(p99s)
	limit := 2 * p99s[len(p99s)/2]
	ok := func(s results.Second) bool { return s.Delivered == 0 || s.P99 < limit }
	for i, s := range after {
		if s.Delivered == 0 || !ok(s) {
			continue
		}
		good := true
		for j := i; j < min(i+3, len(after)); j++ {
			good = good && ok(after[j])
		}
		if good {
			return max(0, (time.Duration(s.T)*time.Second - end).Seconds())
		}
	}
	return -1
}
