package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/obs"
	"github.com/chatbench/chatbench/internal/serve"
	"github.com/chatbench/chatbench/mlservice"
)

// mlFlags configure the ML service, run standalone (`chatbench ml`) or
// embedded in a server process when no --ml-url is given.
type mlFlags struct {
	prefix  string // of the flag names: "" for `chatbench ml`, "ml-" in a server
	profile string
	seed    int64
}

func (f *mlFlags) register(cmd *cobra.Command, prefix string) {
	f.prefix = prefix
	cmd.Flags().StringVar(&f.profile, prefix+"profile", mlservice.PresetDefault,
		`latency/failure profiles: a preset (default, fast, zero) then overrides, e.g. "fast;triage=median:40ms,p99:200ms,fail:5%" (see docs/ml-profiles.md)`)
	cmd.Flags().Int64Var(&f.seed, prefix+"seed", 1, "seed of the latency and failure draws (same seed, same sequence; 0 = 1)")
	completeValues(cmd, prefix+"profile", mlservice.PresetNames()) // a preset starts every profile
}

// profiles checks the flags and returns the profiles they select: every
// model the catalog's jobs call, with the spec's overrides.
func (f *mlFlags) profiles() (map[string]mlservice.Profile, error) {
	if f.seed < 0 {
		return nil, fmt.Errorf("--%sseed %d: must be ≥ 0 (0 = 1)", f.prefix, f.seed)
	}
	ps, err := mlservice.MergeProfiles(mlservice.DefaultProfiles(), f.profile)
	if err != nil {
		return nil, fmt.Errorf("--%sprofile: %w", f.prefix, err)
	}
	return ps, nil
}

// start starts the ML service on addr with its /metrics and /healthz.
func (f *mlFlags) start(addr string, reg *prometheus.Registry, log *slog.Logger) (*serve.Server, error) {
	profiles, err := f.profiles()
	if err != nil {
		return nil, err
	}
	ms, err := mlservice.New(mlservice.Config{Profiles: profiles, Seed: f.seed, Logger: log, Registerer: reg})
	if err != nil {
		return nil, err
	}
	mux := obs.Mux(reg)
	mux.Handle("/", ms.Handler())
	return serve.Listen(addr, mux)
}

func newMLCmd(g *globals) *cobra.Command {
	var (
		addr string
		f    mlFlags
	)
	cmd := &cobra.Command{
		Use:   "ml",
		Short: "Run the ML service stand-in (one endpoint per model, seeded latency and failures)",
		Long: `Run the ML service both paths call: POST /v1/models/{model}/predict with
{"input": "..."} answers a deterministic output after a latency drawn from the
model's profile (median, p99, heavy tail), failing a configured fraction of
calls. GET /v1/models lists the profiles; /metrics and /healthz are served too.`,
		Example: `  chatbench ml
  chatbench ml --addr 127.0.0.1:8090 --profile "default;*=fail:5%"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			reg := obs.NewRegistry()
			s, err := f.start(addr, reg, log)
			if err != nil {
				return err
			}
			log.Info("ml service listening", "url", "http://"+s.Addr(), "profile", f.profile, "seed", f.seed)
			<-cmd.Context().Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return s.Shutdown(ctx)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8090", "listen address")
	f.register(cmd, "")
	return cmd
}

// mlClient returns a client for the ML service at url, or, when url is
// empty, starts one in this process on loopback (still over real HTTP) and
// returns a stop function for it. timeout is --ml-timeout (0 = the
// client's default).
func mlClient(url string, timeout time.Duration, f *mlFlags, reg *prometheus.Registry, log *slog.Logger) (chat.ML, func(context.Context), error) {
	if timeout < 0 {
		return nil, nil, fmt.Errorf("--ml-timeout %v: must be ≥ 0 (0 = %v)", timeout, mlservice.DefaultClientTimeout)
	}
	stop := func(context.Context) {}
	if url == "" {
		s, err := f.start("127.0.0.1:0", reg, log.With("component", "ml"))
		if err != nil {
			return nil, nil, err
		}
		url = "http://" + s.Addr()
		stop = func(ctx context.Context) { _ = s.Shutdown(ctx) }
		log.Info("embedded ml service", "url", url, "profile", f.profile)
	}
	cl, err := mlservice.NewClient(mlservice.ClientConfig{BaseURL: url, Timeout: timeout, Registerer: reg})
	if err != nil {
		stop(context.Background())
		return nil, nil, fmt.Errorf("--ml-url: %w", err)
	}
	return cl, func(ctx context.Context) { cl.Close(); stop(ctx) }, nil
}
