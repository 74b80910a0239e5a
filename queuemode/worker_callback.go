package queuemode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strconv"
	"time"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/httppool"
)

// Poster delivers a job's events to the gateway. It returns nil only when
// the gateway accepted them; only then is the queue message deleted.
// CallbackClient implements it.
type Poster interface {
	Post(ctx context.Context, events []*chat.Event) error
}

var _ Poster = (*CallbackClient)(nil)

// CallbackClient posts events to a gateway's callback endpoint, signed. It
// is safe for concurrent use.
type CallbackClient struct {
	url    string
	secret []byte
	hc     *http.Client
	m      *Metrics
}

// NewCallbackClient returns a client posting to url (e.g.
// "http://127.0.0.1:8081/internal/events"; a URL without a path gets
// CallbackPath). m may be nil.
func NewCallbackClient(url string, secret []byte, m *Metrics) (*CallbackClient, error) {
	if err := checkSecret(secret); err != nil {
		return nil, err
	}
	if url == "" {
		return nil, errors.New("queuemode: callback URL is required")
	}
	u, err := neturl.Parse(url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("queuemode: callback URL %q: want http://host:port[/path]", url)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = CallbackPath
	}
	url = u.String()
	if m == nil {
		m = NewMetrics(nil)
	}
	return &CallbackClient{url: url, secret: secret, m: m, hc: &http.Client{Timeout: 10 * time.Second, Transport: httppool.Transport()}}, nil
}

// Post signs and posts events; it returns nil only on a 2xx answer. A
// gateway that answers 503 with Retry-After (busy, or its shared record
// unreachable for a moment) is asked again after it, signed anew, while
// ctx lasts.
func (c *CallbackClient) Post(ctx context.Context, events []*chat.Event) error {
	batch := EventBatch{Events: make([]WireEvent, len(events))}
	for i, ev := range events {
		batch.Events[i] = toWire(ev)
	}
	body, err := json.Marshal(batch)
	if err != nil {
		return fmt.Errorf("queuemode: encode events: %w", err)
	}
	for {
		wait, err := c.post(ctx, body)
		if wait <= 0 {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}

// maxRetryAfter caps the wait a gateway's Retry-After asks for.
const maxRetryAfter = 5 * time.Second

// post makes one signed attempt; wait > 0 says the gateway asked to be
// asked again after wait.
func (c *CallbackClient) post(ctx context.Context, body []byte) (wait time.Duration, _ error) {
	ts := time.Now().UnixMilli()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(c.secret, ts, body))
	start := time.Now()
	resp, err := c.hc.Do(req)
	c.m.CallbackDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		return 0, fmt.Errorf("queuemode: post events: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return 0, nil
	}
	err = fmt.Errorf("queuemode: post events: gateway answered %s", resp.Status)
	if resp.StatusCode == http.StatusServiceUnavailable {
		if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
			// A second at least: a new signature needs a new timestamp.
			wait = min(time.Duration(s)*time.Second, maxRetryAfter)
		}
	}
	return wait, err
}

// CloseIdle closes the client's idle connections.
func (c *CallbackClient) CloseIdle() { c.hc.CloseIdleConnections() }
