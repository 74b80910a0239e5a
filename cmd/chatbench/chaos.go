package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatbench/chatbench/bench/chaos"
	"github.com/chatbench/chatbench/bench/report"
	"github.com/chatbench/chatbench/bench/trace"
)

func newChaosCmd(g *globals) *cobra.Command {
	var (
		cfg       chaos.Config
		paths     []string
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
report.md, plus each component's log, to the output folder it names.`,
		Example: `  chatbench chaos
  chatbench chaos --paths queue --scenarios worker-kill,sqs-down
  chatbench chaos --no-resend --out out/chaos-no-resend`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			for _, p := range paths {
				if p != "direct" && p != "queue" {
					return fmt.Errorf("--paths: unknown path %q; use direct,queue", p)
				}
			}
			cc := &cfg.Compare
			cc.Paths = paths
			if tracePath != "" {
				if cc.TraceBytes, err = os.ReadFile(tracePath); err != nil {
					return fmt.Errorf("--trace: %w", err)
				}
				cc.TraceName = filepath.Base(tracePath)
			} else {
				h, recs, err := trace.Generate(trace.Params{Days: 2.0 / 24, Seed: 1, Name: "two-hours"})
				if err != nil {
					return err
				}
				var b bytes.Buffer
				if err := trace.Write(&b, h, recs, false); err != nil {
					return err
				}
				cc.TraceName, cc.TraceBytes = "generated two hours (seed 1)", b.Bytes()
			}
			if outDir, err = prepareStack(cmd, cc, outDir, "chaos", log); err != nil {
				return err
			}
			run, runErr := chaos.Run(cmd.Context(), cfg)
			if run == nil {
				return runErr
			}
			return errors.Join(runErr, publish(cmd.OutOrStdout(), outDir, cc.LogDir, run, report.FaultTable, "docs/reliability.md"))
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&paths, "paths", []string{"direct", "queue"}, "paths to run: direct, queue")
	f.StringSliceVar(&cfg.Scenarios, "scenarios", chaos.ScenarioNames(), "scenarios to run, in order")
	f.StringVar(&tracePath, "trace", "", "trace to replay (default: a generated two-hour trace, ~1,200 messages)")
	f.Float64Var(&cfg.Compare.Speed, "speed", 2880, "compression of when conversations start")
	f.Float64Var(&cfg.Compare.Pace, "pace", 40, "compression of time within a conversation")
	f.Float64Var(&cfg.FaultAt, "fault-at", 0.3, "fraction of the replay's span at which the fault is injected")
	f.StringVar(&cfg.Compare.MLProfile, "ml-profile", "default", "ML latency/failure profile (ml-errors appends \";*=fail:5%\")")
	f.Int64Var(&cfg.Compare.MLSeed, "ml-seed", 1, "seed of the ML latency and failure draws")
	f.IntVar(&cfg.Compare.Workers, "workers", 4, "queue path: worker pollers")
	f.DurationVar(&cfg.Compare.Drain, "drain", 35*time.Second, "how long to wait for outstanding deliveries after the last send (35 s: beyond the SQS visibility timeout, 30 s, so redelivered jobs count)")
	f.IntVar(&cfg.Compare.Limit, "limit", 0, "replay at most this many messages (0 = all)")
	f.BoolVar(&cfg.Compare.NoResend, "no-resend", false, "driver: do not reconnect, resend or resume (see docs/protocol.md, Resending and Resuming)")
	f.StringVar(&cfg.Compare.Secret, "secret", devSecret, "token secret given to the servers and used by the driver")
	f.StringVar(&outDir, "out", "", "output folder (default out/chaos-<time>)")
	return cmd
}
