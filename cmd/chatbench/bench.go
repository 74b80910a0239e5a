package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatbench/chatbench/bench/driver"
	"github.com/chatbench/chatbench/bench/echo"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/stack"
	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/internal/tlsconf"
)

func newBenchCmd(g *globals) *cobra.Command {
	var (
		target, tracePath, path, secret, out, progress string
		format                                         string
		speed, pace                                    float64
		warmup, drain, duration, quantum               time.Duration
		limit, maxFrame, senders                       int
		tlsCA                                          string
		tlsInsecure                                    bool
		noResend                                       bool
		shard                                          shardFlag
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Replay a trace against one running server, open loop, and account for every delivery",
		Long: `Replay a trace against a running server (serve direct, serve queue, or
serve echo) over WebSockets: one connection per participant, opened and
authenticated before the replay; each message sent at its scheduled,
time-compressed instant (--speed for when conversations start, --pace within
one) whatever the server does. Every event that
comes back is matched against what the catalog says the message must cause,
and counted as delivered, errored, lost (not in by the --drain deadline),
excused (its recipient left first), duplicate, reordered or unexpected.
Latency is measured from the scheduled instant and from the actual send.

The trace is validated whole before anything connects, as trace validate
does (--max-frame-bytes: the server's frame limit): a bad line stops the
command with its line number.

--shard i/n replays shard i of n (counted from 0) of the trace and nothing
else: the trace's conversations, sorted by id, are dealt out round-robin, so
every message of a conversation is in one shard and n shard processes, on
one machine or several, replay the trace between them (docs/results.md,
"Sharded runs"). --limit cuts the whole trace before it is split, so the
shards of a --limit run add up to that run. chatbench report merge adds the
shards' results files into one.

Prints a summary (--format text) or the results document (json;
docs/results.md) and, with --out, writes the results document to a file.
Progress goes to standard error (--progress). The driver never logs message
bodies.`,
		Example: `  chatbench bench --target ws://127.0.0.1:8080/ws
  chatbench bench --target ws://127.0.0.1:8081/ws --path queue --out queue.json
  chatbench bench --target ws://127.0.0.1:8082/ws --path echo --limit 5000
  chatbench bench --shard 0/2 --out shard-0.json & chatbench bench --shard 1/2 --out shard-1.json; wait
  chatbench report merge -o all.json shard-0.json shard-1.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			switch {
			case !(speed > 0): // NaN too
				return fmt.Errorf("--speed %g: must be positive (2880 starts a day's visits within 30 s)", speed)
			case !(pace >= 0):
				return fmt.Errorf("--pace %g: must be ≥ 0 (0 = --speed: plain compression)", pace)
			}
			if shard.set {
				log = log.With("shard", shard.String())
			}
			cfg := driver.Config{
				Target: target, Secret: []byte(secret), Path: path,
				Speed: speed, Pace: pace, Warmup: warmup, Drain: drain, Duration: duration, Limit: limit,
				Catalog: jobs.Catalog(), Logger: log.With("component", "driver"), NoResend: noResend, Quantum: quantum,
				Senders: senders,
			}
			if err := cfg.Validate(); err != nil {
				return flagError(err, map[string]string{"Target": "target", "Secret": "secret", "Speed": "speed", "Pace": "pace",
					"Drain": "drain", "Duration": "duration", "Limit": "limit", "Senders": "senders"})
			}
			name, raw := "day (shipped)", trace.Day()
			if tracePath != "" {
				if raw, err = os.ReadFile(tracePath); err != nil {
					return fmt.Errorf("--trace: %w", err)
				}
				name = filepath.Base(tracePath)
			}
			// The whole trace is checked before anything connects.
			if cfg.Header, cfg.Records, err = trace.Load(raw, trace.MaxFrameBytes(maxFrame)); err != nil {
				return fmt.Errorf("--trace %s: %w", name, err)
			}
			traceMsgs := len(cfg.Records)
			if shard.set {
				if cfg.Records, err = shard.cut(cfg.Records, limit); err != nil {
					return err
				}
				cfg.Limit = 0 // cut already, before the split
				cfg.Label = fmt.Sprintf("%s (shard %s)", path, shard.String())
			}
			if cfg.TLS, err = clientTLS(tlsCA, tlsInsecure, log); err != nil {
				return err
			}
			cfg.Progress, cfg.TTY = progressOut(cmd)
			meta := results.NewMeta(name, raw, traceMsgs, speed, loopback(target), map[string]string{
				"path": path, "target": target, "pace": fmt.Sprint(pace), "warmup": warmup.String(), "drain": drain.String(),
				"duration": duration.String(), "limit": fmt.Sprint(limit), "send_quantum": quantum.String(),
			})
			if shard.set {
				meta.Shard = &results.Shard{Index: shard.i, Count: shard.n}
			}
			restore := tuneRuntimeForDriver(cfg.Senders)
			p, runErr := driver.Run(cmd.Context(), cfg)
			restore()
			if p == nil {
				return runErr
			}
			run := &results.Run{Schema: results.SchemaVersion, Meta: meta, Paths: []*results.Path{p}}
			stdout, note := cmd.OutOrStdout(), cmd.OutOrStdout()
			if format == formatJSON {
				if err := results.Write(stdout, run); err != nil {
					return errors.Join(runErr, err)
				}
				note = cmd.ErrOrStderr() // standard output is the document alone
			} else {
				printSummary(stdout, p)
			}
			if out != "" {
				if err := writeResults(out, run); err != nil {
					return errors.Join(runErr, err)
				}
				fmt.Fprintf(note, "results: %s\n", out)
			}
			return runErr
		},
	}
	f := cmd.Flags()
	f.StringVar(&target, "target", "ws://127.0.0.1:8080/ws", "WebSocket URL of the server under test")
	f.StringVar(&tracePath, "trace", "", "trace file, JSON Lines, gzip accepted (default: the shipped day, bench/trace/day.jsonl.gz)")
	addChoice(cmd, &path, "path", driver.PathDirect, stack.Names(), "path under test, which names it in the results: "+orList(stack.Names())+" (echo expects one echo event per message)")
	f.Float64Var(&speed, "speed", 2880, "compression of when conversations start: 2880 starts a day's visits within 30 s")
	f.Float64Var(&pace, "pace", 20, "compression of time within a conversation (0 = --speed: plain compression)")
	f.DurationVar(&warmup, "warmup", 0, "wall-clock warm-up excluded from latency (0 = 5s, or none for replays under 20s; negative = none)")
	f.DurationVar(&drain, "drain", 10*time.Second, "how long to wait for outstanding deliveries after the last send; later ones count as lost (0 = 10s)")
	f.DurationVar(&duration, "duration", 0, "stop scheduling after this wall time (0 = the whole trace)")
	f.IntVar(&limit, "limit", 0, "send at most this many messages (0 = all)")
	f.IntVar(&senders, "senders", 0, "sender threads, each owning a share of the connections (0 = auto: 2 on two CPUs or more)")
	f.DurationVar(&quantum, "send-quantum", 0, "shortest sleep of the sender: messages due within it of the last send go out together (0 = 50µs; negative = sleep until each message; see docs/performance.md)")
	addMaxFrameFlag(cmd, &maxFrame)
	f.Var(&shard, "shard", "replay only shard i of n of the trace (0 ≤ i < n), split by conversation, e.g. $(JOB_COMPLETION_INDEX)/4 in a Kubernetes Indexed Job (default: the whole trace)")
	f.BoolVar(&noResend, "no-resend", false, "do not reconnect dropped connections, resend unanswered messages or resume missed events (see docs/protocol.md, Resending and Resuming)")
	f.StringVar(&secret, "secret", devSecret, "HMAC secret the server verifies tokens with (at least 16 bytes)")
	f.StringVar(&out, "out", "", "write the results document (JSON) to this file")
	f.StringVar(&tlsCA, "tls-ca", "", "PEM CA bundle to trust for a wss:// --target (default: the system roots)")
	f.BoolVar(&tlsInsecure, "tls-insecure", false, "do not verify a wss:// target's certificate (self-signed development certificates only: INSECURE)")
	addProgress(cmd, &progress)
	addFormat(cmd, &format, textOrJSON, "text (a summary) or json (the results document)")
	completeFiles(cmd, "trace", traceExts...)
	completeFiles(cmd, "out", resultsExts...)
	completeFiles(cmd, "tls-ca", "pem", "crt")
	return cmd
}

// shardFlag is bench's --shard: unset for the whole trace, else shard i
// of n. It parses when the flag is set, so a bad value is refused before
// anything runs (even with --help, which a deployment's check relies on).
type shardFlag struct {
	set  bool
	i, n int
}

func (s *shardFlag) String() string {
	if !s.set {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.i, s.n)
}

// Set parses "i/n"; an empty value means the whole trace (CHATBENCH_SHARD="").
func (s *shardFlag) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		*s = shardFlag{}
		return nil
	}
	i, n, err := trace.ParseShard(v)
	if err != nil {
		return err
	}
	*s = shardFlag{set: true, i: i, n: n}
	return nil
}

func (s *shardFlag) Type() string { return "i/n" }

// cut returns the records of the shard: the trace cut to limit first (0 =
// all), so that the shards of a --limit run add up to the unsharded --limit
// run, then split (trace.Shard). A shard with nothing to send is refused.
func (s *shardFlag) cut(recs []trace.Record, limit int) ([]trace.Record, error) {
	if limit > 0 && len(recs) > limit {
		recs = recs[:limit]
	}
	part, err := trace.Shard(recs, s.i, s.n)
	if err != nil {
		return nil, usagef("--shard %s: %w", s, err)
	}
	if len(part) == 0 {
		convs := map[string]bool{}
		for _, r := range recs {
			convs[r.Conv] = true
		}
		return nil, usagef("--shard %s: shard %d holds no conversation: the trace (cut to --limit) has %d, so split it into at most %d shards", s, s.i, len(convs), len(convs))
	}
	return part, nil
}

// flagError turns a *driver.ConfigError into an error naming the flag
// that set the field (flags maps driver.Config fields to flag names
// without the dashes), as a user sees it: "--drain -1s: must be ≥ 0 (0 =
// 10s)". Other errors pass unchanged.
func flagError(err error, flags map[string]string) error {
	var ce *driver.ConfigError
	if errors.As(err, &ce) {
		if f, ok := flags[ce.Field]; ok {
			return fmt.Errorf("--%s %s: %s", f, ce.Value, ce.Want)
		}
	}
	return err
}

// loopback reports whether target's host is a loopback address (the driver
// and the server then share a clock).
func loopback(target string) bool {
	u, err := url.Parse(target)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func writeResults(file string, run *results.Run) error {
	var buf bytes.Buffer
	if err := results.Write(&buf, run); err != nil {
		return err
	}
	if dir := filepath.Dir(file); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return os.WriteFile(file, buf.Bytes(), 0o644)
}

// printSummary prints the run's headline numbers: messages, then per class
// latency from the scheduled instant and the ledger.
func printSummary(w io.Writer, p *results.Path) {
	m := p.Messages
	fmt.Fprintf(w, "%s %s: sent %d (%.0f/s), acked %d, rejected %d, unacked %d; schedule lag p99 %s; connect p50 %s\n",
		p.Name, p.Target, m.Sent, m.PerSecond, m.Acked, sum(m.Rejected), m.Unacked, us(p.ScheduleLag.P99), us(p.Connect.P50))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "group\tp50\tp99\tp99.9\tmax\texpected\tdelivered\terrored\tlost\texcused\tdup\treordered\tunexpected\t")
	var groups []string
	for g := range p.Ledger {
		if g == "all" || strings.HasPrefix(g, "class:") {
			groups = append(groups, g)
		}
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i] == "all" || (groups[j] != "all" && groups[i] < groups[j]) })
	for _, g := range groups {
		c, h := p.Ledger[g], p.FromScheduled[g]
		if h == nil {
			h = &results.Histogram{}
		}
		mark := ""
		if !p.Trusted(g) {
			mark = " †"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", strings.TrimPrefix(g, "class:"),
			us(h.P50), us(h.P99)+mark, us(h.P999), us(h.Max), c.Expected, c.Delivered, c.Errored, c.Lost, c.Excused, c.Duplicates, c.Reordered, c.Unexpected)
	}
	_ = tw.Flush()
	if len(p.Untrusted()) > 0 {
		fmt.Fprintf(w, "† p99 under %d× the schedule-lag p99: the driver's own lateness may account for it (docs/results.md, \"Trusting the driver\")\n", results.TrustFactor)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// us formats a µs value.
func us(v int64) string {
	return (time.Duration(v) * time.Microsecond).Round(10 * time.Microsecond).String()
}

func newServeEchoCmd(g *globals) *cobra.Command {
	var (
		addr  string
		drain time.Duration
		tlsf  tlsFlags
	)
	cmd := &cobra.Command{
		Use:   "echo",
		Short: "Run the echo floor: a bare WebSocket server answering each message with one echo event",
		Long: `Run the benchmark's floor: a bare WebSocket server on /ws that speaks just
enough of the protocol for the driver — tokens are not checked (the user is
read from the token's "sub"), join and leave are acked, and each send is
answered with one "echo" event to its sender and an ack. Replaying a trace
through it (chatbench bench --path echo) measures the wire, the driver and the
machine alone.`,
		Example: `  chatbench serve echo --addr 127.0.0.1:8082`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			tlsCfg, err := tlsf.config()
			if err != nil {
				return err
			}
			srv, err := echo.StartTLS(addr, tlsCfg)
			if err != nil {
				return err
			}
			log.Info("echo floor listening", "ws", srv.URL())
			fmt.Fprintf(cmd.OutOrStdout(), "chatbench echo floor: %s  (Ctrl-C to stop)\n", srv.URL())
			<-cmd.Context().Done()
			ctx, cancel := context.WithTimeout(context.Background(), drain)
			defer cancel()
			return srv.Shutdown(ctx)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8082", "listen address (WebSocket on /ws)")
	cmd.Flags().DurationVar(&drain, "drain-timeout", 5*time.Second, "how long a graceful shutdown waits for connections to close")
	tlsf.register(cmd, "/ws")
	return cmd
}

// clientTLS builds the driver's TLS configuration from --tls-ca and
// --tls-insecure, warning loudly about the latter.
func clientTLS(caFile string, insecure bool, log *slog.Logger) (*tls.Config, error) {
	if insecure {
		log.Warn("--tls-insecure: the server's certificate is NOT verified; anyone on the path can read and change the traffic. Use it with self-signed development certificates only")
		fmt.Fprintln(os.Stderr, "WARNING: --tls-insecure: TLS certificate verification is OFF (development only)")
	}
	return tlsconf.Client(caFile, insecure)
}
