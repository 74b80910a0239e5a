// Package compare runs the product's main job: it starts each path's
// components as separate processes on loopback (the embedded SQS endpoint,
// the ML service, the direct server, the queue gateway and workers, and a
// bare WebSocket echo server as the floor), replays one trace through each
// path in turn with the open-loop driver, and gathers the results, with
// each process's CPU time and peak memory, into one results document.
package compare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/chatbench/chatbench/bench/driver"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat"
)

// Paths compare knows, in the order it runs them.
var Paths = []string{"echo", "direct", "queue"}

// Config configures a comparison. Zero values mean the documented defaults.
type Config struct {
	// Exe is the chatbench binary that runs the components. Required.
	Exe string
	// TraceName and TraceBytes are the trace replayed (gzip or plain).
	TraceName  string
	TraceBytes []byte
	// Paths to run, a subset of Paths. Empty means all.
	Paths []string
	// Speed compresses when conversations start and Pace the time within
	// one (see driver.Config). Zero Speed means 2880; zero Pace means 20.
	Speed, Pace float64
	// MLProfile and MLSeed configure the ML service (same for both paths).
	MLProfile string
	MLSeed    int64
	// SQSLatency is the embedded SQS endpoint's latency profile ("none",
	// "region", ...). Empty means "none".
	SQSLatency string
	// Workers is the queue path's number of worker pollers. Zero means 4.
	Workers int
	// MaxTasks bounds the direct path's ML background tasks. Zero means the
	// server's default.
	MaxTasks int
	// Warmup, Drain, Duration and Limit are passed to the driver.
	Warmup, Drain, Duration time.Duration
	Limit                   int
	// NoResend turns off the driver's resend protocol (driver.Config.NoResend).
	NoResend bool
	// Secret signs the driver's tokens and is given to the servers.
	Secret string
	// LogDir receives each component's log. Required.
	LogDir   string
	Catalog  *chat.Catalog
	Progress io.Writer
	TTY      bool
	Logger   *slog.Logger
}

// stack is the processes one path runs on and the URL the driver targets.
type stack struct {
	procs  []*proc
	target string
}

// Run replays the trace through each configured path and returns the run.
// A path that fails to start or run is reported in the error; the paths
// measured before it are still returned.
func Run(ctx context.Context, cfg Config) (*results.Run, error) {
	if cfg.Exe == "" || cfg.LogDir == "" || cfg.Catalog == nil {
		return nil, errors.New("compare: Exe, LogDir and Catalog are required")
	}
	if cfg.Speed == 0 {
		cfg.Speed = 2880
	}
	if cfg.Pace == 0 {
		cfg.Pace = 20
	}
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	if cfg.SQSLatency == "" {
		cfg.SQSLatency = "none"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	paths := cfg.Paths
	if len(paths) == 0 {
		paths = Paths
	}
	hdr, recs, err := trace.ReadAll(cfg.TraceBytes)
	if err != nil {
		return nil, fmt.Errorf("trace %s: %w", cfg.TraceName, err)
	}
	if err := os.MkdirAll(cfg.LogDir, 0o755); err != nil {
		return nil, err
	}
	run := &results.Run{
		Schema: results.SchemaVersion,
		Meta: results.NewMeta(cfg.TraceName, cfg.TraceBytes, len(recs), cfg.Speed, true, map[string]string{
			"paths": fmt.Sprint(paths), "pace": strconv.FormatFloat(cfg.Pace, 'g', -1, 64), "ml_profile": cfg.MLProfile, "ml_seed": strconv.FormatInt(cfg.MLSeed, 10),
			"sqs_latency": cfg.SQSLatency, "workers": strconv.Itoa(cfg.Workers), "warmup": cfg.Warmup.String(),
			"drain": cfg.Drain.String(), "duration": cfg.Duration.String(), "limit": strconv.Itoa(cfg.Limit),
		}),
	}
	for _, name := range paths {
		p, err := cfg.runPath(ctx, name, hdr, recs)
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

func (cfg *Config) runPath(ctx context.Context, name string, h trace.Header, recs []trace.Record) (*results.Path, error) {
	cfg.Logger.Info("starting path", "path", name)
	st, startErr := cfg.start(ctx, name, nil)
	if startErr != nil {
		_, stopErr := st.stop()
		return nil, errors.Join(startErr, stopErr)
	}
	cpu0, _ := selfUsage()
	p, runErr := driver.Run(ctx, driver.Config{
		Target: st.target, Secret: []byte(cfg.Secret), Path: name, Header: h, Records: recs,
		Speed: cfg.Speed, Pace: cfg.Pace, Warmup: cfg.Warmup, Drain: cfg.Drain, Duration: cfg.Duration, Limit: cfg.Limit,
		Catalog: cfg.Catalog, Progress: cfg.Progress, TTY: cfg.TTY, Logger: cfg.Logger, NoResend: cfg.NoResend,
	})
	cpu1, peak := selfUsage()
	comps, stopErr := st.stop()
	if p != nil {
		p.Components = append(comps, results.Component{Name: "driver", CPUSeconds: cpu1 - cpu0, PeakRSS: peak})
	}
	return p, errors.Join(runErr, stopErr)
}

// stop stops the stack's processes in reverse start order.
func (st *stack) stop() ([]results.Component, error) {
	var comps []results.Component
	var errs []error
	for i := len(st.procs) - 1; i >= 0; i-- {
		c, err := st.procs[i].stop(30 * time.Second)
		comps = append([]results.Component{c}, comps...)
		errs = append(errs, err)
	}
	return comps, errors.Join(errs...)
}

// start launches the components of path name and waits until each is
// ready. via, when not nil, maps a hop (HopSQS, HopML, HopServer) and its
// upstream address to the address its clients use instead.
func (cfg *Config) start(ctx context.Context, name string, via func(hop, upstream string) (string, error)) (*stack, error) {
	st := &stack{}
	if via == nil {
		via = func(_, upstream string) (string, error) { return upstream, nil }
	}
	launch := func(comp string, ready func(addr string) string, args ...string) (string, error) {
		addr, err := freeAddr()
		if err != nil {
			return "", err
		}
		args = append(args, "--addr", addr, "--log-level", "warn")
		p, err := startProc(name+"-"+comp, cfg.Exe, args, cfg.LogDir)
		if err != nil {
			return "", err
		}
		p.readyURL = ready(addr)
		st.procs = append(st.procs, p)
		return addr, waitReady(ctx, p, ready(addr), 30*time.Second)
	}
	healthz := func(addr string) string { return "http://" + addr + "/healthz" }
	tcp := func(addr string) string { return "tcp://" + addr }
	secret := []string{"--secret", cfg.Secret}
	switch name {
	case "echo":
		addr, err := launch("echo", tcp, "serve", "echo")
		st.target = "ws://" + addr + "/ws"
		return st, err
	case "direct":
		ml, err := launch("ml", healthz, "ml", "--profile", cfg.MLProfile, "--seed", strconv.FormatInt(cfg.MLSeed, 10))
		if err != nil {
			return st, err
		}
		if ml, err = via(HopML, ml); err != nil {
			return st, err
		}
		args := append([]string{"serve", "direct", "--ml-url", "http://" + ml}, secret...)
		if cfg.MaxTasks > 0 {
			args = append(args, "--max-tasks", strconv.Itoa(cfg.MaxTasks))
		}
		addr, err := launch("server", healthz, args...)
		if err != nil {
			return st, err
		}
		addr, err = via(HopServer, addr)
		st.target = "ws://" + addr + "/ws"
		return st, err
	case "queue":
		sqs, err := launch("sqs", tcp, "sqs", "--latency", cfg.SQSLatency)
		if err != nil {
			return st, err
		}
		if sqs, err = via(HopSQS, sqs); err != nil {
			return st, err
		}
		ml, err := launch("ml", healthz, "ml", "--profile", cfg.MLProfile, "--seed", strconv.FormatInt(cfg.MLSeed, 10))
		if err != nil {
			return st, err
		}
		if ml, err = via(HopML, ml); err != nil {
			return st, err
		}
		cb, err := freeAddr()
		if err != nil {
			return st, err
		}
		cbSecret := cfg.Secret + "-callback"
		args := append([]string{"serve", "queue", "--sqs-endpoint", "http://" + sqs, "--embedded-worker", "0",
			"--callback-addr", cb, "--callback-secret", cbSecret}, secret...)
		addr, err := launch("gateway", healthz, args...)
		if err != nil {
			return st, err
		}
		if addr, err = via(HopServer, addr); err != nil {
			return st, err
		}
		st.target = "ws://" + addr + "/ws"
		// The worker's --addr flag does not exist; it serves /metrics on
		// --metrics-addr, which launch's --addr would not set.
		maddr, err := freeAddr()
		if err != nil {
			return st, err
		}
		p, err := startProc(name+"-worker", cfg.Exe, []string{"worker", "--sqs-endpoint", "http://" + sqs,
			"--callback-url", "http://" + cb, "--callback-secret", cbSecret, "--ml-url", "http://" + ml,
			"--workers", strconv.Itoa(cfg.Workers), "--metrics-addr", maddr, "--log-level", "warn"}, cfg.LogDir)
		if err != nil {
			return st, err
		}
		p.readyURL = healthz(maddr)
		// Stopped in reverse order, the gateway goes first: it drains with
		// the worker still delivering.
		st.procs = append(st.procs[:len(st.procs)-1], p, st.procs[len(st.procs)-1])
		return st, waitReady(ctx, p, healthz(maddr), 30*time.Second)
	}
	return st, fmt.Errorf("unknown path %q: use echo, direct or queue", name)
}
