// Package chaos runs fault scenarios (docs/reliability.md) on the direct and
// queue paths: each scenario on each path on the same trace, components as
// separate processes (package compare) so kills are real, network faults
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
	"io"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chatbench/chatbench/bench/compare"
	"github.com/chatbench/chatbench/bench/driver"
	"github.com/chatbench/chatbench/bench/faultproxy"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/trace"
)

// Scenario is one fault and how it is injected.
type Scenario struct {
	// Name is the scenario's label (results.Path.Fault).
	Name string
	// Desc says what is done, for help texts and reports.
	Desc string
	// Paths are the paths the scenario applies to.
	Paths []string
	// Window is how long the fault lasts once injected; zero for a
	// kill-and-restart (the window then lasts until the component is
	// ready again).
	Window time.Duration
	// Whole marks a fault in effect for the whole replay (no window, no
	// recovery time).
	Whole bool

	hops    []string // proxied hops the scenario needs
	mlFail  string   // appended to the ML profile
	inject  func(ctx context.Context, e *env) error
	recover func(ctx context.Context, e *env) error
}

// env is what a scenario acts on.
type env struct {
	path  string
	stack *compare.Stack
	px    *faultproxy.Set
	toxic string
}

func serverOf(path string) string {
	if path == "queue" {
		return "gateway"
	}
	return "server"
}

const killGrace = 10 * time.Second

func kill(component func(path string) string, sig syscall.Signal) func(ctx context.Context, e *env) error {
	return func(ctx context.Context, e *env) error {
		return e.stack.Signal(component(e.path), sig, killGrace)
	}
}

func restart(component func(path string) string) func(ctx context.Context, e *env) error {
	return func(ctx context.Context, e *env) error { return e.stack.Restart(ctx, component(e.path)) }
}

func worker(string) string { return "worker" }

// Scenarios are the known scenarios, in priority order.
var Scenarios = []Scenario{
	{Name: "worker-kill", Desc: "SIGKILL the queue worker, restart it 5 s later", Paths: []string{"queue"}, Window: 5 * time.Second,
		inject: kill(worker, syscall.SIGKILL), recover: restart(worker)},
	{Name: "sqs-down", Desc: "SQS endpoint unreachable for 10 s (proxy down: connections refused and closed), then back", Paths: []string{"queue"},
		Window: 10 * time.Second, hops: []string{compare.HopSQS},
		inject:  func(_ context.Context, e *env) error { return e.px.Down(compare.HopSQS) },
		recover: func(_ context.Context, e *env) error { return e.px.Up(compare.HopSQS) }},
	{Name: "sqs-latency", Desc: "+20 ms ± 5 ms on every SQS call, whole run", Paths: []string{"queue"}, Whole: true, hops: []string{compare.HopSQS},
		inject: func(_ context.Context, e *env) (err error) {
			e.toxic, err = e.px.Latency(compare.HopSQS, 20*time.Millisecond, 5*time.Millisecond)
			return err
		}},
	{Name: "ml-errors", Desc: "ML service fails 5% of calls (503), whole run", Paths: []string{"direct", "queue"}, Whole: true, mlFail: ";*=fail:5%"},
	{Name: "ml-spike", Desc: "+3 s on every ML response for 10 s (proxy latency)", Paths: []string{"direct", "queue"}, Window: 10 * time.Second,
		hops: []string{compare.HopML},
		inject: func(_ context.Context, e *env) (err error) {
			e.toxic, err = e.px.Latency(compare.HopML, 3*time.Second, 0)
			return err
		},
		recover: func(_ context.Context, e *env) error { return e.px.Remove(compare.HopML, e.toxic) }},
	{Name: "server-restart", Desc: "SIGTERM the direct server / queue gateway, start it again on the same port", Paths: []string{"direct", "queue"},
		inject: kill(serverOf, syscall.SIGTERM), recover: restart(serverOf)},
	{Name: "server-kill", Desc: "SIGKILL the direct server / queue gateway, start it again on the same port", Paths: []string{"direct", "queue"},
		inject: kill(serverOf, syscall.SIGKILL), recover: restart(serverOf)},
	{Name: "client-drops", Desc: "reset 5% of client connections (proxy driver→server) for 10 s", Paths: []string{"direct", "queue"},
		Window: 10 * time.Second, hops: []string{compare.HopServer},
		inject: func(_ context.Context, e *env) (err error) {
			e.toxic, err = e.px.ResetPeers(compare.HopServer, 0.05)
			return err
		},
		recover: func(_ context.Context, e *env) error { return e.px.Remove(compare.HopServer, e.toxic) }},
}

// ScenarioNames returns the names of Scenarios, in order.
func ScenarioNames() []string {
	var out []string
	for _, s := range Scenarios {
		out = append(out, s.Name)
	}
	return out
}

// Config configures a chaos run.
type Config struct {
	// Compare holds the stack and driver settings (Exe, trace, Speed, Pace,
	// MLProfile, Workers, Drain, NoResend, Secret, LogDir, Catalog, ...).
	// Compare.Paths selects the paths (default direct and queue).
	Compare compare.Config
	// Scenarios to run, by name (default all).
	Scenarios []string
	// FaultAt is the fraction of the replay's span at which the fault is
	// injected. Zero means 0.3.
	FaultAt float64
	// Windows overrides scenarios' windows by name (tests use it).
	Windows map[string]time.Duration
}

// Run runs every selected scenario on every selected path it applies to
// and returns one results.Run whose Paths carry Fault labels. What was
// measured before an error is returned with it.
func Run(ctx context.Context, cfg Config) (*results.Run, error) {
	cc := cfg.Compare
	if cc.Exe == "" || cc.LogDir == "" || cc.Catalog == nil {
		return nil, errors.New("chaos: Compare.Exe, LogDir and Catalog are required")
	}
	if cc.Speed == 0 {
		cc.Speed = 2880
	}
	if cc.Pace == 0 {
		cc.Pace = 20
	}
	if cc.Logger == nil {
		cc.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.FaultAt == 0 {
		cfg.FaultAt = 0.3
	}
	paths := cc.Paths
	if len(paths) == 0 {
		paths = []string{"direct", "queue"}
	}
	var scens []Scenario
	names := cfg.Scenarios
	if len(names) == 0 {
		names = ScenarioNames()
	}
	for _, n := range names {
		i := slices.IndexFunc(Scenarios, func(s Scenario) bool { return s.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("chaos: unknown scenario %q; known: %s", n, strings.Join(ScenarioNames(), ","))
		}
		s := Scenarios[i]
		if w, ok := cfg.Windows[n]; ok {
			s.Window = w
		}
		scens = append(scens, s)
	}
	hdr, recs, err := trace.ReadAll(cc.TraceBytes)
	if err != nil {
		return nil, fmt.Errorf("trace %s: %w", cc.TraceName, err)
	}
	if cc.Limit > 0 && len(recs) > cc.Limit {
		recs = recs[:cc.Limit]
	}
	run := &results.Run{
		Schema: results.SchemaVersion,
		Meta: results.NewMeta(cc.TraceName, cc.TraceBytes, len(recs), cc.Speed, true, map[string]string{
			"mode": "chaos", "paths": fmt.Sprint(paths), "scenarios": strings.Join(names, ","),
			"pace": strconv.FormatFloat(cc.Pace, 'g', -1, 64), "ml_profile": cc.MLProfile, "ml_seed": strconv.FormatInt(cc.MLSeed, 10),
			"workers": strconv.Itoa(cc.Workers), "drain": cc.Drain.String(), "limit": strconv.Itoa(cc.Limit),
			"fault_at": strconv.FormatFloat(cfg.FaultAt, 'g', -1, 64), "no_resend": strconv.FormatBool(cc.NoResend),
		}),
	}
	span := replaySpan(recs, cc.Speed, cc.Pace)
	for _, s := range scens {
		for _, path := range paths {
			if !slices.Contains(s.Paths, path) {
				continue
			}
			p, err := runOne(ctx, cc, s, path, hdr, recs, time.Duration(cfg.FaultAt*float64(span)))
			if p != nil {
				run.Paths = append(run.Paths, p)
			}
			if err != nil {
				return run, fmt.Errorf("%s on %s: %w", s.Name, path, err)
			}
			if ctx.Err() != nil {
				return run, ctx.Err()
			}
		}
	}
	return run, nil
}

// replaySpan is when the last message is due, as the driver schedules it.
func replaySpan(recs []trace.Record, speed, pace float64) time.Duration {
	conv := map[string]time.Duration{}
	var span time.Duration
	for _, r := range recs {
		o := r.Offset()
		c, ok := conv[r.Conv]
		if !ok {
			c, conv[r.Conv] = o, o
		}
		at := time.Duration(float64(c)/speed + float64(o-c)/pace)
		span = max(span, at)
	}
	return span
}

// runOne runs scenario s on path and returns the path's results.
func runOne(ctx context.Context, cc compare.Config, s Scenario, path string, h trace.Header, recs []trace.Record, faultAt time.Duration) (*results.Path, error) {
	cc.Logger.Info("chaos: starting", "scenario", s.Name, "path", path)
	cc.MLProfile += s.mlFail
	cc.LogDir = cc.LogDir + "/" + s.Name
	px := faultproxy.New()
	defer px.Close()
	st, err := compare.StartStack(ctx, cc, path, compare.StackOptions{Via: func(hop, upstream string) (string, error) {
		if !slices.Contains(s.hops, hop) {
			return upstream, nil
		}
		return px.Add(hop, upstream)
	}})
	if err != nil {
		return nil, err
	}
	e := &env{path: path, stack: st, px: px}
	var window *results.FaultWindow
	var faultErr error
	if s.Whole && s.inject != nil {
		faultErr = s.inject(ctx, e)
	}

	type out struct {
		p   *results.Path
		err error
	}
	done := make(chan out, 1)
	go func() {
		p, err := driver.Run(ctx, driver.Config{
			Target: st.Target, Secret: []byte(cc.Secret), Path: path, Header: h, Records: recs,
			Speed: cc.Speed, Pace: cc.Pace, Warmup: cc.Warmup, Drain: cc.Drain,
			Catalog: cc.Catalog, Progress: cc.Progress, TTY: cc.TTY, Logger: cc.Logger, NoResend: cc.NoResend,
		})
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
	comps, stopErr := st.Stop()
	p := res.p
	if p != nil {
		p.Components = comps
		p.Fault = s.Name
		p.FaultWindow = window
		summarise(p, window)
	}
	return p, errors.Join(res.err, faultErr, stopErr)
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
