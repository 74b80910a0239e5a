package stack

import (
	"strings"
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat/jobs"
)

// TestReplayDriver checks that every replay setting reaches the driver,
// Duration and Limit included (chaos used to drop them).
func TestReplayDriver(t *testing.T) {
	r, err := Replay{Warmup: -1, Drain: 3 * time.Second, Duration: 7 * time.Second, Limit: 42, NoResend: true, Catalog: jobs.Catalog()}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	d := r.Driver("ws://127.0.0.1:1/ws", "queue", []byte(testSecret), trace.Header{}, nil)
	if d.Speed != DefaultSpeed || d.Pace != DefaultPace || d.Warmup != -1 || d.Drain != 3*time.Second ||
		d.Duration != 7*time.Second || d.Limit != 42 || !d.NoResend || d.Catalog == nil || d.Logger == nil || d.Path != "queue" {
		t.Errorf("driver config %+v does not carry the replay's settings", d)
	}
}

// TestReplaySpan checks the span the fault point is taken from: within
// Limit and Duration, at the driver's schedule.
func TestReplaySpan(t *testing.T) {
	_, recs, err := trace.Generate(trace.Params{Days: 1.0 / 24, Messages: 200, Conversations: 10, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	r := Replay{Speed: 60, Pace: 60}
	whole := r.Span(recs)
	if want := recs[len(recs)-1].Offset() / 60; whole != want {
		t.Errorf("span at plain compression %s, want %s (the last offset / 60)", whole, want)
	}
	r.Limit = 50
	if got, want := r.Span(recs), recs[49].Offset()/60; got != want {
		t.Errorf("span with Limit 50: %s, want %s", got, want)
	}
	r.Limit, r.Duration = 0, whole/2
	if got := r.Span(recs); got > whole/2 || got < whole/4 {
		t.Errorf("span with Duration %s: %s", whole/2, got)
	}
}

// TestReplayErrors checks that bad replay values name their flag.
func TestReplayErrors(t *testing.T) {
	for _, tc := range []struct {
		r    Replay
		want string
	}{
		{Replay{Speed: -1}, "--speed -1: must be ≥ 0 (0 = 2880)"},
		{Replay{Pace: -2}, "--pace -2"},
		{Replay{Drain: -5 * time.Second}, "--drain -5s"},
		{Replay{Duration: -time.Second}, "--duration -1s"},
		{Replay{Limit: -1}, "--limit -1"},
	} {
		tc.r.Catalog = jobs.Catalog()
		if _, err := tc.r.WithDefaults(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.r, err, tc.want)
		}
	}
}
