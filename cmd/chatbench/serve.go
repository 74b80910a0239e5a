package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/internal/obs"
	"github.com/chatbench/chatbench/internal/tlsconf"
	"github.com/chatbench/chatbench/queuemode"
	"github.com/chatbench/chatbench/socket"
)

func newServeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a chat server: the direct path, the queue path's gateway, or the echo floor",
	}
	cmd.AddCommand(newServeDirectCmd(g), newServeQueueCmd(g))
	cmd.AddCommand(newServeEchoCmd(g))
	return cmd
}

// frontFlags configure the shared WebSocket front door.
type frontFlags struct {
	secret         string
	allowedOrigins []string
	sendQueue      int
	maxFrame       int64
	record         string
	recordBodies   bool
	rateLimit      float64
	rateBurst      int
	maxConnsUser   int
	resumeEvents   int
	resumeWindow   time.Duration
	broker         string
	tls            tlsFlags
}

// zeroMeans annotates a size, count or duration flag that refuses negative
// values; the annotation's value says what 0 means ("" = the flag's
// default).
const zeroMeans = "chatbench_zero_means"

// refuseNegative marks flags of cmd as refusing negative values: zero maps
// each flag's name to what 0 means ("" = its default). checkFlags enforces
// it.
func refuseNegative(cmd *cobra.Command, zero map[string]string) {
	for name, means := range zero {
		// A misspelt name fails only here, silently: TestNumericFlags
		// finds the flag it meant unmarked.
		_ = cmd.Flags().SetAnnotation(name, zeroMeans, []string{means})
	}
}

// checkFlags refuses a negative value of any flag marked by refuseNegative,
// naming the flag and what 0 means. It is the PreRunE of the commands that
// start servers, so it runs after the environment has set flags and before
// anything starts.
func checkFlags(cmd *cobra.Command, _ []string) error {
	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		means, ok := f.Annotations[zeroMeans]
		if !ok || !negative(f) {
			return
		}
		zero := means[0]
		if zero == "" {
			zero = f.DefValue
		}
		errs = append(errs, fmt.Errorf("--%s %s: must be ≥ 0 (0 = %s)", f.Name, f.Value, zero))
	})
	return errors.Join(errs...)
}

// negative reports whether a numeric flag's value is below zero.
func negative(f *pflag.Flag) bool {
	if f.Value.Type() == "duration" {
		d, err := time.ParseDuration(f.Value.String())
		return err == nil && d < 0
	}
	x, err := strconv.ParseFloat(f.Value.String(), 64)
	return err == nil && x < 0
}

// tlsFlags are a server's certificate flags.
type tlsFlags struct{ cert, key string }

func (f *tlsFlags) register(cmd *cobra.Command, what string) {
	fl := cmd.Flags()
	fl.StringVar(&f.cert, "tls-cert", "", "serve "+what+" over TLS (wss://) with this PEM certificate chain; needs --tls-key")
	fl.StringVar(&f.key, "tls-key", "", "PEM private key of --tls-cert")
	completeFiles(cmd, "tls-cert", "pem", "crt")
	completeFiles(cmd, "tls-key", "pem", "key")
}

// config returns the server TLS configuration, or nil without the flags.
func (f *tlsFlags) config() (*tls.Config, error) { return tlsconf.Server(f.cert, f.key) }

func (f *frontFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.secret, "secret", devSecret, "HMAC secret that verifies client tokens (at least 16 bytes; the default is for development only)")
	fl.StringSliceVar(&f.allowedOrigins, "allowed-origin", nil, "browser Origins allowed to connect, * = any (default: same host, and non-browser clients)")
	fl.IntVar(&f.sendQueue, "send-queue", socket.DefaultSendQueue, "frames queued per connection before it is dropped as a slow consumer")
	fl.Int64Var(&f.maxFrame, "max-frame", socket.DefaultMaxFrameBytes, "largest client frame in bytes (bigger ones close the connection with 1009)")
	fl.StringVar(&f.record, "record", "", "write accepted inbound messages to this file as a chatbench trace (docs/trace.md; gzip when it ends in .gz)")
	fl.BoolVar(&f.recordBodies, "record-bodies", false, "keep message bodies in the --record trace (default: bodies redacted, sizes kept)")
	fl.Float64Var(&f.rateLimit, "rate-limit", socket.DefaultRateLimit, "client frames per second each connection may send (token bucket); more are refused with rate_limited (negative = no limit)")
	fl.IntVar(&f.rateBurst, "rate-burst", socket.DefaultRateBurst, "token bucket size of --rate-limit: frames a connection may send at once")
	fl.IntVar(&f.maxConnsUser, "max-conns-per-user", socket.DefaultMaxConnsPerUser, "open connections per user; more are refused with too_many_connections (negative = no limit)")
	fl.IntVar(&f.resumeEvents, "resume-events", socket.DefaultResumeEvents, "recent events kept per conversation for clients that reconnect and join with since (negative = resuming off)")
	fl.DurationVar(&f.resumeWindow, "resume-window", socket.DefaultResumeWindow, "how long an event stays available to resuming clients")
	fl.StringVar(&f.broker, "broker", socket.BrokerMemory, "where the front door's shared state lives: memory (this process alone), or redis://host:port/db for several instances sharing one Redis (events, members, resume history, accepted and relayed ids, the per-user cap; docs/protocol.md, \"Several instances\")")
	f.tls.register(cmd, "the client-facing listener")
	completeFiles(cmd, "record", traceExts...)
	refuseNegative(cmd, map[string]string{"send-queue": "", "max-frame": "", "rate-burst": "", "resume-window": ""})
}

// backlogFlags are the queue gateway's backpressure: how many messages a
// conversation and a sender may have outstanding (accepted, their jobs not
// all answered) before sends are refused with the retryable overloaded.
type backlogFlags struct {
	conv, user int
	ttl        time.Duration
}

func (f *backlogFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.IntVar(&f.conv, "max-conv-outstanding", queuemode.DefaultMaxConvOutstanding, "messages of one conversation accepted and not yet answered (all their queued jobs' events back) before its sends are refused as overloaded, retryable (negative = no bound)")
	fl.IntVar(&f.user, "max-user-outstanding", queuemode.DefaultMaxUserOutstanding, "the same bound per sender, over all its conversations (negative = no bound)")
	fl.DurationVar(&f.ttl, "outstanding-ttl", queuemode.DefaultOutstandingTTL, "how long a message counts as outstanding when not all its events come back (a job left for the DLQ)")
	refuseNegative(cmd, map[string]string{"outstanding-ttl": ""})
}

// apply sets the bounds on dc.
func (f *backlogFlags) apply(dc *queuemode.DispatcherConfig) {
	dc.MaxConvOutstanding, dc.MaxUserOutstanding, dc.OutstandingTTL = f.conv, f.user, f.ttl
}

// recorder opens the --record trace, or returns nil when recording is off.
// The returned close function flushes it and logs a failure; call it after
// the server has shut down.
func (f *frontFlags) recorder(log *slog.Logger) (socket.Recorder, func(), error) {
	if f.record == "" {
		if f.recordBodies {
			return nil, nil, fmt.Errorf("--record-bodies needs --record FILE")
		}
		return nil, func() {}, nil
	}
	rec, err := trace.OpenRecorder(f.record, trace.RecorderOptions{Bodies: f.recordBodies, Logger: log.With("component", "recorder")})
	if err != nil {
		return nil, nil, err
	}
	log.Info("recording accepted messages", "file", f.record, "bodies", f.recordBodies)
	return rec, func() {
		n := rec.Messages()
		if err := rec.Close(); err != nil {
			log.Error("recording incomplete", "file", f.record, "err", err)
			return
		}
		log.Info("recorded trace written", "file", f.record, "messages", n)
	}, nil
}

func (f *frontFlags) config(log *slog.Logger) socket.Config {
	if f.secret == devSecret {
		log.Warn("using the built-in development token secret; set --secret or CHATBENCH_SECRET for anything shared")
	}
	return socket.Config{
		Secret: []byte(f.secret), AllowedOrigins: f.allowedOrigins,
		SendQueue: f.sendQueue, MaxFrameBytes: f.maxFrame, Logger: log.With("component", "socket"),
		RateLimit: f.rateLimit, RateBurst: f.rateBurst, MaxConnsPerUser: f.maxConnsUser,
		Resume: socket.ResumeConfig{Events: f.resumeEvents, Window: f.resumeWindow},
		Broker: f.broker,
	}
}

func newServeDirectCmd(g *globals) *cobra.Command {
	var (
		addr, mlURL               string
		mlTimeout, drain, jobTime time.Duration
		maxTasks, maxPending      int
		maxUserTasks              int
		lanes                     int
		front                     frontFlags
		ml                        mlFlags
	)
	cmd := &cobra.Command{
		Use:   "direct",
		Short: "Run the direct path: WebSocket server running jobs inline and as background tasks",
		Long: `Run the simplified (direct) path: the shared WebSocket front door on /ws, with
sync jobs run on the server in arrival order per conversation and ML jobs run
as background tasks whose events are emitted when ready. /metrics and /healthz
are served on the same address.

Without --ml-url an ML service is started in this process on loopback (real
HTTP, profiles from --ml-profile). Connect a client written from
docs/protocol.md with a token from ` + "`chatbench token`" + `.
SIGINT/SIGTERM drain gracefully: accepted jobs finish and emit, then clients
are closed with 1001.`,
		Example: `  chatbench serve direct
  chatbench serve direct --addr 127.0.0.1:9000 --ml-url http://127.0.0.1:8090
  chatbench serve direct --addr 127.0.0.1:9001 --broker redis://127.0.0.1:6379/0   # one of several instances`,
		Args:    cobra.NoArgs,
		PreRunE: checkFlags,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			tlsCfg, err := front.tls.config()
			if err != nil {
				return err
			}
			rec, closeRec, err := front.recorder(log)
			if err != nil {
				return err
			}
			defer closeRec()
			reg := obs.NewRegistry()
			client, stopML, err := mlClient(mlURL, mlTimeout, &ml, reg, log)
			if err != nil {
				return err
			}
			fc := front.config(log)
			fc.Registerer, fc.Recorder = reg, rec
			srv, err := directmode.Start(directmode.ServerConfig{
				Addr: addr, Front: fc,
				Dispatcher: directmode.Config{
					Catalog: jobs.Catalog(), Deps: chat.Deps{ML: client},
					SyncLanes: lanes, MaxTasks: maxTasks, MaxPending: maxPending, MaxUserTasks: maxUserTasks, JobTimeout: jobTime,
					Logger: log.With("component", "direct"), Registerer: reg,
				},
				Gatherer: reg, TLS: tlsCfg,
			})
			if err != nil {
				stopML(context.Background())
				return err
			}
			log.Info("direct path listening", "ws", srv.URL(), "metrics", srv.MetricsURL())
			fmt.Fprintf(cmd.OutOrStdout(), "chatbench direct path: %s  (metrics: %s; Ctrl-C to stop)\n", srv.URL(), srv.MetricsURL())
			<-cmd.Context().Done()
			log.Info("draining", "timeout", drain)
			ctx, cancel := context.WithTimeout(context.Background(), drain)
			defer cancel()
			err = srv.Shutdown(ctx)
			stopML(ctx)
			return drained(err, drain, log)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&addr, "addr", "127.0.0.1:8080", "listen address (WebSocket on /ws)")
	fl.StringVar(&mlURL, "ml-url", "", "ML service base URL, e.g. http://127.0.0.1:8090 (default: start one in this process)")
	fl.DurationVar(&mlTimeout, "ml-timeout", 5*time.Second, "timeout of each ML call")
	fl.DurationVar(&jobTime, "job-timeout", 10*time.Second, "timeout of each job")
	fl.DurationVar(&drain, "drain-timeout", 30*time.Second, "how long a graceful shutdown waits for in-flight jobs (0 = not at all)")
	fl.IntVar(&maxTasks, "max-tasks", 256, "ML background tasks running at once")
	fl.IntVar(&maxPending, "max-pending", 0, "ML tasks running or waiting before messages are refused as overloaded (0 = 16 × --max-tasks)")
	fl.IntVar(&maxUserTasks, "max-user-tasks", 0, "one user's share of --max-tasks when every slot is taken: beyond it a user's ML messages are refused as overloaded, retryable, unless free slots take them at once (0 = --max-tasks / 8, at least 1; negative = no share)")
	fl.IntVar(&lanes, "sync-lanes", 16, "sync-job lanes (each conversation is served by one lane, in order; at most 4096)")
	front.register(cmd)
	ml.register(cmd, "ml-")
	refuseNegative(cmd, map[string]string{"ml-timeout": "", "job-timeout": "", "drain-timeout": "do not wait",
		"max-tasks": "", "max-pending": "16 × --max-tasks", "sync-lanes": ""})
	return cmd
}
