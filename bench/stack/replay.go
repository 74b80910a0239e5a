package stack

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strconv"
	"time"

	"github.com/chatbench/chatbench/bench/driver"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat"
)

// Defaults of Replay's zero values.
const (
	// DefaultSpeed starts a day's visits within 30 s.
	DefaultSpeed = 2880
	// DefaultPace plays a 12-minute visit in 36 s.
	DefaultPace = 20
)

// Replay is how a trace is replayed onto a stack: the settings compare and
// chaos share. Zero values mean the documented defaults; WithDefaults
// fills them in.
type Replay struct {
	// TraceName and TraceBytes are the trace replayed (gzip or plain).
	TraceName  string
	TraceBytes []byte
	// Speed compresses when conversations start and Pace the time within
	// one (see driver.Config). Zero Speed means DefaultSpeed; zero Pace
	// means DefaultPace.
	Speed, Pace float64
	// Warmup is excluded from latency figures: zero means the driver's
	// default, negative none.
	Warmup time.Duration
	// Drain is how long to wait for outstanding deliveries after the last
	// send: zero means the driver's default.
	Drain time.Duration
	// Duration stops scheduling after this wall time (0 = the whole trace).
	Duration time.Duration
	// Limit replays at most this many messages (0 = all).
	Limit int
	// NoResend turns off the driver's resend protocol (driver.Config.NoResend).
	NoResend bool
	// Catalog computes the expected deliveries. Required.
	Catalog *chat.Catalog
	// Progress receives the driver's progress (nil = none), a bar when TTY.
	Progress io.Writer
	TTY      bool
	// Label names the replay in the progress (driver.Config.Label): the
	// caller sets it before each replay it drives ("queue (path 2 of 4)").
	Label string
	// Logger logs the replay's phases (nil = discard).
	Logger *slog.Logger
}

// WithDefaults returns r with its zero values replaced by the defaults, or
// an error naming each bad value by the flag that sets it.
func (r Replay) WithDefaults() (Replay, error) {
	if r.Catalog == nil {
		return r, errors.New("stack: Replay.Catalog is required")
	}
	if err := errors.Join(
		atLeast("--speed", r.Speed, 0, "0 = "+strconv.Itoa(DefaultSpeed)),
		atLeast("--pace", r.Pace, 0, "0 = "+strconv.Itoa(DefaultPace)),
		atLeast("--drain", r.Drain, 0, "0 = the driver's default, 10s"),
		atLeast("--duration", r.Duration, 0, "0 = the whole trace"),
		atLeast("--limit", r.Limit, 0, "0 = all"),
	); err != nil {
		return r, err
	}
	r.Speed = cmp.Or(r.Speed, DefaultSpeed)
	r.Pace = cmp.Or(r.Pace, DefaultPace)
	if r.Logger == nil {
		r.Logger = discard()
	}
	return r, nil
}

// Load reads the trace.
func (r Replay) Load() (trace.Header, []trace.Record, error) {
	h, recs, err := trace.Load(r.TraceBytes) // the whole trace checked before anything starts
	if err != nil {
		return h, nil, fmt.Errorf("trace %s: %w", r.TraceName, err)
	}
	return h, recs, nil
}

// Driver returns the driver's configuration for replaying recs (with
// header h) onto target as path, signing tokens with secret. Call it on a
// Replay with defaults.
func (r Replay) Driver(target, path string, secret []byte, h trace.Header, recs []trace.Record) driver.Config {
	return driver.Config{
		Target: target, Secret: secret, Path: path, Header: h, Records: recs,
		Speed: r.Speed, Pace: r.Pace, Warmup: r.Warmup, Drain: r.Drain, Duration: r.Duration, Limit: r.Limit,
		NoResend: r.NoResend, Catalog: r.Catalog, Progress: r.Progress, TTY: r.TTY, Label: r.Label, Logger: r.Logger,
	}
}

// Span is when the last message the driver will send is due, from the
// start of the replay: recs after Limit, within Duration, scheduled as the
// driver schedules them (a conversation's start / Speed + its time since
// that start / Pace).
func (r Replay) Span(recs []trace.Record) time.Duration {
	if r.Limit > 0 && len(recs) > r.Limit {
		recs = recs[:r.Limit]
	}
	conv := map[string]time.Duration{}
	var span time.Duration
	for _, rec := range recs {
		o := rec.Offset()
		c, ok := conv[rec.Conv]
		if !ok {
			c, conv[rec.Conv] = o, o
		}
		at := time.Duration(float64(c)/r.Speed + float64(o-c)/r.Pace)
		if r.Duration > 0 && at > r.Duration {
			continue
		}
		span = max(span, at)
	}
	return span
}

// Meta describes a run of this replay on a stack configured by sc, about
// to start: the trace (traceMsgs messages), Speed, and the settings of
// both, with extra settings of the caller's, as flag=value. Call it on a
// Replay and a Config with defaults.
func (r Replay) Meta(sc Config, traceMsgs int, extra map[string]string) results.Meta {
	cfg := sc.Settings()
	maps.Copy(cfg, map[string]string{
		"pace": strconv.FormatFloat(r.Pace, 'g', -1, 64), "warmup": r.Warmup.String(), "drain": r.Drain.String(),
		"duration": r.Duration.String(), "limit": strconv.Itoa(r.Limit), "no_resend": strconv.FormatBool(r.NoResend),
	})
	maps.Copy(cfg, extra)
	return results.NewMeta(r.TraceName, r.TraceBytes, traceMsgs, r.Speed, true, cfg)
}
