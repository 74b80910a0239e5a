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

// Sampler observes the server: its goroutines, resident memory and CPU
// time so far.
type Sampler func(ctx context.Context) (results.SoakSample, error)

// MetricsSampler returns a Sampler that scrapes a Prometheus text /metrics
// endpoint at url for go_goroutines, process_resident_memory_bytes and
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
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if !seen {
		return s, errors.New("soak: /metrics has no go_goroutines")
	}
	return s, nil
}

// peak returns the larger of p's and s's goroutines and memory.
func peak(p, s results.SoakSample) results.SoakSample {
	p.Goroutines = max(p.Goroutines, s.Goroutines)
	p.RSS = max(p.RSS, s.RSS)
	return p
}
