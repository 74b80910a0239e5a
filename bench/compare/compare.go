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

	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/stack"
)

// Config configures a comparison.
type Config struct {
	// Stack starts each path's processes (Exe and LogDir are required).
	Stack stack.Config
	// Replay is the trace and how it is replayed (Catalog is required).
	Replay stack.Replay
	// Paths to run, in order, by variant name (stack.Names). Empty means
	// stack.DefaultPaths. Each runs its variant's default span
	// (stack.Variant.Span) unless Replay sets Duration or Limit.
	Paths []string
}

// Run replays the trace through each configured path and returns the run.
// A path that fails to start or run is reported in the error; the paths
// measured before it are still returned.
func Run(ctx context.Context, cfg Config) (*results.Run, error) {
	paths := cfg.Paths
	if len(paths) == 0 {
		paths = stack.DefaultPaths()
	}
	s, err := stack.NewSession(cfg.Stack, cfg.Replay, paths)
	if err != nil {
		return nil, err
	}
	extra := map[string]string{}
	if sp := s.Spans(); sp != "" {
		extra["spans"] = sp
	}
	run := &results.Run{Schema: results.SchemaVersion, Meta: s.Meta(extra)}
	for _, v := range s.Variants {
		s.Replay.Logger.Info("starting path", "path", v.Name)
		p, err := stack.Run(ctx, s.Stack, v.Name, s.DriveVariant(v))
		if p != nil {
			run.Paths = append(run.Paths, p)
		}
		if err != nil {
			return run, fmt.Errorf("path %s: %w", v.Name, err)
		}
		if ctx.Err() != nil {
			return run, ctx.Err()
		}
	}
	return run, nil
}
