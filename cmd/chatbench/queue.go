package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/internal/obs"
	"github.com/chatbench/chatbench/internal/serve"
	"github.com/chatbench/chatbench/queuemode"
	"github.com/chatbench/chatbench/queuemode/sqsd"
)

// devCallbackSecret signs worker → gateway callbacks with
// --insecure-dev-secret. Development only: anyone who can reach the
// callback listener knows it and can sign requests with it (the gateway
// still emits only events of messages it accepted).
const devCallbackSecret = "chatbench-dev-callback-secret-change-me"

// queueFlags name the SQS endpoint and the job queue.
type queueFlags struct {
	endpoint   string // a URL, awsEndpoint, or "" (see each command)
	name       string
	queueType  string
	visibility time.Duration
	maxReceive int
}

// Queue types of --queue-type.
const (
	queueFIFO     = "fifo"
	queueStandard = "standard"
)

// awsEndpoint as --sqs-endpoint selects real Amazon SQS: the endpoint the
// SDK resolves from the region, with no embedded fallback.
const awsEndpoint = "aws"

func (f *queueFlags) register(cmd *cobra.Command, endpointHelp string) {
	fl := cmd.Flags()
	fl.StringVar(&f.endpoint, "sqs-endpoint", "", endpointHelp)
	fl.StringVar(&f.name, "queue-name", "chatbench-jobs", "job queue base name: <name>.fifo and its DLQ <name>-dlq.fifo (<name> and <name>-dlq for a standard queue)")
	fl.StringVar(&f.queueType, "queue-type", queueFIFO, "fifo (ordered per message group, deduplicated sends) or standard (at-least-once, unordered); gateway and workers must agree")
	fl.DurationVar(&f.visibility, "visibility-timeout", 30*time.Second, "visibility timeout of received jobs (2s to 12h; renewed every half of it while a worker holds a job, so it may be shorter than --job-timeout: a short one brings a dead worker's jobs back soon)")
	fl.IntVar(&f.maxReceive, "max-receive-count", 5, "receives before a job moves to the dead-letter queue (at most 1000)")
	refuseNegative(cmd, map[string]string{"visibility-timeout": "", "max-receive-count": ""})
}

// connect builds the SQS client for endpoint ("" = the standard AWS
// configuration: AWS_ENDPOINT_URL_SQS, region, credential chain) and
// idempotently creates the queues.
func (f *queueFlags) connect(ctx context.Context, endpoint string) (*sqs.Client, queuemode.Queues, error) {
	if endpoint == awsEndpoint {
		endpoint = ""
	}
	if f.queueType != queueFIFO && f.queueType != queueStandard {
		return nil, queuemode.Queues{}, fmt.Errorf("--queue-type %q: use %s or %s", f.queueType, queueFIFO, queueStandard)
	}
	cl, err := queuemode.NewClient(ctx, queuemode.ClientConfig{Endpoint: endpoint})
	if err != nil {
		return nil, queuemode.Queues{}, err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	spec := f.spec()
	q, err := queuemode.Setup(sctx, cl, spec.Name, spec.Options)
	if err != nil {
		return nil, queuemode.Queues{}, fmt.Errorf("queue set-up at %s: %w", endpointName(endpoint), err)
	}
	return cl, q, nil
}

// spec is how connect sets the queues up: what a worker or gateway
// creates them again with when the endpoint has lost them.
func (f *queueFlags) spec() *queuemode.QueueSpec {
	return &queuemode.QueueSpec{Name: f.name, Options: queuemode.SetupOptions{VisibilityTimeout: f.visibility,
		MaxReceiveCount: f.maxReceive, Standard: f.queueType == queueStandard}}
}

func endpointName(endpoint string) string {
	if endpoint != "" {
		return endpoint
	}
	if v := os.Getenv("AWS_ENDPOINT_URL_SQS"); v != "" {
		return v + " (AWS_ENDPOINT_URL_SQS)"
	}
	if v := os.Getenv("AWS_ENDPOINT_URL"); v != "" {
		return v + " (AWS_ENDPOINT_URL)"
	}
	return "AWS (standard configuration)"
}

// workerFlags configure queue workers (standalone or embedded).
type workerFlags struct {
	mlURL     string
	mlTimeout time.Duration
	jobTime   time.Duration
	inFlight  int
	batchDel  bool
	groupConc int
	ml        mlFlags
}

func (f *workerFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.mlURL, "ml-url", "", "ML service base URL, e.g. http://127.0.0.1:8090 (default: start one in this process)")
	fl.DurationVar(&f.mlTimeout, "ml-timeout", 5*time.Second, "timeout of each ML call")
	fl.DurationVar(&f.jobTime, "job-timeout", 10*time.Second, "timeout of each job")
	fl.IntVar(&f.inFlight, "max-in-flight", 256, "jobs processed at once across pollers (the direct path's --max-tasks counterpart)")
	fl.BoolVar(&f.batchDel, "batch-deletes", false, "delete processed jobs in DeleteMessageBatch calls of those ready together (up to 10) instead of one call each")
	fl.IntVar(&f.groupConc, "group-concurrency", 1, "messages of one FIFO group, received together, whose jobs run at once (1-10); their events are still posted in order (1 = one after another, the legacy design)")
	f.ml.register(cmd, "ml-")
	refuseNegative(cmd, map[string]string{"ml-timeout": "", "job-timeout": "", "max-in-flight": "", "group-concurrency": "1"})
}

// start runs pollers workers posting to callbackURL; stop shuts them down
// and the embedded ML service if one was started.
func (f *workerFlags) start(pollers int, cl *sqs.Client, q queuemode.Queues, qf *queueFlags, callbackURL string, secret []byte,
	m *queuemode.Metrics, jm *obs.JobMetrics, reg *prometheus.Registry, log *slog.Logger) (stop func(context.Context) error, err error) {
	client, stopML, err := mlClient(f.mlURL, f.mlTimeout, &f.ml, reg, log)
	if err != nil {
		return nil, err
	}
	poster, clients, err := queuemode.NewCallbackClients(callbackURL, secret, m)
	if err != nil {
		stopML(context.Background())
		return nil, err
	}
	w, err := queuemode.StartWorker(queuemode.WorkerConfig{
		Catalog: jobs.Catalog(), Deps: chat.Deps{ML: client}, Client: cl, QueueURL: q.URL, DLQURL: q.DLQURL,
		Poster: poster, Pollers: pollers, MaxInFlight: f.inFlight, JobTimeout: f.jobTime, VisibilityTimeout: qf.visibility,
		Recreate:     qf.spec(),
		BatchDeletes: f.batchDel, GroupConcurrency: f.groupConc, Metrics: m, Jobs: jm, Registerer: reg, Logger: log.With("component", "worker"),
	})
	if err != nil {
		stopML(context.Background())
		return nil, err
	}
	return func(ctx context.Context) error {
		err := w.Shutdown(ctx)
		for _, c := range clients {
			c.CloseIdle()
		}
		stopML(ctx)
		return err
	}, nil
}

// secretFlags choose the callback secret of a gateway or worker.
type secretFlags struct {
	secret   string
	insecure bool
}

func (f *secretFlags) register(cmd *cobra.Command, help string) {
	fl := cmd.Flags()
	fl.StringVar(&f.secret, "callback-secret", "", help)
	fl.BoolVar(&f.insecure, "insecure-dev-secret", false, "use the built-in development callback secret, which anyone can sign events with: only where nothing else can reach the callback")
}

// callbackSecret returns the secret callbacks are signed with. A random one
// when none is given and only this process's embedded workers post
// (embeddedOnly); the built-in development secret only with
// --insecure-dev-secret, since any local process knows it; otherwise the
// one given, which must not be the development secret.
func (f *secretFlags) callbackSecret(embeddedOnly bool, log *slog.Logger) ([]byte, error) {
	switch {
	case f.insecure && (f.secret == "" || f.secret == devCallbackSecret):
		log.Warn("--insecure-dev-secret: callbacks are signed with the built-in development secret; anyone who can reach the callback listener can inject events")
		return []byte(devCallbackSecret), nil
	case f.secret == devCallbackSecret:
		return nil, errors.New("--callback-secret is the built-in development secret, which anyone can sign events with: choose another (e.g. openssl rand -hex 32), or add --insecure-dev-secret where nothing else can reach the callback")
	case f.secret != "":
		return []byte(f.secret), nil
	case embeddedOnly:
		b := make([]byte, 32)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		log.Info("callback secret: random for this run, known to the embedded workers only; set --callback-secret to share one with separate workers")
		return []byte(hex.EncodeToString(b)), nil
	}
	return nil, errors.New("--callback-secret: required, the secret the gateway and its workers share (at least 16 bytes; or CHATBENCH_CALLBACK_SECRET); --insecure-dev-secret uses the built-in development one, only where nothing else can reach the callback")
}

func newServeQueueCmd(g *globals) *cobra.Command {
	var (
		addr, cbAddr        string
		cbSecret            secretFlags
		groupBy             string
		inlineSync, noDedup bool
		drain               time.Duration
		embedded            int
		qf                  queueFlags
		wf                  workerFlags
		front               frontFlags
		backlog             backlogFlags
	)
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "Run the queue path's gateway: WebSocket front door → SQS FIFO, events back over a signed callback",
		Long: `Run the legacy (queue) path's gateway: the shared WebSocket front door on /ws
sends every job a message triggers to the SQS FIFO queue <queue-name>.fifo
(created with its DLQ if missing); workers post the events back to the signed
callback endpoint POST /internal/events on --callback-addr (loopback by
default), and the gateway emits them.

SQS endpoint: --sqs-endpoint, else AWS_ENDPOINT_URL_SQS (e.g. LocalStack at
http://localhost:4566), else an embedded SQS endpoint started in this process.
--sqs-endpoint aws uses real Amazon SQS, resolved from the region and
credentials of the standard AWS configuration.
--embedded-worker N also runs N worker pollers in this process (0 = run
` + "`chatbench worker`" + ` separately). SIGINT/SIGTERM drain: new messages are refused,
the queue is left to empty, then clients are closed with 1001.

The design is a configuration (docs/methodology.md, "Queue variants"): by
default the legacy one — a FIFO queue, one message group per conversation,
every job queued. --group-by job gives each conversation's job its own group
(no job waits behind another's ML call), --group-by message puts every job of
every message in a group of its own (no order across messages, as the direct
path's background tasks); --queue-type standard drops groups and FIFO
deduplication; --inline-sync runs sync jobs here, as the direct path does, and
queues only ML jobs (the hybrid design). A message whose body the queue cannot
carry is refused with the permanent message_too_large before it is relayed.
--no-event-dedup lets jobs that ran twice reach clients twice (for
measurements: the gateway's dedup is what otherwise keeps them away).

Callbacks are signed with --callback-secret; without one the gateway draws a
random secret its embedded workers share, and with --embedded-worker 0 it
refuses to start (separate workers need the secret). The built-in
development secret is refused unless --insecure-dev-secret is given. The
gateway emits only events of jobs it queued, with its own record of the
message's conversation and members (docs/protocol.md).`,
		Example: `  chatbench serve queue
  chatbench serve queue --embedded-worker 0 --sqs-endpoint http://127.0.0.1:9324
  chatbench serve queue --inline-sync --group-by message --visibility-timeout 5s`,
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
			secret, err := cbSecret.callbackSecret(embedded > 0, log)
			if err != nil {
				return err
			}
			rec, closeRec, err := front.recorder(log)
			if err != nil {
				return err
			}
			defer closeRec()
			reg := obs.NewRegistry()
			endpoint := qf.endpoint
			closeSQS := func() {}
			if endpoint == "" && os.Getenv("AWS_ENDPOINT_URL_SQS") == "" && os.Getenv("AWS_ENDPOINT_URL") == "" {
				s := sqsd.New(sqsd.Config{Logger: log.With("component", "sqsd"), Registerer: reg})
				if endpoint, err = s.Start("127.0.0.1:0"); err != nil {
					return err
				}
				closeSQS = func() { _ = s.Close() }
				log.Info("embedded sqs endpoint", "url", endpoint)
			}
			defer closeSQS()
			group, err := queuemode.ParseGroupBy(groupBy)
			if err != nil {
				return fmt.Errorf("--%w", err)
			}
			cl, q, err := qf.connect(cmd.Context(), endpoint)
			if err != nil {
				return err
			}
			m := queuemode.NewMetrics(reg)
			// One set of job metrics for the jobs run here: the inline sync
			// jobs' and the embedded workers'.
			jm := obs.NewJobMetrics(reg, jobs.Catalog().Jobs()...)
			fc := front.config(log)
			fc.Registerer, fc.Recorder = reg, rec
			gc := queuemode.GatewayConfig{
				Addr: addr, Front: fc,
				Dispatcher: queuemode.DispatcherConfig{Catalog: jobs.Catalog(), Client: cl, QueueURL: q.URL,
					Standard: !q.FIFO, GroupBy: group, MaxMessageBytes: min(q.MaxMessageSize, queuemode.DefaultMaxMessageBytes)},
				Callback:     queuemode.CallbackConfig{Secret: secret, NoDedup: noDedup},
				Recreate:     qf.spec(),
				CallbackAddr: cbAddr, Metrics: m, Registerer: reg, Gatherer: reg, Logger: log.With("component", "gateway"), TLS: tlsCfg,
			}
			backlog.apply(&gc.Dispatcher)
			if inlineSync {
				gc.InlineSync = &directmode.SyncConfig{JobTimeout: wf.jobTime, Jobs: jm}
			}
			if noDedup {
				log.Warn("--no-event-dedup: events of jobs that run twice reach clients twice; for measurements only")
			}
			gw, err := queuemode.StartGateway(gc)
			if err != nil {
				return err
			}
			stopWorker := func(context.Context) error { return nil }
			if embedded > 0 {
				if stopWorker, err = wf.start(embedded, cl, q, &qf, gw.CallbackURL(), secret, m, jm, reg, log); err != nil {
					_ = gw.Shutdown(context.Background())
					return err
				}
			}
			log.Info("queue gateway listening", "ws", gw.URL(), "callback", gw.CallbackURL(), "queue", q.URL, "embedded_workers", embedded)
			fmt.Fprintf(cmd.OutOrStdout(), "chatbench queue path: %s  (callback: %s; queue: %s; metrics: %s; Ctrl-C to stop)\n",
				gw.URL(), gw.CallbackURL(), q.URL, gw.MetricsURL())
			<-cmd.Context().Done()
			log.Info("draining", "timeout", drain)
			ctx, cancel := context.WithTimeout(context.Background(), drain)
			defer cancel()
			// Gateway first: it waits for the queue to empty while the
			// workers still run and its callback still listens.
			err = gw.Shutdown(ctx)
			if werr := stopWorker(ctx); err == nil {
				err = werr
			}
			return drained(err, drain, log)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&addr, "addr", "127.0.0.1:8080", "listen address (WebSocket on /ws, /metrics, /healthz)")
	fl.StringVar(&cbAddr, "callback-addr", "127.0.0.1:8081", "listen address of the workers' callback POST /internal/events (keep it on loopback or a private network)")
	cbSecret.register(cmd, "HMAC secret workers sign callbacks with (at least 16 bytes; default: a random one for this run, known to the embedded workers only)")
	fl.DurationVar(&drain, "drain-timeout", 30*time.Second, "how long a graceful shutdown waits for queued jobs (0 = not at all)")
	fl.IntVar(&embedded, "embedded-worker", 2, "worker pollers to run in this process (0 = none; run chatbench worker separately)")
	fl.StringVar(&groupBy, "group-by", string(queuemode.GroupConversation), "FIFO message groups: conversation (legacy: a conversation's jobs one at a time), job (per conversation and job), message (per message and job: no order across messages)")
	fl.BoolVar(&inlineSync, "inline-sync", false, "run sync jobs here, in the direct path's lanes, and queue only ML jobs (the hybrid design)")
	fl.BoolVar(&noDedup, "no-event-dedup", false, "emit events of jobs that ran twice (redelivered, duplicated by a standard queue) again: the duplicate sends the gateway's dedup otherwise prevents")
	qf.register(cmd, "SQS endpoint URL, or aws for real Amazon SQS (default: AWS_ENDPOINT_URL_SQS if set, else an embedded endpoint in this process)")
	wf.register(cmd)
	front.register(cmd)
	backlog.register(cmd)
	refuseNegative(cmd, map[string]string{"drain-timeout": "do not wait", "embedded-worker": "none"})
	return cmd
}

func newWorkerCmd(g *globals) *cobra.Command {
	var (
		cbURL, metricsAddr string
		cbSecret           secretFlags
		drain              time.Duration
		pollers            int
		qf                 queueFlags
		wf                 workerFlags
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run queue workers: long-poll SQS, run the shared handlers, post events to the gateway",
		Long: `Run the queue path's workers: --workers pollers long-poll <queue-name>.fifo
(batches of up to 10), run each job with the same handlers as the direct path,
post its event to the gateway's signed callback and delete the message only
after the gateway accepted it. Long jobs get their visibility extended; a job
that keeps failing moves to the DLQ after --max-receive-count receives.

SQS endpoint: --sqs-endpoint, else the standard AWS configuration
(AWS_ENDPOINT_URL_SQS, region, credentials). The queues are created if
missing. /metrics and /healthz are served on --metrics-addr.

--callback-secret (or CHATBENCH_CALLBACK_SECRET) is required: the gateway's.
The built-in development secret, which anyone can sign events with, is
refused unless --insecure-dev-secret is given.`,
		Example: `  chatbench worker --sqs-endpoint http://127.0.0.1:9324 --ml-url http://127.0.0.1:8090
  AWS_ENDPOINT_URL_SQS=http://localhost:4566 chatbench worker --workers 4`,
		Args:    cobra.NoArgs,
		PreRunE: checkFlags,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			secret, err := cbSecret.callbackSecret(false, log)
			if err != nil {
				return err
			}
			reg := obs.NewRegistry()
			cl, q, err := qf.connect(cmd.Context(), qf.endpoint)
			if err != nil {
				return err
			}
			m := queuemode.NewMetrics(reg)
			stop, err := wf.start(pollers, cl, q, &qf, cbURL, secret, m, nil, reg, log)
			if err != nil {
				return err
			}
			ms, err := serve.Listen(metricsAddr, obs.Mux(reg))
			if err != nil {
				_ = stop(context.Background())
				return err
			}
			log.Info("worker polling", "queue", q.URL, "pollers", pollers, "callback", cbURL, "metrics", "http://"+ms.Addr()+"/metrics")
			fmt.Fprintf(cmd.OutOrStdout(), "chatbench worker: %d pollers on %s → %s  (metrics: http://%s/metrics; Ctrl-C to stop)\n", pollers, q.URL, cbURL, ms.Addr())
			<-cmd.Context().Done()
			ctx, cancel := context.WithTimeout(context.Background(), drain)
			defer cancel()
			err = stop(ctx)
			if serr := ms.Shutdown(ctx); err == nil {
				err = serr
			}
			return drained(err, drain, log)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cbURL, "callback-url", "http://127.0.0.1:8081", "gateway callback URL (path defaults to /internal/events); several, comma-separated, are tried in order — any gateway of instances sharing a --broker can take a job's events")
	cbSecret.register(cmd, "HMAC secret shared with the gateway (at least 16 bytes; required)")
	fl.StringVar(&metricsAddr, "metrics-addr", "127.0.0.1:8082", "listen address of /metrics and /healthz")
	fl.DurationVar(&drain, "drain-timeout", 30*time.Second, "how long a graceful shutdown waits for in-flight jobs (the rest are redelivered; 0 = not at all)")
	fl.IntVar(&pollers, "workers", 4, "concurrent ReceiveMessage pollers (0 = 2)")
	qf.register(cmd, "SQS endpoint URL (default: the standard AWS configuration, e.g. AWS_ENDPOINT_URL_SQS)")
	wf.register(cmd)
	refuseNegative(cmd, map[string]string{"drain-timeout": "do not wait", "workers": "2"})
	return cmd
}

func newQueueCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "queue", Short: "Manage the SQS job queue"}
	var qf queueFlags
	setup := &cobra.Command{
		Use:     "setup",
		Short:   "Create the FIFO job queue and its dead-letter queue (idempotent) and print their URLs",
		Args:    cobra.NoArgs,
		PreRunE: checkFlags,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := g.logger(); err != nil {
				return err
			}
			_, q, err := qf.connect(cmd.Context(), qf.endpoint)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "queue: %s\ndlq:   %s\n", q.URL, q.DLQURL)
			return nil
		},
	}
	qf.register(setup, "SQS endpoint URL (default: the standard AWS configuration, e.g. AWS_ENDPOINT_URL_SQS)")
	cmd.AddCommand(setup)
	return cmd
}

func newSQSCmd(g *globals) *cobra.Command {
	var addr, latency, dups string
	var seed uint64
	cmd := &cobra.Command{
		Use:   "sqs",
		Short: "Run the embedded SQS endpoint standalone (SQS JSON protocol, FIFO, DLQ)",
		Long: `Run chatbench's embedded SQS endpoint on loopback. Point workers and gateways
at it with --sqs-endpoint or AWS_ENDPOINT_URL_SQS. --latency adds a cloud-like
round trip per call: "none", "region", or pairs like "median:15ms,p99:60ms".
--duplicates makes standard queues deliver that share of messages twice
(SQS's at-least-once delivery; SQS states no rate); FIFO queues never do.
GET /metrics (chatbench_sqsd_*, Go and process metrics) and GET /healthz
are served on the same address. Queues are held in memory: a restart loses
them, and workers and gateways create them again when they find them gone.`,
		Example: `  chatbench sqs
  chatbench sqs --latency region
  chatbench sqs --duplicates 0.1%`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			lp, err := sqsd.ParseLatencyProfile(latency)
			if err != nil {
				return fmt.Errorf("--latency: %w", err)
			}
			rate, err := parseFraction(dups)
			if err != nil {
				return fmt.Errorf("--duplicates: %w", err)
			}
			reg := obs.NewRegistry()
			s := sqsd.New(sqsd.Config{Logger: log.With("component", "sqsd"), Latency: lp, Duplicates: rate, Seed: seed, Registerer: reg})
			// GET /metrics and /healthz beside the SQS protocol, which
			// is POSTed (no queue URL is /metrics or /healthz).
			om := obs.Mux(reg)
			mux := http.NewServeMux()
			mux.Handle("GET /metrics", om)
			mux.Handle("GET /healthz", om)
			mux.Handle("/", s.Handler())
			srv, err := serve.Listen(addr, mux)
			if err != nil {
				_ = s.Close()
				return fmt.Errorf("--addr %s: %w", addr, err)
			}
			url := "http://" + srv.Addr()
			fmt.Fprintf(cmd.OutOrStdout(), "chatbench sqs: %s  (latency: %s; metrics: %s/metrics; Ctrl-C to stop)\n", url, lp, url)
			<-cmd.Context().Done()
			// The endpoint first: it ends its long polls, which the HTTP
			// server's shutdown would otherwise wait for.
			err = s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return errors.Join(err, srv.Shutdown(ctx))
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:9324", "listen address")
	cmd.Flags().StringVar(&latency, "latency", "none", `added latency per call: none, region, or e.g. "median:15ms,p99:60ms,seed:7"`)
	cmd.Flags().StringVar(&dups, "duplicates", "0", `share of standard-queue receives that leave a second copy for another consumer, e.g. "0.1%" or 0.001 (0 = none)`)
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the --duplicates draws")

	cmd.AddCommand(newSQSConformanceCmd(g))
	return cmd
}

// parseFraction reads a share as a fraction (0.001) or a percentage
// ("0.1%"), between 0 and 1.
func parseFraction(s string) (float64, error) {
	v, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	f, err := strconv.ParseFloat(v, 64)
	if pct {
		f /= 100
	}
	if err != nil || math.IsNaN(f) || f < 0 || f > 1 {
		return 0, fmt.Errorf("%q: want a share between 0 and 1, as a fraction (0.001) or a percentage (0.1%%)", s)
	}
	return f, nil
}

// drained is what a server or worker command returns after its graceful
// drain: a drain that ran out of --drain-timeout is the bounded drain doing
// what it was told — the work it left is logged (the gateway names the
// jobs still queued) and the process exits 0, so a supervisor (or compare)
// records it as work left undone rather than as a crash.
func drained(err error, drain time.Duration, log *slog.Logger) error {
	if errors.Is(err, context.DeadlineExceeded) {
		log.Warn("drain timed out; work was left undone", "drain_timeout", drain)
		return nil
	}
	return err
}
