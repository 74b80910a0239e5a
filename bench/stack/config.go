package stack

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/chatbench/chatbench/mlservice"
	"github.com/chatbench/chatbench/queuemode/sqsd"
)

// Brokers a stack's front doors can share (Config.Broker).
const (
	BrokerMemory = "memory"
	BrokerRedis  = "redis"
)

// Defaults of Config's zero values.
const (
	// DefaultWorkers is the queue worker's pollers.
	DefaultWorkers = 4
	// DefaultMLProfile is the ML service's latency and failure profile.
	DefaultMLProfile = mlservice.PresetDefault
	// DefaultSQSLatency is the embedded SQS endpoint's latency profile.
	DefaultSQSLatency = "none"
	// DefaultReadyTimeout is how long a component may take to be ready.
	DefaultReadyTimeout = 30 * time.Second
	// DefaultStopGrace is how long a component may take to exit after
	// SIGTERM before it is killed.
	DefaultStopGrace = 30 * time.Second
)

// Config configures the processes of a stack. Zero values mean the
// documented defaults; WithDefaults fills them in, in this one place.
type Config struct {
	// Exe is the chatbench binary that runs the components. Required.
	Exe string
	// LogDir receives each process's log, <process>.log. Required.
	LogDir string
	// Secret signs the driver's tokens and is given to the servers.
	Secret string
	// CallbackSecret signs the queue workers' callbacks to the gateways.
	// Empty means a random one, drawn by WithDefaults: each run its own,
	// so no other process can sign an event with a secret it knows.
	CallbackSecret string
	// MLProfile and MLSeed configure the ML service (the same for every
	// path). Empty MLProfile means DefaultMLProfile.
	MLProfile string
	MLSeed    int64
	// SQSLatency is the embedded SQS endpoint's latency profile ("none",
	// "region", "median:15ms,p99:60ms"). Empty means DefaultSQSLatency.
	SQSLatency string
	// Workers is the queue worker's pollers. Zero means DefaultWorkers.
	Workers int
	// MaxTasks bounds the direct server's ML background tasks. Zero means
	// the server's default.
	MaxTasks int
	// Instances overrides how many copies of a component run, by component
	// name (zero means the table's, normally 1).
	Instances map[string]int
	// Scale is how many instances of each path's scalable components run
	// (--instances: the direct servers; the queue gateways and their
	// workers). Zero means 1. Instances overrides it per component.
	Scale int
	// Broker is where the front doors keep their shared state: BrokerMemory
	// (one process each) or BrokerRedis (a redis-server the stack starts,
	// shared by every instance). Empty means memory with one instance,
	// Redis with several: instances that share nothing would not act as
	// one front door.
	Broker string
	// Via, when not nil, is called with each routed hop (HopSQS, HopML,
	// HopServer; instance i > 0 of a component as "<hop>-<i>") and the
	// upstream address, and returns the address the hop's clients use
	// instead (e.g. a fault proxy's). nil connects components directly.
	Via func(hop, upstream string) (string, error)
	// ReadyTimeout: zero means DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// StopGrace: zero means DefaultStopGrace.
	StopGrace time.Duration
	// NoiseThreshold is the share of the machine's CPU that other
	// processes and steal may take over a path's span before the path is
	// flagged noisy (MeterNoise); DriftThreshold is the echo floor drift
	// across repeats that flags a run's paths (AddFloorDrift). Fractions;
	// zero means DefaultNoiseThreshold and DefaultDriftThreshold.
	NoiseThreshold, DriftThreshold float64
	// Logger logs components starting and stopping (nil = discard).
	Logger *slog.Logger
}

// WithDefaults returns c with its zero values replaced by the defaults,
// or an error naming each bad value by the flag that sets it (--workers
// for Workers) or, without one, by the field.
func (c Config) WithDefaults() (Config, error) {
	if c.Exe == "" || c.LogDir == "" {
		return c, errors.New("stack: Exe and LogDir are required")
	}
	err := errors.Join(
		atLeast("--workers", c.Workers, 0, "0 = "+strconv.Itoa(DefaultWorkers)),
		atLeast("--max-tasks", c.MaxTasks, 0, "0 = the server's default"),
		atLeast("ReadyTimeout", c.ReadyTimeout, 0, "0 = "+DefaultReadyTimeout.String()),
		atLeast("StopGrace", c.StopGrace, 0, "0 = "+DefaultStopGrace.String()),
		between("--noise-threshold", c.NoiseThreshold, 0, 1, "a fraction of the machine's CPU; 0 = "+pct(DefaultNoiseThreshold)),
		atLeast("--drift-threshold", c.DriftThreshold, 0, "a fraction of the floor's median; 0 = "+pct(DefaultDriftThreshold)),
	)
	for _, name := range sortedKeys(c.Instances) {
		err = errors.Join(err, atLeast("instances of "+name, c.Instances[name], 0, "0 = the table's, normally 1"))
	}
	err = errors.Join(err, atLeast("--instances", c.Scale, 0, "0 = 1"))
	switch c.Broker {
	case "":
		c.Broker = BrokerMemory
		if c.Scale > 1 {
			c.Broker = BrokerRedis
		}
	case BrokerMemory:
		if c.Scale > 1 {
			err = errors.Join(err, fmt.Errorf("--broker memory with --instances %d: instances that share nothing are not one front door; use --broker redis (the default with several)", c.Scale))
		}
	case BrokerRedis:
	default:
		err = errors.Join(err, fmt.Errorf("--broker %q: want %s or %s", c.Broker, BrokerMemory, BrokerRedis))
	}
	if _, perr := sqsd.ParseLatencyProfile(c.SQSLatency); perr != nil {
		err = errors.Join(err, fmt.Errorf("--sqs-latency: %w", perr))
	}
	if err != nil {
		return c, err
	}
	if c.CallbackSecret == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		c.CallbackSecret = hex.EncodeToString(b)
	}
	c.Scale = cmp.Or(c.Scale, 1)
	c.Workers = cmp.Or(c.Workers, DefaultWorkers)
	c.MLProfile = cmp.Or(c.MLProfile, DefaultMLProfile)
	c.SQSLatency = cmp.Or(c.SQSLatency, DefaultSQSLatency)
	c.ReadyTimeout = cmp.Or(c.ReadyTimeout, DefaultReadyTimeout)
	c.StopGrace = cmp.Or(c.StopGrace, DefaultStopGrace)
	c.NoiseThreshold = cmp.Or(c.NoiseThreshold, DefaultNoiseThreshold)
	c.DriftThreshold = cmp.Or(c.DriftThreshold, DefaultDriftThreshold)
	if c.Logger == nil {
		c.Logger = discard()
	}
	return c, nil
}

// Settings returns the settings that shape a run, as flag=value, for
// results.Meta.Config. Call it on a Config with defaults.
func (c Config) Settings() map[string]string {
	m := map[string]string{
		"ml_profile": c.MLProfile, "ml_seed": strconv.FormatInt(c.MLSeed, 10),
		"sqs_latency": c.SQSLatency, "workers": strconv.Itoa(c.Workers), "max_tasks": strconv.Itoa(c.MaxTasks),
		"noise_threshold": strconv.FormatFloat(c.NoiseThreshold, 'g', -1, 64),
		"drift_threshold": strconv.FormatFloat(c.DriftThreshold, 'g', -1, 64),
		"instances":       strconv.Itoa(c.Scale), "broker": c.Broker,
	}
	for _, name := range sortedKeys(c.Instances) {
		m["instances_"+name] = strconv.Itoa(c.Instances[name])
	}
	// The profile a name stands for, so that a reader of the results sees
	// the assumed latency, not only its name ("region").
	if p, err := sqsd.ParseLatencyProfile(c.SQSLatency); err == nil {
		m["sqs_latency_profile"] = p.String()
	}
	return m
}

// number is what atLeast and between check.
type number interface {
	~int | ~int64 | ~float64
}

// atLeast returns an error naming flag when v is below lo (or not a
// number); fix says what to give instead.
func atLeast[T number](flag string, v, lo T, fix string) error {
	if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) || v < lo {
		return fmt.Errorf("%s %v: must be ≥ %v (%s)", flag, v, lo, fix)
	}
	return nil
}

// between returns an error naming flag when v is outside [lo, hi].
func between[T number](flag string, v, lo, hi T, fix string) error {
	if f := float64(v); math.IsNaN(f) || v < lo || v > hi {
		return fmt.Errorf("%s %v: must be between %v and %v (%s)", flag, v, lo, hi, fix)
	}
	return nil
}

// discard is the logger of a Config or Replay without one.
func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func sortedKeys(m map[string]int) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
