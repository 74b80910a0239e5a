package stack

import (
	"math"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/results/resultstest"
)

// TestParseProcStat reads /proc/stat's aggregate line in USER_HZ and
// counts the CPUs.
func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		name, in       string
		busy, irq      uint64
		steal          uint64
		hasSteal       bool
		cores          int
		wantErrContain string
	}{
		{name: "with steal and guest", in: "cpu  1000 200 300 9000 50 10 40 70 500 0\ncpu0 500 100 150 4500 25 5 20 35 250 0\ncpu1 500 100 150 4500 25 5 20 35 250 0\nintr 1 2\n",
			// user+nice+system+irq+softirq; guest is inside user already.
			busy: 1550, irq: 50, steal: 70, hasSteal: true, cores: 2},
		// Kernels before 2.6.11 have no steal column: unknown, not 0.
		{name: "no steal", in: "cpu 100 0 100 800 0 0 0\ncpu0 100 0 100 800 0 0 0\n", busy: 200, cores: 1},
		{name: "no cpu lines", in: "intr 1 2\n", wantErrContain: "no cpu lines"},
		{name: "short line", in: "cpu 1 2 3\ncpu0 1 2 3\n", wantErrContain: "at least 7"},
		{name: "not a count", in: "cpu 1 2 x 4 5 6 7\ncpu0 1 2 3 4 5 6 7\n", wantErrContain: `"x": not a count`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tc.in))
			if tc.wantErrContain != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrContain) {
					t.Fatalf("error %v, want %q", err, tc.wantErrContain)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.busy != tc.busy || got.irq != tc.irq || got.steal != tc.steal || got.hasSteal != tc.hasSteal || got.cores != tc.cores {
				t.Errorf("got %+v, want busy %v irq %v steal %v (%v) cores %d", got, tc.busy, tc.irq, tc.steal, tc.hasSteal, tc.cores)
			}
		})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestMeterNoise measures a real span of this machine: the own processes'
// CPU is set against the machine's, never counted as other.
func TestMeterNoise(t *testing.T) {
	if runtime.GOOS != "linux" {
		if n := MeterNoise(0)(nil); n != nil {
			t.Fatalf("off Linux the noise is %+v, want nil (unknown)", n)
		}
		t.Skip("the machine's CPU is read from /proc/stat (Linux)")
	}
	stop := MeterNoise(0.5)
	// Own components that claim more CPU than the machine could have
	// spent: nothing is left for other processes.
	n := stop([]results.Component{{Name: "a", CPUSeconds: 1e6}})
	if n == nil || n.CPU == nil {
		t.Fatal("no noise measured on Linux")
	}
	c := n.CPU
	if c.OwnSeconds < 1e6 || c.OtherSeconds != 0 || c.Threshold != 0.5 || c.SpanSeconds <= 0 {
		t.Errorf("%+v: want own ≥ 1e6 s, other 0, threshold 0.5, a span", c)
	}
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	if cores := strings.Count(string(data), "\ncpu"); c.Cores != cores {
		t.Errorf("cores %d, /proc/stat lists %d", c.Cores, cores)
	}
	if n.Noisy && (c.StealSeconds == nil || *c.StealSeconds == 0) {
		t.Errorf("noisy without other CPU or steal: %+v", n)
	}
	// The zero threshold is the default.
	if got := MeterNoise(0)(nil); got.CPU.Threshold != DefaultNoiseThreshold {
		t.Errorf("threshold %v, want %v", got.CPU.Threshold, DefaultNoiseThreshold)
	}
}

// cpuNoise is a repeat's measured CPU noise: other CPU seconds of a 100 s
// span on 2 cores, threshold 10%.
func cpuNoise(other float64) *results.Noise {
	steal := 0.0
	return judgeCPU(&results.CPUNoise{SpanSeconds: 100, Cores: 2, BusySeconds: 50 + other, OwnSeconds: 50,
		OtherSeconds: other, StealSeconds: &steal, Threshold: 0.1})
}

// TestJudgeAndPool checks the flag of one span and of pooled repeats: a
// pooled path is noisy when at least half its repeats are.
func TestJudgeAndPool(t *testing.T) {
	if n := cpuNoise(10); n.Noisy || n.CPU.Share != 0.05 {
		t.Errorf("5%% of the machine: %+v, want share 0.05, not noisy", n)
	}
	n := cpuNoise(30)
	if !n.Noisy || !strings.Contains(n.Reason, "30.0 CPU s") || !strings.Contains(n.Reason, "15.0% of the machine (threshold 10.0%)") {
		t.Errorf("15%% of the machine: %+v, want noisy with the figure", n)
	}
	reps := func(others ...float64) []*results.Path {
		var out []*results.Path
		for i, o := range others {
			out = append(out, &results.Path{Name: "queue", Repeat: i + 1, Noise: cpuNoise(o)})
		}
		return out
	}
	for _, tc := range []struct {
		others []float64
		noisy  int
		want   bool
	}{
		{[]float64{2, 40, 3}, 1, false}, // one disturbed repeat of three: the median is a quiet one's
		{[]float64{2, 40, 30}, 2, true},
		{[]float64{2, 40}, 1, true}, // the median of two is their mean
		{[]float64{2, 3, 4, 5}, 0, false},
	} {
		p := PoolNoise(reps(tc.others...))
		if p.NoisyRepeats != tc.noisy || p.Repeats != len(tc.others) || p.Noisy != tc.want {
			t.Errorf("others %v: %+v, want %d noisy repeats, noisy %v", tc.others, p, tc.noisy, tc.want)
		}
		var sum float64
		for _, o := range tc.others {
			sum += o
		}
		if want := sum / (200 * float64(len(tc.others))); !near(p.CPU.Share, want) || !near(p.CPU.OtherSeconds, sum) {
			t.Errorf("others %v: share %v, other %v; want %v, %v", tc.others, p.CPU.Share, p.CPU.OtherSeconds, want, sum)
		}
		if p.Noisy && !strings.Contains(p.Reason, "the worst, repeat 2") {
			t.Errorf("reason %q does not name the worst repeat", p.Reason)
		}
	}
	// One repeat of unknown noise makes the pool's CPU unknown.
	r := reps(1, 2)
	r[1].Noise = nil
	if p := PoolNoise(r); p != nil {
		t.Errorf("pool with an unknown repeat: %+v, want nil", p)
	}
}

// TestFloorDrift measures the echo floor's move across repeats and flags
// every path when it exceeds the threshold.
func TestFloorDrift(t *testing.T) {
	echo := func(p50s ...float64) *results.Path {
		var reps []*results.Path
		for _, v := range p50s {
			h := resultstest.Hist(resultstest.Values(200, v, 0))
			reps = append(reps, &results.Path{Name: "echo", FromScheduled: map[string]*results.Histogram{"all": h}})
		}
		p, err := results.PoolRepeats(reps)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, ok := FloorDrift(echo(200)); ok {
		t.Errorf("one repeat has a drift")
	}
	if _, ok := FloorDrift(nil); ok {
		t.Errorf("no echo path has a drift")
	}
	p := echo(200, 300, 250)
	d, ok := FloorDrift(p)
	if !ok || math.Abs(d-100.0/250) > 0.01 {
		t.Fatalf("drift %v (%v), want 0.4: (300 − 200) ÷ 250", d, ok)
	}
	queue := &results.Path{Name: "queue", Repeats: make([]*results.Path, 3), Noise: PoolNoise(nil)}
	AddFloorDrift(queue, d, 0.25)
	if n := queue.Noise; n == nil || !n.Noisy || n.DriftThreshold != 0.25 || n.CPU != nil ||
		!strings.Contains(n.Reason, "echo floor's p50 moved by 40.0%") {
		t.Errorf("noise %+v: want noisy by the drift, CPU unknown", n)
	}
	quiet := &results.Path{Name: "direct", Noise: cpuNoise(1)}
	AddFloorDrift(quiet, 0.4, 0)
	if n := quiet.Noise; n.Noisy || *n.FloorDrift != 0.4 || n.DriftThreshold != DefaultDriftThreshold || n.CPU == nil {
		t.Errorf("noise %+v: a 40%% drift under the default threshold keeps the CPU figures and is not noisy", n)
	}
}
