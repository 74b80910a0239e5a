package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/internal/obs"
	"github.com/chatbench/chatbench/internal/serve"
	"github.com/chatbench/chatbench/queuemode"
	"github.com/chatbench/chatbench/queuemode/sqsd"
)

// devCallbackSecret signs worker → gateway callbacks when none is
// configured. Development only: anyone who can reach the callback listener
// and knows it can inject events.
const devCallbackSecret = "chatbench-dev-callback-secret-change-me"

// queueFlags name the SQS endpoint and the job queue.
type queueFlags struct {
	endpoint   string // a URL, awsEndpoint, or "" (see each command)
	name       string
	visibility time.Duration
	maxReceive int
}

// awsEndpoint as --sqs-endpoint selects real Amazon SQS: the endpoint the
// SDK resolves from the region, with no embedded fallback.
const awsEndpoint = "aws"

func (f *queueFlags) register(cmd *cobra.Command, endpointHelp string) {
	fl := cmd.Flags()
	fl.StringVar(&f.endpoint, "sqs-endpoint", "", endpointHelp)
	fl.StringVar(&f.name, "queue-name", "chatbench-jobs", "job queue base name: <name>.fifo and its DLQ <name>-dlq.fifo")
	fl.DurationVar(&f.visibility, "visibility-timeout", 30*time.Second, "visibility timeout of received jobs (must exceed --job-timeout, at most 12h; renewed while a job runs)")
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
	cl, err := queuemode.NewClient(ctx, queuemode.ClientConfig{Endpoint: endpoint})
	if err != nil {
		return nil, queuemode.Queues{}, err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	q, err := queuemode.Setup(sctx, cl, f.name, queuemode.SetupOptions{VisibilityTimeout: f.visibility, MaxReceiveCount: f.maxReceive})
	if err != nil {
		return nil, queuemode.Queues{}, fmt.Errorf("queue set-up at %s: %w", endpointName(endpoint), err)
	}
	return cl, q, nil
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
	ml        mlFlags
}

func (f *workerFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.mlURL, "ml-url", "", "ML service base URL, e.g. http://127.0.0.1:8090 (default: start one in this process)")
	fl.DurationVar(&f.mlTimeout, "ml-timeout", 5*time.Second, "timeout of each ML call")
	fl.DurationVar(&f.jobTime, "job-timeout", 10*time.Second, "timeout of each job")
	fl.IntVar(&f.inFlight, "max-in-flight", 256, "jobs processed at once across pollers (the direct path's --max-tasks counterpart)")
	f.ml.register(cmd, "ml-")
	refuseNegative(cmd, map[string]string{"ml-timeout": "", "job-timeout": "", "max-in-flight": ""})
}

// start runs pollers workers posting to callbackURL; stop shuts them down
// and the embedded ML service if one was started.
func (f *workerFlags) start(pollers int, cl *sqs.Client, q queuemode.Queues, visibility time.Duration, callbackURL string, secret []byte,
	m *queuemode.Metrics, reg *prometheus.Registry, log *slog.Logger) (stop func(context.Context) error, err error) {
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
		Poster: poster, Pollers: pollers, MaxInFlight: f.inFlight, JobTimeout: f.jobTime, VisibilityTimeout: visibility,
		Metrics: m, Registerer: reg, Logger: log.With("component", "worker"),
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

func callbackSecret(s string, log *slog.Logger) []byte {
	if s == devCallbackSecret {
		log.Warn("using the built-in development callback secret; set --callback-secret or CHATBENCH_CALLBACK_SECRET for anything shared")
	}
	return []byte(s)
}

func newServeQueueCmd(g *globals) *cobra.Command {
	var (
		addr, cbAddr, cbSecret string
		drain                  time.Duration
		embedded               int
		qf                     queueFlags
		wf                     workerFlags
		front                  frontFlags
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
the queue is left to empty, then clients are closed with 1001.`,
		Example: `  chatbench serve queue
  chatbench serve queue --embedded-worker 0 --sqs-endpoint http://127.0.0.1:9324`,
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
			cl, q, err := qf.connect(cmd.Context(), endpoint)
			if err != nil {
				return err
			}
			m := queuemode.NewMetrics(reg)
			secret := callbackSecret(cbSecret, log)
			fc := front.config(log)
			fc.Registerer, fc.Recorder = reg, rec
			gw, err := queuemode.StartGateway(queuemode.GatewayConfig{
				Addr: addr, Front: fc,
				Dispatcher:   queuemode.DispatcherConfig{Catalog: jobs.Catalog(), Client: cl, QueueURL: q.URL},
				Callback:     queuemode.CallbackConfig{Secret: secret},
				CallbackAddr: cbAddr, Metrics: m, Gatherer: reg, Logger: log.With("component", "gateway"), TLS: tlsCfg,
			})
			if err != nil {
				return err
			}
			stopWorker := func(context.Context) error { return nil }
			if embedded > 0 {
				if stopWorker, err = wf.start(embedded, cl, q, qf.visibility, gw.CallbackURL(), secret, m, reg, log); err != nil {
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
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&addr, "addr", "127.0.0.1:8080", "listen address (WebSocket on /ws, /metrics, /healthz)")
	fl.StringVar(&cbAddr, "callback-addr", "127.0.0.1:8081", "listen address of the workers' callback POST /internal/events (keep it on loopback or a private network)")
	fl.StringVar(&cbSecret, "callback-secret", devCallbackSecret, "HMAC secret workers sign callbacks with (at least 16 bytes; the default is for development only)")
	fl.DurationVar(&drain, "drain-timeout", 30*time.Second, "how long a graceful shutdown waits for queued jobs (0 = not at all)")
	fl.IntVar(&embedded, "embedded-worker", 2, "worker pollers to run in this process (0 = none; run chatbench worker separately)")
	qf.register(cmd, "SQS endpoint URL, or aws for real Amazon SQS (default: AWS_ENDPOINT_URL_SQS if set, else an embedded endpoint in this process)")
	wf.register(cmd)
	front.register(cmd)
	refuseNegative(cmd, map[string]string{"drain-timeout": "do not wait", "embedded-worker": "none"})
	return cmd
}

func newWorkerCmd(g *globals) *cobra.Command {
	var (
		cbURL, cbSecret, metricsAddr string
		drain                        time.Duration
		pollers                      int
		qf                           queueFlags
		wf                           workerFlags
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
missing. /metrics and /healthz are served on --metrics-addr.`,
		Example: `  chatbench worker --sqs-endpoint http://127.0.0.1:9324 --ml-url http://127.0.0.1:8090
  AWS_ENDPOINT_URL_SQS=http://localhost:4566 chatbench worker --workers 4`,
		Args:    cobra.NoArgs,
		PreRunE: checkFlags,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			reg := obs.NewRegistry()
			cl, q, err := qf.connect(cmd.Context(), qf.endpoint)
			if err != nil {
				return err
			}
			m := queuemode.NewMetrics(reg)
			stop, err := wf.start(pollers, cl, q, qf.visibility, cbURL, callbackSecret(cbSecret, log), m, reg, log)
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
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cbURL, "callback-url", "http://127.0.0.1:8081", "gateway callback URL (path defaults to /internal/events); several, comma-separated, are tried in order — any gateway of instances sharing a --broker can take a job's events")
	fl.StringVar(&cbSecret, "callback-secret", devCallbackSecret, "HMAC secret shared with the gateway (at least 16 bytes; the default is for development only)")
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
	var addr, latency string
	cmd := &cobra.Command{
		Use:   "sqs",
		Short: "Run the embedded SQS endpoint standalone (SQS JSON protocol, FIFO, DLQ)",
		Long: `Run chatbench's embedded SQS endpoint on loopback. Point workers and gateways
at it with --sqs-endpoint or AWS_ENDPOINT_URL_SQS. --latency adds a cloud-like
round trip per call: "none", "region", or pairs like "median:15ms,p99:60ms".`,
		Example: `  chatbench sqs
  chatbench sqs --latency region`,
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
			s := sqsd.New(sqsd.Config{Logger: log.With("component", "sqsd"), Latency: lp})
			url, err := s.Start(addr)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "chatbench sqs: %s  (latency: %s; Ctrl-C to stop)\n", url, lp)
			<-cmd.Context().Done()
			return s.Close()
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:9324", "listen address")
	cmd.Flags().StringVar(&latency, "latency", "none", `added latency per call: none, region, or e.g. "median:15ms,p99:60ms,seed:7"`)

	cmd.AddCommand(newSQSConformanceCmd(g))
	return cmd
}
