package driver_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatbench/chatbench/bench/driver"
	"github.com/chatbench/chatbench/bench/echo"
	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/internal/tlsconf"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/mlservice"
	"github.com/chatbench/chatbench/socket"
)

// echoChildEnv makes the test binary run only an echo server (see
// startEchoProcess).
const echoChildEnv = "CHATBENCH_TEST_ECHO_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(echoChildEnv) {
	case "echo":
		runChild(func() (string, func(), error) {
			srv, err := echo.Start("127.0.0.1:0")
			if err != nil {
				return "", nil, err
			}
			return srv.URL(), func() { _ = srv.Shutdown(context.Background()) }, nil
		})
		return
	case "direct":
		runChild(startDirectChild)
		return
	}
	goleak.VerifyTestMain(m)
}

// runChild serves what start starts, prints its URL, and stops when stdin
// closes.
func runChild(start func() (string, func(), error)) {
	url, stop, err := start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(url)
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	stop()
	os.Exit(0)
}

// startDirectChild starts a direct server with an in-process ML service
// (zero preset) for the child process.
func startDirectChild() (string, func(), error) {
	profiles, err := mlservice.Preset(mlservice.PresetZero)
	if err != nil {
		return "", nil, err
	}
	ms, err := mlservice.New(mlservice.Config{Profiles: profiles})
	if err != nil {
		return "", nil, err
	}
	hs := httptest.NewServer(ms.Handler())
	cl, err := mlservice.NewClient(mlservice.ClientConfig{BaseURL: hs.URL})
	if err != nil {
		return "", nil, err
	}
	srv, err := directmode.Start(directmode.ServerConfig{
		Addr: "127.0.0.1:0", Front: socket.Config{Secret: secret},
		Dispatcher: directmode.Config{Catalog: jobs.Catalog(), Deps: chat.Deps{ML: cl}},
	})
	if err != nil {
		return "", nil, err
	}
	return srv.URL(), func() { _ = srv.Shutdown(context.Background()); cl.Close(); hs.Close() }, nil
}

var secret = []byte("driver-test-secret-0123456789")

func startDirect(t testing.TB) *directmode.Server {
	t.Helper()
	return startDirectWith(t, socket.Config{}, "")
}

// TestReplayDirect replays a small generated trace against a real direct
// server with the real ML service (zero latency): every expected delivery
// arrives once, nothing else does.
func TestReplayDirect(t *testing.T) {
	srv := startDirect(t)
	h, recs, err := trace.Generate(trace.Params{Days: 0.02, Messages: 120, Conversations: 4, Seed: 7, Bodies: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := driver.Run(context.Background(), driver.Config{
		Target: srv.URL(), Secret: secret, Path: driver.PathDirect, Header: h, Records: recs,
		Speed: 400, Catalog: jobs.Catalog(), Drain: 20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	all := p.Ledger["all"]
	t.Logf("ledger %+v, lag p99 %d µs, connect p50 %d µs", *all, p.ScheduleLag.P99, p.Connect.P50)
	if all.Expected == 0 || all.Lost != 0 || all.Duplicates != 0 || all.Unexpected != 0 || all.Errored != 0 ||
		all.Delivered+all.Excused != all.Expected {
		t.Fatalf("ledger %+v", *all)
	}
	if p.Messages.Sent != len(recs) || p.Messages.Acked != len(recs) || len(p.Messages.Rejected) != 0 {
		t.Fatalf("messages %+v", p.Messages)
	}
	for _, g := range []string{"class:ml", "class:sync", "class:relay", "job:triage"} {
		if p.FromScheduled[g] == nil || p.FromScheduled[g].Count == 0 {
			t.Errorf("no latency for %s", g)
		}
	}
	if p.Hops["ml"]["ml"] == nil || p.Hops["sync"]["handler"] == nil || len(p.Series) == 0 {
		t.Errorf("hops %v series %d", p.Hops, len(p.Series))
	}
}

// TestReplayEcho replays against the echo floor: one echo per send.
func TestReplayEcho(t *testing.T) {
	srv := startEcho(t)
	h, recs := smallTrace(t)
	sends := 0
	for _, r := range recs {
		if r.Type != chat.OpJoin && r.Type != chat.OpLeave {
			sends++
		}
	}
	p, err := driver.Run(context.Background(), driver.Config{
		Target: srv.URL(), Secret: secret, Path: driver.PathEcho, Header: h, Records: recs, Speed: 2000,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := p.Ledger["class:echo"]
	if c == nil || c.Expected != sends || c.Delivered != sends || p.Ledger["all"].Unexpected != 0 {
		t.Fatalf("echo ledger %+v, want %d delivered", c, sends)
	}
	if p.Hops["echo"]["egress"] == nil {
		t.Fatalf("hops %v", p.Hops)
	}
}

// faultyEmitter drops the first drop emits of job and sends the next dup
// ones twice.
type faultyEmitter struct {
	inner     socket.Emitter
	job       string
	drop, dup int
	mu        sync.Mutex
	n         int
}

func (f *faultyEmitter) Emit(ev *chat.Event) int {
	if ev.Job == f.job {
		f.mu.Lock()
		f.n++
		n := f.n
		f.mu.Unlock()
		switch {
		case n <= f.drop:
			return 0
		case n <= f.drop+f.dup:
			c := *ev
			f.inner.Emit(&c)
		}
	}
	return f.inner.Emit(ev)
}

// TestLedgerCountsInjectedFaults runs a front door whose dispatcher emits
// through faultyEmitter: a server told to drop and to duplicate exactly N
// deliveries; the ledger reports exactly N lost and N duplicates.
func TestLedgerCountsInjectedFaults(t *testing.T) {
	const n = 3
	cat := jobs.Catalog()
	hub := socket.NewHub(cat, nil, nil)
	// push_decision goes to the sender only: one emit, one delivery.
	fe := &faultyEmitter{inner: hub, job: "push_decision", drop: n, dup: n}
	d, err := directmode.New(directmode.Config{Catalog: cat, Emitter: fe, Deps: chat.Deps{ML: startML(t)}})
	if err != nil {
		t.Fatal(err)
	}
	front, err := socket.NewServer(socket.Config{Hub: hub, Dispatcher: d, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(front)
	defer func() {
		_ = d.Shutdown(context.Background())
		_ = front.Shutdown(context.Background())
		hs.Close()
	}()
	recs := []trace.Record{
		{T: 0, Conv: "c1", User: "p1", Role: chat.RolePatient, Type: "join", ID: "p1-j"},
		{T: 1000, Conv: "c1", User: "d1", Role: chat.RoleProvider, Type: "join", ID: "d1-j"},
	}
	for i := range 10 {
		recs = append(recs, trace.Record{T: int64(2000 + 500*i), Conv: "c1", User: "p1", Role: chat.RolePatient,
			Type: "text", ID: fmt.Sprintf("p1-%d", i), Size: 20})
	}
	p, err := driver.Run(context.Background(), driver.Config{
		Target: "ws" + strings.TrimPrefix(hs.URL, "http"), Secret: secret, Records: recs, Speed: 1,
		Catalog: cat, Drain: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := p.Ledger["job:push_decision"]
	if c.Expected != 10 || c.Lost != n || c.Duplicates != n || c.Delivered != 10-n {
		t.Fatalf("push_decision %+v, want %d lost and %d duplicates", *c, n, n)
	}
	all := p.Ledger["all"]
	if all.Lost != n || all.Duplicates != n || all.Unexpected != 0 {
		t.Fatalf("all %+v", *all)
	}
}

// TestCancelReturnsMeasurements cancels a long replay: Run returns
// promptly with what it measured.
func TestCancelReturnsMeasurements(t *testing.T) {
	srv := startEcho(t)
	recs := []trace.Record{
		{T: 0, Conv: "c1", User: "p1", Role: chat.RolePatient, Type: "text", ID: "a", Size: 3},
		{T: int64(time.Hour / time.Microsecond), Conv: "c1", User: "p1", Role: chat.RolePatient, Type: "text", ID: "b", Size: 3},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel as soon as the replay starts.
	log := slog.New(cancelOn{msg: "replaying", cancel: cancel})
	p, err := driver.Run(ctx, driver.Config{Target: srv.URL(), Secret: secret, Path: driver.PathEcho, Records: recs, Logger: log})
	if !errors.Is(err, context.Canceled) || p == nil {
		t.Fatalf("got %v, %v; want measurements and context.Canceled", p, err)
	}
	if p.Ledger["all"] == nil || p.ScheduleLag == nil {
		t.Fatalf("incomplete results %+v", p)
	}
}

// cancelOn is a slog handler that calls cancel when msg is logged.
type cancelOn struct {
	msg    string
	cancel context.CancelFunc
}

func (c cancelOn) Enabled(context.Context, slog.Level) bool { return true }
func (c cancelOn) Handle(_ context.Context, r slog.Record) error {
	if r.Message == c.msg {
		c.cancel()
	}
	return nil
}
func (c cancelOn) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c cancelOn) WithGroup(string) slog.Handler      { return c }

// BenchmarkMemPerConn opens idle authenticated connections against an echo
// server in another process and reports the driver's memory per
// connection (heap in use + stacks).
func BenchmarkMemPerConn(b *testing.B) {
	url, stop := startChild(b, "echo", false)
	defer stop()
	const conns = 2000
	var before, after runtime.MemStats
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		p, err := driver.OpenIdle(context.Background(), url, secret, conns)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		p.Close()
	}
	per := float64(after.HeapInuse+after.StackInuse-before.HeapInuse-before.StackInuse) / conns
	b.ReportMetric(per, "bytes/conn")
}

// startChild runs a server ("echo" or "direct") in a child process, so its
// memory and CPU are its own.
func startChild(tb testing.TB, kind string, pinned bool) (string, func()) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// The child runs with the runtime's defaults, whatever the driver's.
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "GOGC=") && !strings.HasPrefix(e, "GOMEMLIMIT=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, echoChildEnv+"="+kind)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	start := cmd.Start
	if pinned {
		start = func() error { return startOnLastCPU(cmd) }
	}
	if err := start(); err != nil {
		tb.Fatal(err)
	}
	url, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimSpace(url), func() {
		_ = in.Close()
		_ = cmd.Wait()
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// steadyTrace is convs conversations of a patient and a provider exchanging
// typing indicators and read receipts (one delivery each, no ML) at rate
// messages per second in all, for seconds.
func steadyTrace(convs, rate, seconds int) []trace.Record {
	var recs []trace.Record
	seq := map[string]int{}
	add := func(t int64, conv, user string, role chat.Role, typ string, size int) {
		seq[user]++
		recs = append(recs, trace.Record{T: t, Conv: conv, User: user, Role: role, Type: typ,
			ID: fmt.Sprintf("%s-%d", user, seq[user]), Size: size})
	}
	const lead = 500_000 // µs for the joins
	for c := range convs {
		conv := fmt.Sprintf("c%d", c)
		add(int64(c), conv, "p"+conv, chat.RolePatient, "join", 0)
		add(int64(c)+1, conv, "d"+conv, chat.RoleProvider, "join", 0)
	}
	n := rate * seconds
	step := 1e6 / float64(rate)
	for i := range n {
		c := i % convs
		conv := fmt.Sprintf("c%d", c)
		user, role := "p"+conv, chat.RolePatient
		if (i/convs)%2 == 1 {
			user, role = "d"+conv, chat.RoleProvider
		}
		typ, size := "typing", 0
		if (i/(2*convs))%2 == 1 {
			typ, size = "read", 12
		}
		add(lead+int64(float64(i)*step), conv, user, role, typ, size)
	}
	return recs
}

// BenchmarkReplayDirect replays a steady trace of typing indicators and
// read receipts against a direct server in another process (ML zero preset)
// (or, with CHATBENCH_BENCH_PATH=echo, the echo floor) and reports the
// rate sustained, the schedule lag, the ledger and the driver process's
// CPU over the replay (driver-cpu-%, of one core: near 100 the sender
// stalls behind the readers, docs/performance.md). Tune it
// with CHATBENCH_BENCH_RATE (messages/s, default 20000),
// CHATBENCH_BENCH_SECONDS (default 10) and CHATBENCH_BENCH_CONVS (default
// 500; two connections each), CHATBENCH_BENCH_SENDERS (Config.Senders),
// CHATBENCH_BENCH_GCPERCENT (the collector's percent while replaying: 0 =
// driver.GCPercent, -1 keeps GOGC),
// CHATBENCH_BENCH_QUANTUM (Config.Quantum, e.g. -1ns for none),
// CHATBENCH_BENCH_PATH=echo, CHATBENCH_BENCH_READERS=goroutines
// (Config.GoroutineReaders), CHATBENCH_BENCH_LOG=1 (benchLogger) and
// CHATBENCH_BENCH_PIN=0 (below). Run it with
// -benchtime=1x.
//
// On Linux with two or more CPUs it gives the driver a core of its own, as
// a load generator on its own machine would have: the server runs on the
// last CPU and this process on the others (CHATBENCH_BENCH_PIN=0 lets them
// share every CPU). docs/performance.md has the figures both ways.
func BenchmarkReplayDirect(b *testing.B) {
	rate := envInt("CHATBENCH_BENCH_RATE", 20000)
	secs := envInt("CHATBENCH_BENCH_SECONDS", 10)
	convs := envInt("CHATBENCH_BENCH_CONVS", 500)
	recs := steadyTrace(convs, rate, secs)
	senders := envInt("CHATBENCH_BENCH_SENDERS", 0)
	quantum, _ := time.ParseDuration(os.Getenv("CHATBENCH_BENCH_QUANTUM")) // 0 = the driver's default
	path := driver.PathDirect
	if os.Getenv("CHATBENCH_BENCH_PATH") == driver.PathEcho {
		path = driver.PathEcho
	}
	pin := os.Getenv("CHATBENCH_BENCH_PIN") != "0"
	if _, _, err := lastCPU(); pin && err != nil {
		b.Logf("driver and server share the CPUs: %v", err)
		pin = false
	}
	url, stop := startChild(b, path, pin)
	defer stop()
	if pin {
		unpin, err := pinProcessAwayFromLastCPU()
		if err != nil {
			b.Fatalf("giving the driver its own CPUs: %v (CHATBENCH_BENCH_PIN=0 runs without)", err)
		}
		defer unpin()
	}
	defer tuneRuntime(senders)()
	for b.Loop() {
		rd0, wr0 := syscallCounts()
		cpu0, wall0 := processCPU(), time.Now()
		p, err := driver.Run(context.Background(), driver.Config{
			Target: url, Secret: secret, Path: path, Records: recs, Speed: 1,
			Catalog: jobs.Catalog(), Warmup: 2 * time.Second, Senders: senders,
			Quantum: quantum, Logger: benchLogger(),
			GoroutineReaders: os.Getenv("CHATBENCH_BENCH_READERS") == "goroutines",
		})
		if err != nil {
			b.Fatal(err)
		}
		if cpu := processCPU(); cpu > 0 {
			// Above about 50 % the sender's hand-offs through the Go
			// scheduler queue behind the readers (docs/performance.md).
			b.ReportMetric(100*float64(cpu-cpu0)/float64(time.Since(wall0)), "driver-cpu-%")
		}
		all := p.Ledger["all"]
		if rd1, wr1 := syscallCounts(); rd1 > 0 {
			// Frames in: an ack per message and an event per delivery.
			b.ReportMetric(float64(rd1-rd0)/float64(p.Messages.Acked+all.Delivered), "reads/frame")
			b.ReportMetric(float64(wr1-wr0)/float64(p.Messages.Sent), "writes/msg")
		}
		if d := p.Driver; d != nil {
			b.ReportMetric(d.SenderCPUMs*1e3/float64(p.Messages.Sent), "sender-cpu-µs/msg")
			b.ReportMetric(d.SenderRunQueueMs, "sender-runq-ms")
		}
		b.ReportMetric(p.Messages.PerSecond, "msgs/s")
		b.ReportMetric(float64(p.ScheduleLag.P50), "lag-p50-µs")
		b.ReportMetric(float64(p.ScheduleLag.P99), "lag-p99-µs")
		b.ReportMetric(float64(p.ScheduleLag.Max), "lag-max-µs")
		b.ReportMetric(float64(p.ScheduleLag.P999), "lag-p99.9-µs")
		b.ReportMetric(float64(p.SenderNice), "sender-nice")
		pinned := 0.0
		if pin {
			pinned = 1
		}
		b.ReportMetric(pinned, "pinned")
		b.ReportMetric(float64(p.FromScheduled["all"].P99), "latency-p99-µs")
		b.ReportMetric(float64(all.Lost), "lost")
		b.ReportMetric(float64(all.Delivered), "delivered")
		b.Logf("messages %+v ledger %+v", p.Messages, *all)
		if all.Lost != 0 || all.Duplicates != 0 || all.Unexpected != 0 || p.Messages.Acked != p.Messages.Sent {
			b.Errorf("a clean replay lost, duplicated or left unanswered something: %+v, %+v", p.Messages, *all)
		}
	}
}

// syscallCounts returns the read and write system calls this process has
// made (/proc/self/io: syscr, syscw), or zeros where it cannot tell.
func syscallCounts() (reads, writes int64) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0
	}
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ": ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return reads, writes
}

// benchLogger returns the replay's logger: the driver's phases on
// standard error with CHATBENCH_BENCH_LOG=1 (its last line has the sender
// threads' CPU and run-queue time), else nil.
func benchLogger() *slog.Logger {
	if os.Getenv("CHATBENCH_BENCH_LOG") != "1" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

// tuneRuntime gives the replays what the driver asks of the program
// running it (runtime.go), as the chatbench commands do: one P more per
// sender, and the collector at driver.GCPercent or at
// CHATBENCH_BENCH_GCPERCENT (negative: GOGC's). It returns the undo.
func tuneRuntime(senders int) (restore func()) {
	procs := runtime.GOMAXPROCS(driver.Procs(runtime.GOMAXPROCS(0), senders))
	gc, _ := strconv.Atoi(os.Getenv("CHATBENCH_BENCH_GCPERCENT"))
	if gc == 0 {
		gc = driver.GCPercent
	}
	if gc < 0 {
		return func() { runtime.GOMAXPROCS(procs) }
	}
	prevGC := debug.SetGCPercent(gc)
	return func() {
		runtime.GOMAXPROCS(procs)
		debug.SetGCPercent(prevGC)
	}
}

// startEchoTLS starts an echo floor serving wss:// with a self-signed
// certificate, and returns it with a client configuration trusting it
// (as --tls-ca does).
func startEchoTLS(t *testing.T) (*echo.Server, *tls.Config) {
	t.Helper()
	certFile, keyFile, err := tlsconf.WriteSelfSigned(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	scfg, err := tlsconf.Server(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := echo.StartTLS("127.0.0.1:0", scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	ccfg, err := tlsconf.Client(certFile, false)
	if err != nil {
		t.Fatal(err)
	}
	return srv, ccfg
}

func startML(t testing.TB) chat.ML { return wstest.StartML(t, "") }

// TestReplayEchoTLS replays through an echo floor serving wss:// with a
// self-signed certificate the driver is told to trust (--tls-ca).
func TestReplayEchoTLS(t *testing.T) {
	srv, ccfg := startEchoTLS(t)
	if !strings.HasPrefix(srv.URL(), "wss://") {
		t.Fatalf("URL %s", srv.URL())
	}
	h, recs, err := trace.Generate(trace.Params{Days: 0.02, Messages: 60, Conversations: 3, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	p, err := driver.Run(context.Background(), driver.Config{
		Target: srv.URL(), Secret: secret, Path: driver.PathEcho, Header: h, Records: recs, Speed: 2000, TLS: ccfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Ledger["class:echo"]; c == nil || c.Delivered == 0 || c.Delivered != c.Expected {
		t.Fatalf("echo ledger over wss %+v", c)
	}
	// Without the CA the driver cannot connect.
	if _, err := driver.Run(context.Background(), driver.Config{
		Target: srv.URL(), Secret: secret, Path: driver.PathEcho, Header: h, Records: recs, Speed: 2000,
	}); err == nil {
		t.Fatal("driver connected to a self-signed server without --tls-ca")
	}
}

// startEcho runs the echo floor on loopback for the test.
func startEcho(t *testing.T) *echo.Server {
	t.Helper()
	srv, err := echo.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return srv
}

// smallTrace is a generated trace of 120 messages in 4 conversations.
func smallTrace(t *testing.T) (trace.Header, []trace.Record) {
	t.Helper()
	h, recs, err := trace.Generate(trace.Params{Days: 0.02, Messages: 120, Conversations: 4, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	return h, recs
}
