package stack

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// An overloaded path is a finding, not a failure: before a component is
// asked to stop, the stack reads from its /metrics how much work it still
// holds (Component.Backlog), and a component that then outlives its stop
// grace is killed and marked so — both land in its results.Component,
// and Run does not fail the run for it.

// backlogTimeout bounds the read of one component's backlog.
const backlogTimeout = 3 * time.Second

// readBacklogs reads, at once, the backlog of every running process of
// group whose component names a backlog gauge.
func readBacklogs(group []*proc) {
	var wg sync.WaitGroup
	for _, p := range group {
		if p.spec.backlog == "" || p.spec.ready != CheckHTTP || p.exitedYet() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if n, ok := scrapeGauge("http://"+p.spec.readyAddr+"/metrics", p.spec.backlog); ok {
				p.backlog = &n
			}
		}()
	}
	wg.Wait()
}

// scrapeGauge returns the sum of the samples of metric name on the
// Prometheus text endpoint url, and whether any was found.
func scrapeGauge(url, name string) (int64, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), backlogTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, false
	}
	var sum float64
	found := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue // a comment, another metric, or one whose name merely starts so
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			sum += v
			found = true
		}
	}
	return int64(sum), found
}

// killedError is a process killed after its stop grace (Stop's error).
type killedError struct{ msg string }

func (e *killedError) Error() string { return e.msg }

// withoutKills returns err without its killedErrors (nil if nothing else
// is left).
func withoutKills(err error) error {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else if err != nil {
		errs = []error{err}
	}
	var rest []error
	for _, e := range errs {
		var k *killedError
		if !errors.As(e, &k) {
			rest = append(rest, e)
		}
	}
	return errors.Join(rest...)
}
