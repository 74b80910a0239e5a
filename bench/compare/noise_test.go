package compare_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/compare"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/stack"
	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/internal/wstest"
)

// hogEnv, when set to "<threads>,<duration>", turns this test binary into
// the CPU hog (TestHogHelper).
const hogEnv = "CHATBENCH_TEST_HOG"

// TestHogHelper is not a test: run as a child process with hogEnv set, it
// keeps <threads> OS threads busy for <duration> and exits by itself, a
// disturbance of bounded time beside a run. It says "hogging" once every
// thread spins.
func TestHogHelper(t *testing.T) {
	spec := os.Getenv(hogEnv)
	if spec == "" {
		t.Skip("the CPU hog of TestNoisyUnderHog, run as its child process")
	}
	n, d, err := parseHog(spec)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(d)
	var started, done sync.WaitGroup
	started.Add(n)
	for range n {
		done.Go(func() {
			runtime.LockOSThread()
			started.Done()
			for x := 0; time.Now().Before(deadline); x++ {
				_ = x * x
			}
		})
	}
	started.Wait()
	fmt.Println("hogging")
	done.Wait()
}

func parseHog(spec string) (int, time.Duration, error) {
	ns, ds, _ := strings.Cut(spec, ",")
	n, err := strconv.Atoi(ns)
	if err != nil || n < 1 {
		return 0, 0, fmt.Errorf("%s=%q: threads %q is not a positive count", hogEnv, spec, ns)
	}
	d, err := time.ParseDuration(ds)
	if err != nil || d <= 0 || d > 10*time.Minute {
		return 0, 0, fmt.Errorf("%s=%q: duration %q must be a positive duration up to 10m", hogEnv, spec, ds)
	}
	return n, d, nil
}

// startHog starts the hog as a child process, busy on threads OS threads
// for at most d, and returns once it spins; it is stopped at the end of
// the test (and stops by itself after d).
func startHog(t *testing.T, threads int, d time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHogHelper$", "-test.v")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d,%s", hogEnv, threads, d))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if sc.Text() == "hogging" {
			go func() { // keep the pipe drained until the hog exits
				for sc.Scan() {
				}
			}()
			return
		}
	}
	t.Fatalf("the hog exited before it spun: %v", sc.Err())
}

// genTrace generates a trace and returns its bytes and records.
func genTrace(t *testing.T, p trace.Params) ([]byte, []trace.Record) {
	t.Helper()
	h, recs, err := trace.Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	var tr bytes.Buffer
	if err := trace.Write(&tr, h, recs, false); err != nil {
		t.Fatal(err)
	}
	return tr.Bytes(), recs
}

// syncBuffer is a bytes.Buffer safe for the driver's progress goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRepeatsAndNoise runs echo and direct twice, interleaved, and checks
// what repeats promise: A B A B on fresh processes (each repeat's logs its
// own), progress naming the repeat, every repeat kept and pooled, the
// echo floor's drift on every path, and on Linux each repeat's noise
// measured. Then it runs the same with a CPU hog beside it and checks the
// robust half of the noise flag: the disturbed run is flagged noisy, and
// its noise figure exceeds the quiet run's unless others had saturated the
// machine during the quiet run too (go test running other packages beside
// this one does). That the quiet run is not flagged is only logged: on a
// shared machine someone else may be busy.
func TestRepeatsAndNoise(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds chatbench and runs two paths three times")
	}
	exe := wstest.BuildChatbench(t)
	// A quarter hour of 20 visits: about 6 s a path at these speeds.
	tr, _ := genTrace(t, trace.Params{Days: 1.0 / 96, Messages: 300, Conversations: 20, Seed: 5})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cfg := func(dir string, repeat int, progress io.Writer) compare.Config {
		return compare.Config{
			Stack: stack.Config{Exe: exe, MLProfile: "fast", Secret: "compare-test-secret-0123456789", LogDir: filepath.Join(dir, "logs")},
			Replay: stack.Replay{TraceName: "quarter-hour", TraceBytes: tr, Speed: 300, Pace: 150,
				Warmup: -1, Drain: 10 * time.Second, Catalog: jobs.Catalog(), Progress: progress},
			Paths: []string{"echo", "direct"}, Repeat: repeat,
		}
	}
	dir := t.TempDir()
	var progress syncBuffer
	run, err := compare.Run(ctx, cfg(dir, 2, &progress))
	if err != nil {
		t.Fatal(err)
	}
	if got := run.Meta.Config["repeat"]; got != "2" {
		t.Errorf("meta repeat %q, want 2", got)
	}
	if len(run.Paths) != 2 {
		t.Fatalf("%d paths, want echo and direct", len(run.Paths))
	}
	// Interleaved: echo 1, direct 1, echo 2, direct 2, one after another.
	var order []*results.Path
	for k := range 2 {
		for _, p := range run.Paths {
			if len(p.Repeats) != 2 {
				t.Fatalf("path %s holds %d repeats, want 2", p.Name, len(p.Repeats))
			}
			order = append(order, p.Repeats[k])
		}
	}
	for i := 1; i < len(order); i++ {
		if !order[i-1].End.Before(order[i].Start) {
			t.Errorf("%s repeat %d ends at %s, after %s repeat %d starts at %s: not interleaved A B A B",
				order[i-1].Name, order[i-1].Repeat, order[i-1].End, order[i].Name, order[i].Repeat, order[i].Start)
		}
	}
	for k := 1; k <= 2; k++ {
		for _, name := range []string{"echo-echo.log", "direct-server.log"} {
			if _, err := os.Stat(filepath.Join(dir, "logs", fmt.Sprintf("repeat-%d", k), name)); err != nil {
				t.Errorf("repeat %d has no log of its own: %v", k, err)
			}
		}
	}
	for _, want := range []string{"echo (repeat 1 of 2, run 1 of 4)", "direct (repeat 2 of 2, run 4 of 4)"} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress.String())
		}
	}
	if err := run.Validate(); err != nil {
		t.Errorf("the run with repeats is not valid: %v", err)
	}
	for _, p := range run.Paths {
		if p.Noise == nil || p.Noise.FloorDrift == nil || p.Noise.Repeats != 2 {
			t.Errorf("path %s: noise %+v, want the floor's drift across 2 repeats", p.Name, p.Noise)
		}
		if runtime.GOOS == "linux" && (p.Noise == nil || p.Noise.CPU == nil || p.Noise.CPU.OwnSeconds <= 0 || p.Noise.CPU.SpanSeconds <= 0) {
			t.Errorf("path %s: noise %+v, want the CPU measured on Linux", p.Name, p.Noise)
		}
	}
	if runtime.GOOS != "linux" {
		t.Skip("the machine's CPU is known on Linux only")
	}
	quiet := 0.0
	for _, p := range run.Paths {
		for _, r := range p.Repeats {
			quiet = max(quiet, r.Noise.CPU.Share)
			t.Logf("quiet %s repeat %d: share %.1f%%, noisy %v %s", p.Name, r.Repeat, r.Noise.CPU.Share*100, r.Noise.Noisy, r.Noise.Reason)
		}
	}

	// Disturbed: a hog on every CPU, twice over, for the whole run.
	startHog(t, 2*runtime.NumCPU(), 3*time.Minute)
	hogged, err := compare.Run(ctx, cfg(t.TempDir(), 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range hogged.Paths {
		n := p.Noise
		if n == nil || n.CPU == nil {
			t.Fatalf("path %s: no noise measured", p.Name)
		}
		t.Logf("hogged %s: share %.1f%%: %s", p.Name, n.CPU.Share*100, n.Reason)
		if !n.Noisy || !strings.Contains(n.Reason, "of the machine") {
			t.Errorf("path %s beside a CPU hog is not flagged noisy: %+v", p.Name, *n.CPU)
		}
		// A machine that others saturated leaves no room between the two
		// (both near 100%): then only the flag is asserted.
		if quiet < 0.5 && n.CPU.Share <= quiet {
			t.Errorf("path %s beside a CPU hog: noise %.1f%%, not above the quiet run's %.1f%%", p.Name, n.CPU.Share*100, quiet*100)
		}
	}
}
