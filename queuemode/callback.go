package queuemode

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	neturl "net/url"
	"strconv"
	"time"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/ttlset"
	"github.com/chatbench/chatbench/socket"
)

// Callback request headers and limits.
const (
	// HeaderTimestamp carries the request's signing time, Unix milliseconds.
	HeaderTimestamp = "X-Chatbench-Timestamp"
	// HeaderSignature carries hex HMAC-SHA256(secret, timestamp + "\n" + body).
	HeaderSignature = "X-Chatbench-Signature"
	// CallbackPath is where the gateway accepts events from workers.
	CallbackPath = "/internal/events"
	// MaxCallbackBody bounds a callback request body.
	MaxCallbackBody = 1 << 20
)

// WireEvent is one event as the worker posts it: everything Hub.Emit needs,
// including the fields chat.Event keeps off the client wire. Members is
// never omitted: null means "no limit", [] means "nobody".
type WireEvent struct {
	Name     string          `json:"name"`
	Job      string          `json:"job"`
	Conv     string          `json:"conv"`
	From     string          `json:"from"`
	Type     string          `json:"type,omitempty"`
	Status   string          `json:"status"`
	ErrCode  string          `json:"error_code,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	Hops     chat.Hops       `json:"hops"`
	ReplyTo  string          `json:"reply_to"`
	Audience chat.Audience   `json:"audience"`
	Members  []string        `json:"members"`
}

// EventBatch is the body of a callback request.
type EventBatch struct {
	Events []WireEvent `json:"events"`
}

func toWire(ev *chat.Event) WireEvent {
	return WireEvent{Name: ev.Name, Job: ev.Job, Conv: ev.Conv, From: ev.From, Type: ev.Type,
		Status: ev.Status, ErrCode: ev.ErrCode, Data: ev.Data, Hops: ev.Hops, ReplyTo: ev.ReplyTo,
		Audience: ev.Audience, Members: ev.Members}
}

func (w *WireEvent) event() *chat.Event {
	return &chat.Event{Name: w.Name, Job: w.Job, Conv: w.Conv, From: w.From, Type: w.Type,
		Status: w.Status, ErrCode: w.ErrCode, Data: w.Data, Hops: w.Hops, ReplyTo: w.ReplyTo,
		Audience: w.Audience, Members: w.Members}
}

// Sign returns the hex signature of body signed at ts (Unix milliseconds).
func Sign(secret []byte, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte("\n"))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// CallbackConfig configures a Callback. Zero values mean the documented
// defaults.
type CallbackConfig struct {
	Secret  []byte         // required, at least socket.MinSecretLen bytes
	Emitter socket.Emitter // required: the gateway's hub
	// Window is how far a request's timestamp may be from the gateway's
	// clock. Zero means 30s. Signatures are remembered for twice as long.
	Window time.Duration
	// DedupTTL is how long emitted (from, reply_to, job) keys are
	// remembered. Zero means 10 minutes.
	DedupTTL time.Duration
	// MaxKeys bounds each remembered set (signatures, emitted keys); the
	// oldest entry goes first when full. Zero means 200000.
	MaxKeys int
	Metrics *Metrics         // nil = unregistered metrics
	Logger  *slog.Logger     // nil = discard
	Now     func() time.Time // nil = time.Now
}

// Callback is the gateway's internal endpoint (POST CallbackPath): it
// verifies the signature, timestamp and freshness of each request, drops
// events it already emitted (a redelivered job reaches no client twice,
// though the request is still answered 200 so the worker deletes the
// message), stamps callback_in and emits through the hub. It is an
// http.Handler, safe for concurrent use. Bodies are never logged.
type Callback struct {
	cfg     CallbackConfig
	log     *slog.Logger
	m       *Metrics
	sigs    *ttlset.Set[string, struct{}]     // signatures of requests accepted
	emitted *ttlset.Set[emittedKey, struct{}] // events emitted
}

// emittedKey names one job's event for one message: a redelivered job posts
// it again.
type emittedKey struct{ from, replyTo, job string }

// NewCallback checks cfg and returns a Callback.
func NewCallback(cfg CallbackConfig) (*Callback, error) {
	if len(cfg.Secret) < socket.MinSecretLen {
		return nil, fmt.Errorf("queuemode: callback secret is %d bytes; set at least %d", len(cfg.Secret), socket.MinSecretLen)
	}
	if cfg.Emitter == nil {
		return nil, errors.New("queuemode: CallbackConfig.Emitter is required")
	}
	if cfg.Window <= 0 {
		cfg.Window = 30 * time.Second
	}
	if cfg.DedupTTL <= 0 {
		cfg.DedupTTL = 10 * time.Minute
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 200000
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Callback{cfg: cfg, log: cfg.Logger, m: cfg.Metrics,
		// A signature stays valid while its timestamp is within Window of
		// the clock, so it is remembered for twice that.
		sigs:    ttlset.New[string, struct{}](ttlset.Config{TTL: 2 * cfg.Window, MaxKeys: cfg.MaxKeys}),
		emitted: ttlset.New[emittedKey, struct{}](ttlset.Config{TTL: cfg.DedupTTL, MaxKeys: cfg.MaxKeys}),
	}, nil
}

func (c *Callback) reject(w http.ResponseWriter, status int, reason string) {
	c.m.CallbackRejects.WithLabelValues(reason).Inc()
	c.log.Warn("callback rejected", "reason", reason, "status", status)
	http.Error(w, reason, status)
}

// ServeHTTP handles one callback request.
func (c *Callback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	tsHdr, sigHdr := r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature)
	if tsHdr == "" || sigHdr == "" {
		c.reject(w, http.StatusUnauthorized, "unsigned")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxCallbackBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			c.reject(w, http.StatusRequestEntityTooLarge, "too_large")
			return
		}
		c.reject(w, http.StatusBadRequest, "bad_body")
		return
	}
	ts, err := strconv.ParseInt(tsHdr, 10, 64)
	got, herr := hex.DecodeString(sigHdr)
	if err != nil || herr != nil {
		c.reject(w, http.StatusUnauthorized, "bad_signature")
		return
	}
	want, _ := hex.DecodeString(Sign(c.cfg.Secret, ts, body))
	if !hmac.Equal(got, want) {
		c.reject(w, http.StatusUnauthorized, "bad_signature")
		return
	}
	now := c.cfg.Now()
	if d := now.Sub(time.UnixMilli(ts)); d > c.cfg.Window || d < -c.cfg.Window {
		c.reject(w, http.StatusUnauthorized, "expired")
		return
	}
	// Keyed by the signature's bytes, not its text: the same signature in
	// upper-case hex is the same request.
	if !c.sigs.Add(string(got), struct{}{}, now) {
		c.reject(w, http.StatusConflict, "replay")
		return
	}
	var batch EventBatch
	if err := json.Unmarshal(body, &batch); err != nil {
		c.reject(w, http.StatusBadRequest, "bad_body")
		return
	}
	in := chat.NowMicros()
	dups := 0
	for i := range batch.Events {
		we := &batch.Events[i]
		if !c.emitted.Add(emittedKey{we.From, we.ReplyTo, we.Job}, struct{}{}, now) {
			dups++
			continue
		}
		ev := we.event()
		ev.Hops.CallbackIn = in
		c.cfg.Emitter.Emit(ev)
	}
	if dups > 0 {
		c.log.Debug("callback dropped events already emitted", "count", dups)
	}
	w.WriteHeader(http.StatusNoContent)
}

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
	if len(secret) < socket.MinSecretLen {
		return nil, fmt.Errorf("queuemode: callback secret is %d bytes; set at least %d", len(secret), socket.MinSecretLen)
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
	return &CallbackClient{url: url, secret: secret, m: m, hc: &http.Client{Timeout: 10 * time.Second}}, nil
}

// Post signs and posts events; it returns nil only on a 2xx answer.
func (c *CallbackClient) Post(ctx context.Context, events []*chat.Event) error {
	batch := EventBatch{Events: make([]WireEvent, len(events))}
	for i, ev := range events {
		batch.Events[i] = toWire(ev)
	}
	body, err := json.Marshal(batch)
	if err != nil {
		return fmt.Errorf("queuemode: encode events: %w", err)
	}
	ts := time.Now().UnixMilli()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(c.secret, ts, body))
	start := time.Now()
	resp, err := c.hc.Do(req)
	c.m.CallbackDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("queuemode: post events: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("queuemode: post events: gateway answered %s", resp.Status)
	}
	return nil
}

// CloseIdle closes the client's idle connections.
func (c *CallbackClient) CloseIdle() { c.hc.CloseIdleConnections() }
