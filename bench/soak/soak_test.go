package soak_test

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/chatbench/chatbench/bench/report"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/soak"
	"github.com/chatbench/chatbench/bench/stack"
	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/socket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var secret = []byte("soak-test-secret-0123456789")

// instantML answers every prediction at once with an empty object, so no
// pooled HTTP connections outlive the soak.
type instantML struct{}

func (instantML) Predict(context.Context, string, string) (json.RawMessage, error) {
	return json.RawMessage(`{}`), nil
}

// TestSoakReturnsToBaseline soaks an in-process direct server with 200
// connections and checks that the process's goroutines come back to the
// baseline and the server holds no connection afterwards.
func TestSoakReturnsToBaseline(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv, err := directmode.Start(directmode.ServerConfig{
		Addr: "127.0.0.1:0", Front: socket.Config{Secret: secret, Registerer: reg},
		Dispatcher: directmode.Config{Catalog: jobs.Catalog(), Deps: chat.Deps{ML: instantML{}}, Registerer: reg},
		Gatherer:   reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Shutdown(context.Background()) }()

	// The process's goroutines: the server's and the driver's, so both must
	// come back.
	sampler := func(context.Context) (results.SoakSample, error) {
		return results.SoakSample{Goroutines: runtime.NumGoroutine()}, nil
	}
	var progress strings.Builder
	run, err := soak.Run(context.Background(), soak.Config{
		Target: srv.URL(), Secret: secret, Sampler: sampler,
		Conns: 200, Active: 40, Duration: 2 * time.Second, Rate: 200,
		Every: 500 * time.Millisecond, Settle: 20 * time.Second, RSSMargin: -1,
		Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + progress.String() + table(t, run))
	rep := soakOf(t, run)
	if rep.Opened != 200 {
		t.Errorf("opened %d connections, want 200", rep.Opened)
	}
	if rep.Peak.Goroutines < rep.Baseline.Goroutines+400 {
		t.Errorf("peak goroutines %d: the connections were not held (baseline %d)", rep.Peak.Goroutines, rep.Baseline.Goroutines)
	}
	if rep.Sent == 0 || rep.Received < rep.Sent {
		t.Errorf("sent %d, received %d frames", rep.Sent, rep.Received)
	}
	if rep.Errors != 0 || rep.Disconnects != 0 {
		t.Errorf("errors %d, disconnects %d", rep.Errors, rep.Disconnects)
	}
	if !rep.OK() {
		t.Errorf("goroutines did not come back: after %d, limit %d", rep.After.Goroutines, rep.GoroutineLimit)
	}
	if n := srv.Front().Conns(); n != 0 {
		t.Errorf("server still holds %d connections", n)
	}
	if p := run.Paths[0]; p.Name != "target" || len(p.Components) != 1 || p.Components[0].Name != "driver" {
		t.Errorf("path %q components %+v: want the label target and the driver's usage", p.Name, p.Components)
	}
}

// TestSoakStartsItsServer soaks the direct path started as real processes
// (package stack) and checks the run names its processes with their usage,
// and that it reads back as a results document.
func TestSoakStartsItsServer(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds chatbench and starts 2 processes")
	}
	exe := wstest.BuildChatbench(t)
	// No sender: no ML calls, so no keep-alive connections to wait out.
	run, err := soak.Run(context.Background(), soak.Config{
		Stack:  stack.Config{Exe: exe, LogDir: t.TempDir(), MLProfile: "zero"},
		Secret: secret, Conns: 40, Duration: time.Second, Every: 200 * time.Millisecond, Settle: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	rep := soakOf(t, run)
	if rep.Opened != 40 || !rep.OK() {
		t.Errorf("opened %d, ok %v: %+v", rep.Opened, rep.OK(), *rep)
	}
	if rep.Peak.Goroutines < rep.Baseline.Goroutines+80 {
		t.Errorf("peak goroutines %d, baseline %d: the server did not hold the connections", rep.Peak.Goroutines, rep.Baseline.Goroutines)
	}
	names := map[string]bool{}
	for _, c := range run.Paths[0].Components {
		names[c.Name] = true
		if c.Name != "driver" && (c.CPUSeconds <= 0 || c.PeakRSS <= 0) {
			t.Errorf("component %+v has no usage", c)
		}
	}
	if !names["direct-server"] || !names["direct-ml"] || !names["driver"] {
		t.Errorf("components %v: want direct-server, direct-ml and driver", names)
	}
	var buf bytes.Buffer
	if err := results.Write(&buf, run); err != nil {
		t.Fatal(err)
	}
	back, err := results.Read(&buf)
	if err != nil || back.Paths[0].Soak == nil || back.Paths[0].Soak.Opened != 40 {
		t.Fatalf("results round trip: %v, %+v", err, back)
	}
}

// TestSoakConfigErrors checks that bad settings are refused with the flag
// named, before anything connects.
func TestSoakConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  soak.Config
		want string
	}{
		{soak.Config{Conns: 1}, "--conns 1"},
		{soak.Config{Conns: 10, Active: 11}, "--active 11"},
		{soak.Config{Conns: 10, Active: -1}, "--active -1"},
		{soak.Config{Conns: 10, Duration: -time.Second}, "--duration -1s"},
		{soak.Config{Conns: 10, Rate: -1}, "--rate -1"},
		{soak.Config{Conns: 10, Settle: -time.Second}, "--settle -1s"},
		{soak.Config{Conns: 10, RSSFraction: 2}, "--rss-fraction 2"},
		{soak.Config{Conns: 10, ConnectParallel: -1}, "--connect-parallel -1"},
		// Without a target the stack is started: its settings are checked too.
		{soak.Config{Conns: 10, Stack: stack.Config{Exe: "x", LogDir: "y", Workers: -1}}, "--workers -1"},
	} {
		_, err := soak.Run(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one naming %q", tc.cfg, err, tc.want)
		}
	}
}

// table renders run's soak table.
func table(t *testing.T, run *results.Run) string {
	t.Helper()
	var b strings.Builder
	if err := report.SoakTable(&b, run); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// soakOf returns the soak figures of run's one path.
func soakOf(t *testing.T, run *results.Run) *results.Soak {
	t.Helper()
	if len(run.Paths) != 1 || run.Paths[0].Soak == nil {
		t.Fatalf("run has %d paths, want one with a soak", len(run.Paths))
	}
	return run.Paths[0].Soak
}

// TestMetricsSampler reads a Prometheus text page.
func TestMetricsSampler(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv, err := directmode.Start(directmode.ServerConfig{
		Addr: "127.0.0.1:0", Front: socket.Config{Secret: secret, Registerer: reg},
		Dispatcher: directmode.Config{Catalog: jobs.Catalog(), Deps: chat.Deps{ML: instantML{}}, Registerer: reg},
		Gatherer:   prometheus.Gatherers{reg, prometheus.DefaultGatherer},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Shutdown(context.Background()) }()
	s, err := soak.MetricsSampler(srv.MetricsURL())(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Goroutines <= 0 || s.RSS <= 0 {
		t.Errorf("sample %+v: want goroutines and RSS", s)
	}
}
