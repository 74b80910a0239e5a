package soak_test

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/chatbench/chatbench/bench/soak"
	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/directmode"
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
	sampler := func(context.Context) (soak.Sample, error) {
		return soak.Sample{At: time.Now(), Goroutines: runtime.NumGoroutine()}, nil
	}
	var progress strings.Builder
	rep, err := soak.Run(context.Background(), soak.Config{
		Target: srv.URL(), Secret: secret, Sampler: sampler,
		Conns: 200, Active: 40, Duration: 2 * time.Second, Rate: 200,
		Every: 500 * time.Millisecond, Settle: 20 * time.Second, RSSMargin: -1,
		Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + progress.String() + rep.Table())
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
