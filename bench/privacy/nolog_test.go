package privacy_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/chatbench/chatbench/bench/driver"
	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/mlservice"
	"github.com/chatbench/chatbench/queuemode"
	"github.com/chatbench/chatbench/queuemode/sqsd"
	"github.com/chatbench/chatbench/socket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	secret   = []byte("privacy-test-secret-0123456789")
	cbSecret = []byte("privacy-callback-secret-0123456789")
)

// logBuf is a concurrency-safe log sink.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logs hands out one debug-level JSON logger per component.
type logs map[string]*logBuf

func (l logs) logger(name string) *slog.Logger {
	b := &logBuf{}
	l[name] = b
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})).With("component", name)
}

var marker = regexp.MustCompile(`BODYMARK[0-9]+`)

// markedTrace generates a small trace with bodies and makes every text
// body and attachment name carry a unique marker token.
func markedTrace(t *testing.T) (trace.Header, []trace.Record, int) {
	h, recs, err := trace.Generate(trace.Params{Days: 0.02, Messages: 150, Conversations: 5, Seed: 11, Bodies: true})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := range recs {
		r := &recs[i]
		switch r.Type {
		case "text":
			n++
			r.Body = fmt.Sprintf("BODYMARK%d %s", n, r.Body)
		case "attachment":
			n++
			r.Body = fmt.Sprintf(`{"name":"BODYMARK%d.pdf","mime":"application/pdf","size":%d}`, n, max(r.Size, 1))
		default:
			continue
		}
		r.Size = max(r.Size, len(r.Body))
	}
	if n < 10 {
		t.Fatalf("only %d marked bodies", n)
	}
	return h, recs, n
}

// TestNoBodiesInLogs replays a trace whose bodies carry unique markers
// through both paths, every component logging at debug level, and greps
// every log line for a marker. A recorder that keeps bodies proves the
// markers did reach the server.
func TestNoBodiesInLogs(t *testing.T) {
	h, recs, n := markedTrace(t)
	l := logs{}
	ctx := context.Background()

	// ML service (real HTTP, zero latency).
	profiles, err := mlservice.Preset(mlservice.PresetZero)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := mlservice.New(mlservice.Config{Profiles: profiles, Logger: l.logger("mlservice")})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(ms.Handler())
	defer hs.Close()
	ml, err := mlservice.NewClient(mlservice.ClientConfig{BaseURL: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer ml.Close()

	// Direct path, with a body-keeping recorder as the positive control.
	recFile := filepath.Join(t.TempDir(), "recorded.jsonl")
	rec, err := trace.OpenRecorder(recFile, trace.RecorderOptions{Bodies: true, Logger: l.logger("recorder")})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	ds, err := directmode.Start(directmode.ServerConfig{
		Addr: "127.0.0.1:0", Front: socket.Config{Secret: secret, Registerer: reg, Recorder: rec, Logger: l.logger("direct-socket")},
		Dispatcher: directmode.Config{Catalog: jobs.Catalog(), Deps: chat.Deps{ML: ml}, Registerer: reg, Logger: l.logger("direct")},
		Gatherer:   reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	replay(t, "direct", ds.URL(), h, recs, l)
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := ds.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	recorded, err := os.ReadFile(recFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(marker.FindAll(recorded, -1)); got < n {
		t.Fatalf("the body-keeping recorder saw %d markers, want %d: the bodies did not reach the server", got, n)
	}

	// Queue path: embedded SQS, gateway, worker.
	sq := sqsd.New(sqsd.Config{Logger: l.logger("sqsd")})
	endpoint, err := sq.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sq.Close() }()
	cl, err := queuemode.NewClient(ctx, queuemode.ClientConfig{Endpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	qs, err := queuemode.Setup(ctx, cl, "privacy", queuemode.SetupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	qreg := prometheus.NewRegistry()
	m := queuemode.NewMetrics(qreg)
	gw, err := queuemode.StartGateway(queuemode.GatewayConfig{
		Addr: "127.0.0.1:0", Front: socket.Config{Secret: secret, Registerer: qreg, Logger: l.logger("queue-socket")},
		Dispatcher:   queuemode.DispatcherConfig{Catalog: jobs.Catalog(), Client: cl, QueueURL: qs.URL},
		Callback:     queuemode.CallbackConfig{Secret: cbSecret},
		CallbackAddr: "127.0.0.1:0", Metrics: m, Gatherer: qreg, Logger: l.logger("gateway"),
	})
	if err != nil {
		t.Fatal(err)
	}
	poster, err := queuemode.NewCallbackClient(gw.CallbackURL(), cbSecret, m)
	if err != nil {
		t.Fatal(err)
	}
	w, err := queuemode.StartWorker(queuemode.WorkerConfig{
		Catalog: jobs.Catalog(), Deps: chat.Deps{ML: ml}, Client: cl, QueueURL: qs.URL, DLQURL: qs.DLQURL,
		Poster: poster, Pollers: 2, WaitTime: time.Second, Metrics: m, Registerer: qreg, Logger: l.logger("worker"),
	})
	if err != nil {
		t.Fatal(err)
	}
	replay(t, "queue", gw.URL(), h, recs, l)
	qctx, qcancel := context.WithTimeout(ctx, 20*time.Second)
	defer qcancel()
	if err := gw.Shutdown(qctx); err != nil {
		t.Error(err)
	}
	if err := w.Shutdown(qctx); err != nil {
		t.Error(err)
	}
	poster.CloseIdle()

	lines := 0
	for name, b := range l {
		for i, line := range strings.Split(b.String(), "\n") {
			if line == "" {
				continue
			}
			lines++
			if mk := marker.FindString(line); mk != "" {
				t.Errorf("%s log line %d carries message body %s: %s", name, i+1, mk, line)
			}
		}
	}
	// The gateway and worker log only trouble (none here) and are checked
	// all the same; these must have logged for the check to mean something.
	for _, name := range []string{"direct-socket", "queue-socket", "sqsd", "mlservice", "driver-direct", "driver-queue"} {
		if l[name].String() == "" {
			t.Errorf("component %s logged nothing at debug level: the check would prove nothing for it", name)
		}
	}
	t.Logf("%d log lines from %d components checked for %d body markers", lines, len(l), n)
}

func replay(t *testing.T, path, url string, h trace.Header, recs []trace.Record, l logs) {
	t.Helper()
	p, err := driver.Run(context.Background(), driver.Config{
		Target: url, Secret: secret, Path: path, Header: h, Records: recs, Speed: 400,
		Catalog: jobs.Catalog(), Drain: 20 * time.Second, Logger: l.logger("driver-" + path),
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Messages.Acked != len(recs) {
		t.Fatalf("%s: acked %d of %d", path, p.Messages.Acked, len(recs))
	}
}
