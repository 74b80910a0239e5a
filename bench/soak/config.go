package soak

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/chatbench/chatbench/bench/stack"
)

// Defaults of Config's zero values (see docs/reliability.md, "Soak").
const (
	// DefaultPath is the variant started when Config.Target is empty.
	DefaultPath = "direct"
	// DefaultEvery is the sampling interval while connections are held.
	DefaultEvery = 5 * time.Second
	// DefaultSettle is the deadline for the server to come back.
	DefaultSettle = 3 * time.Minute
	// DefaultGoroutineMargin is how many goroutines above the baseline
	// still count as back at baseline.
	DefaultGoroutineMargin = 10
	// DefaultHeldMargin is how many bytes of held memory (heap in use plus
	// stacks) above the baseline always count as back near baseline: room
	// for a small soak's noise (pools, allocator spans).
	DefaultHeldMargin = 8 << 20
	// DefaultHeldFraction is the share of the peak's growth of held memory
	// that may still be held after the settle. A server that leaks nothing
	// keeps some for a while: the front door's resume buffers and
	// accepted ids (released by later traffic once their windows pass),
	// the runtime's descriptor of every goroutine it ever ran (reused,
	// never freed), and spans kept in use by a few survivors. Measured:
	// 12–25 % (docs/reliability.md, "Soak").
	DefaultHeldFraction = 0.3
	// DefaultConnectParallel bounds connection attempts in flight.
	DefaultConnectParallel = 32
)

// Config configures a soak. Zero values mean the defaults above.
type Config struct {
	// Target is the server's WebSocket URL, e.g. ws://127.0.0.1:8080/ws.
	// Empty starts Path's components (package stack, with Stack's
	// settings) and soaks its client-facing server.
	Target string
	// Path names the path in the results: the variant started when Target
	// is empty (zero means DefaultPath), else a label of the target's
	// (zero means "target").
	Path string
	// Stack starts the server when Target is empty (Exe and LogDir are
	// required then); its Secret defaults to Secret.
	Stack stack.Config
	// Secret signs the users' bearer tokens.
	Secret []byte
	// Sampler observes the server. nil means MetricsSampler of Metrics.
	Sampler Sampler
	// Metrics is the server's /metrics URL for the default Sampler. Empty
	// means http(s)://<target host>/metrics.
	Metrics string
	// Conns is the number of connections held (at least 2, rounded down
	// to even: pairs share a conversation). Each is a distinct user.
	Conns int
	// Active is how many of them send (the rest only read and answer
	// pings), at most Conns.
	Active int
	// Duration is how long all connections are held.
	Duration time.Duration
	// Rate is the total messages per second sent across the active
	// connections: a mix of typing, read and text.
	Rate float64
	// Every is the sampling interval while connections are held.
	Every time.Duration
	// Settle is the deadline for goroutines and memory to come back after
	// the connections closed. It should leave the server's runtime time to
	// collect: an idle Go program collects at least every 2 minutes.
	Settle time.Duration
	// GoroutineMargin is how many goroutines above the baseline count as
	// back.
	GoroutineMargin int
	// HeldMargin is how many bytes of held memory (heap in use plus
	// stacks, results.SoakSample.Held) above the baseline always count as
	// back; negative skips the memory check (e.g. a server without the Go
	// collector's metrics).
	HeldMargin int64
	// HeldFraction is the share of the peak's growth of held memory that
	// may still be held, from 0 to 1.
	HeldFraction float64
	// ConnectParallel bounds connection attempts in flight.
	ConnectParallel int
	// Progress receives a line per sample (nil = none).
	Progress io.Writer
}

// defaults validates c and fills in its zero values. Its errors name the
// flag that sets the bad value.
func (c *Config) defaults() error {
	var errs []error
	bad := func(cond bool, format string, args ...any) {
		if cond {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	bad(c.Conns < 2, "--conns %d: need at least 2 (connections are paired into conversations)", c.Conns)
	bad(c.Active < 0 || c.Active > c.Conns, "--active %d: must be between 0 and --conns (%d)", c.Active, c.Conns)
	bad(c.Duration < 0, "--duration %s: must be ≥ 0", c.Duration)
	bad(!(c.Rate >= 0) || math.IsInf(c.Rate, 0), "--rate %v: must be ≥ 0 messages per second", c.Rate)
	bad(c.Every < 0, "--sample-every %s: must be ≥ 0 (0 = %s)", c.Every, DefaultEvery)
	bad(c.Settle < 0, "--settle %s: must be ≥ 0 (0 = %s)", c.Settle, DefaultSettle)
	bad(c.GoroutineMargin < 0, "--goroutine-margin %d: must be ≥ 0 (0 = %d)", c.GoroutineMargin, DefaultGoroutineMargin)
	bad(!(c.HeldFraction >= 0 && c.HeldFraction <= 1), "--held-fraction %v: must be between 0 and 1 (0 = %v)", c.HeldFraction, DefaultHeldFraction)
	bad(c.ConnectParallel < 0, "--connect-parallel %d: must be ≥ 0 (0 = %d)", c.ConnectParallel, DefaultConnectParallel)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.Conns -= c.Conns % 2
	c.Active = min(c.Active, c.Conns)
	switch {
	case c.Target == "" && c.Path == "":
		c.Path = DefaultPath
	case c.Path == "":
		c.Path = "target"
	}
	c.Stack.Secret = cmp.Or(c.Stack.Secret, string(c.Secret))
	c.Every = cmp.Or(c.Every, DefaultEvery)
	c.Settle = cmp.Or(c.Settle, DefaultSettle)
	c.GoroutineMargin = cmp.Or(c.GoroutineMargin, DefaultGoroutineMargin)
	c.HeldMargin = cmp.Or(c.HeldMargin, DefaultHeldMargin)
	c.HeldFraction = cmp.Or(c.HeldFraction, DefaultHeldFraction)
	c.ConnectParallel = cmp.Or(c.ConnectParallel, DefaultConnectParallel)
	return nil
}

// settings are the soak's settings as flag=value, for results.Meta.Config.
func (c *Config) settings() map[string]string {
	return map[string]string{
		"mode": "soak", "path": c.Path, "conns": strconv.Itoa(c.Conns), "active": strconv.Itoa(c.Active),
		"duration": c.Duration.String(), "rate": strconv.FormatFloat(c.Rate, 'g', -1, 64),
		"sample_every": c.Every.String(), "settle": c.Settle.String(),
		"goroutine_margin": strconv.Itoa(c.GoroutineMargin), "held_margin": strconv.FormatInt(c.HeldMargin, 10),
		"held_fraction": strconv.FormatFloat(c.HeldFraction, 'g', -1, 64), "connect_parallel": strconv.Itoa(c.ConnectParallel),
	}
}

func (c *Config) progress(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "soak: "+format+"\n", args...)
	}
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
