package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatbench/chatbench/bench/soak"
)

func newSoakCmd(g *globals) *cobra.Command {
	var (
		cfg             soak.Config
		target, metrics string
		secret, profile string
		rssMargin       int64
		gorMargin       int
		rssFrac         float64
	)
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Hold many connections open for minutes and check the server's goroutines and memory come back",
		Long: `Open --conns authenticated WebSocket connections (distinct users, paired into
conversations of two), hold them for --duration with --active of them sending a
light mix of typing indicators, read receipts and texts at --rate messages/s in
all (the rest only read, which answers the server's pings), then close them all.

The server's go_goroutines, process_resident_memory_bytes and
process_cpu_seconds_total are read from its /metrics: a baseline before
connecting, the peak while held, and after the close, polled until they are
back near the baseline or --settle passes. Without --target a direct server
(serve direct --ml-profile zero) is started as a child process on loopback.

Back near baseline means: goroutines ≤ baseline + --goroutine-margin, and
RSS ≤ baseline + max(--rss-margin, --rss-fraction × (peak − baseline)).
The command exits non-zero when either is not met, or a connection was lost.
The soft open-files limit is raised to the hard limit first (a server child
inherits it).`,
		Example: `  chatbench soak
  chatbench soak --conns 10000 --active 1000 --duration 3m --rate 200
  chatbench soak --target ws://127.0.0.1:8080/ws --conns 2000 --duration 1m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if soft, hard, err := raiseNoFile(); err != nil {
				log.Warn("could not raise the open-files limit", "err", err)
			} else {
				fmt.Fprintf(out, "soak: open-files limit %d (hard %d)\n", soft, hard)
				if need := uint64(cfg.Conns) + 256; soft < need {
					return fmt.Errorf("open-files limit %d is below the %d that --conns %d needs (hard limit %d; raise it with ulimit -Hn)", soft, need, cfg.Conns, hard)
				}
			}
			var child *childServer
			if target == "" {
				child, err = startSoakServer(cmd.Context(), secret, profile)
				if err != nil {
					return err
				}
				defer func() {
					if cpu, rss := child.stop(); cpu > 0 {
						fmt.Fprintf(out, "soak: server process CPU %.1f s, peak RSS %.1f MiB (rusage)\n", cpu, float64(rss)/(1<<20))
					}
				}()
				target, metrics = child.ws, child.metrics
				fmt.Fprintf(out, "soak: started %s (log %s)\n", target, child.logPath)
			}
			if metrics == "" {
				if metrics, err = metricsURL(target); err != nil {
					return err
				}
			}
			cfg.Target, cfg.Secret, cfg.Sampler = target, []byte(secret), soak.MetricsSampler(metrics)
			cfg.GoroutineMargin, cfg.RSSMargin, cfg.RSSFraction = gorMargin, rssMargin, rssFrac
			cfg.Progress = cmd.ErrOrStderr()
			rep, err := soak.Run(cmd.Context(), cfg)
			if rep != nil {
				fmt.Fprint(out, "\n"+rep.Table())
			}
			if err != nil {
				return err
			}
			if !rep.OK() {
				return errors.New("soak failed: the server did not come back near its baseline, or connections were lost (see the table)")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&target, "target", "", "server WebSocket URL (default: start serve direct --ml-profile zero as a child process)")
	f.StringVar(&metrics, "metrics", "", "server /metrics URL (default: http://<target host>/metrics)")
	f.StringVar(&secret, "secret", devSecret, "token secret the server verifies")
	f.StringVar(&profile, "ml-profile", "zero", "ML profile of the child server")
	f.IntVar(&cfg.Conns, "conns", 10000, "connections to hold (distinct users, paired into conversations)")
	f.IntVar(&cfg.Active, "active", 1000, "connections among them that send")
	f.DurationVar(&cfg.Duration, "duration", 3*time.Minute, "how long to hold the connections")
	f.Float64Var(&cfg.Rate, "rate", 200, "messages per second across the active connections")
	f.DurationVar(&cfg.Every, "sample-every", 5*time.Second, "how often the server is sampled while held")
	f.DurationVar(&cfg.Settle, "settle", 3*time.Minute, "deadline for goroutines and memory to come back after the close")
	f.IntVar(&gorMargin, "goroutine-margin", soak.DefaultGoroutineMargin, "goroutines above the baseline still counted as back")
	f.Int64Var(&rssMargin, "rss-margin", soak.DefaultRSSMargin, "bytes of RSS above the baseline always counted as back (negative = no memory check)")
	f.Float64Var(&rssFrac, "rss-fraction", soak.DefaultRSSFraction, "share of the peak's RSS growth that may stay resident")
	f.IntVar(&cfg.ConnectParallel, "connect-parallel", 32, "connection attempts in flight")
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

// metricsURL derives http(s)://host/metrics from a ws(s):// target.
func metricsURL(target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("--target: %w", err)
	}
	scheme := "http"
	if u.Scheme == "wss" {
		scheme = "https"
	}
	return scheme + "://" + u.Host + "/metrics", nil
}

// childServer is a direct server run as a child process, so its goroutines
// and memory are its own.
type childServer struct {
	cmd         *exec.Cmd
	log         *os.File
	logPath     string
	ws, metrics string
	done        chan struct{}
}

func startSoakServer(ctx context.Context, secret, profile string) (*childServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("locate the chatbench binary to start the server: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	f, err := os.CreateTemp("", "chatbench-soak-server-*.log")
	if err != nil {
		return nil, err
	}
	c := exec.Command(exe, "serve", "direct", "--addr", addr, "--ml-profile", profile, "--secret", secret, "--log-level", "warn")
	c.Stdout, c.Stderr = f, f
	if err := c.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start the server: %w", err)
	}
	s := &childServer{cmd: c, log: f, logPath: filepath.Clean(f.Name()), ws: "ws://" + addr + "/ws", metrics: "http://" + addr + "/metrics", done: make(chan struct{})}
	go func() {
		_ = c.Wait()
		close(s.done)
	}()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 200*time.Millisecond) {
		if resp, err := client.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		var why error
		select {
		case <-s.done:
			why = fmt.Errorf("the server exited before it was ready (see %s)", s.logPath)
		case <-ctx.Done():
			why = ctx.Err()
		case <-time.After(delay):
			if time.Now().After(deadline) {
				why = fmt.Errorf("the server was not ready within 30s (see %s)", s.logPath)
			}
		}
		if why != nil {
			s.stop()
			return nil, why
		}
	}
}

// stop sends SIGTERM, kills after 30 s, and returns the child's CPU
// seconds and peak RSS.
func (s *childServer) stop() (float64, int64) {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
	ru, ok := s.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime), ru.Maxrss * 1024
}
