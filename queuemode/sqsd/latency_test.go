package sqsd

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func TestParseLatencyProfile(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		in      string
		want    LatencyProfile
		wantErr bool
	}{
		{in: "", want: LatencyProfile{}},
		{in: "none", want: LatencyProfile{}},
		{in: "region", want: RegionLatency},
		{in: "region,seed:3", want: LatencyProfile{Median: 10 * ms, P99: 40 * ms, Seed: 3}},
		{in: "fixed:20ms", want: LatencyProfile{Fixed: 20 * ms}},
		{in: "median:15ms,p99:60ms", want: LatencyProfile{Median: 15 * ms, P99: 60 * ms}},
		{in: " fixed:1ms, median:2ms ", want: LatencyProfile{Fixed: ms, Median: 2 * ms}},
		{in: "fixed:soon", wantErr: true},
		{in: "fixed:-1ms", wantErr: true},
		{in: "jitter:1ms", wantErr: true},
		{in: "fast", wantErr: true},
		{in: "p99:5ms", wantErr: true},             // p99 needs a median
		{in: "median:10ms,p99:5ms", wantErr: true}, // p99 below the median
		{in: "median:10ms,seed:x", wantErr: true},  // seed is an integer
		{in: "fixed:1ms,region", wantErr: true},    // region comes first
		{in: "median:10ms,p99:40ms,seed:-2", want: LatencyProfile{Median: 10 * ms, P99: 40 * ms, Seed: -2}},
	}
	for _, tc := range cases {
		got, err := ParseLatencyProfile(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseLatencyProfile(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && got != tc.want {
			t.Errorf("ParseLatencyProfile(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if err == nil {
			back, err := ParseLatencyProfile(got.String())
			if err != nil || back != got {
				t.Errorf("round trip of %q via %q = %+v, %v", tc.in, got.String(), back, err)
			}
		}
	}
}

func TestLatencySamplerDistribution(t *testing.T) {
	p := LatencyProfile{Fixed: time.Millisecond, Median: 10 * time.Millisecond, P99: 40 * time.Millisecond, Seed: 1}
	ls := newLatencySampler(p)
	const n = 20000
	draws := make([]time.Duration, n)
	for i := range draws {
		draws[i] = ls.draw()
	}
	slices.Sort(draws)
	med, p99 := draws[n/2], draws[n*99/100]
	if med < 10500*time.Microsecond || med > 11500*time.Microsecond {
		t.Errorf("median = %v, want about 11ms (1ms fixed + 10ms)", med)
	}
	if p99 < 37*time.Millisecond || p99 > 45*time.Millisecond {
		t.Errorf("p99 = %v, want about 41ms", p99)
	}
	// Same seed, same sequence.
	a, b := newLatencySampler(p), newLatencySampler(p)
	for i := 0; i < 100; i++ {
		if a.draw() != b.draw() {
			t.Fatal("equal seeds gave different draws")
		}
	}
	if newLatencySampler(LatencyProfile{}) != nil || (*latencySampler)(nil).draw() != 0 {
		t.Error("zero profile adds latency")
	}
}

func TestLatencyIsAdded(t *testing.T) {
	const fixed = 30 * time.Millisecond
	e := newEnv(t, Config{Latency: LatencyProfile{Fixed: fixed}})
	start := time.Now()
	e.createQueue("slow", nil)
	if d := time.Since(start); d < fixed {
		t.Errorf("call took %v, less than the fixed %v", d, fixed)
	}
}

func TestCloseCutsLatencyWaits(t *testing.T) {
	// A server adding an hour per call must still close promptly.
	srv := New(Config{Latency: LatencyProfile{Fixed: time.Hour}})
	inside := make(chan struct{}, 1)
	srv.callHook = func(string) {
		select {
		case inside <- struct{}{}:
		default:
		}
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.ListQueues(ctx, &sqs.ListQueuesInput{})
		done <- err
	}()
	<-inside
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	cancel() // the SDK would retry against the closed server; stop it
	<-done
}
