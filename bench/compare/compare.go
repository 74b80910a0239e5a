// Package compare runs the product's main job: it starts each path's
// components as separate processes on loopback (package stack: the
// embedded SQS endpoint, the ML service, the direct server, the queue
// gateway and workers, and a bare WebSocket echo server as the floor),
// replays one trace through each path in turn with the open-loop driver,
// and gathers the results, with each process's CPU time and peak memory,
// into one results document.
package compare

import (
	"context"
	"fmt"

	"github.com/chatbench/chatbench/bench/driver"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/stack"
	"github.com/chatbench/chatbench/bench/trace"
)

// Config configures a comparison.
type Config struct {
	// Stack starts each path's processes (Exe and LogDir are required).
	Stack stack.Config
	// Replay is the trace and how it is replayed (Catalog is required).
	Replay stack.Replay
	// Paths to run, in order, by variant name (stack.Names). Empty means
	// every variant.
	Paths []string
}

// Run replays the trace through each configured path and returns the run.
// A path that fails to start or run is reported in the error; the paths
// measured before it are still returned.
func Run(ctx context.Context, cfg Config) (*results.Run, error) {
	sc, err := cfg.Stack.WithDefaults()
	if err != nil {
		return nil, err
	}
	rp, err := cfg.Replay.WithDefaults()
	if err != nil {
		return nil, err
	}
	paths := cfg.Paths
	if len(paths) == 0 {
		paths = stack.Names()
	}
	for _, name := range paths {
		if _, err := stack.Lookup(name); err != nil {
			return nil, fmt.Errorf("compare: %w", err)
		}
	}
	hdr, recs, err := rp.Load()
	if err != nil {
		return nil, err
	}
	run := &results.Run{Schema: results.SchemaVersion, Meta: rp.Meta(sc, len(recs), map[string]string{"paths": fmt.Sprint(paths)})}
	for _, name := range paths {
		p, err := runPath(ctx, sc, rp, name, hdr, recs)
		if p != nil {
			run.Paths = append(run.Paths, p)
		}
		if err != nil {
			return run, fmt.Errorf("path %s: %w", name, err)
		}
		if ctx.Err() != nil {
			return run, ctx.Err()
		}
	}
	return run, nil
}

// runPath replays recs through path name on its own stack.
func runPath(ctx context.Context, sc stack.Config, rp stack.Replay, name string, h trace.Header, recs []trace.Record) (*results.Path, error) {
	rp.Logger.Info("starting path", "path", name)
	return stack.Run(ctx, sc, name, func(ctx context.Context, st *stack.Stack) (*results.Path, error) {
		return driver.Run(ctx, rp.Driver(st.Target(), name, []byte(sc.Secret), h, recs))
	})
}
