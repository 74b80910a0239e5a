package stack

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/stats"
)

// Noise thresholds: the defaults of Config.NoiseThreshold and
// Config.DriftThreshold (docs/results.md, "Noise").
const (
	// DefaultNoiseThreshold flags a path when other processes (and steal)
	// took more than a tenth of the machine's CPU over its span: on two
	// cores, a fifth of a core the whole time — the size of a `go build`
	// started beside the run, which moved the queue path's p50 by two
	// orders of magnitude in the runs of issue 12.
	DefaultNoiseThreshold = 0.10
	// DefaultDriftThreshold flags a run's paths when the echo floor's p50
	// moved by more than its median across repeats (the floor doubled):
	// the floor is the same bare round trip each time, but a sub-
	// millisecond figure on a virtual machine moves by 40–45% between
	// quiet repeats (docs/performance.md, "Noise"), so only a larger move
	// says the machine changed under the run.
	DefaultDriftThreshold = 1.0
)

// userHZ is the unit of /proc/stat's times: USER_HZ, 100 on every Linux
// architecture Go supports (the kernel converts its own tick rate to it
// for user space).
const userHZ = 100

// cpuTimes is one reading of /proc/stat's aggregate "cpu" line, in
// USER_HZ ticks (whole numbers, so differences are exact).
type cpuTimes struct {
	busy, irq, steal uint64 // busy includes irq
	hasSteal         bool
	cores            int
}

// seconds converts a difference of ticks to seconds.
func seconds(t1, t0 uint64) float64 {
	if t1 < t0 {
		return 0
	}
	return float64(t1-t0) / userHZ
}

// parseProcStat reads the aggregate "cpu" line and counts the "cpuN"
// lines of a /proc/stat: user nice system idle iowait irq softirq steal
// guest guest_nice, in USER_HZ (guest time is already inside user and
// nice, so it is not added again).
func parseProcStat(data []byte) (cpuTimes, error) {
	var t cpuTimes
	found := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || !strings.HasPrefix(fields[0], "cpu") {
			continue
		}
		if fields[0] != "cpu" {
			if _, err := strconv.Atoi(fields[0][3:]); err == nil {
				t.cores++
			}
			continue
		}
		if len(fields) < 8 {
			return t, fmt.Errorf("/proc/stat: cpu line has %d fields, want at least 7 times", len(fields)-1)
		}
		v := make([]uint64, len(fields)-1)
		for i, f := range fields[1:] {
			n, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				return t, fmt.Errorf("/proc/stat: cpu field %d %q: not a count", i+1, f)
			}
			v[i] = n
		}
		user, nice, system, irq, softirq := v[0], v[1], v[2], v[5], v[6]
		t.irq = irq + softirq
		t.busy = user + nice + system + t.irq
		if len(v) >= 8 {
			t.steal, t.hasSteal = v[7], true
		}
		found = true
	}
	if !found || t.cores == 0 {
		return t, errors.New("/proc/stat: no cpu lines")
	}
	return t, nil
}

// readCPU reads the machine's CPU times; ok is false off Linux or when
// /proc/stat cannot be read.
func readCPU() (cpuTimes, bool) {
	if runtime.GOOS != "linux" {
		return cpuTimes{}, false
	}
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, false
	}
	t, err := parseProcStat(data)
	return t, err == nil
}

// MeterNoise starts measuring the machine's CPU over a span and returns a
// function that ends the span and reports its noise: the CPU time the
// machine spent outside own (the span's own processes, e.g. a path's
// components from Stack.Stop) and outside this process, with steal time,
// flagged noisy when their share of the machine exceeds threshold (zero =
// DefaultNoiseThreshold). Start it before the first of own starts and end
// it after the last was reaped, so that their whole rusage falls inside
// the span. It returns nil where the machine's CPU cannot be read (not
// Linux): unknown, not quiet.
func MeterNoise(threshold float64) func(own []results.Component) *results.Noise {
	if threshold <= 0 || math.IsNaN(threshold) {
		threshold = DefaultNoiseThreshold
	}
	t0, ok := readCPU()
	self0, _ := selfUsage()
	at := time.Now()
	return func(own []results.Component) *results.Noise {
		t1, ok1 := readCPU()
		span := time.Since(at).Seconds()
		self1, _ := selfUsage()
		if !ok || !ok1 {
			return nil
		}
		c := &results.CPUNoise{SpanSeconds: span, Cores: max(t0.cores, t1.cores), Threshold: threshold,
			BusySeconds: seconds(t1.busy, t0.busy), IRQSeconds: seconds(t1.irq, t0.irq), OwnSeconds: self1 - self0}
		for _, comp := range own {
			c.OwnSeconds += comp.CPUSeconds
		}
		// /proc/stat is sampled at the tick and rusage exactly, so on a
		// quiet machine the difference can come out a little below zero.
		c.OtherSeconds = math.Round(max(c.BusySeconds-c.OwnSeconds, 0)*1e6) / 1e6
		if t0.hasSteal && t1.hasSteal {
			steal := seconds(t1.steal, t0.steal)
			c.StealSeconds = &steal
		}
		return judgeCPU(c)
	}
}

// judgeCPU computes c's Share and the noise it makes.
func judgeCPU(c *results.CPUNoise) *results.Noise {
	lost := c.OtherSeconds + deref(c.StealSeconds)
	if capacity := c.SpanSeconds * float64(c.Cores); capacity > 0 {
		c.Share = lost / capacity
	}
	n := &results.Noise{CPU: c}
	if c.Share > c.Threshold {
		n.Noisy, n.Reason = true, cpuReason(c)
	}
	return n
}

// cpuReason says what took the CPU: other processes, steal, or both.
func cpuReason(c *results.CPUNoise) string {
	what := fmt.Sprintf("other processes took %.1f CPU s", c.OtherSeconds)
	if s := deref(c.StealSeconds); s > 0 {
		what += fmt.Sprintf(" and steal %.1f s", s)
	}
	return fmt.Sprintf("%s in %.0f s on %d cores: %s of the machine (threshold %s)",
		what, c.SpanSeconds, c.Cores, pct(c.Share), pct(c.Threshold))
}

// PoolNoise returns the noise of a path pooled from its repeats (each one's
// Noise from MeterNoise): CPU times summed, the Share of the sum, and
// noisy when at least half of the repeats were (then the median across
// repeats may be a noisy repeat's figure; fewer noisy repeats are the
// extremes a median leaves out). CPU is nil if any repeat's is unknown.
// It returns nil when no repeat knows anything.
func PoolNoise(repeats []*results.Path) *results.Noise {
	n := &results.Noise{Repeats: len(repeats)}
	var sum results.CPUNoise
	steal, known := 0.0, true
	hasSteal := true
	for _, r := range repeats {
		if r == nil || r.Noise == nil || r.Noise.CPU == nil {
			known = false
			continue
		}
		c := r.Noise.CPU
		if r.Noise.Noisy {
			n.NoisyRepeats++
		}
		sum.SpanSeconds += c.SpanSeconds
		sum.Cores = max(sum.Cores, c.Cores)
		sum.BusySeconds += c.BusySeconds
		sum.OwnSeconds += c.OwnSeconds
		sum.OtherSeconds += c.OtherSeconds
		sum.IRQSeconds += c.IRQSeconds
		sum.Threshold = max(sum.Threshold, c.Threshold)
		if c.StealSeconds == nil {
			hasSteal = false
		}
		steal += deref(c.StealSeconds)
	}
	if !known || len(repeats) == 0 {
		return nil
	}
	if hasSteal {
		sum.StealSeconds = &steal
	}
	judged := judgeCPU(&sum)
	n.CPU = judged.CPU
	if 2*n.NoisyRepeats >= n.Repeats {
		n.Noisy = true
		n.Reason = fmt.Sprintf("%d of %d repeats noisy (%s)", n.NoisyRepeats, n.Repeats, worstReason(repeats))
	}
	return n
}

// worstReason is the reason of the repeat with the largest CPU share.
func worstReason(repeats []*results.Path) string {
	worst := slices.MaxFunc(repeats, func(a, b *results.Path) int {
		return cmp.Compare(a.Noise.CPU.Share, b.Noise.CPU.Share)
	})
	return fmt.Sprintf("the worst, repeat %d: %s", worst.Repeat, cpuReason(worst.Noise.CPU))
}

// FloorDrift returns how far the echo floor moved across echo's repeats:
// (largest − smallest) ÷ median of the repeats' p50 of group all. ok is
// false with fewer than two repeats or without latency.
func FloorDrift(echo *results.Path) (drift float64, ok bool) {
	if echo == nil || len(echo.Repeats) < 2 {
		return 0, false
	}
	vs, err := stats.Values(echo, "all", "p50")
	if err != nil {
		return 0, false
	}
	med := stats.Summarize(vs).Median
	if med <= 0 {
		return 0, false
	}
	return (slices.Max(vs) - slices.Min(vs)) / med, true
}

// AddFloorDrift records the run's echo floor drift on p's noise (creating
// it if p had none) and flags p noisy when drift exceeds threshold (zero =
// DefaultDriftThreshold).
func AddFloorDrift(p *results.Path, drift, threshold float64) {
	if threshold <= 0 || math.IsNaN(threshold) {
		threshold = DefaultDriftThreshold
	}
	if p.Noise == nil {
		p.Noise = &results.Noise{Repeats: len(p.Repeats)}
	}
	p.Noise.FloorDrift, p.Noise.DriftThreshold = &drift, threshold
	if drift > threshold {
		why := fmt.Sprintf("the echo floor's p50 moved by %s of its median across repeats (threshold %s)", pct(drift), pct(threshold))
		p.Noise.Noisy, p.Noise.Reason = true, joinReason(p.Noise.Reason, why)
	}
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}

// pct formats a fraction as a percentage with one decimal.
func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }
