package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatbench/chatbench/bench/report"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/stack"
	"github.com/chatbench/chatbench/bench/sweep"
	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat/jobs"
)

// anyChanged reports whether any of the named flags was given.
func anyChanged(cmd *cobra.Command, names ...string) bool {
	for _, n := range names {
		if cmd.Flags().Changed(n) {
			return true
		}
	}
	return false
}

func newSweepCmd(g *globals) *cobra.Command {
	var (
		cfg       sweep.Config
		tracePath string
		outDir    string
		paces     []float64
		refine    int
	)
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Raise the offered load on each path until its SLO breaks: knees, capacity per core, cost",
		Long: `Find where each design breaks. For each path (by default compare's but the
echo floor: direct, queue, queue-job and hybrid) sweep steps offered load from
the reference day's real rate (14,700 messages a day: 0.17 msgs/s) up past the
load at which the SLO stops holding — the knee — each step on fresh processes
with a warm-up. Load rises by more conversations open at once, each at the same
pace (--pace, 20: a visit's messages 20 times faster than real), resampled from
the reference day's own visits; not by a faster conversation. Several --pace
values sweep each path at each (a per-conversation limit shows as a knee that
falls with the pace). Steps grow ×10 (--factor) until the SLO breaks, then
bisect the decade three times (--refine): the knee is placed within 33 %.

The SLO is written in the gate's rule syntax (--slo, repeatable; default
` + strings.Join(sweep.DefaultSLO, ", ") + `).
A step the driver could not keep to its schedule (lag p99 above --lag-fraction
of the tightest latency threshold) ends its path: the sweep says so rather than
report a knee the driver caused.

It prints a verdict for --volume messages a day (default: the reference day's)
— which paths hold the SLO there on this machine, which costs least, how far
each can grow, where the cheapest choice changes — then the knees, capacity
per core, CPU per message per component, SQS requests per message and their
cost (list prices as flags), and writes results.json, report.html (latency
against offered load, knees marked) and report.md to the output folder.
A default sweep takes about 10-15 minutes on 2 cores (about 30 steps of 15-25
s); --quick about 3 (steps ×30, shorter, one bisection: the knee within a
factor of 5.5). docs/methodology.md explains how load is raised and why.`,
		Example: `  chatbench sweep
  chatbench sweep --quick
  chatbench sweep --paths direct,queue --pace 5,20,80
  chatbench sweep --paths direct,queue --instances 2    # two front doors each, sharing a Redis
  chatbench sweep --paths direct --ml-profile zero --pace 100
  chatbench sweep --volume 1e6 --slo 'p99{class=sync} < 50ms' --slo 'lost == 0'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			if err := positive(cmd, "factor", "workers", "lag-fraction", "max-conns"); err != nil {
				return err
			}
			cfg.TraceName, cfg.TraceBytes = "day (shipped)", trace.Day()
			if tracePath != "" {
				if cfg.TraceBytes, err = os.ReadFile(tracePath); err != nil {
					return fmt.Errorf("--trace: %w", err)
				}
				cfg.TraceName = filepath.Base(tracePath)
			}
			cfg.Paces = paces
			if !anyChanged(cmd, "price-fifo", "price-standard", "free-requests", "price-core-hour") {
				cfg.Prices = results.Prices{} // the defaults, with their source
			}
			// On the command line 0 bisections means none; the package
			// reads 0 as its default.
			cfg.Refine = refine
			if refine == 0 {
				cfg.Refine = -1
			}
			if cfg.Quick && !cmd.Flags().Changed("refine") {
				cfg.Refine = 0
			}
			// --quick's shorter steps apply where a step flag is not given.
			for _, f := range []struct {
				name string
				d    *time.Duration
			}{{"warmup", &cfg.Warmup}, {"window", &cfg.Window}, {"drain", &cfg.Drain}} {
				if cfg.Quick && !cmd.Flags().Changed(f.name) {
					*f.d = 0
				}
			}
			if cfg.Quick && !cmd.Flags().Changed("factor") {
				cfg.Factor = 0
			}
			if cfg.Quick && !cmd.Flags().Changed("max-conns") {
				cfg.MaxConns = 0
			}
			if outDir, err = prepareStack(cmd, &cfg.Stack, nil, outDir, "sweep", log); err != nil {
				return err
			}
			cfg.Catalog, cfg.Logger = jobs.Catalog(), log
			cfg.Progress, cfg.TTY = progressOut(cmd)
			// The driver runs in this process: give it its runtime settings.
			defer tuneRuntimeForDriver(0)()
			run, runErr := sweep.Run(cmd.Context(), cfg)
			if run == nil {
				return runErr
			}
			return errors.Join(runErr, publish(cmd.OutOrStdout(), outDir, cfg.Stack.LogDir, run, report.Table, "docs/methodology.md (How load is raised)"))
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&cfg.Paths, "paths", sweep.DefaultPaths(), "paths to sweep, in order: "+strings.Join(stack.Names(), ", "))
	f.Float64SliceVar(&paces, "pace", []float64{stack.DefaultPace}, "compression of time within a conversation; several values sweep each path at each")
	f.Float64Var(&cfg.From, "from", 0, "first step's offered load, msgs/s (0 = the reference trace's real mean rate)")
	f.Float64Var(&cfg.To, "to", 0, "highest step, msgs/s (0 = no limit but the connections this process may open)")
	f.Float64Var(&cfg.Factor, "factor", sweep.DefaultFactor, "ratio between steps until the SLO breaks (--quick: 30)")
	f.IntVar(&refine, "refine", sweep.DefaultRefine, "geometric bisections between the last step that held and the first that broke (--quick: 1)")
	f.DurationVar(&cfg.Warmup, "warmup", sweep.DefaultWarmup, "each step's warm-up, excluded from its figures (--quick: 1.5s)")
	f.DurationVar(&cfg.Window, "window", sweep.DefaultWindow, "each step's measured window (--quick: 3s)")
	f.DurationVar(&cfg.Drain, "drain", sweep.DefaultDrain, "how long a step waits for outstanding deliveries after its last send (--quick: 3s)")
	f.BoolVar(&cfg.Quick, "quick", false, "CI smoke: steps ×30, shorter, one bisection (about 3 minutes; the knee within a factor of 5.5)")
	f.StringArrayVar(&cfg.SLO, "slo", nil, "an SLO rule in the gate's syntax (repeatable; replaces the default SLO: "+strings.Join(sweep.DefaultSLO, ", ")+")")
	f.Float64Var(&cfg.LagFraction, "lag-fraction", sweep.DefaultLagFraction, "a step is not trusted when the driver's schedule lag p99 exceeds this share of the tightest latency threshold")
	f.Float64Var(&cfg.Volume, "volume", 0, "messages a day the verdict and the cost are for (0 = the reference trace's: 14,700 for the shipped day)")
	f.Float64Var(&cfg.Prices.FIFOPerMillion, "price-fifo", sweep.DefaultPrices.FIFOPerMillion, "$ per million SQS FIFO requests")
	f.Float64Var(&cfg.Prices.StandardPerMillion, "price-standard", sweep.DefaultPrices.StandardPerMillion, "$ per million SQS standard requests")
	f.Float64Var(&cfg.Prices.FreeRequests, "free-requests", sweep.DefaultPrices.FreeRequests, "SQS requests a month free of charge")
	f.Float64Var(&cfg.Prices.CoreHour, "price-core-hour", sweep.DefaultPrices.CoreHour, "$ per CPU core-hour (an assumption: about one on-demand vCPU)")
	f.StringVar(&tracePath, "trace", "", "reference workload whose visits the steps resample (default: the shipped day)")
	pathFlags(f, &cfg.Stack)
	f.Float64Var(&cfg.Stack.NoiseThreshold, "noise-threshold", stack.DefaultNoiseThreshold, "flag a step noisy when other processes and steal took more than this share of the machine's CPU while it ran")
	f.IntVar(&cfg.MaxConns, "max-conns", sweep.DefaultMaxConns, "most connections a step may open, at most this process's file limit less a reserve (--quick: 3000): the highest load a series reaches")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed of the steps' traces")
	f.StringVar(&cfg.Stack.Secret, "secret", devSecret, "token secret given to the servers and used by the driver")
	f.StringVar(&outDir, "out", "", "output folder (default out/sweep-<time>)")
	topologyFlags(f, &cfg.Stack)
	addProgress(cmd, new(string))
	completeStackFlags(cmd)
	return cmd
}
