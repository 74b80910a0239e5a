package queuemode

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
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
	// Catalog names each job's event and audience: an event is emitted
	// with the catalog's, not the poster's. The gateway fills it in (the
	// dispatcher's); required otherwise.
	Catalog *chat.Catalog
	// ReadTimeout bounds reading one request, headers and body: a client
	// that sends slowly is cut off after it. Zero means 5s. (A worker's
	// request is at most MaxCallbackBody on a private network.)
	ReadTimeout time.Duration
	// MaxConcurrent bounds the requests handled at once; one more is
	// refused with 503 and Retry-After (reason busy), which the worker's
	// client waits out. Zero means 1024 (four workers' default
	// --max-in-flight).
	MaxConcurrent int
	Metrics       *Metrics         // nil = unregistered metrics
	Logger        *slog.Logger     // nil = discard
	Now           func() time.Time // nil = time.Now

	// Answered, when set, is told of every event about to be emitted
	// (from, reply_to, job): the gateway's backpressure stops counting a
	// message once all its jobs are answered (Dispatcher.Answered). The
	// gateway fills it in.
	Answered func(from, replyTo, job string)
}

// Callback is the gateway's internal endpoint (POST CallbackPath): it
// verifies the signature, timestamp and freshness of each request, checks
// every event against the gateway's own record of the messages it accepted
// (Accept) — an event for a message or job it did not queue is refused, and
// an accepted one goes out with the conversation, sender, members, event
// name and audience of that record, whatever the request says — drops
// events it already emitted (a redelivered job reaches no client twice,
// though the request is still answered 2xx so the worker deletes the
// message), stamps callback_in and emits through the hub. It is an
// http.Handler, safe for concurrent use. Bodies are never logged.
type Callback struct {
	cfg     CallbackConfig
	log     *slog.Logger
	m       *Metrics
	slots   chan struct{}                     // one per request being handled
	sigs    *ttlset.Set[string, struct{}]     // signatures of requests accepted
	emitted *ttlset.Set[emittedKey, struct{}] // events emitted
	// accepted is this gateway's record of the messages it queued jobs
	// for; shared, when the hub's broker can keep it, is every gateway's.
	accepted *ttlset.Set[msgKey, *acceptedMsg]
	shared   socket.Keeper // nil: this gateway's record alone
}

// acceptedMsg is what the gateway recorded about a message it accepted:
// everything an event about it is emitted with, and the jobs it queued.
type acceptedMsg struct {
	Conv    string   `json:"conv"`
	Type    string   `json:"type"`
	Members []string `json:"members"` // nil = no limit, [] = nobody, as Message.Members
	Jobs    []string `json:"jobs"`
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
		notNegative("CallbackConfig.ReadTimeout", c.ReadTimeout, "5s"),
		notNegative("CallbackConfig.MaxConcurrent", c.MaxConcurrent, "1024"),
	)
}

// NewCallback checks cfg and returns a Callback.
func NewCallback(cfg CallbackConfig) (*Callback, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Emitter == nil || cfg.Catalog == nil {
		return nil, errors.New("queuemode: CallbackConfig.Emitter and Catalog are required")
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 5 * time.Second
	}
	if cfg.MaxConcurrent == 0 {
		cfg.MaxConcurrent = 1024
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
	c := &Callback{cfg: cfg, log: cfg.Logger, m: cfg.Metrics, slots: make(chan struct{}, cfg.MaxConcurrent),
		// A signature stays valid while its timestamp is within Window of
		// the clock, so it is remembered for twice that.
		sigs:    ttlset.New[string, struct{}](ttlset.Config{TTL: 2 * cfg.Window, MaxKeys: cfg.MaxKeys}),
		emitted: ttlset.New[emittedKey, struct{}](ttlset.Config{TTL: cfg.DedupTTL, MaxKeys: cfg.MaxKeys}),
		// A job's event may come back as long as it may be emitted once:
		// the record lives as long as the record of emitted events.
		accepted: ttlset.New[msgKey, *acceptedMsg](ttlset.Config{TTL: cfg.DedupTTL, MaxKeys: cfg.MaxKeys}),
	}
	if b, ok := cfg.Emitter.(interface{ Broker() socket.Broker }); ok {
		c.shared, _ = b.Broker().(socket.Keeper)
	}
	return c, nil
}

// recordTimeout bounds one read or write of the shared record.
const recordTimeout = 2 * time.Second

// Accept records that the gateway accepted msg and queues jobs for it:
// only events of these jobs about this message are emitted, once each. The
// gateway calls it before it sends the jobs (a worker may post as soon as
// they are queued). When the hub's broker is shared (socket.Keeper), the
// record is kept there too, so any gateway on that broker takes the
// events; when the broker cannot take it, this gateway's record still
// serves the callbacks that reach it (logged). Safe for concurrent use.
func (c *Callback) Accept(ctx context.Context, msg *chat.Message, jobs []*chat.Job) {
	rec := &acceptedMsg{Conv: msg.Conv, Type: msg.Type, Members: msg.Members, Jobs: make([]string, len(jobs))}
	for i, j := range jobs {
		rec.Jobs[i] = j.Name
	}
	k := msgKey{msg.From, msg.ID}
	c.accepted.Put(k, rec, c.cfg.Now())
	if c.shared == nil {
		return
	}
	v, _ := json.Marshal(rec)
	cctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	if err := c.shared.Keep(cctx, recordKey(k), v, c.cfg.DedupTTL); err != nil {
		c.log.Warn("callback: shared record unreachable; only this gateway will take the message's events", "msg", msg.ID, "err", err)
	}
}

// recordKey is where the shared record of k lives.
func recordKey(k msgKey) string { return "accepted\x00" + k.from + "\x00" + k.id }

// errRecordUnreachable says the shared record could not be read: the
// request is refused as retryable.
var errRecordUnreachable = errors.New("shared record unreachable")

// record returns what the gateway recorded about the message id from
// sender, nil when it accepted no such message.
func (c *Callback) record(ctx context.Context, k msgKey, now time.Time) (*acceptedMsg, error) {
	if rec, ok := c.accepted.Get(k, now); ok {
		return rec, nil
	}
	if c.shared == nil {
		return nil, nil
	}
	cctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	v, ok, err := c.shared.Kept(cctx, recordKey(k))
	if err != nil {
		c.log.Warn("callback: shared record unreachable", "msg", k.id, "err", err)
		return nil, errRecordUnreachable
	}
	var rec acceptedMsg
	if !ok || json.Unmarshal(v, &rec) != nil {
		return nil, nil
	}
	c.accepted.Put(k, &rec, now)
	return &rec, nil
}

func (c *Callback) reject(w http.ResponseWriter, status int, reason string) {
	c.m.CallbackRejects.WithLabelValues(reason).Inc()
	c.log.Warn("callback rejected", "reason", reason, "status", status)
	http.Error(w, reason, status)
}

// ServeHTTP handles one callback request.
func (c *Callback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case c.slots <- struct{}{}:
		defer func() { <-c.slots }()
	default:
		// Refused before its body is read: the bound holds however slowly
		// the requests in progress send theirs.
		w.Header().Set("Retry-After", "1")
		c.reject(w, http.StatusServiceUnavailable, "busy")
		return
	}
	// The server's ReadTimeout bounds the request; this bounds it when the
	// Callback is served by another server too.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(c.cfg.ReadTimeout))
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
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			w.Header().Set("Connection", "close")
			c.reject(w, http.StatusRequestTimeout, "timeout")
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
	// Every event is checked before any is emitted: a request is taken
	// whole or refused whole, so a retry repeats nothing.
	evs := make([]*chat.Event, len(batch.Events))
	for i := range batch.Events {
		ev, err := c.resolve(r.Context(), &batch.Events[i], now)
		switch {
		case errors.Is(err, errRecordUnreachable):
			w.Header().Set("Retry-After", "1")
			c.reject(w, http.StatusServiceUnavailable, "record_unreachable")
			return
		case errors.Is(err, errUnknownMessage):
			c.reject(w, http.StatusForbidden, "unknown_message")
			return
		case errors.Is(err, errUnknownJob):
			c.reject(w, http.StatusForbidden, "unknown_job")
			return
		case err != nil:
			c.reject(w, http.StatusBadRequest, "bad_body")
			return
		}
		evs[i] = ev
	}
	in := chat.NowMicros()
	dups := 0
	for _, ev := range evs {
		if !c.firstEmit(r.Context(), ev, now) {
			dups++
			if !c.cfg.NoDedup {
				c.m.CallbackDuplicates.WithLabelValues("dropped").Inc()
				continue
			}
			c.m.CallbackDuplicates.WithLabelValues("emitted").Inc()
		}
		if c.cfg.Answered != nil {
			c.cfg.Answered(ev.From, ev.ReplyTo, ev.Job)
		}
		ev.Hops.CallbackIn = in
		c.cfg.Emitter.Emit(ev)
	}
	if dups > 0 {
		c.log.Debug("callback got events already emitted", "count", dups, "dropped", !c.cfg.NoDedup)
	}
	w.WriteHeader(http.StatusNoContent)
}

// Why resolve refuses an event.
var (
	errUnknownMessage = errors.New("no accepted message with this sender and id")
	errUnknownJob     = errors.New("the message queued no such job")
	errBadStatus      = errors.New("status is neither ok nor error")
)

// resolve returns the event to emit for we: the job's result (status,
// error code, data, hops) as posted, everything else — conversation,
// sender, type, members, event name, audience — from the gateway's record
// of the message and the catalog. A posted value that differs is not used
// (counted in chatbench_callback_overridden_total): it cannot send the
// event anywhere the accepted message's own events would not go.
func (c *Callback) resolve(ctx context.Context, we *WireEvent, now time.Time) (*chat.Event, error) {
	if we.Status != chat.StatusOK && we.Status != chat.StatusError {
		return nil, errBadStatus
	}
	k := msgKey{we.From, we.ReplyTo}
	rec, err := c.record(ctx, k, now)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, errUnknownMessage
	}
	j := c.cfg.Catalog.Job(we.Job)
	if j == nil || !slices.Contains(rec.Jobs, we.Job) {
		return nil, errUnknownJob
	}
	ev := &chat.Event{Name: j.Event, Job: j.Name, Conv: rec.Conv, From: k.from, Type: rec.Type,
		Status: we.Status, ErrCode: we.ErrCode, Data: we.Data, Hops: we.Hops, ReplyTo: k.id,
		Audience: j.Audience, Members: rec.Members}
	c.countOverrides(we, ev)
	return ev, nil
}

// countOverrides counts the fields of the posted we that differ from ev,
// the event emitted instead. Members posted as null for a record's []
// are the same: the queue message's envelope omits empty members.
func (c *Callback) countOverrides(we *WireEvent, ev *chat.Event) {
	var fields []string
	if we.Conv != ev.Conv {
		fields = append(fields, "conv")
	}
	if we.Type != ev.Type {
		fields = append(fields, "type")
	}
	if we.Name != ev.Name {
		fields = append(fields, "name")
	}
	if we.Audience != ev.Audience {
		fields = append(fields, "audience")
	}
	if !slices.Equal(we.Members, ev.Members) {
		fields = append(fields, "members")
	}
	for _, f := range fields {
		c.m.CallbackOverridden.WithLabelValues(f).Inc()
	}
	if len(fields) > 0 {
		c.log.Warn("callback: event differs from the accepted message; the gateway's record used", "msg", ev.ReplyTo, "job", ev.Job, "fields", fields)
	}
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
func (c *Callback) firstEmit(ctx context.Context, ev *chat.Event, now time.Time) bool {
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
