package socket

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/chatbench/chatbench/chat"
)

// Defaults of RedisConfig.
const (
	DefaultRedisPrefix  = "chatbench:"
	DefaultPresenceTTL  = 15 * time.Second
	DefaultRedisBacklog = 100000
	// redisTimeout bounds every call to Redis (dial, read, write), so that
	// a Redis that is down is found out quickly and answered with
	// unavailable, not by a hung reader.
	redisTimeout = time.Second
	// metaTTL is how long a conversation's seq and drop mark outlive its
	// last event: longer than its history, so that a client resuming after
	// the history expired is told exactly whether it missed something.
	metaTTL = 24 * time.Hour
	// maxBatch bounds the writes sent in one pipeline.
	maxBatch = 512
)

// RedisConfig configures NewRedisBroker. Zero values mean the documented
// defaults.
type RedisConfig struct {
	// URL is redis://[user:password@]host:port[/db]. Required.
	URL string
	// Prefix starts every key and the channel. Empty means
	// DefaultRedisPrefix. Front doors that share one must share a Redis
	// and a prefix.
	Prefix string
	// Resume sizes each conversation's kept events (in Redis).
	Resume ResumeConfig
	// PresenceTTL is how long a member, or a connection slot, outlives the
	// last refresh of the instance vouching for it (refreshed every third
	// of it): after an instance is killed, its users stay listed in
	// members for up to this long. Zero means DefaultPresenceTTL.
	PresenceTTL time.Duration
	// Backlog bounds the writes (publications, accepted ids) waiting while
	// Redis is unreachable; beyond it, events are dropped and counted
	// (chatbench_broker_dropped_total). Zero means DefaultRedisBacklog.
	Backlog    int
	Logger     *slog.Logger          // nil = discard
	Registerer prometheus.Registerer // nil = metrics not registered
}

// RedisBroker shares a front door's state between instances through one
// Redis (docs/protocol.md, "Several instances"): the role of
// Flask-SocketIO's message_queue, with a resume history and an epoch.
//
//   - Publish hands the event to a writer goroutine, which sends what has
//     queued in one pipeline: per event, a script that assigns the next seq
//     of its conversation, keeps it in the conversation's history (a sorted
//     set by seq, trimmed to the resume settings) and PUBLISHes it on one
//     channel every instance subscribes to. While Redis is unreachable the
//     writes wait, in order, and are retried (Backlog bounds them).
//   - A subscriber goroutine delivers what arrives on the channel to the
//     hub, in the order Redis published it. Pub/sub loses what is sent to a
//     subscriber that is disconnected; when the subscription is restored,
//     the hub is told (Handler.Lost) and its clients resume from the
//     history, which reports a gap when it cannot fill one.
//   - Lookup is one MULTI/EXEC pipeline: presence, members, history,
//     accepted and relayed ids.
//   - Presence (members, connection slots) is a sorted set scored by
//     expiry, refreshed by a heartbeat, so a killed instance's entries go.
//
// A conversation's history and its seq and drop mark live in Redis: when
// Redis loses them (a restart without persistence), the next event starts
// a new history from the clock — its epoch — and every resume from before
// it is told gap: true. It is safe for concurrent use.
type RedisBroker struct {
	cfg     RedisConfig
	client  *redis.Client
	ps      *redis.PubSub
	handler atomic.Pointer[handlerRef]
	inst    string // this process's id in shared keys
	log     *slog.Logger
	m       redisMetrics

	wmu      sync.Mutex
	queue    []redisWrite
	inflight int    // writes taken by the writer, not yet applied
	ctr      uint64 // this process's publications so far
	wake     chan struct{}
	// ownPending counts this process's publications applied in Redis and
	// not yet delivered back to it (Flush). It may dip below zero when the
	// delivery overtakes the writer's reply.
	ownPending atomic.Int64

	smu   sync.Mutex
	slots map[string]string // this process's connection slots: member → user
	nslot atomic.Uint64

	ctx        context.Context // ends at Close
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	subscribed chan struct{} // closed on the first subscription
	heartbeat  chan struct{} // asks for a heartbeat now
	closeOnce  sync.Once
	closeErr   error
}

var (
	_ Broker      = (*RedisBroker)(nil)
	_ ConnLimiter = (*RedisBroker)(nil)
	_ Flusher     = (*RedisBroker)(nil)
	_ Deduper     = (*RedisBroker)(nil)
	_ Keeper      = (*RedisBroker)(nil)
	_ Closer      = (*RedisBroker)(nil)
)

type handlerRef struct{ h Handler }

type redisMetrics struct {
	errors  *prometheus.CounterVec
	dropped prometheus.Counter
	resyncs prometheus.Counter
	batches prometheus.Histogram
}

// redisWrite is one write the writer sends: a publication (pub set) or a
// plain command.
type redisWrite struct {
	pub *redisPub
	cmd func(ctx context.Context, p redis.Pipeliner)
}

// redisPub is a publication as the publish script takes it.
type redisPub struct {
	conv, head, prefix, suffix string
	nowUS                      int64
	ctr                        uint64
}

// pubMeta is what a kept or published entry says about its event besides
// the frame: the fields of Publication, and which instance published it.
type pubMeta struct {
	Conv     string        `json:"c"`
	Job      string        `json:"j"`
	From     string        `json:"f"`
	Audience chat.Audience `json:"a"`
	Members  []string      `json:"m"`
	Inst     string        `json:"i"`
}

// publishScript assigns the next seq of a conversation, keeps the entry and
// publishes it. An entry is "<seq> <len(meta)> <meta><frame>", the frame's
// seq spliced in here. The instance's counter makes a batch retried after a
// lost reply publish nothing twice.
//
// KEYS: meta hash, history. ARGV: now µs, events kept (-1 = none), window
// µs, history TTL ms, meta TTL ms, channel, head, frame prefix, frame
// suffix, instance, its counter.
var publishScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local field = 'i:' .. ARGV[10]
local ctr = tonumber(ARGV[11])
if ctr <= tonumber(redis.call('HGET', KEYS[1], field) or '0') then return -1 end
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local dropped = tonumber(redis.call('HGET', KEYS[1], 'dropped') or '0')
if seq == 0 then seq = now; dropped = now end
seq = math.max(seq + 1, now)
local s = string.format('%.0f', seq)
local entry = s .. ' ' .. ARGV[7] .. ARGV[8] .. s .. ARGV[9]
local keep = tonumber(ARGV[2])
if keep >= 0 then
  redis.call('ZADD', KEYS[2], s, entry)
  local n = redis.call('ZCARD', KEYS[2])
  if n > keep then
    local cut = redis.call('ZRANGE', KEYS[2], n - keep - 1, n - keep - 1, 'WITHSCORES')
    dropped = math.max(dropped, tonumber(cut[2]))
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, n - keep - 1)
  end
  local cutoff = '(' .. string.format('%.0f', now - tonumber(ARGV[3]))
  local old = redis.call('ZREVRANGEBYSCORE', KEYS[2], cutoff, '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #old > 0 then
    dropped = math.max(dropped, tonumber(old[2]))
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', cutoff)
  end
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
redis.call('HSET', KEYS[1], 'seq', s, 'dropped', string.format('%.0f', dropped), field, ARGV[11])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PUBLISH', ARGV[6], entry)
return s
`)

// admitScript takes a connection slot: KEYS: the user's slots. ARGV: now
// ms, expiry ms, member, limit (0 = none), TTL ms. It returns 1, or 0 at the
// limit.
var admitScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local limit = tonumber(ARGV[4])
if limit > 0 and redis.call('ZCARD', KEYS[1]) >= limit then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`)

// NewRedisBroker connects to cfg.URL, subscribes and starts the writer,
// the subscriber and the heartbeat; Close stops them. A Redis that does not
// answer within a second or two is an error naming the URL.
func NewRedisBroker(cfg RedisConfig) (*RedisBroker, error) {
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("--broker %q: %w", cfg.URL, err)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultRedisPrefix
	}
	if cfg.PresenceTTL <= 0 {
		cfg.PresenceTTL = DefaultPresenceTTL
	}
	if cfg.Backlog <= 0 {
		cfg.Backlog = DefaultRedisBacklog
	}
	cfg.Resume = cfg.Resume.withDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = redisTimeout, redisTimeout, redisTimeout, redisTimeout
	// No retries inside the client: a relay claim (SET … GET) retried after
	// its reply was lost would read its own claim. The writer retries its
	// batches itself, and a failed lookup is the client's to resend.
	opt.MaxRetries = -1
	var id [6]byte
	_, _ = rand.Read(id[:])
	ctx, cancel := context.WithCancel(context.Background())
	b := &RedisBroker{
		cfg: cfg, client: redis.NewClient(opt), inst: hex.EncodeToString(id[:]), log: cfg.Logger,
		wake: make(chan struct{}, 1), slots: make(map[string]string),
		ctx: ctx, cancel: cancel, subscribed: make(chan struct{}), heartbeat: make(chan struct{}, 1),
	}
	b.m = redisMetrics{
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbench_broker_errors_total", Help: "Calls to the broker's Redis that failed, by operation.",
		}, []string{"op"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatbench_broker_dropped_total", Help: "Writes (events, accepted ids) dropped because the backlog waiting for Redis was full.",
		}),
		resyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatbench_broker_resyncs_total", Help: "Times the subscription to Redis was restored after a break (the hub's clients were asked to resume).",
		}),
		batches: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "chatbench_broker_batch_writes", Help: "Writes sent to Redis per pipeline.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 6),
		}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(b.m.errors, b.m.dropped, b.m.resyncs, b.m.batches,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "chatbench_broker_backlog", Help: "Writes waiting for Redis.",
			}, func() float64 { return float64(b.backlog()) }))
	}
	if err := b.start(); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("--broker %s: %w (is redis-server running there? Debian: apt-get install redis-server)", redactURL(cfg.URL), err)
	}
	return b, nil
}

// start checks Redis answers, loads the scripts, subscribes and starts the
// goroutines.
func (b *RedisBroker) start() error {
	ctx, cancel := context.WithTimeout(b.ctx, 2*redisTimeout)
	defer cancel()
	if err := b.client.Ping(ctx).Err(); err != nil {
		return err
	}
	if err := b.loadScripts(ctx); err != nil {
		return err
	}
	b.ps = b.client.Subscribe(b.ctx, b.channel())
	b.wg.Add(3)
	go b.subscribe()
	go b.writer()
	go b.beat()
	select {
	case <-b.subscribed:
		return nil
	case <-ctx.Done():
		return errors.New("subscribe: no confirmation from Redis")
	}
}

func (b *RedisBroker) loadScripts(ctx context.Context) error {
	for _, s := range []*redis.Script{publishScript, admitScript} {
		if err := s.Load(ctx, b.client).Err(); err != nil {
			return err
		}
	}
	return nil
}

// redactURL returns u without its password.
func redactURL(u string) string {
	if i, j := strings.Index(u, "://"), strings.LastIndex(u, "@"); i >= 0 && j > i {
		return u[:i+3] + "…@" + u[j+1:]
	}
	return u
}

func (b *RedisBroker) channel() string            { return b.cfg.Prefix + "events" }
func (b *RedisBroker) metaKey(conv string) string { return b.cfg.Prefix + "m:" + conv }
func (b *RedisBroker) histKey(conv string) string { return b.cfg.Prefix + "h:" + conv }
func (b *RedisBroker) presKey(conv string) string { return b.cfg.Prefix + "p:" + conv }
func (b *RedisBroker) slotKey(user string) string { return b.cfg.Prefix + "u:" + user }
func (b *RedisBroker) msgKey(kind, user, id string) string {
	return b.cfg.Prefix + kind + ":" + user + "\x00" + id
}

// presMember is this process's entry for user in a conversation's members.
func (b *RedisBroker) presMember(user string) string { return user + "\x00" + b.inst }

// Attach implements Broker.
func (b *RedisBroker) Attach(h Handler) { b.handler.Store(&handlerRef{h}) }

func (b *RedisBroker) hub() Handler {
	if r := b.handler.Load(); r != nil {
		return r.h
	}
	return nil
}

// seqMark is the seq a frame is encoded with before Redis assigns the real
// one: the publish script splices the real seq in its place. Only the
// event's own seq field can be written `,"seq":1,` unescaped before the
// data: the fields before it are strings.
var seqMark = []byte(`,"seq":1,`)

// Publish implements Broker: ev is stamped, encoded and queued for the
// writer; it is delivered when Redis publishes it back (so it returns 0).
func (b *RedisBroker) Publish(ev *chat.Event) (int, error) {
	us := time.Now().UnixMicro()
	ev.Seq, ev.Hops.Emitted = 1, us
	frame := encodeEvent(ev)
	ev.Seq = 0 // assigned in Redis
	i := bytes.Index(frame, seqMark)
	if i < 0 {
		return 0, errors.New("socket: encoded event has no seq field")
	}
	meta, err := json.Marshal(pubMeta{Conv: ev.Conv, Job: ev.Job, From: ev.From, Audience: ev.Audience, Members: ev.Members, Inst: b.inst})
	if err != nil {
		return 0, err
	}
	p := &redisPub{
		conv: ev.Conv, nowUS: us,
		head:   strconv.Itoa(len(meta)) + " " + string(meta),
		prefix: string(frame[:i+len(`,"seq":`)]), suffix: string(frame[i+len(`,"seq":1`):]),
	}
	if !b.enqueue(redisWrite{pub: p}) {
		b.log.Warn("event dropped: the backlog waiting for Redis is full", "job", ev.Job, "conv_len", len(ev.Conv))
		return 0, fmt.Errorf("socket: broker backlog full (%d writes): %w", b.cfg.Backlog, chat.ErrUnavailable)
	}
	return 0, nil
}

// enqueue queues w for the writer; it reports false when the backlog is
// full (w is dropped and counted).
func (b *RedisBroker) enqueue(w redisWrite) bool {
	b.wmu.Lock()
	if len(b.queue)+b.inflight >= b.cfg.Backlog {
		b.wmu.Unlock()
		b.m.dropped.Inc()
		return false
	}
	if w.pub != nil {
		b.ctr++
		w.pub.ctr = b.ctr
	}
	b.queue = append(b.queue, w)
	b.wmu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return true
}

func (b *RedisBroker) backlog() int {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	return len(b.queue) + b.inflight
}

// writer sends the queued writes, in order, a pipeline at a time —
// whatever queued while the previous pipeline was out — retrying a batch
// until it is applied or the broker closes.
func (b *RedisBroker) writer() {
	defer b.wg.Done()
	for {
		b.wmu.Lock()
		n := min(len(b.queue), maxBatch)
		batch := slices.Clone(b.queue[:n])
		b.queue = b.queue[:copy(b.queue, b.queue[n:])]
		b.inflight = n
		b.wmu.Unlock()
		if n == 0 {
			select {
			case <-b.wake:
				continue
			case <-b.ctx.Done():
				return
			}
		}
		b.m.batches.Observe(float64(n))
		for wait := 10 * time.Millisecond; ; wait = min(2*wait, time.Second) {
			err := b.apply(batch)
			if err == nil {
				break
			}
			b.m.errors.WithLabelValues("write").Inc()
			b.log.Warn("broker: writes to Redis failed; retrying", "writes", n, "err", err)
			select {
			case <-time.After(wait):
			case <-b.ctx.Done():
				return
			}
		}
		b.wmu.Lock()
		b.inflight = 0
		b.wmu.Unlock()
	}
}

// apply sends batch in one pipeline. When Redis has forgotten the scripts
// (it restarted), it loads them and reports the error, so the batch is
// sent again: the publish script's counter keeps what did apply from
// applying twice.
func (b *RedisBroker) apply(batch []redisWrite) error {
	ctx, cancel := context.WithTimeout(b.ctx, 2*redisTimeout)
	defer cancel()
	pipe := b.client.Pipeline()
	r := b.cfg.Resume
	keep := r.Events
	if keep < 0 {
		keep = -1
	}
	pubs := make([]*redis.Cmd, len(batch))
	for i, w := range batch {
		if w.pub == nil {
			w.cmd(ctx, pipe)
			continue
		}
		p := w.pub
		pubs[i] = publishScript.EvalSha(ctx, pipe, []string{b.metaKey(p.conv), b.histKey(p.conv)},
			p.nowUS, keep, r.Window.Microseconds(), r.Window.Milliseconds(), metaTTL.Milliseconds(), b.channel(),
			p.head, p.prefix, p.suffix, b.inst, p.ctr)
	}
	_, err := pipe.Exec(ctx)
	if err != nil {
		if strings.HasPrefix(err.Error(), "NOSCRIPT") {
			if lerr := b.loadScripts(ctx); lerr != nil {
				return lerr
			}
		}
		return err
	}
	for _, c := range pubs {
		if c != nil {
			if v, _ := c.Result(); v != int64(-1) {
				b.ownPending.Add(1)
			}
		}
	}
	return nil
}

// subscribe delivers what arrives on the channel until Close. A
// subscription restored after a break means publications may have been
// missed: the hub is told.
func (b *RedisBroker) subscribe() {
	defer b.wg.Done()
	first := true
	wait := 10 * time.Millisecond
	for {
		msg, err := b.ps.Receive(b.ctx)
		if err != nil {
			if b.ctx.Err() != nil {
				return
			}
			b.m.errors.WithLabelValues("subscribe").Inc()
			select {
			case <-time.After(wait):
			case <-b.ctx.Done():
				return
			}
			wait = min(2*wait, time.Second)
			continue
		}
		wait = 10 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			if first {
				first = false
				close(b.subscribed)
				continue
			}
			b.m.resyncs.Inc()
			b.log.Warn("broker: subscription to Redis restored; clients resume from the history")
			b.ownPending.Store(0) // what was published meanwhile will not come back
			if h := b.hub(); h != nil {
				h.Lost()
			}
			select {
			case b.heartbeat <- struct{}{}: // restore the presence a restarted Redis forgot
			default:
			}
		case *redis.Message:
			p, meta, err := parseEntry(m.Payload)
			if err != nil {
				b.m.errors.WithLabelValues("decode").Inc()
				continue
			}
			if meta.Inst == b.inst {
				b.ownPending.Add(-1)
			}
			if h := b.hub(); h != nil {
				h.Deliver(&p)
			}
		}
	}
}

// parseEntry decodes a kept or published entry.
func parseEntry(s string) (Publication, pubMeta, error) {
	var meta pubMeta
	bad := func() (Publication, pubMeta, error) {
		return Publication{}, meta, errors.New("socket: malformed broker entry")
	}
	sp := strings.IndexByte(s, ' ')
	if sp < 0 {
		return bad()
	}
	seq, err := strconv.ParseUint(s[:sp], 10, 64)
	rest := s[sp+1:]
	sp = strings.IndexByte(rest, ' ')
	if err != nil || sp < 0 {
		return bad()
	}
	n, err := strconv.Atoi(rest[:sp])
	rest = rest[sp+1:]
	if err != nil || n < 0 || n > len(rest) {
		return bad()
	}
	if err := json.Unmarshal([]byte(rest[:n]), &meta); err != nil {
		return bad()
	}
	return Publication{Conv: meta.Conv, Seq: seq, Job: meta.Job, Frame: []byte(rest[n:]), From: meta.From,
		Audience: meta.Audience, Members: meta.Members}, meta, nil
}

// Lookup implements Broker in one MULTI/EXEC.
func (b *RedisBroker) Lookup(ctx context.Context, q *Query) (Answer, error) {
	var ans Answer
	now := time.Now()
	nowMS, nowUS := now.UnixMilli(), now.UnixMicro()
	pipe := b.client.TxPipeline()
	pres := b.presKey(q.Conv)
	if q.Enter {
		pipe.ZAdd(ctx, pres, redis.Z{Score: float64(nowMS + b.cfg.PresenceTTL.Milliseconds()), Member: b.presMember(q.User)})
		pipe.PExpire(ctx, pres, 2*b.cfg.PresenceTTL)
		meta := b.metaKey(q.Conv)
		pipe.HSetNX(ctx, meta, "seq", nowUS)
		pipe.HSetNX(ctx, meta, "dropped", nowUS)
		pipe.PExpire(ctx, meta, metaTTL)
	}
	if q.Exit {
		pipe.ZRem(ctx, pres, b.presMember(q.User))
	}
	var metaCmd *redis.SliceCmd
	if q.Enter || q.Resume {
		metaCmd = pipe.HMGet(ctx, b.metaKey(q.Conv), "seq", "dropped")
	}
	var hist *redis.ZSliceCmd
	if q.Resume && b.cfg.Resume.Events >= 0 {
		hist = pipe.ZRangeByScoreWithScores(ctx, b.histKey(q.Conv), &redis.ZRangeBy{Min: "(" + strconv.FormatUint(q.Since, 10), Max: "+inf"})
	}
	var members *redis.StringSliceCmd
	if q.Members {
		members = pipe.ZRangeByScore(ctx, pres, &redis.ZRangeBy{Min: "(" + strconv.FormatInt(nowMS, 10), Max: "+inf"})
	}
	var accepted *redis.StringCmd
	var relay *redis.StatusCmd
	if q.ID != "" {
		accepted = pipe.GetEx(ctx, b.msgKey("a", q.User, q.ID), AcceptedWindow)
	}
	if q.Relay {
		relay = pipe.SetArgs(ctx, b.msgKey("r", q.User, q.ID), "1", redis.SetArgs{TTL: RelayWindow, Get: true})
	}
	cmds, err := pipe.Exec(ctx)
	for _, c := range cmds {
		if e := c.Err(); e != nil && !errors.Is(e, redis.Nil) {
			err = e
			break
		}
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		b.m.errors.WithLabelValues("lookup").Inc()
		return ans, fmt.Errorf("broker lookup: %w", err)
	}
	ans.Members = []string{}
	if members != nil {
		for _, m := range members.Val() {
			if i := strings.IndexByte(m, 0); i >= 0 {
				ans.Members = append(ans.Members, m[:i])
			}
		}
		slices.Sort(ans.Members)
		ans.Members = slices.Compact(ans.Members)
	}
	if accepted != nil && accepted.Err() == nil {
		ans.Accepted = json.Unmarshal([]byte(accepted.Val()), &ans.AcceptedMembers) == nil
	}
	if relay != nil {
		ans.Relay = errors.Is(relay.Err(), redis.Nil) // no earlier claim
	}
	if metaCmd != nil {
		vals := metaCmd.Val()
		ans.LastSeq = parseUintAny(vals, 0)
		dropped := parseUintAny(vals, 1)
		if hist != nil {
			b.resumeAnswer(&ans, hist.Val(), q.Since, dropped, uint64(nowUS-b.cfg.Resume.Window.Microseconds()))
		}
	}
	return ans, nil
}

// resumeAnswer fills ans's History and Gap from the kept entries after
// since (zs), the conversation's drop mark and the oldest seq still within
// the window (older entries not yet trimmed count as dropped). The history
// is always a suffix of the conversation's events, so events after since
// are missing when since is below the drop mark, or when none is kept
// although the latest event is after since (the history expired whole).
func (b *RedisBroker) resumeAnswer(ans *Answer, zs []redis.Z, since, dropped, oldest uint64) {
	for _, z := range zs {
		s, _ := z.Member.(string)
		p, _, err := parseEntry(s)
		if err != nil {
			continue
		}
		if p.Seq < oldest {
			dropped = max(dropped, p.Seq)
			continue
		}
		ans.History = append(ans.History, p)
	}
	ans.Gap = since < dropped || (len(ans.History) == 0 && ans.LastSeq > since)
}

func parseUintAny(vals []any, i int) uint64 {
	if i >= len(vals) {
		return 0
	}
	s, _ := vals[i].(string)
	v, _ := strconv.ParseUint(s, 10, 64)
	return v
}

// Remember implements Broker. The accepted id is written before Remember
// returns, so before the message is acked: a resend that follows at once
// (on any instance) must find it, and after an outage the writer's backlog
// could hold it back for long. When Redis does not answer, it joins the
// writer's backlog instead.
func (b *RedisBroker) Remember(user, id string, members []string) {
	v, _ := json.Marshal(slices.Clip(members))
	key := b.msgKey("a", user, id)
	ctx, cancel := context.WithTimeout(b.ctx, redisTimeout)
	err := b.client.Set(ctx, key, v, AcceptedWindow).Err()
	cancel()
	if err != nil {
		b.m.errors.WithLabelValues("remember").Inc()
		b.enqueue(redisWrite{cmd: func(ctx context.Context, p redis.Pipeliner) { p.Set(ctx, key, v, AcceptedWindow) }})
	}
}

// AdmitConn implements ConnLimiter across every instance sharing the
// Redis. The slot is refreshed by the heartbeat while the connection lasts.
func (b *RedisBroker) AdmitConn(ctx context.Context, user string, limit int) (func(), error) {
	member := b.inst + "\x00" + strconv.FormatUint(b.nslot.Add(1), 10)
	key := b.slotKey(user)
	now := time.Now().UnixMilli()
	ok, err := admitScript.Run(ctx, b.client, []string{key}, now, now+b.cfg.PresenceTTL.Milliseconds(), member, limit,
		(2 * b.cfg.PresenceTTL).Milliseconds()).Int()
	if err != nil {
		b.m.errors.WithLabelValues("admit").Inc()
		return nil, fmt.Errorf("broker admit: %w", err)
	}
	if ok == 0 {
		return nil, ErrTooManyConns
	}
	b.smu.Lock()
	b.slots[member] = user
	b.smu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.smu.Lock()
			delete(b.slots, member)
			b.smu.Unlock()
			b.enqueue(redisWrite{cmd: func(ctx context.Context, p redis.Pipeliner) { p.ZRem(ctx, key, member) }})
		})
	}, nil
}

// FirstTime implements Deduper.
func (b *RedisBroker) FirstTime(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ok, err := b.client.SetNX(ctx, b.cfg.Prefix+"o:"+key, "1", ttl).Result()
	if err != nil {
		b.m.errors.WithLabelValues("first_time").Inc()
		return false, fmt.Errorf("broker: %w", err)
	}
	return ok, nil
}

// Keep implements Keeper.
func (b *RedisBroker) Keep(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := b.client.Set(ctx, b.cfg.Prefix+"k:"+key, value, ttl).Err(); err != nil {
		b.m.errors.WithLabelValues("keep").Inc()
		return fmt.Errorf("broker keep: %w", err)
	}
	return nil
}

// Kept implements Keeper.
func (b *RedisBroker) Kept(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := b.client.Get(ctx, b.cfg.Prefix+"k:"+key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, false, nil
	case err != nil:
		b.m.errors.WithLabelValues("kept").Inc()
		return nil, false, fmt.Errorf("broker kept: %w", err)
	}
	return v, true, nil
}

// beat refreshes this process's members and connection slots every third
// of PresenceTTL (and when asked, after a resubscription), until Close.
func (b *RedisBroker) beat() {
	defer b.wg.Done()
	t := time.NewTicker(b.cfg.PresenceTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-b.heartbeat:
		case <-b.ctx.Done():
			return
		}
		if err := b.refresh(); err != nil {
			b.m.errors.WithLabelValues("heartbeat").Inc()
		}
	}
}

// refresh renews every member and slot this process vouches for, in one
// pipeline, and drops expired members of the conversations it is in.
func (b *RedisBroker) refresh() error {
	ctx, cancel := context.WithTimeout(b.ctx, 2*redisTimeout)
	defer cancel()
	now := time.Now().UnixMilli()
	exp := float64(now + b.cfg.PresenceTTL.Milliseconds())
	ttl := 2 * b.cfg.PresenceTTL
	pipe := b.client.Pipeline()
	convs := map[string]bool{}
	if h := b.hub(); h != nil {
		h.Present(func(conv, user string) {
			key := b.presKey(conv)
			pipe.ZAdd(ctx, key, redis.Z{Score: exp, Member: b.presMember(user)})
			if !convs[conv] {
				convs[conv] = true
				pipe.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(now, 10))
				pipe.PExpire(ctx, key, ttl)
			}
		})
	}
	b.smu.Lock()
	for member, user := range b.slots {
		pipe.ZAdd(ctx, b.slotKey(user), redis.Z{Score: exp, Member: member})
		pipe.PExpire(ctx, b.slotKey(user), ttl)
	}
	b.smu.Unlock()
	if pipe.Len() == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	return err
}

// Flush implements Flusher: it waits until every write queued so far is
// applied and this process's publications have come back to it, or ctx
// ends.
func (b *RedisBroker) Flush(ctx context.Context) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for b.backlog() > 0 || b.ownPending.Load() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("broker flush: %d writes and %d events outstanding: %w", b.backlog(), b.ownPending.Load(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Close implements Closer: it gives the writer up to two seconds to apply
// what is queued, then stops the goroutines and closes the connections.
// Safe to call more than once.
func (b *RedisBroker) Close() error {
	b.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*redisTimeout)
		_ = b.Flush(ctx)
		cancel()
		b.cancel()
		if b.ps != nil {
			_ = b.ps.Close()
		}
		b.wg.Wait()
		b.closeErr = b.client.Close()
	})
	return b.closeErr
}
