package main

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatbench/chatbench/bench/report"
	"github.com/chatbench/chatbench/bench/soak"
	"github.com/chatbench/chatbench/bench/stack"
)

func newSoakCmd(g *globals) *cobra.Command {
	var (
		cfg    soak.Config
		secret string
		outDir string
	)
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Hold many connections open for minutes and check the server's goroutines and memory come back",
		Long: `Open --conns authenticated WebSocket connections (distinct users, paired into
conversations of two), hold them for --duration with --active of them sending a
light mix of typing indicators, read receipts and texts at --rate messages/s in
all (the rest only read, which answers the server's pings), then close them all.

The server's goroutines, the memory it holds (heap in use plus goroutine
stacks: go_memstats_heap_inuse_bytes + go_memstats_stack_inuse_bytes), its
collections, RSS and CPU time are read from its /metrics: a baseline before
connecting, the peak while held, and after the close, polled until they are
back near the baseline or --settle passes. Without --target the --path's
components (by default the direct server and its ML service, --ml-profile
zero) are started as processes on loopback and the client-facing server is
soaked.

Back near baseline means: goroutines ≤ baseline + --goroutine-margin, and
heap+stacks ≤ baseline + max(--held-margin, --held-fraction × (peak −
baseline)). Heap in use never understates what the server still references;
above the limit the soak waits for the server's runtime to collect (an idle
Go program does at least every 2 minutes, so keep --settle above that).
RSS is recorded, not judged: it also counts freed memory the runtime has not
yet returned to the OS. The command exits 3 (a failed check) when a limit is not met, or a
connection was lost.
It prints the table and writes results.json, report.html and report.md (and
the components' logs) to the output folder it names at the end.
The soft open-files limit is raised to the hard limit first (the servers it
starts inherit it).`,
		Example: `  chatbench soak
  chatbench soak --conns 10000 --active 1000 --duration 3m --rate 200
  chatbench soak --path queue --conns 2000 --duration 1m
  chatbench soak --target ws://127.0.0.1:8080/ws --conns 2000 --duration 1m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			if err := positive(cmd, "duration", "sample-every", "settle", "goroutine-margin", "connect-parallel"); err != nil {
				return err
			}
			for _, name := range []string{"rss-margin", "rss-fraction"} {
				if f := cmd.Flags().Lookup(name); f.Changed {
					return fmt.Errorf("--%s %s: RSS is no longer judged (it counts memory the Go runtime has not yet returned to the OS); use --%s on the memory the server holds",
						name, f.Value, strings.Replace(name, "rss", "held", 1))
				}
			}
			if !cmd.Flags().Changed("active") {
				cfg.Active = min(cfg.Active, max(cfg.Conns, 0)) // the default is "1000, at most --conns"
			}
			out := cmd.OutOrStdout()
			if soft, hard, err := raiseNoFile(); err != nil {
				log.Warn("could not raise the open-files limit", "err", err)
			} else {
				fmt.Fprintf(out, "soak: open-files limit %d (hard %d)\n", soft, hard)
				if need := uint64(max(cfg.Conns, 0)) + 256; soft < need {
					return fmt.Errorf("open-files limit %d is below the %d that --conns %d needs (hard limit %d; raise it with ulimit -Hn)", soft, need, cfg.Conns, hard)
				}
			}
			if outDir, err = prepareStack(cmd, &cfg.Stack, nil, outDir, "soak", log); err != nil {
				return err
			}
			logDir := cfg.Stack.LogDir
			if cfg.Target != "" {
				logDir = ""
			}
			cfg.Secret, cfg.Stack.Secret = []byte(secret), secret
			cfg.Progress = cmd.ErrOrStderr()
			run, runErr := soak.Run(cmd.Context(), cfg)
			if run == nil {
				return runErr
			}
			if err := errors.Join(runErr, publish(out, outDir, logDir, run, report.SoakTable, "docs/reliability.md")); err != nil {
				return err
			}
			if len(run.Paths) == 0 || !run.Paths[0].Soak.OK() {
				return checkError{errors.New("soak failed: the server did not come back near its baseline, or connections were lost (see the table)")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Target, "target", "", "server WebSocket URL (default: start --path's components as processes)")
	f.StringVar(&cfg.Path, "path", soak.DefaultPath, "without --target: the path whose server is soaked ("+strings.Join(stack.Names(), ", ")+"); with it, the path's name in the results")
	f.StringVar(&cfg.Metrics, "metrics", "", "server /metrics URL (default: http://<target host>/metrics)")
	f.StringVar(&secret, "secret", devSecret, "token secret the server verifies")
	f.StringVar(&cfg.Stack.MLProfile, "ml-profile", "zero", "ML profile of the started path")
	f.IntVar(&cfg.Conns, "conns", 10000, "connections to hold (distinct users, paired into conversations)")
	f.IntVar(&cfg.Active, "active", 1000, "connections among them that send (at most --conns; the default is capped at --conns)")
	f.DurationVar(&cfg.Duration, "duration", 3*time.Minute, "how long to hold the connections")
	f.Float64Var(&cfg.Rate, "rate", 200, "messages per second across the active connections")
	f.DurationVar(&cfg.Every, "sample-every", soak.DefaultEvery, "how often the server is sampled while held")
	f.DurationVar(&cfg.Settle, "settle", soak.DefaultSettle, "deadline for goroutines and memory to come back after the close")
	f.IntVar(&cfg.GoroutineMargin, "goroutine-margin", soak.DefaultGoroutineMargin, "goroutines above the baseline still counted as back")
	f.Int64Var(&cfg.HeldMargin, "held-margin", soak.DefaultHeldMargin, "bytes of heap+stacks above the baseline always counted as back (negative = no memory check)")
	f.Float64Var(&cfg.HeldFraction, "held-fraction", soak.DefaultHeldFraction, "share (0 to 1) of the peak's heap+stacks growth that may still be held")
	// RSS was judged before heap+stacks were; a script still passing these
	// is told what replaced them rather than judged on something else.
	for _, name := range []string{"rss-margin", "rss-fraction"} {
		f.String(name, "", "")
		_ = f.MarkHidden(name)
	}
	f.IntVar(&cfg.ConnectParallel, "connect-parallel", soak.DefaultConnectParallel, "connection attempts in flight")
	f.StringVar(&outDir, "out", "", "output folder (default out/soak-<time>)")
	completeStackFlags(cmd)
	return cmd
}

// raiseNoFile raises the soft RLIMIT_NOFILE to the hard limit.
func raiseNoFile() (soft, hard uint64, err error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, err
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return rl.Cur, rl.Max, err
		}
	}
	return rl.Cur, rl.Max, nil
}
