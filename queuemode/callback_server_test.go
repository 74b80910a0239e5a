package queuemode_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/queuemode"
)

// TestCallbackCutsOffSlowRequests opens 300 connections to a gateway's
// callback listener, each sending the headers of a POST and one byte of
// its 1000-byte body, then nothing. Beyond MaxConcurrent they are refused
// at once with 503 and Retry-After; the rest are answered 408 once
// ReadTimeout has passed; every connection is closed well before the 12 s
// they all stayed open without a timeout. While they hold the slots, a
// worker's post waits out the Retry-After and is taken once they are gone.
func TestCallbackCutsOffSlowRequests(t *testing.T) {
	const (
		slow  = 300
		bound = 100
		rt    = 2 * time.Second
	)
	e := newEnv(t, envOpts{variant: func(c *queuemode.GatewayConfig) {
		c.Callback.ReadTimeout, c.Callback.MaxConcurrent = rt, bound
	}})
	addr := e.gw.CallbackAddr()
	start := time.Now()
	type answer struct {
		status int
		closed time.Duration
	}
	answers := make(chan answer, slow)
	var conns []net.Conn
	for range slow {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := c.Write([]byte("POST " + queuemode.CallbackPath + " HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n" +
			queuemode.HeaderTimestamp + ": 1\r\n" + queuemode.HeaderSignature + ": 00\r\n\r\n{")); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(rt + 10*time.Second))
			r := bufio.NewReader(c)
			a := answer{}
			if resp, err := http.ReadResponse(r, nil); err == nil {
				a.status = resp.StatusCode
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			// Then the server closes the connection: EOF, not the deadline.
			if _, err := r.ReadByte(); err != nil && !isTimeout(err) {
				a.closed = time.Since(start)
			}
			answers <- a
		}()
	}

	// A worker's post while the slots are taken.
	cc, err := queuemode.NewCallbackClient(e.gw.CallbackURL(), cbSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.CloseIdle()
	posted := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), rt+10*time.Second)
		defer cancel()
		// Not a message the gateway accepted: once in, it is refused 403.
		posted <- cc.Post(ctx, []*chat.Event{{Name: "wait_time", Job: "wait_time", Conv: "c1", From: "p1", ReplyTo: "m1", Status: chat.StatusOK}})
	}()

	wg.Wait()
	close(answers)
	counts := map[int]int{}
	for a := range answers {
		counts[a.status]++
		if a.closed == 0 || a.closed > rt+5*time.Second {
			t.Errorf("a slow request's connection closed after %v (0 = not closed), want within %v", a.closed, rt+5*time.Second)
		}
	}
	t.Logf("answers by status: %v", counts)
	if counts[http.StatusRequestTimeout] > bound || counts[http.StatusRequestTimeout]+counts[http.StatusServiceUnavailable] != slow {
		t.Errorf("answers %v: want at most %d × 408 and the rest 503", counts, bound)
	}
	if err := <-posted; err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("worker's post: %v, want the gateway's 403 once it got in", err)
	}
	got := map[string]float64{}
	for _, r := range []string{"busy", "timeout"} {
		got[r] = gathered(t, e.reg, "chatbench_callback_rejects_total", r)
	}
	if got["busy"] < float64(counts[http.StatusServiceUnavailable]) || got["timeout"] != float64(counts[http.StatusRequestTimeout]) {
		t.Errorf("rejects %v; want busy ≥ %d and timeout = %d", got, counts[http.StatusServiceUnavailable], counts[http.StatusRequestTimeout])
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
