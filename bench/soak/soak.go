// Package soak holds many authenticated WebSocket connections open against a
// chat server for a while — a few of them sending a light mix of messages,
// the rest idle — and checks that the server's goroutines and the memory it
// still holds come back near their baseline once the connections have
// closed.
//
// The memory judged is what the server holds — the Go runtime's heap in use
// plus goroutine stacks — not its RSS, which also counts freed memory the
// runtime has not yet handed back to the OS (RSS is recorded beside it).
// Held memory never understates what the server still references, so a
// sample within the limit is a pass whether or not a collection has run;
// above the limit the soak keeps polling, until the server's runtime has
// collected (an idle Go program does at least every 2 minutes) and the
// figure is exact, or the settle deadline passes.
//
// The server is one it starts (a path's components, package stack) or one
// already running; it is observed through a Sampler: by default its
// Prometheus /metrics (client_golang's Go and process collectors). What the
// soak measured is a results.Run whose one path carries a results.Soak,
// rendered by package report like any other run.
//
// Files: config.go (settings and thresholds), sample.go (observing the
// server), load.go (the connections and their traffic), soak.go (the
// phases).
package soak

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"sync"
	"time"

	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/stack"
)

// Run soaks the server: Target's, or the one it starts when Target is
// empty. It returns a run with whatever was measured and an error when the
// soak could not be carried out; the run's path says in its Soak whether
// the server came back (results.Soak.OK).
func Run(ctx context.Context, cfg Config) (*results.Run, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	started := time.Now().UTC()
	settings := cfg.settings()
	var (
		p   *results.Path
		err error
	)
	if cfg.Target == "" {
		sc, scErr := cfg.Stack.WithDefaults()
		if scErr != nil {
			return nil, scErr
		}
		maps.Copy(settings, sc.Settings())
		p, err = stack.Run(ctx, sc, cfg.Path, func(ctx context.Context, st *stack.Stack) (*results.Path, error) {
			c := cfg
			c.Target = st.Target()
			cfg.progress("started %s (logs in %s)", c.Target, sc.LogDir)
			return hold(ctx, c)
		})
	} else {
		self := stack.MeterSelf()
		p, err = hold(ctx, cfg)
		if p != nil {
			p.Components = []results.Component{self()}
		}
	}
	meta := results.NewMeta("", nil, 0, 0, cfg.Target == "", settings)
	meta.TraceDigest = ""  // no trace was replayed
	meta.Started = started // NewMeta's clock reads the end of the soak
	run := &results.Run{Schema: results.SchemaVersion, Meta: meta}
	if p != nil {
		run.Paths = []*results.Path{p}
	}
	return run, err
}

// hold runs the soak's phases against cfg.Target: baseline, connect, hold,
// close, settle.
func hold(ctx context.Context, cfg Config) (*results.Path, error) {
	if cfg.Sampler == nil {
		metrics := cfg.Metrics
		if metrics == "" {
			var err error
			if metrics, err = MetricsURL(cfg.Target); err != nil {
				return nil, err
			}
		}
		cfg.Sampler = MetricsSampler(metrics)
	}
	s := &results.Soak{Conns: cfg.Conns, Active: cfg.Active}
	p := &results.Path{Name: cfg.Path, Target: cfg.Target, Soak: s}
	var err error
	if s.Baseline, err = cfg.Sampler(ctx); err != nil {
		return nil, fmt.Errorf("soak: baseline sample: %w", err)
	}
	if cfg.HeldMargin >= 0 && s.Baseline.HeapInuse == 0 {
		return nil, fmt.Errorf("soak: the server's metrics have no go_memstats_heap_inuse_bytes, so the memory it holds cannot be judged: register client_golang's Go collector, or pass --held-margin -1 to check goroutines only")
	}
	s.Peak = s.Baseline
	cfg.progress("baseline: %s", sampleLine(s.Baseline))

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	var cnt counters
	var readers sync.WaitGroup
	conns, connErr := connect(ctx, &cfg, &cnt, &readers)
	s.Opened = len(conns)
	if connErr != nil {
		closeAll(conns, &readers)
		return p, connErr
	}
	cfg.progress("opened %d connections (%d active)", len(conns), cfg.Active)

	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	s.DriverBytesPerConn = float64(int64(after.HeapInuse+after.StackInuse)-int64(before.HeapInuse+before.StackInuse)) / float64(len(conns))

	// Hold: send on the active subset and sample, until Duration.
	p.Start = time.Now()
	holdCtx, stopHold := context.WithTimeout(ctx, cfg.Duration)
	var sender sync.WaitGroup
	sender.Go(func() { send(holdCtx, &cfg, conns[:cfg.Active], &cnt) })
	tick := time.NewTicker(cfg.Every)
hold:
	for {
		select {
		case <-holdCtx.Done():
			break hold
		case <-tick.C:
			smp, err := cfg.Sampler(holdCtx)
			if err != nil {
				if holdCtx.Err() == nil {
					s.SampleErrors++
				}
				continue
			}
			s.Peak = peak(s.Peak, smp)
			cfg.progress("held %s: %s; sent %d, received %d, errors %d, disconnects %d",
				time.Since(p.Start).Round(time.Second), sampleLine(smp), cnt.sent.Load(), cnt.recv.Load(), cnt.errs.Load(), cnt.disc.Load())
		}
	}
	tick.Stop()
	stopHold()
	sender.Wait()
	p.End = time.Now()
	s.HeldUS = p.End.Sub(p.Start).Microseconds()
	// The last sample before the close is also the reference for the
	// collections counted after it.
	closeGCs := int64(-1)
	if smp, err := cfg.Sampler(ctx); err == nil {
		s.Peak = peak(s.Peak, smp)
		closeGCs = smp.GCCycles
	}

	closeAll(conns, &readers)
	closed := time.Now()
	cfg.progress("closed all connections; waiting up to %s for the server to settle", cfg.Settle)
	settleErr := settle(ctx, &cfg, s, closeGCs)
	s.SettleUS = time.Since(closed).Microseconds()
	cfg.progress("after %s: %s, %d since the close", time.Since(closed).Round(100*time.Millisecond), sampleLine(s.After), s.GCsAfterClose)
	s.Sent, s.Received, s.Errors, s.Disconnects = cnt.sent.Load(), cnt.recv.Load(), cnt.errs.Load(), cnt.disc.Load()
	if s.After.CPUSeconds > 0 {
		s.ServerCPUSeconds = s.After.CPUSeconds - s.Baseline.CPUSeconds
	}
	p.Messages.Sent = int(s.Sent)
	if held := p.End.Sub(p.Start).Seconds(); held > 0 {
		p.Messages.PerSecond = float64(s.Sent) / held
	}
	return p, settleErr
}

// settle polls the server until its goroutines and held memory are back
// within the limits, or cfg.Settle passes, and records the last sample in
// s. closeGCs is the server's count of collections just before the close
// (-1 = unknown: the first poll's is taken instead).
func settle(ctx context.Context, cfg *Config, s *results.Soak, closeGCs int64) error {
	s.GoroutineLimit = s.Baseline.Goroutines + cfg.GoroutineMargin
	s.RSSLimit, s.HeldLimit = -1, -1
	if cfg.HeldMargin >= 0 {
		growth := float64(s.Peak.Held() - s.Baseline.Held())
		s.HeldLimit = s.Baseline.Held() + max(cfg.HeldMargin, int64(cfg.HeldFraction*growth))
	}
	deadline := time.Now().Add(cfg.Settle)
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		smp, err := cfg.Sampler(ctx)
		if err == nil {
			if closeGCs < 0 {
				closeGCs = smp.GCCycles
			}
			s.After = smp
			s.GCsAfterClose = smp.GCCycles - closeGCs
			s.GoroutinesOK = smp.Goroutines <= s.GoroutineLimit
			// Held memory bounds what the server references from above, so
			// within the limit is a pass without waiting for a collection.
			s.MemoryOK = s.HeldLimit < 0 || smp.Held() <= s.HeldLimit
			if s.GoroutinesOK && s.MemoryOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// sampleLine is a sample in a progress line.
func sampleLine(s results.SoakSample) string {
	return fmt.Sprintf("%d goroutines, heap+stacks %s, RSS %s, %d GCs", s.Goroutines, mib(s.Held()), mib(s.RSS), s.GCCycles)
}
