package mlservice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/internal/httppool"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultClientTimeout is the per-call timeout when ClientConfig.Timeout is
// zero. It is above every default profile's server Timeout, so a slow model
// shows up as the server's 504 rather than a client-side cut.
const DefaultClientTimeout = 5 * time.Second

// maxResponseBytes bounds how much of an answer the client reads.
const maxResponseBytes = 1 << 20

// ClientConfig configures a Client. Zero values mean the documented
// defaults.
type ClientConfig struct {
	// BaseURL is the ML service's root, e.g. "http://127.0.0.1:7070".
	// Required.
	BaseURL string
	// HTTPClient makes the calls. Nil means a client of the Client's own
	// with keep-alives, up to 512 idle connections per host and no proxy
	// (the benchmark measures the direct hop); Close releases it.
	HTTPClient *http.Client
	// Timeout bounds each call, on top of the caller's context. Zero means
	// DefaultClientTimeout; negative means no bound beyond the context.
	Timeout time.Duration
	// Registerer receives the client's metrics, with the series of the
	// catalog's models present (at 0) from the start. Nil means none.
	Registerer prometheus.Registerer
}

// Client calls the ML service over HTTP. It implements chat.ML and is safe
// for concurrent use.
type Client struct {
	base    string
	hc      *http.Client
	owned   bool
	timeout time.Duration
	metrics *clientMetrics
}

var _ chat.ML = (*Client)(nil)

// NewClient checks cfg and builds a Client.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("mlservice: base URL %q: use an http(s) URL with a host and no query, e.g. http://127.0.0.1:7070", clip(cfg.BaseURL))
	}
	c := &Client{
		base:    strings.TrimRight(u.String(), "/"),
		hc:      cfg.HTTPClient,
		timeout: cfg.Timeout,
	}
	if c.timeout == 0 {
		c.timeout = DefaultClientTimeout
	}
	if c.hc == nil {
		c.hc, c.owned = &http.Client{Transport: httppool.Transport()}, true
	}
	if cfg.Registerer != nil {
		if c.metrics, err = newClientMetrics(cfg.Registerer, jobs.Catalog().Models()); err != nil {
			return nil, fmt.Errorf("mlservice: register client metrics: %w", err)
		}
	}
	return c, nil
}

// Close releases the idle connections of the Client's own HTTP client (not
// those of a ClientConfig.HTTPClient). Calls may still be made afterwards.
func (c *Client) Close() {
	if c.owned {
		c.hc.CloseIdleConnections()
	}
}

// StatusError is a non-2xx answer of the ML service. It wraps
// chat.ErrMLUnavailable.
type StatusError struct {
	Model   string // the model called
	Status  int    // HTTP status
	Code    string // the answer's error code, e.g. "injected_failure"
	Message string // the answer's error message
}

// Error implements error.
func (e *StatusError) Error() string {
	return fmt.Sprintf("ml predict %s: HTTP %d %s: %s", e.Model, e.Status, e.Code, e.Message)
}

// Unwrap returns chat.ErrMLUnavailable.
func (e *StatusError) Unwrap() error { return chat.ErrMLUnavailable }

// Predict calls model with input and returns the answer's "output" object.
// Every failure wraps chat.ErrMLUnavailable (a non-2xx answer as a
// *StatusError). A call that runs out of time — the caller's deadline or
// the Client's Timeout — also wraps context.DeadlineExceeded; a cancelled
// ctx also wraps context.Canceled.
func (c *Client) Predict(ctx context.Context, model, input string) (json.RawMessage, error) {
	start := time.Now()
	out, outcome, err := c.predict(ctx, model, input)
	c.metrics.record(model, outcome, time.Since(start))
	return out, err
}

func (c *Client) predict(ctx context.Context, model, input string) (json.RawMessage, string, error) {
	if model == "" {
		return nil, outcomeError, fmt.Errorf("ml predict: %w: model name is empty; name a model of the service", chat.ErrMLUnavailable)
	}
	body, err := json.Marshal(predictRequest{Input: &input})
	if err != nil { // cannot happen for a string
		return nil, outcomeError, fmt.Errorf("ml predict %s: %w: %w", model, chat.ErrMLUnavailable, err)
	}
	cctx := ctx
	if c.timeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(cctx, http.MethodPost,
		c.base+"/v1/models/"+url.PathEscape(model)+"/predict", bytes.NewReader(body))
	if err != nil {
		return nil, outcomeError, fmt.Errorf("ml predict %s: %w: %w", model, chat.ErrMLUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		outcome, err := c.failure(ctx, cctx, model, err)
		return nil, outcome, err
	}
	defer func() {
		// Drain so the connection goes back to the pool.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		resp.Body.Close()
	}()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		outcome, err := c.failure(ctx, cctx, model, err)
		return nil, outcome, err
	}
	if resp.StatusCode != http.StatusOK {
		se := &StatusError{Model: model, Status: resp.StatusCode}
		var eb errorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
			se.Code, se.Message = eb.Error.Code, eb.Error.Message
		} else {
			se.Code, se.Message = "http_error", http.StatusText(resp.StatusCode)
		}
		outcome := outcomeError
		if resp.StatusCode == http.StatusGatewayTimeout {
			outcome = outcomeTimeout
		}
		return nil, outcome, se
	}
	if len(data) > maxResponseBytes {
		return nil, outcomeError, fmt.Errorf("ml predict %s: %w: answer is over %d bytes", model, chat.ErrMLUnavailable, maxResponseBytes)
	}
	var pr predictResponse
	if err := json.Unmarshal(data, &pr); err != nil || len(pr.Output) == 0 || pr.Output[0] != '{' {
		return nil, outcomeError, fmt.Errorf("ml predict %s: %w: answer is not {\"model\":...,\"output\":{...}}", model, chat.ErrMLUnavailable)
	}
	return pr.Output, outcomeOK, nil
}

// failure classifies a transport error: the caller's context, the
// per-call timeout, or the service being unreachable.
func (c *Client) failure(ctx, cctx context.Context, model string, err error) (string, error) {
	if cerr := ctx.Err(); cerr != nil {
		outcome := outcomeError
		if errors.Is(cerr, context.DeadlineExceeded) {
			outcome = outcomeTimeout
		}
		return outcome, fmt.Errorf("ml predict %s: %w: caller's context ended: %w", model, chat.ErrMLUnavailable, cerr)
	}
	if cctx.Err() != nil {
		return outcomeTimeout, fmt.Errorf("ml predict %s: %w: no answer within %v (the client's Timeout): %w", model, chat.ErrMLUnavailable, c.timeout, context.DeadlineExceeded)
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		// E.g. a ClientConfig.HTTPClient with its own Timeout.
		return outcomeTimeout, fmt.Errorf("ml predict %s: %w: %w: %v", model, chat.ErrMLUnavailable, context.DeadlineExceeded, err)
	}
	return outcomeError, fmt.Errorf("ml predict %s: %w: %w", model, chat.ErrMLUnavailable, err)
}
