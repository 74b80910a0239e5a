// Package driver replays a trace against a chat server over WebSockets,
// open loop: each message is sent at its scheduled, time-compressed instant
// whatever the server does, and every frame that comes back goes to the
// delivery ledger (package ledger). Run returns the path's results.
package driver

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/bench/ledger"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/socket"
)

// Paths the driver knows. Only PathEcho changes what is expected.
const (
	PathDirect = "direct"
	PathQueue  = "queue"
	PathEcho   = "echo"
)

// Config configures a replay.
type Config struct {
	// Target is the server's WebSocket URL, e.g. ws://127.0.0.1:8080/ws.
	Target string
	// Secret signs the participants' bearer tokens (at least 16 bytes).
	Secret []byte
	// Path labels the results ("direct", "queue" or "echo"); "echo" expects
	// one echo event per sent message instead of the catalog's deliveries.
	Path string
	// Header is the trace's header (its name travels into logs only).
	Header trace.Header
	// Records are the trace's messages, sorted by T.
	Records []trace.Record
	// Speed is the time compression of when conversations start: 1440
	// replays a day's arrivals in a minute. Zero means 1.
	Speed float64
	// Pace is the time compression within a conversation: a message's
	// instant is its conversation's start / Speed + its time since that
	// start / Pace. Zero means Speed (plain compression of the whole
	// trace). A Pace below Speed keeps each conversation closer to a human
	// rhythm while the day's conversations still arrive compressed — at
	// plain 1440× a patient would send a message every few tens of ms,
	// which no design that serialises a conversation's jobs (a FIFO group)
	// could keep up with, and no real patient does.
	Pace float64
	// Warmup is the wall-clock warm-up: deliveries of messages scheduled in
	// it are counted but not timed. Zero means 5s, or none when the replay
	// is shorter than 4× that; negative means none.
	Warmup time.Duration
	// Drain is how long to wait for outstanding deliveries after the last
	// send. Zero means 10s.
	Drain time.Duration
	// Duration stops scheduling after this much wall time (0 = the whole
	// trace).
	Duration time.Duration
	// Limit caps the number of messages sent (0 = all).
	Limit int
	// Catalog computes expected deliveries (required unless Path is echo).
	Catalog *chat.Catalog
	// Progress receives progress output (nil = none): a progress bar when
	// TTY is set, else a plain line every 5 s.
	Progress io.Writer
	// TTY selects the progress bar.
	TTY bool
	// Logger logs the run's phases (nil = discard). Bodies are never logged.
	Logger *slog.Logger
	// GCPercent is the garbage collector's percent (debug.SetGCPercent)
	// while the replay runs: collections pause the scheduler's goroutine
	// and show up as schedule lag, so Run collects less often. Zero means
	// 800; negative leaves the process's setting alone.
	GCPercent int
	// Senders is the number of goroutines sending, each owning a share of
	// the participants. Zero means 1, which measured best on 2 cores.
	Senders int
	// Quantum is the shortest a sender sleeps: messages due within a
	// quantum of the last send go out together when it wakes. Each sleep
	// costs a context switch and a timer (on a virtual machine about 10 µs
	// of CPU, and a wake-up 20–60 µs late anyway); at 20,000 messages/s,
	// sleeping for every 50 µs gap took about half the sender's CPU and put
	// the schedule-lag p99 over 1 ms (docs/performance.md). Zero means
	// 50µs; negative means sleep exactly until each message.
	Quantum time.Duration
	// ConnectParallel bounds connection attempts in flight. Zero means 32.
	ConnectParallel int
	// TLS configures wss:// targets (trusted CAs, or no verification).
	// nil means the system roots.
	TLS *tls.Config

	convStart map[string]time.Duration // set by retime

	// SendLeavesOnTime turns off holding leaves. By default a leave whose
	// user may still be owed events in that conversation is held until
	// they have arrived (or the drain deadline): time compression makes
	// leaves come minutes of real time too early relative to the servers'
	// real latencies, and an event emitted after a leave never comes, so
	// sending them on time would hide slow deliveries as excused.
	SendLeavesOnTime bool

	// NoResend turns off the client resend protocol (see resend.go and
	// docs/protocol.md, "Resending"). By default a dropped connection is
	// reconnected with backoff, its user's conversations are joined again
	// with since (resuming the events missed meanwhile, "Resuming") and
	// every message sent but not answered is resent with the same id.
	NoResend bool
}

// peer is one participant's connection.
type peer struct {
	user string
	role chat.Role
	ws   *websocket.Conn
	dead atomic.Bool
	wmu  sync.Mutex // one writer at a time; guards ws once the replay runs (a reconnect replaces it)

	rs resendState // what a reconnect must redo (resend.go)
}

// NewDialer returns a dialer for driver connections: small read buffers
// and write buffers pooled among all the connections it opens (a frame's
// write buffer is only held while the frame is written), which keeps idle
// connections small (see BenchmarkMemPerConn).
func NewDialer() *websocket.Dialer {
	return &websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		WriteBufferPool:  &sync.Pool{},
	}
}

// Dial opens with d and authenticates one connection for user with a token
// signed by secret allowing every conversation.
func Dial(ctx context.Context, d *websocket.Dialer, target string, secret []byte, user string, role chat.Role) (*websocket.Conn, error) {
	tok, err := socket.MintToken(secret, socket.Claims{User: user, Role: role, Convs: []string{"*"}, Exp: time.Now().Add(24 * time.Hour).Unix()})
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	ws, resp, err := d.DialContext(ctx, target, h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("connect %s as %s: %w (HTTP %d)", target, user, err, resp.StatusCode)
		}
		return nil, fmt.Errorf("connect %s as %s: %w", target, user, err)
	}
	return ws, nil
}

// Run replays cfg.Records against cfg.Target and returns what it measured.
// When ctx ends the replay stops promptly; what was measured is returned
// together with ctx's error.
func Run(ctx context.Context, cfg Config) (*results.Path, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	recs := cfg.Records
	if cfg.Limit > 0 && len(recs) > cfg.Limit {
		recs = recs[:cfg.Limit]
	}
	recs = cfg.retime(recs)
	if cfg.Duration > 0 {
		for i, r := range recs {
			if cfg.at(r) > cfg.Duration {
				recs = recs[:i]
				break
			}
		}
	}
	if len(recs) == 0 {
		return nil, errors.New("driver: no messages to send (empty trace, or --limit/--duration too small)")
	}
	span := cfg.at(recs[len(recs)-1])
	warm := cfg.Warmup
	switch {
	case warm < 0:
		warm = 0
	case warm == 0 && span >= 4*5*time.Second:
		warm = 5 * time.Second
	case warm == 0:
		warm = 0
	}
	log := cfg.Logger

	// Participants, in order of first message.
	roles := map[string]chat.Role{}
	var peers []*peer
	byUser := map[string]*peer{}
	for _, r := range recs {
		if byUser[r.User] == nil {
			p := &peer{user: r.User, role: r.Role}
			byUser[r.User] = p
			peers = append(peers, p)
			roles[r.User] = r.Role
		}
	}
	log.Info("connecting", "target", cfg.Target, "participants", len(peers), "messages", len(recs))
	connect := results.NewHDR()
	if err := connectAll(ctx, &cfg, peers, connect); err != nil {
		closeAll(peers)
		return nil, err
	}

	lcfg := ledger.Config{Catalog: cfg.Catalog, Roles: roles}
	if cfg.Path == PathEcho {
		lcfg.Expect = ledger.EchoExpect
	}
	led := ledger.New(lcfg)
	for _, r := range recs {
		if !led.Expect(r.User, r.ID, r.Conv, r.Type, r.Role, cfg.at(r)) {
			closeAll(peers)
			return nil, fmt.Errorf("driver: message id %q of user %s appears twice: ids must be unique per user (run `chatbench trace validate`)", r.ID, r.User)
		}
	}
	start := time.Now().Add(20 * time.Millisecond)
	led.Begin(start, warm)

	s := &scheduler{cfg: &cfg, led: led, peers: byUser, start: start, warmEnd: start.Add(warm), lag: results.NewHDR(), stop: make(chan struct{}), retryWake: make(chan struct{}, 1)}
	dialCtx, cancelDial := context.WithCancel(ctx)
	defer cancelDial()
	s.dialCtx = dialCtx
	var readers sync.WaitGroup
	for _, p := range peers {
		readers.Add(1)
		go func() {
			defer readers.Done()
			s.read(p)
		}()
	}
	if !cfg.NoResend {
		readers.Add(1)
		go func() {
			defer readers.Done()
			s.runRetries()
		}()
	}
	progCtx, stopProgress := context.WithCancel(ctx)
	var progWG sync.WaitGroup
	if cfg.Progress != nil {
		progWG.Add(1)
		go func() {
			defer progWG.Done()
			progress(progCtx, &cfg, s, led, len(recs))
		}()
	}
	// Each sender sleeps in a system call between messages; one more P
	// per sender lets it return without queueing for a P behind the
	// readers (the runtime otherwise preempted the sender every 10 ms or
	// so, for up to several ms: docs/performance.md).
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + cfg.Senders))
	if cfg.GCPercent >= 0 {
		gcp := cfg.GCPercent
		if gcp == 0 {
			gcp = 800
		}
		defer debug.SetGCPercent(debug.SetGCPercent(gcp))
	}
	log.Info("replaying", "speed", cfg.Speed, "span", span, "warmup", warm)
	s.runAll(ctx, recs, cfg.Senders)
	s.mu.Lock()
	lastSend := s.lastSend // held leaves may still be sent later; this ends the schedule
	s.mu.Unlock()
	log.Info("draining", "outstanding", led.Outstanding(), "deadline", cfg.Drain)
	if ctx.Err() == nil {
		t := time.NewTimer(cfg.Drain)
		select {
		case <-led.Idle():
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	led.Finish()
	end := time.Now()
	stopProgress()
	progWG.Wait()
	close(s.stop) // readers stop reconnecting
	cancelDial()
	closeAll(peers)
	readers.Wait()

	p := &results.Path{Name: cfg.Path, Target: cfg.Target, Start: start, End: end}
	if warm > 0 {
		p.Start = start.Add(warm)
	}
	if err := led.Fill(p); err != nil {
		return nil, err
	}
	p.Messages.Scheduled = int(s.scheduled.Load())
	p.Messages.HeldLeaves = int(s.heldTotal.Load())
	p.Messages.Resent = int(s.resent.Load())
	p.Messages.Reconnects = int(s.reconnects.Load())
	p.Messages.Replayed = int(s.replayed.Load())
	p.Messages.ResumeGaps = int(s.resumeGaps.Load())
	p.Messages.Retried = int(s.retried.Load())
	p.SenderNice = s.nice
	measured := lastSend.Sub(p.Start).Seconds()
	if measured > 0 {
		p.Messages.PerSecond = float64(p.Messages.Sent-p.Messages.Warmup) / measured
	}
	var err error
	s.mu.Lock()
	p.ScheduleLag, err = results.FromHDR(s.lag)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if p.Connect, err = results.FromHDR(connect); err != nil {
		return nil, err
	}
	p.Components = []results.Component{}
	st := led.Stats()
	log.Info("replay done", "sent", st.Sent, "acked", st.Acked, "delivered", st.Delivered, "lost", st.Lost,
		"duplicates", st.Duplicates, "unexpected", st.Unexpected, "lag_p99_us", p.ScheduleLag.P99)
	return p, ctx.Err()
}

func (c *Config) defaults() error {
	switch {
	case c.Target == "":
		return errors.New("driver: Config.Target (the server's ws:// URL) is required")
	case !strings.HasPrefix(c.Target, "ws://") && !strings.HasPrefix(c.Target, "wss://"):
		return fmt.Errorf("driver: target %q is not a ws:// or wss:// URL", c.Target)
	case len(c.Secret) < socket.MinSecretLen:
		return fmt.Errorf("driver: token secret is %d bytes; use at least %d", len(c.Secret), socket.MinSecretLen)
	case c.Path != PathEcho && c.Catalog == nil:
		return errors.New("driver: Config.Catalog is required (except for the echo path)")
	case c.Speed < 0:
		return errors.New("driver: speed must be positive")
	}
	if c.Speed == 0 {
		c.Speed = 1
	}
	if c.Pace < 0 {
		return errors.New("driver: pace must be positive")
	}
	if c.Pace == 0 {
		c.Pace = c.Speed
	}
	if c.Path == "" {
		c.Path = PathDirect
	}
	if c.Drain <= 0 {
		c.Drain = 10 * time.Second
	}
	if c.Senders <= 0 {
		c.Senders = 1
	}
	switch {
	case c.Quantum == 0:
		c.Quantum = 50 * time.Microsecond
	case c.Quantum < 0:
		c.Quantum = 0
	}
	if c.ConnectParallel <= 0 {
		c.ConnectParallel = 32
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// at returns r's wall-clock offset from the replay's start.
func (c *Config) at(r trace.Record) time.Duration {
	start := c.convStart[r.Conv]
	return time.Duration(float64(start)/c.Speed + float64(r.Offset()-start)/c.Pace)
}

// retime computes each conversation's start and orders recs by their
// replay instants (which differ from trace order when Pace ≠ Speed); the
// order within each conversation is kept.
func (c *Config) retime(recs []trace.Record) []trace.Record {
	c.convStart = map[string]time.Duration{}
	for _, r := range recs {
		if _, ok := c.convStart[r.Conv]; !ok {
			c.convStart[r.Conv] = r.Offset()
		}
	}
	out := slices.Clone(recs)
	slices.SortStableFunc(out, func(a, b trace.Record) int { return cmp.Compare(c.at(a), c.at(b)) })
	return out
}

// connectAll opens every peer's connection, cfg.ConnectParallel at a time,
// recording each connect time (µs).
func connectAll(ctx context.Context, cfg *Config, peers []*peer, hist *hdrhistogram.Histogram) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		next atomic.Int64
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dialer := NewDialer()
	dialer.TLSClientConfig = cfg.TLS
	for range min(cfg.ConnectParallel, len(peers)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(peers) || ctx.Err() != nil {
					return
				}
				p := peers[i]
				t := time.Now()
				ws, err := Dial(ctx, dialer, cfg.Target, cfg.Secret, p.user, p.role)
				d := time.Since(t)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
					cancel()
				} else {
					p.ws = ws
					if hist != nil {
						_ = hist.RecordValue(max(1, d.Microseconds()))
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("driver: %d of %d connections failed; first: %w", len(errs), len(peers), errs[0])
	}
	return nil
}

// closeAll closes every open connection (the readers then end).
func closeAll(peers []*peer) {
	for _, p := range peers {
		p.wmu.Lock()
		if p.ws != nil {
			_ = p.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			_ = p.ws.Close()
		}
		p.wmu.Unlock()
	}
}

// read decodes p's frames into the ledger until the connection ends, and
// releases held leaves whose users are owed nothing any more.
func (s *scheduler) read(p *peer) {
	led := s.led
	p.wmu.Lock()
	ws := p.ws
	p.wmu.Unlock()
	var data []byte // reused: the decoder copies what it keeps
	for {
		var err error
		data, err = readMessage(ws, data[:0])
		if err != nil {
			p.dead.Store(true)
			if ws = s.reconnect(p); ws == nil {
				return
			}
			continue
		}
		now := time.Now()
		f, err := chat.DecodeServerFrame(data)
		if err != nil {
			continue
		}
		if f.LastSeq != 0 || (f.Event != nil && f.Event.Seq != 0) {
			s.sawSeq(p, f)
		}
		if internal(f.ReplyTo) {
			continue // the driver's own re-joins are not part of the trace
		}
		switch f.Op {
		case chat.OpEvent:
			led.Event(p.user, f, now)
		case chat.OpAck:
			p.answered(f.ReplyTo, true)
			led.Acked(p.user, f.ReplyTo, f.Members)
		case chat.OpError:
			if f.ReplyTo == "" {
				break
			}
			if !s.cfg.NoResend && p.retryable(f.ReplyTo, f.Code, f.Retryable) && s.retryLater(p, f.ReplyTo) {
				break // still unanswered: the retry (or a reconnect) sends it again
			}
			p.answered(f.ReplyTo, false)
			led.Rejected(p.user, f.ReplyTo, f.Code)
		}
		if s.heldNow.Load() > 0 {
			s.releaseHeld()
		}
	}
}

// readMessage appends ws's next message to buf, which it grows as needed
// (gorilla's ReadMessage allocates a new slice per message instead).
func readMessage(ws *websocket.Conn, buf []byte) ([]byte, error) {
	_, r, err := ws.NextReader()
	if err != nil {
		return buf, err
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// scheduler sends the records open loop, split among Config.Senders
// goroutines by user (so each user's messages keep their order).
type scheduler struct {
	cfg   *Config
	led   *ledger.Ledger
	peers map[string]*peer
	start time.Time

	warmEnd   time.Time // messages scheduled before it are not in lag
	sent      atomic.Int64
	scheduled atomic.Int64

	mu       sync.Mutex // guards lag (read by progress) and lastSend
	lag      *hdrhistogram.Histogram
	lastSend time.Time

	heldMu    sync.Mutex
	held      []*planned   // leaves waiting for their users' deliveries
	heldNow   atomic.Int64 // len(held), read without the lock
	heldTotal atomic.Int64 // leaves ever held

	stop       chan struct{}   // closed when the replay ends: no more reconnects
	dialCtx    context.Context // cancelled with stop
	resent     atomic.Int64    // frames resent after a reconnect
	reconnects atomic.Int64    // connections re-established
	replayed   atomic.Int64    // events replayed to re-joins, as their acks said
	resumeGaps atomic.Int64    // re-joins whose ack reported a gap

	niceOnce sync.Once
	nice     int // the senders' nice value (pinThread)

	retryMu   sync.Mutex
	retries   retryHeap     // refused frames waiting to be sent again (retry.go)
	retryWake chan struct{} // a new retry may be due sooner
	retried   atomic.Int64  // refusals answered by a retry
}

// hold keeps a leave back until its user is owed nothing in that
// conversation; the ledger counts it outstanding meanwhile.
func (s *scheduler) hold(pl *planned) {
	s.led.Hold()
	s.heldMu.Lock()
	s.held = append(s.held, pl)
	s.heldNow.Store(int64(len(s.held)))
	s.heldMu.Unlock()
	s.heldTotal.Add(1)
}

// releaseHeld sends every held leave whose user is owed nothing now.
func (s *scheduler) releaseHeld() {
	s.heldMu.Lock()
	defer s.heldMu.Unlock()
	kept := s.held[:0]
	var buf []byte
	for _, pl := range s.held {
		if s.led.Owes(pl.r.User, pl.r.Conv) {
			kept = append(kept, pl)
			continue
		}
		buf = s.send(pl, time.Time{}, buf)
		s.led.Release()
	}
	s.held = kept
	s.heldNow.Store(int64(len(kept)))
}

// planned is one record with what its send needs worked out before the
// replay starts, so the sender does no lookups at the scheduled instant.
type planned struct {
	r   *trace.Record
	at  time.Duration // offset from the start (Config.at)
	p   *peer
	led ledger.Handle
}

// runAll partitions recs among n senders and runs them until done or ctx
// ends.
func (s *scheduler) runAll(ctx context.Context, recs []trace.Record, n int) {
	parts := make([][]planned, n)
	idx := map[string]int{}
	for k := range recs {
		r := &recs[k]
		i, ok := idx[r.User]
		if !ok {
			i = len(idx) % n
			idx[r.User] = i
		}
		parts[i] = append(parts[i], planned{r: r, at: s.cfg.at(*r), p: s.peers[r.User], led: s.led.Handle(r.User, r.ID)})
	}
	var wg sync.WaitGroup
	for _, part := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.run(ctx, part)
		}()
	}
	wg.Wait()
}

// run sends the planned records, each at its instant.
func (s *scheduler) run(ctx context.Context, plan []planned) {
	nice := pinThread() // never unlocked: the thread retires with this goroutine
	s.niceOnce.Do(func() { s.nice = nice })
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var buf []byte
	for k := range plan {
		pl := &plan[k]
		r := pl.r
		due := s.start.Add(pl.at)
		if !s.waitUntil(ctx, timer, due) {
			return
		}
		s.scheduled.Add(1)
		if r.Type == chat.OpLeave && !s.cfg.SendLeavesOnTime && s.led.Owes(r.User, r.Conv) {
			s.hold(pl)
			continue
		}
		buf = s.send(pl, due, buf)
	}
}

// send writes pl's frame now, encoding it into buf (returned for reuse);
// due is its scheduled instant (zero for a held leave, which is left out of
// the schedule lag).
func (s *scheduler) send(pl *planned, due time.Time, buf []byte) []byte {
	p, r := pl.p, pl.r
	f := frameOf(*r)
	p.wmu.Lock()
	now := time.Now()
	f.SentAt = now.UnixMicro()
	buf = chat.AppendClientFrame(buf[:0], &f)
	s.led.SentHandle(pl.led, now)
	if !s.cfg.NoResend {
		// Until answered, a reconnect resends it (resend.go); while the
		// connection is down it waits for that.
		p.track(*r)
	}
	_ = p.ws.SetWriteDeadline(now.Add(5 * time.Second))
	if p.dead.Load() || p.ws.WriteMessage(websocket.TextMessage, buf) != nil {
		p.dead.Store(true)
		if s.cfg.NoResend {
			s.led.Rejected(r.User, r.ID, "send_failed")
		} else {
			_ = p.ws.Close() // the reader notices and reconnects
		}
	}
	p.wmu.Unlock()
	s.sent.Add(1)
	s.mu.Lock()
	if !due.IsZero() && !due.Before(s.warmEnd) {
		_ = s.lag.RecordValue(max(0, min(now.Sub(due).Microseconds(), int64(time.Hour/time.Microsecond))))
	}
	if now.After(s.lastSend) {
		s.lastSend = now
	}
	s.mu.Unlock()
	return buf
}

// coarse is how far ahead of a message the scheduler stops relying on the
// runtime's timers, which can fire a millisecond late, and sleeps its own
// thread precisely instead.
const coarse = 2 * time.Millisecond

// waitUntil waits for due; it reports false when ctx ended first.
func (s *scheduler) waitUntil(ctx context.Context, timer *time.Timer, due time.Time) bool {
	for {
		d := time.Until(due)
		switch {
		case ctx.Err() != nil:
			return false
		case d <= 0:
			return true
		case d > coarse:
			timer.Reset(d - coarse/2)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return false
			}
		default:
			preciseSleep(max(d, s.cfg.Quantum))
		}
	}
}

func (s *scheduler) lagP99() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Duration(s.lag.ValueAtQuantile(99)) * time.Microsecond
}

// frameOf returns r's client frame, without its sent_at.
func frameOf(r trace.Record) chat.ClientFrame {
	f := chat.ClientFrame{Op: chat.OpSend, ID: r.ID, Conv: r.Conv, Type: r.Type}
	switch r.Type {
	case chat.OpJoin, chat.OpLeave:
		f.Op, f.Type = r.Type, ""
	default:
		f.Body = body(r)
	}
	return f
}

// filler is the deterministic ASCII text bodies are cut from.
var filler = func() string {
	const words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua "
	return strings.Repeat(words, trace.MaxSize/len(words)+1)[:trace.MaxSize]
}()

// body returns r's body, or a filler of r.Size bytes. Attachments get a
// valid attachment description instead (its size says the file's size).
func body(r trace.Record) string {
	if r.Body != "" {
		return r.Body
	}
	if r.Type == "attachment" {
		return fmt.Sprintf(`{"name":"file.bin","mime":"application/octet-stream","size":%d}`, r.Size)
	}
	return filler[:min(r.Size, len(filler))]
}
