package driver

import (
	"crypto/tls"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"runtime"
	"strings"
	"time"

	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/socket"
)

// Config configures a replay. Zero values mean the defaults each field
// states; a negative duration, count or rate is an error (Validate) except
// where a field says what negative means (Warmup, Quantum).
type Config struct {
	// Target is the server's WebSocket URL, e.g. ws://127.0.0.1:8080/ws.
	Target string
	// Targets, when set, are several instances of one front door (sharing
	// a broker) to spread the participants over: each user connects to
	// one of them, picked from its name (the same user always gets the
	// same one), and a reconnect that cannot reach it tries the next. Empty
	// means Target alone; with Targets set, Target may be empty (it is then
	// Targets[0], for the results).
	Targets []string
	// Secret signs the participants' bearer tokens (at least 16 bytes).
	Secret []byte
	// Path labels the results ("direct", "queue" or "echo"); "echo" expects
	// one echo event per sent message instead of the catalog's deliveries.
	Path string
	// Header is the trace's header (its name travels into logs only).
	Header trace.Header
	// Records are the trace's messages, sorted by T.
	Records []trace.Record
	// Speed is the time compression of when conversations start: 1440
	// replays a day's arrivals in a minute. Zero means 1.
	Speed float64
	// Pace is the time compression within a conversation: a message's
	// instant is its conversation's start / Speed + its time since that
	// start / Pace. Zero means Speed (plain compression of the whole
	// trace). A Pace below Speed keeps each conversation closer to a human
	// rhythm while the day's conversations still arrive compressed — at
	// plain 1440× a patient would send a message every few tens of ms,
	// which no design that serialises a conversation's jobs (a FIFO group)
	// could keep up with, and no real patient does.
	Pace float64
	// Warmup is the wall-clock warm-up: deliveries of messages scheduled in
	// it are counted but not timed. Zero means 5s, or none when the replay
	// is shorter than 4× that; negative means none.
	Warmup time.Duration
	// Drain is how long to wait for outstanding deliveries after the last
	// send. Zero means 10s.
	Drain time.Duration
	// Duration stops scheduling after this much wall time (0 = the whole
	// trace).
	Duration time.Duration
	// Limit caps the number of messages sent (0 = all).
	Limit int
	// Catalog computes expected deliveries (required unless Path is echo).
	Catalog *chat.Catalog
	// Progress receives progress output (nil = none): a progress bar when
	// TTY is set, else a plain line every 5 s and when the drain begins
	// (progress.go). A Progress that is also a StatusLine keeps log lines
	// written to it above the bar.
	Progress io.Writer
	// TTY selects the progress bar.
	TTY bool
	// Label names the replay in its progress: "queue (path 2 of 4)", or
	// with repeats "queue (path 2 of 4, repeat 1 of 3)". The command that
	// runs several replays sets it. Empty means Path.
	Label string
	// Logger logs the run's phases (nil = discard). Bodies are never logged.
	Logger *slog.Logger
	// Senders is the number of goroutines sending, each on its own thread
	// and owning a share of the participants (so each connection's frames
	// keep their order). Zero means AutoSenders. Each sender wants a P of
	// its own: run with GOMAXPROCS of at least Procs (runtime.go).
	Senders int
	// Quantum is the shortest a sender sleeps: messages due within a
	// quantum of the last send go out together when it wakes. Each sleep
	// costs a context switch and a timer (on a virtual machine about 10 µs
	// of CPU, and a wake-up 20–60 µs late anyway); at 20,000 messages/s,
	// sleeping for every 50 µs gap took about half the sender's CPU and put
	// the schedule-lag p99 over 1 ms (docs/performance.md). Zero means
	// 50µs; negative means sleep exactly until each message.
	Quantum time.Duration
	// ConnectParallel bounds connection attempts in flight. Zero means 32.
	ConnectParallel int
	// TLS configures wss:// targets (trusted CAs, or no verification).
	// nil means the system roots.
	TLS *tls.Config

	convStart map[string]time.Duration // set by retime

	// SendLeavesOnTime turns off holding leaves. By default a leave whose
	// user may still be owed events in that conversation is held until
	// they have arrived (or the drain deadline): time compression makes
	// leaves come minutes of real time too early relative to the servers'
	// real latencies, and an event emitted after a leave never comes, so
	// sending them on time would hide slow deliveries as excused.
	SendLeavesOnTime bool

	// NoResend turns off the client resend protocol (see resend.go and
	// docs/protocol.md, "Resending"). By default a dropped connection is
	// reconnected with backoff, its user's conversations are joined again
	// with since (resuming the events missed meanwhile, "Resuming") and
	// every message sent but not answered is resent with the same id.
	NoResend bool

	// GoroutineReaders gives every connection a goroutine reader, as the
	// driver had before its poller (poll_linux.go), which otherwise reads
	// every ws:// connection on one thread. It is there to compare the two.
	GoroutineReaders bool
}

// ConfigError is a Config field whose value Run cannot use. A command
// that builds Config from its flags can name the flag instead of the field
// (Field, Value and Want are the parts of the message).
type ConfigError struct {
	Field string // the Config field, e.g. "Drain"
	Value string // the value given (for Secret, only its length)
	Want  string // what it must be, and what zero means: "must be ≥ 0 (0 = 10s)"
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("driver: Config.%s %s: %s", e.Field, e.Value, e.Want)
}

// AutoSenders is the number of senders Config.Senders zero means: two
// where the process may run on two CPUs or more, else one. A sender is
// late when its thread waits for a CPU; with two, the messages of one are
// not held up while the other waits (docs/performance.md, "Several
// senders", measured on 2 shared cores). More senders than that measured
// no better there.
func AutoSenders() int { return min(2, runtime.NumCPU()) }

// sendersOr resolves a Config.Senders value: zero is AutoSenders.
func sendersOr(n int) int {
	if n == 0 {
		return AutoSenders()
	}
	return n
}

// maxSenders bounds Config.Senders: each sender holds an OS thread.
const maxSenders = 1024

// Validate checks c's values and returns a *ConfigError for the first
// that is wrong. Zero values are valid: they mean the documented
// defaults. Run validates c itself.
func (c *Config) Validate() error {
	bad := func(field string, v any, want string) error {
		return &ConfigError{Field: field, Value: fmt.Sprint(v), Want: want}
	}
	for i, t := range c.Targets {
		if !strings.HasPrefix(t, "ws://") && !strings.HasPrefix(t, "wss://") {
			return bad(fmt.Sprintf("Targets[%d]", i), fmt.Sprintf("%q", t), "must be a ws:// or wss:// URL")
		}
	}
	switch {
	case c.Target == "" && len(c.Targets) == 0:
		return bad("Target", `""`, "is required: the server's ws:// or wss:// URL")
	case c.Target != "" && !strings.HasPrefix(c.Target, "ws://") && !strings.HasPrefix(c.Target, "wss://"):
		return bad("Target", fmt.Sprintf("%q", c.Target), "must be a ws:// or wss:// URL")
	case len(c.Secret) < socket.MinSecretLen:
		return bad("Secret", fmt.Sprintf("(%d bytes)", len(c.Secret)), fmt.Sprintf("must be at least %d bytes", socket.MinSecretLen))
	case c.Path != PathEcho && c.Catalog == nil:
		return bad("Catalog", "nil", "is required (except for the echo path)")
	case !finite(c.Speed) || c.Speed < 0:
		return bad("Speed", c.Speed, "must be a positive number (0 = 1)")
	case !finite(c.Pace) || c.Pace < 0:
		return bad("Pace", c.Pace, "must be a positive number (0 = Speed)")
	case c.Drain < 0:
		return bad("Drain", c.Drain, "must be ≥ 0 (0 = 10s)")
	case c.Duration < 0:
		return bad("Duration", c.Duration, "must be ≥ 0 (0 = the whole trace)")
	case c.Limit < 0:
		return bad("Limit", c.Limit, "must be ≥ 0 (0 = all)")
	case c.Senders < 0 || c.Senders > maxSenders:
		return bad("Senders", c.Senders, fmt.Sprintf("must be between 0 and %d (0 = auto: %d here)", maxSenders, AutoSenders()))
	case c.ConnectParallel < 0:
		return bad("ConnectParallel", c.ConnectParallel, "must be ≥ 0 (0 = 32)")
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// defaults validates c and fills in its defaults.
func (c *Config) defaults() error {
	if err := c.Validate(); err != nil {
		return err
	}
	if len(c.Targets) == 0 {
		c.Targets = []string{c.Target}
	}
	if c.Target == "" {
		c.Target = c.Targets[0]
	}
	if c.Speed == 0 {
		c.Speed = 1
	}
	if c.Pace == 0 {
		c.Pace = c.Speed
	}
	if c.Path == "" {
		c.Path = PathDirect
	}
	if c.Drain == 0 {
		c.Drain = 10 * time.Second
	}
	c.Senders = sendersOr(c.Senders)
	switch {
	case c.Quantum == 0:
		c.Quantum = 50 * time.Microsecond
	case c.Quantum < 0:
		c.Quantum = 0
	}
	if c.ConnectParallel == 0 {
		c.ConnectParallel = 32
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// targetOf returns the instance user connects to on its attempt-th try
// (0 = first): the one its name hashes to, then each next in turn.
func (c *Config) targetOf(user string, attempt int) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(user))
	n := uint32(len(c.Targets))
	return c.Targets[(h.Sum32()+uint32(attempt))%n]
}
