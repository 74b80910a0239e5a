// Package compare runs the product's main job: it starts each path's
// components as separate processes on loopback (package stack: the
// embedded SQS endpoint, the ML service, the direct server, the queue
// gateway and workers, and a bare WebSocket echo server as the floor),
// replays one trace through each path in turn with the open-loop driver,
// and gathers the results, with each process's CPU time and peak memory
// and the machine's noise, into one results document. Repeated, it runs
// the paths interleaved (A B C A B C …), each repeat on fresh processes,
// and keeps every repeat (results.PoolRepeats).
package compare

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/stack"
)

// DefaultSQSLatency is the SQS latency profile a comparison applies when
// Config.Stack.SQSLatency is empty: "region", a same-region round trip
// (queuemode/sqsd.RegionLatency). The embedded endpoint on loopback
// answers in about 0.3 ms, faster than any real deployment, which would
// flatter the queue path (docs/methodology.md, "SQS latency"). Only paths
// that run an SQS endpoint (the queue variants) are affected.
const DefaultSQSLatency = "region"

// Config configures a comparison.
type Config struct {
	// Stack starts each path's processes (Exe and LogDir are required).
	// An empty SQSLatency means DefaultSQSLatency, not the stack's "none".
	Stack stack.Config
	// Replay is the trace and how it is replayed (Catalog is required).
	Replay stack.Replay
	// Paths to run, in order, by variant name (stack.Names). Empty means
	// stack.DefaultPaths. Each runs its variant's default span
	// (stack.Variant.Span) unless Replay sets Duration or Limit.
	Paths []string
	// Repeat runs every path this many times, interleaved: repeat 1 of
	// each path in order, then repeat 2 of each, and so on, each on fresh
	// processes, with the logs of repeat k in LogDir/repeat-k. Zero means
	// 1 (no repeats recorded).
	Repeat int
}

// Run replays the trace through each configured path (Repeat times,
// interleaved) and returns the run. A path that fails to start or run is
// reported in the error; what was measured before it is still returned.
func Run(ctx context.Context, cfg Config) (*results.Run, error) {
	if cfg.Repeat < 0 {
		return nil, fmt.Errorf("--repeat %d: must be ≥ 1 (0 = 1)", cfg.Repeat)
	}
	n := max(cfg.Repeat, 1)
	paths := cfg.Paths
	if len(paths) == 0 {
		paths = stack.DefaultPaths()
	}
	cfg.Stack.SQSLatency = cmp.Or(cfg.Stack.SQSLatency, DefaultSQSLatency)
	s, err := stack.NewSession(cfg.Stack, cfg.Replay, paths)
	if err != nil {
		return nil, err
	}
	extra := map[string]string{"repeat": strconv.Itoa(n)}
	if sp := s.Spans(); sp != "" {
		extra["spans"] = sp
	}
	run := &results.Run{Schema: results.SchemaVersion, Meta: s.Meta(extra)}
	reps := make([][]*results.Path, len(s.Variants))
	err = func() error {
		for k := 1; k <= n; k++ {
			for i, v := range s.Variants {
				sc := s.Stack
				if n > 1 {
					sc.LogDir = filepath.Join(sc.LogDir, fmt.Sprintf("repeat-%d", k))
				}
				announce(s, k, n, i, v.Name)
				p, err := stack.Run(ctx, sc, v.Name, s.DriveVariant(v))
				if p != nil {
					reps[i] = append(reps[i], p)
				}
				if err != nil {
					return repeatErr(k, n, v.Name, err)
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
			}
		}
		return nil
	}()
	perr := assemble(run, reps, n > 1, s.Stack.DriftThreshold)
	judgeSteady(run)
	if err == nil {
		err = perr
	}
	return run, err
}

// announce names the run about to start in the log and in the progress
// label: the path and, with repeats, which repeat of how many.
func announce(s *stack.Session, k, n, i int, path string) {
	runs := n * len(s.Variants)
	at := (k-1)*len(s.Variants) + i + 1
	if n > 1 {
		s.Replay.Logger.Info("starting path", "path", path, "repeat", k, "repeats", n)
		s.Replay.Label = fmt.Sprintf("%s (repeat %d of %d, run %d of %d)", path, k, n, at, runs)
		return
	}
	s.Replay.Logger.Info("starting path", "path", path)
	s.Replay.Label = fmt.Sprintf("%s (path %d of %d)", path, at, runs)
}

// repeatErr names the path, and the repeat when there are several, that
// failed.
func repeatErr(k, n int, path string, err error) error {
	if n > 1 {
		return fmt.Errorf("path %s, repeat %d of %d: %w", path, k, n, err)
	}
	return fmt.Errorf("path %s: %w", path, err)
}

// assemble puts the measured paths into run: each path as measured, or,
// with repeats, each pooled from its repeats with their noise pooled and
// the echo floor's drift across repeats on every path.
func assemble(run *results.Run, reps [][]*results.Path, repeated bool, driftThreshold float64) error {
	for _, rs := range reps {
		if len(rs) == 0 {
			continue
		}
		if !repeated {
			run.Paths = append(run.Paths, rs[0])
			continue
		}
		p, err := results.PoolRepeats(rs)
		if err != nil {
			return err
		}
		p.Noise = stack.PoolNoise(p.Repeats)
		run.Paths = append(run.Paths, p)
	}
	if drift, ok := stack.FloorDrift(run.Path("echo")); ok {
		for _, p := range run.Paths {
			stack.AddFloorDrift(p, drift, driftThreshold)
		}
	}
	return nil
}
