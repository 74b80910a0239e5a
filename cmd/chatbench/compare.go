package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/chatbench/chatbench/bench/compare"
	"github.com/chatbench/chatbench/bench/report"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/stack"
	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat/jobs"
)

func newCompareCmd(g *globals) *cobra.Command {
	var (
		cfg       compare.Config
		tracePath string
		outDir    string
	)
	cmd := &cobra.Command{
		Use:   "compare",
		Short: "Replay the reference day through the queue path and the direct path and compare them",
		Long: `Start every component on this machine — the embedded SQS endpoint, the ML
service, the direct server, the queue gateway and its workers, and a bare
WebSocket echo server as the floor — each as its own process on loopback, and
replay a trace (by default the shipped day: 14,700 messages) through each path
in turn with the open-loop driver: the day's visits start within 30 s (--speed
2880) and each plays 20 times faster than real (--pace 20), about 1.5 minutes per
path. (Plain compression, --pace equal to --speed, would have each patient
send a message every ~20 ms: no human does, and a design that runs a
conversation's jobs one at a time cannot keep up with it. See docs/results.md.)

The queue path's SQS calls carry a region-like latency by default (--sqs-latency
region: about 10 ms median, 40 ms p99 per call), because the embedded endpoint
on loopback answers in 0.3 ms, faster than any real region; --sqs-latency none
shows the bare endpoint. The table and the report state the assumption.

--repeat N runs the paths N times, interleaved (echo direct queue echo direct
queue …), each repeat on fresh processes, and keeps every repeat: the report
and chatbench gate then give each figure as the median across repeats with a
confidence interval. Each path's results record the CPU the machine spent on
other processes while it ran; a path where that exceeds --noise-threshold, or
whose repeats saw the echo floor drift beyond --drift-threshold, is flagged
noisy (docs/results.md, "Noise").

It prints a side-by-side table (latency per class and job from the scheduled
send, delivered / lost / duplicate / reordered, throughput, CPU and memory per
path, where the time went hop by hop) and writes results.json, report.html and
report.md, plus each component's log, to the output folder it names at the end.`,
		Example: `  chatbench compare
  chatbench compare --repeat 5                        # interleaved repeats, medians with intervals
  chatbench compare --paths direct,queue --sqs-latency none   # the bare embedded SQS endpoint
  chatbench compare --instances 2                     # two instances of each path, sharing a Redis
  chatbench compare --speed 1440 --pace 1440          # plain time compression
  chatbench compare --ml-profile "default;*=fail:5%" --out out/ml-failures`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			if err := positive(cmd, "speed", "pace", "workers", "repeat"); err != nil {
				return err
			}
			for _, p := range cfg.Paths {
				if _, err := stack.Lookup(p); err != nil {
					return fmt.Errorf("--paths: %w", err)
				}
			}
			rp := &cfg.Replay
			rp.TraceName, rp.TraceBytes = "day (shipped)", trace.Day()
			if tracePath != "" {
				if rp.TraceBytes, err = os.ReadFile(tracePath); err != nil {
					return fmt.Errorf("--trace: %w", err)
				}
				rp.TraceName = filepath.Base(tracePath)
			}
			if outDir, err = prepareStack(cmd, &cfg.Stack, rp, outDir, "compare", log); err != nil {
				return err
			}
			// The driver runs in this process: give it its runtime settings.
			defer tuneRuntimeForDriver(0)()
			run, runErr := compare.Run(cmd.Context(), cfg)
			if run == nil {
				return runErr
			}
			return errors.Join(runErr, publish(cmd.OutOrStdout(), outDir, cfg.Stack.LogDir, run, report.Table, "docs/methodology.md"))
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&cfg.Paths, "paths", stack.DefaultPaths(), "paths to run, in order, of "+strings.Join(stack.Names(), ", ")+" (echo is the floor; docs/methodology.md says what each stands for)")
	f.StringVar(&tracePath, "trace", "", "trace to replay (default: the shipped day, 14,700 messages)")
	f.Float64Var(&cfg.Replay.Speed, "speed", stack.DefaultSpeed, "compression of when conversations start: 2880 starts a day's visits within 30 s")
	f.Float64Var(&cfg.Replay.Pace, "pace", stack.DefaultPace, "compression of time within a conversation: 20 plays a 12-minute visit in 36 s (= --speed for plain compression)")
	pathFlags(f, &cfg.Stack)
	f.IntVar(&cfg.Repeat, "repeat", 1, "run every path this many times, interleaved, each on fresh processes (figures become medians with confidence intervals; ≥ 4 for the gate to judge significance)")
	f.Float64Var(&cfg.Stack.NoiseThreshold, "noise-threshold", stack.DefaultNoiseThreshold, "flag a path noisy when other processes and steal took more than this share of the machine's CPU while it ran")
	f.Float64Var(&cfg.Stack.DriftThreshold, "drift-threshold", stack.DefaultDriftThreshold, "with --repeat: flag the paths noisy when the echo floor's p50 moved by more than this share of its median across repeats")
	f.DurationVar(&cfg.Replay.Warmup, "warmup", 5*time.Second, "wall time at the start excluded from latency figures (negative = none)")
	f.DurationVar(&cfg.Replay.Drain, "drain", 15*time.Second, "how long to wait for outstanding deliveries after the last send")
	f.DurationVar(&cfg.Replay.Duration, "duration", 0, "stop scheduling after this wall time per path (0 = each path's default span: the echo floor 30 s, the others 60 s, ~90% of the day's messages; with --limit, the whole trace)")
	f.IntVar(&cfg.Replay.Limit, "limit", 0, "replay at most this many messages (0 = all)")
	f.BoolVar(&cfg.Replay.NoResend, "no-resend", false, "driver: do not reconnect dropped connections, resend unanswered messages or resume missed events (see docs/protocol.md, Resending and Resuming)")
	f.StringVar(&cfg.Stack.Secret, "secret", devSecret, "token secret given to the servers and used by the driver")
	f.StringVar(&outDir, "out", "", "output folder (default out/compare-<time>)")
	topologyFlags(f, &cfg.Stack)
	addProgress(cmd, new(string))
	completeStackFlags(cmd)
	return cmd
}

// positive returns an error for the first of the named flags whose value
// is not above zero. The packages read zero as "the default"; on the
// command line, where the default is spelled out, a zero is a mistake.
func positive(cmd *cobra.Command, names ...string) error {
	for _, name := range names {
		f := cmd.Flags().Lookup(name)
		v, err := strconv.ParseFloat(f.Value.String(), 64)
		if d, derr := time.ParseDuration(f.Value.String()); err != nil && derr == nil {
			v, err = float64(d), nil
		}
		if err == nil && !(v > 0) {
			return fmt.Errorf("--%s %s: must be > 0 (default %s)", name, f.Value, f.DefValue)
		}
	}
	return nil
}

// prepareStack fills in what compare, chaos and soak set alike before
// starting a stack: the output folder (out/<kind>-<time> unless given),
// the log folder inside it, this binary to start the components with, the
// logger, and for a replay (rp not nil) the catalog and progress on
// stderr. It returns the output folder.
func prepareStack(cmd *cobra.Command, sc *stack.Config, rp *stack.Replay, outDir, kind string, log *slog.Logger) (string, error) {
	if outDir == "" {
		outDir = filepath.Join("out", kind+"-"+time.Now().Format("20060102-150405"))
	}
	sc.LogDir = filepath.Join(outDir, "logs")
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("locate the chatbench binary to start components: %w", err)
	}
	sc.Exe, sc.Logger = exe, log
	if rp != nil {
		rp.Catalog, rp.Logger = jobs.Catalog(), log
		rp.Progress, rp.TTY = progressOut(cmd)
	}
	return outDir, nil
}

// publish writes the run's reports into outDir, prints it with table, and
// names the files, the logs (when logDir is not empty) and the document
// that explains the figures.
func publish(out io.Writer, outDir, logDir string, run *results.Run, table func(io.Writer, *results.Run) error, doc string) error {
	if err := writeReports(outDir, run); err != nil {
		return err
	}
	if err := table(out, run); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(out, "\nresults: %s\nreport:  %s\n", filepath.Join(outDir, "results.json"), filepath.Join(outDir, "report.html")); err != nil {
		return err
	}
	if logDir != "" {
		if _, err := fmt.Fprintf(out, "logs:    %s\n", logDir); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(out, "how to read these figures: %s\n", doc)
	return err
}

// writeReports writes results.json, report.html and report.md into dir.
func writeReports(dir string, run *results.Run) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, render := range map[string]func(*os.File) error{
		"results.json": func(f *os.File) error { return results.Write(f, run) },
		"report.html":  func(f *os.File) error { return report.HTML(f, run) },
		"report.md":    func(f *os.File) error { return report.Markdown(f, run) },
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		err = render(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// pathFlags registers the settings of the started paths that compare and
// sweep share: the ML profile and its seed, the SQS latency, the queue's
// pollers and the direct server's task bound.
func pathFlags(f *pflag.FlagSet, sc *stack.Config) {
	f.StringVar(&sc.MLProfile, "ml-profile", stack.DefaultMLProfile, `ML latency/failure profile for every path (see docs/ml-profiles.md)`)
	f.Int64Var(&sc.MLSeed, "ml-seed", 1, "seed of the ML latency and failure draws")
	f.StringVar(&sc.SQSLatency, "sqs-latency", compare.DefaultSQSLatency, `latency added to each SQS call of the queue paths: region (a same-region round trip, the default), none (the bare loopback endpoint), or e.g. "median:16ms,p99:60ms"`)
	f.IntVar(&sc.Workers, "workers", stack.DefaultWorkers, "queue path: worker pollers")
	f.IntVar(&sc.MaxTasks, "max-tasks", 0, "direct path: ML background tasks at once (0 = the server's default)")
}
