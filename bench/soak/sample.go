package soak

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chatbench/chatbench/bench/results"
)

// Sampler observes the server: its goroutines, the memory it holds (heap
// in use and stacks), its collections, resident memory and CPU time so far.
type Sampler func(ctx context.Context) (results.SoakSample, error)

// MetricsSampler returns a Sampler that scrapes a Prometheus text /metrics
// endpoint at url: go_goroutines, go_memstats_heap_inuse_bytes,
// go_memstats_stack_inuse_bytes and go_gc_duration_seconds_count from
// client_golang's Go collector (or their runtime/metrics-based names, for a
// collector configured with those only), process_resident_memory_bytes and
// process_cpu_seconds_total.
func MetricsSampler(url string) Sampler {
	client := &http.Client{Timeout: 5 * time.Second}
	return func(ctx context.Context) (results.SoakSample, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return results.SoakSample{}, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return results.SoakSample{}, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return results.SoakSample{}, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
		}
		return parseMetrics(resp.Body)
	}
}

// MetricsURL derives a server's /metrics URL, http(s)://host/metrics,
// from its ws(s):// target.
func MetricsURL(target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("--target %q: %w", target, err)
	}
	scheme := "http"
	if u.Scheme == "wss" {
		scheme = "https"
	}
	return scheme + "://" + u.Host + "/metrics", nil
}

func parseMetrics(r io.Reader) (results.SoakSample, error) {
	var s results.SoakSample
	seen := false
	// The runtime/metrics-based names, used only where the MemStats-style
	// ones are absent: objects + unused make heap in use.
	var objects, unused, stacks, cycles float64
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_goroutines":
			s.Goroutines, seen = int(f), true
		case "process_resident_memory_bytes":
			s.RSS = int64(f)
		case "process_cpu_seconds_total":
			s.CPUSeconds = f
		case "go_memstats_heap_inuse_bytes":
			s.HeapInuse = int64(f)
		case "go_memstats_stack_inuse_bytes":
			s.StackInuse = int64(f)
		case "go_gc_duration_seconds_count":
			s.GCCycles = int64(f)
		case "go_memory_classes_heap_objects_bytes":
			objects = f
		case "go_memory_classes_heap_unused_bytes":
			unused = f
		case "go_memory_classes_heap_stacks_bytes":
			stacks = f
		case "go_gc_cycles_total_gc_cycles_total":
			cycles = f
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if s.HeapInuse == 0 {
		s.HeapInuse = int64(objects + unused)
	}
	if s.StackInuse == 0 {
		s.StackInuse = int64(stacks)
	}
	if s.GCCycles == 0 {
		s.GCCycles = int64(cycles)
	}
	if !seen {
		return s, errors.New("soak: /metrics has no go_goroutines")
	}
	return s, nil
}

// peak returns the larger of p's and s's goroutines and memory, per field.
func peak(p, s results.SoakSample) results.SoakSample {
	p.Goroutines = max(p.Goroutines, s.Goroutines)
	p.RSS = max(p.RSS, s.RSS)
	p.HeapInuse = max(p.HeapInuse, s.HeapInuse)
	p.StackInuse = max(p.StackInuse, s.StackInuse)
	p.GCCycles = max(p.GCCycles, s.GCCycles)
	return p
}
