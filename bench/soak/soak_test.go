package soak_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
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

// inProcess is a direct server in the test process, soaked through its
// own front door (with an optional leak, leakyFront) and observed through
// its /metrics with client_golang's Go collector. The process's goroutines
// and memory are the server's and the driver's, so both must come back.
type inProcess struct {
	srv    *directmode.Server
	target string
	// sampler forces a collection before each scrape: the test owns the
	// process, so it does at once what the runtime does on its own within
	// 2 minutes, and the held figure is exactly what is still referenced.
	sampler soak.Sampler
	leak    *leakyFront
}

// startInProcess starts the server, serving /ws through a leakyFront that
// keeps leak bytes per closed connection (0 = the real front door).
func startInProcess(t *testing.T, leak int) *inProcess {
	t.Helper()
	srv := startDirect(t, collectors.NewGoCollector())
	lf := &leakyFront{next: srv.Front(), perConn: leak}
	mux := http.NewServeMux()
	mux.Handle("/ws", lf)
	hs := httptest.NewServer(mux)
	// Cleanups run last first, so hs.Close runs before the server's
	// Shutdown, which closes the WebSockets (httptest does not track
	// hijacked connections, so it does not wait for them).
	t.Cleanup(hs.Close)
	scrape := soak.MetricsSampler(srv.MetricsURL())
	return &inProcess{
		srv: srv, target: "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws", leak: lf,
		sampler: func(ctx context.Context) (results.SoakSample, error) {
			runtime.GC()
			return scrape(ctx)
		},
	}
}

// startDirect starts an in-process direct server whose /metrics carry goc
// (a Go collector) and the process collector, and shuts it down at the
// end of the test.
func startDirect(t *testing.T, goc prometheus.Collector) *directmode.Server {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(goc, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, err := directmode.Start(directmode.ServerConfig{
		Addr: "127.0.0.1:0", Front: socket.Config{Secret: secret, Registerer: reg},
		Dispatcher: directmode.Config{Catalog: jobs.Catalog(), Deps: chat.Deps{ML: instantML{}}, Registerer: reg},
		Gatherer:   reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return srv
}

// leakyFront is the real front door with a leak added: once a connection
// has closed it keeps a record of perConn bytes for it, as a table of
// sessions that nobody deletes from on close would. Its goroutines end, so
// only the memory check can see it.
type leakyFront struct {
	next    http.Handler
	perConn int

	mu   sync.Mutex
	kept [][]byte
}

func (l *leakyFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.next.ServeHTTP(w, r) // returns once the connection has closed
	if l.perConn > 0 {
		l.mu.Lock()
		l.kept = append(l.kept, make([]byte, l.perConn))
		l.mu.Unlock()
	}
}

func (l *leakyFront) keptBytes() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int64(len(l.kept) * l.perConn)
}

// TestSoakReturnsToBaseline soaks an in-process direct server with 200
// connections and checks that the process's goroutines and held memory come
// back to the baseline and the server holds no connection afterwards.
func TestSoakReturnsToBaseline(t *testing.T) {
	ip := startInProcess(t, 0)
	srv, sampler := ip.srv, ip.sampler
	var progress strings.Builder
	run, err := soak.Run(context.Background(), soak.Config{
		Target: ip.target, Secret: secret, Sampler: sampler,
		Conns: 200, Active: 40, Duration: 2 * time.Second, Rate: 200,
		Every: 500 * time.Millisecond, Settle: 20 * time.Second,
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
		t.Errorf("did not come back: goroutines after %d, limit %d; held after %d, limit %d",
			rep.After.Goroutines, rep.GoroutineLimit, rep.After.Held(), rep.HeldLimit)
	}
	if rep.HeldLimit <= rep.Baseline.Held() || rep.Peak.Held() <= rep.Baseline.Held() {
		t.Errorf("held memory baseline %d, peak %d, limit %d: the memory check did not run", rep.Baseline.Held(), rep.Peak.Held(), rep.HeldLimit)
	}
	if n := srv.Front().Conns(); n != 0 {
		t.Errorf("server still holds %d connections", n)
	}
	if p := run.Paths[0]; run.Meta.Started.After(p.Start) {
		t.Errorf("run started %s, after its connections were held (%s)", run.Meta.Started, p.Start)
	}
	if p := run.Paths[0]; p.Name != "target" || len(p.Components) != 1 || p.Components[0].Name != "driver" {
		t.Errorf("path %q components %+v: want the label target and the driver's usage", p.Name, p.Components)
	}
}

// TestSoakFailsOnALeak soaks the real front door and the same front door
// with a leak of 64 KiB per closed connection (leakyFront), with the same
// settings and the default thresholds: the real one passes, the leaky one
// fails its memory check — on the figure the soak judges, held memory after
// a collection, which holds every byte kept — while its goroutines come
// back. The connections are idle, so what the server keeps by design for
// the traffic (resume buffers, accepted ids) stays small.
func TestSoakFailsOnALeak(t *testing.T) {
	const conns = 300
	for _, tc := range []struct {
		name string
		leak int
	}{{"real", 0}, {"leaky", 64 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			ip := startInProcess(t, tc.leak)
			run, err := soak.Run(context.Background(), soak.Config{
				Target: ip.target, Secret: secret, Sampler: ip.sampler,
				Conns: conns, Duration: 200 * time.Millisecond, Every: 100 * time.Millisecond, Settle: 2 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			rep := soakOf(t, run)
			t.Logf("held MiB: baseline %.1f, peak %.1f, after %.1f, limit %.1f; kept %.1f",
				mb(rep.Baseline.Held()), mb(rep.Peak.Held()), mb(rep.After.Held()), mb(rep.HeldLimit), mb(ip.leak.keptBytes()))
			if rep.Opened != conns || !rep.GoroutinesOK || rep.GCsAfterClose < 1 {
				t.Fatalf("opened %d, goroutines ok %v, collections after the close %d", rep.Opened, rep.GoroutinesOK, rep.GCsAfterClose)
			}
			if tc.leak == 0 {
				if !rep.MemoryOK || !rep.OK() {
					t.Errorf("the real server fails: held after %d > limit %d", rep.After.Held(), rep.HeldLimit)
				}
				return
			}
			if kept := ip.leak.keptBytes(); kept != conns*int64(tc.leak) {
				t.Fatalf("the leak kept %d bytes, want %d", kept, conns*tc.leak)
			}
			// The baseline may still hold a little the after has given back
			// (pooled buffers of the previous run), hence 95 %.
			if held, kept := rep.After.Held()-rep.Baseline.Held(), ip.leak.keptBytes(); held < kept*95/100 {
				t.Errorf("held after − baseline = %d, under 95%% of the %d bytes kept: the judged figure misses the leak", held, kept)
			}
			if rep.MemoryOK || rep.OK() || rep.After.Held() <= rep.HeldLimit {
				t.Errorf("the leak passes: held after %d, limit %d, memory ok %v", rep.After.Held(), rep.HeldLimit, rep.MemoryOK)
			}
		})
	}
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

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
	// The server's own /metrics carry the Go collector's heap and stacks,
	// so its memory was judged, not skipped.
	if rep.Baseline.HeapInuse <= 0 || rep.Baseline.StackInuse <= 0 || rep.HeldLimit <= rep.Baseline.Held() {
		t.Errorf("baseline %+v, held limit %d: the server's held memory was not judged", rep.Baseline, rep.HeldLimit)
	}
	// Two goroutines per connection; a few of the baseline's (start-up's)
	// may have ended meanwhile, as the goroutine margin allows for.
	if rep.Peak.Goroutines < rep.Baseline.Goroutines+80-soak.DefaultGoroutineMargin {
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
		{soak.Config{Conns: 10, HeldFraction: 2}, "--held-fraction 2"},
		{soak.Config{Conns: 10, ConnectParallel: -1}, "--connect-parallel -1"},
		// Without a target the stack is started: its settings are checked too.
		{soak.Config{Conns: 10, Stack: stack.Config{Exe: "x", LogDir: "y", Workers: -1}}, "--workers -1"},
		// A server whose metrics have no heap figures cannot have its
		// memory judged: the error says how to check goroutines only.
		{soak.Config{Conns: 10, Target: "ws://127.0.0.1:1/ws", Sampler: func(context.Context) (results.SoakSample, error) {
			return results.SoakSample{Goroutines: 5}, nil
		}}, "--held-margin -1"},
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

// TestMetricsSampler reads a real /metrics page, with the Go collector's
// default metrics and with only its runtime/metrics-based ones.
func TestMetricsSampler(t *testing.T) {
	for _, tc := range []struct {
		name string
		goc  prometheus.Collector
	}{
		{"memstats", collectors.NewGoCollector()},
		{"runtime metrics", collectors.NewGoCollector(collectors.WithGoCollectorMemStatsMetricsDisabled(),
			collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsGC, collectors.MetricsMemory))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startDirect(t, tc.goc)
			runtime.GC()
			s, err := soak.MetricsSampler(srv.MetricsURL())(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if s.Goroutines <= 0 || s.RSS <= 0 || s.HeapInuse <= 0 || s.StackInuse <= 0 || s.GCCycles < 1 {
				t.Errorf("sample %+v: want goroutines, RSS, heap and stacks in use, and the collection just run", s)
			}
		})
	}
}
