package queuemode

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/ttlset"
	"github.com/chatbench/chatbench/socket"
)

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
	// NoDedup emits every event posted, even one already emitted (a
	// redelivered job's, a standard queue's second copy): the gateway's
	// dedup is all that keeps such copies from clients, and with NoDedup
	// the story's duplicate sends reach them. For measurements; repeats
	// are still counted in chatbench_callback_duplicates_total.
	NoDedup bool
	Metrics *Metrics         // nil = unregistered metrics
	Logger  *slog.Logger     // nil = discard
	Now     func() time.Time // nil = time.Now

	// Answered, when set, is told of every event about to be emitted
	// (from, reply_to, job): the gateway's backpressure stops counting a message once all
	// its jobs are answered (Dispatcher.Answered). The gateway fills it in.
	Answered func(from, replyTo, job string)
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

// validate reports every value of c that is out of range (Emitter is
// checked by NewCallback: the gateway fills it in).
func (c *CallbackConfig) validate() error {
	return errors.Join(
		checkSecret(c.Secret),
		notNegative("CallbackConfig.Window", c.Window, "30s"),
		notNegative("CallbackConfig.DedupTTL", c.DedupTTL, "10m"),
		notNegative("CallbackConfig.MaxKeys", c.MaxKeys, "200000"),
	)
}

// NewCallback checks cfg and returns a Callback.
func NewCallback(cfg CallbackConfig) (*Callback, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Emitter == nil {
		return nil, errors.New("queuemode: CallbackConfig.Emitter is required")
	}
	if cfg.Window == 0 {
		cfg.Window = 30 * time.Second
	}
	if cfg.DedupTTL == 0 {
		cfg.DedupTTL = 10 * time.Minute
	}
	if cfg.MaxKeys == 0 {
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
		if !c.firstEmit(r.Context(), we, now) {
			dups++
			if !c.cfg.NoDedup {
				c.m.CallbackDuplicates.WithLabelValues("dropped").Inc()
				continue
			}
			c.m.CallbackDuplicates.WithLabelValues("emitted").Inc()
		}
		if c.cfg.Answered != nil {
			c.cfg.Answered(we.From, we.ReplyTo, we.Job)
		}
		ev := we.event()
		ev.Hops.CallbackIn = in
		c.cfg.Emitter.Emit(ev)
	}
	if dups > 0 {
		c.log.Debug("callback got events already emitted", "count", dups, "dropped", !c.cfg.NoDedup)
	}
	w.WriteHeader(http.StatusNoContent)
}

// sharedOnce is the ability of an Emitter (the hub, on a broker shared by
// several gateways) to remember keys across gateways: a job redelivered to
// a worker that posts to another gateway then still reaches no client
// twice.
type sharedOnce interface {
	FirstTime(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// firstEmit reports whether ev's (from, reply_to, job) was not emitted
// before by this gateway and, when the Emitter shares the record, by any.
// While the shared record is unreachable, this gateway's own decides: the
// event is emitted (the broker keeps it until it can deliver) rather than
// left to the visibility timeout, at the risk of a duplicate when the job
// was redelivered to another gateway meanwhile.
func (c *Callback) firstEmit(ctx context.Context, ev *WireEvent, now time.Time) bool {
	local := c.emitted.Add(emittedKey{ev.From, ev.ReplyTo, ev.Job}, struct{}{}, now)
	o, ok := c.cfg.Emitter.(sharedOnce)
	if !ok || !local {
		return local
	}
	shared, err := o.FirstTime(ctx, "emitted\x00"+ev.From+"\x00"+ev.ReplyTo+"\x00"+ev.Job, c.cfg.DedupTTL)
	if err != nil {
		c.log.Warn("callback: shared record of emitted events unreachable; deciding alone", "err", err)
		return true
	}
	return shared
}
