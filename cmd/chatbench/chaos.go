package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/chatbench/chatbench/bench/chaos"
	"github.com/chatbench/chatbench/bench/report"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/stack"
	"github.com/chatbench/chatbench/bench/trace"
)

func newChaosCmd(g *globals) *cobra.Command {
	var (
		cfg       chaos.Config
		tracePath string
		outDir    string
	)
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Run fault scenarios on the direct and queue paths and print the fault matrix",
		Long: `Run each fault scenario on each path it applies to, on the same trace, with every
component a separate process on loopback (kills are real) and network faults
through embedded fault proxies (toxiproxy) between components. The fault is
injected 30% into the replay. By default the trace is a generated two-hour
slice (about 1,200 messages, ~50 visits) played at --speed 2880 --pace 40:
about 50-80 s per scenario and path, some 15 minutes for the whole matrix.

Scenarios: ` + strings.Join(chaos.ScenarioNames(), ", ") + `
(see docs/reliability.md for how each is injected and what each figure means).

It prints the fault matrix (delivered / lost / dup / reordered, recovery time,
p99 during / after the fault) and writes results.json, report.html and
report.md, plus each component's log, to the output folder it names.

noisy-neighbour replays the trace beside a flood (--flood-users users, each
on --flood-conns connections sending --flood-rate texts/s on each, every
connection under the front door's rate limit) and prints, below the matrix,
what the trace's users — the neighbours — saw: ML and sync p50 / p99 and
their refusals, and what the flood was told.`,
		Example: `  chatbench chaos
  chatbench chaos --paths queue --scenarios worker-kill,sqs-down
  chatbench chaos --instances 2 --scenarios redis-down,redis-restart,instance-kill
  chatbench chaos --no-resend --out out/chaos-no-resend
  chatbench chaos --scenarios noisy-neighbour --limit 600`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			if err := positive(cmd, "speed", "pace", "workers", "fault-at", "flood-users", "flood-conns", "flood-rate"); err != nil {
				return err
			}
			for _, p := range cfg.Paths {
				if _, err := stack.Lookup(p); err != nil {
					return fmt.Errorf("--paths: %w", err)
				}
			}
			rp := &cfg.Replay
			if tracePath != "" {
				if rp.TraceBytes, err = os.ReadFile(tracePath); err != nil {
					return fmt.Errorf("--trace: %w", err)
				}
				rp.TraceName = filepath.Base(tracePath)
			} else {
				h, recs, err := trace.Generate(trace.Params{Days: 2.0 / 24, Seed: 1, Name: "two-hours"})
				if err != nil {
					return err
				}
				var b bytes.Buffer
				if err := trace.Write(&b, h, recs, false); err != nil {
					return err
				}
				rp.TraceName, rp.TraceBytes = "generated two hours (seed 1)", b.Bytes()
			}
			if outDir, err = prepareStack(cmd, &cfg.Stack, rp, outDir, "chaos", log); err != nil {
				return err
			}
			// The driver runs in this process: give it its runtime settings.
			defer tuneRuntimeForDriver(0)()
			run, runErr := chaos.Run(cmd.Context(), cfg)
			if run == nil {
				return runErr
			}
			tables := func(w io.Writer, run *results.Run) error {
				return errors.Join(report.FaultTable(w, run), chaos.NeighbourTable(w, run))
			}
			return errors.Join(runErr, publish(cmd.OutOrStdout(), outDir, cfg.Stack.LogDir, run, tables, "docs/reliability.md"))
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&cfg.Paths, "paths", chaos.DefaultPaths(), "paths to run: "+strings.Join(stack.Names(), ", ")+" (a scenario runs on the paths that have what it acts on)")
	f.StringSliceVar(&cfg.Scenarios, "scenarios", chaos.ScenarioNames(), "scenarios to run, in order")
	f.StringVar(&tracePath, "trace", "", "trace to replay (default: a generated two-hour trace, ~1,200 messages)")
	f.Float64Var(&cfg.Replay.Speed, "speed", stack.DefaultSpeed, "compression of when conversations start")
	f.Float64Var(&cfg.Replay.Pace, "pace", 40, "compression of time within a conversation")
	f.Float64Var(&cfg.FaultAt, "fault-at", chaos.DefaultFaultAt, "fraction of the replay's span (within --limit and --duration) at which the fault is injected")
	f.StringVar(&cfg.Stack.MLProfile, "ml-profile", stack.DefaultMLProfile, "ML latency/failure profile (ml-errors appends \";*=fail:5%\")")
	f.Int64Var(&cfg.Stack.MLSeed, "ml-seed", 1, "seed of the ML latency and failure draws")
	f.IntVar(&cfg.Stack.Workers, "workers", stack.DefaultWorkers, "queue path: worker pollers")
	f.DurationVar(&cfg.Replay.Drain, "drain", 35*time.Second, "how long to wait for outstanding deliveries after the last send (35 s: beyond the SQS visibility timeout, 30 s, so redelivered jobs count)")
	f.DurationVar(&cfg.Replay.Duration, "duration", 0, "stop scheduling after this wall time per scenario and path (0 = whole trace)")
	f.IntVar(&cfg.Replay.Limit, "limit", 0, "replay at most this many messages (0 = all)")
	f.BoolVar(&cfg.Replay.NoResend, "no-resend", false, "driver: do not reconnect, resend or resume (see docs/protocol.md, Resending and Resuming)")
	f.StringVar(&cfg.Stack.Secret, "secret", devSecret, "token secret given to the servers and used by the driver")
	f.StringVar(&outDir, "out", "", "output folder (default out/chaos-<time>)")
	f.IntVar(&cfg.Flood.Users, "flood-users", chaos.DefaultFloodUsers, "noisy-neighbour: users flooding beside the trace")
	f.IntVar(&cfg.Flood.Conns, "flood-conns", chaos.DefaultFloodConns, "noisy-neighbour: connections of each flooding user, each in a conversation of its own (at most the servers' --max-conns-per-user)")
	f.Float64Var(&cfg.Flood.Rate, "flood-rate", chaos.DefaultFloodRate, "noisy-neighbour: texts per second on each flooding connection (under the servers' --rate-limit)")
	topologyFlags(f, &cfg.Stack)
	addProgress(cmd, new(string))
	completeStackFlags(cmd)
	completeList(cmd, "scenarios", chaos.ScenarioNames())
	return cmd
}

// topologyFlags registers compare's and chaos's --instances and --broker.
func topologyFlags(f *pflag.FlagSet, sc *stack.Config) {
	f.IntVar(&sc.Scale, "instances", 1, "instances of each path's front door (direct servers; queue gateways, each with a worker), the driver's connections spread over them; more than 1 shares a Redis broker the run starts (Debian's redis-server)")
	f.StringVar(&sc.Broker, "broker", "", "what the front doors share: memory, or redis (a redis-server the run starts); default memory with one instance, redis with several")
}
