package stack

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/chatbench/chatbench/bench/driver"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/trace"
)

// Session is what a command that replays a trace through paths (compare,
// chaos) sets up first: both configurations with their defaults, the
// paths' variants and the loaded trace.
type Session struct {
	Stack    Config
	Replay   Replay
	Variants []Variant
	Header   trace.Header
	Records  []trace.Record
}

// NewSession validates sc and rp, fills in their defaults, looks up the
// named paths and reads the trace. Its errors name the bad value.
func NewSession(sc Config, rp Replay, paths []string) (*Session, error) {
	var err error
	s := &Session{}
	if s.Stack, err = sc.WithDefaults(); err != nil {
		return nil, err
	}
	if s.Replay, err = rp.WithDefaults(); err != nil {
		return nil, err
	}
	for _, name := range paths {
		v, err := Lookup(name)
		if err != nil {
			return nil, err
		}
		s.Variants = append(s.Variants, v)
	}
	if s.Header, s.Records, err = s.Replay.Load(); err != nil {
		return nil, err
	}
	return s, nil
}

// Meta describes the session's run, about to start, with extra settings
// of the caller's (see Replay.Meta).
func (s *Session) Meta(extra map[string]string) results.Meta {
	var names, sqs []string
	for _, v := range s.Variants {
		names = append(names, v.Name)
		if _, ok := v.Component("sqs"); ok {
			sqs = append(sqs, v.Name)
		}
	}
	// sqs_latency_paths names the paths the SQS latency profile applies
	// to: those that run an SQS endpoint.
	cfg := map[string]string{"paths": fmt.Sprint(names), "sqs_latency_paths": strings.Join(sqs, ",")}
	maps.Copy(cfg, extra)
	return s.Replay.Meta(s.Stack, len(s.Records), cfg)
}

// Drive replays the trace onto st's targets (every client-facing instance)
// with the driver and returns what it measured, with the topology it ran
// on: the drive function of Run.
func (s *Session) Drive(ctx context.Context, st *Stack) (*results.Path, error) {
	return s.drive(ctx, st, s.Replay)
}

// DriveVariant is Drive for compare: it replays only v's default span
// (Variant.Span) when the session's replay sets neither Duration nor
// Limit, and the whole of what the replay asks for otherwise.
func (s *Session) DriveVariant(v Variant) func(context.Context, *Stack) (*results.Path, error) {
	if v.Span <= 0 || s.Replay.Duration > 0 || s.Replay.Limit > 0 {
		return s.Drive
	}
	return func(ctx context.Context, st *Stack) (*results.Path, error) {
		rp := s.Replay
		rp.Duration = v.Span
		return s.drive(ctx, st, rp)
	}
}

// Spans describes, for results.Meta.Config, the default span of each of
// the session's variants that DriveVariant applies ("" when none does).
func (s *Session) Spans() string {
	if s.Replay.Duration > 0 || s.Replay.Limit > 0 {
		return ""
	}
	var out []string
	for _, v := range s.Variants {
		if v.Span > 0 {
			out = append(out, v.Name+"="+v.Span.String())
		}
	}
	return strings.Join(out, ",")
}

// drive replays rp against st's instances.
func (s *Session) drive(ctx context.Context, st *Stack, rp Replay) (*results.Path, error) {
	cfg := rp.Driver(st.Target(), st.Variant().Name, []byte(s.Stack.Secret), s.Header, s.Records)
	cfg.Targets = st.Targets()
	p, err := driver.Run(ctx, cfg)
	if p != nil {
		p.Instances, p.Broker = len(cfg.Targets), st.Broker()
	}
	return p, err
}
