// Package directmode is the simplified path: the WebSocket server runs each
// job itself. Sync jobs run on the server in arrival order per conversation
// (never on the connection's reader); ML jobs run as background tasks — the
// Go analogue of Flask-SocketIO's start_background_task — and their events
// are emitted when ready.
package directmode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/obs"
	"github.com/chatbench/chatbench/internal/serve"
	"github.com/chatbench/chatbench/socket"
)

// Config configures a Dispatcher. Zero values mean the documented defaults.
type Config struct {
	Catalog *chat.Catalog  // required
	Emitter socket.Emitter // required: where events go (the front door's hub)
	Deps    chat.Deps      // what handlers use (the ML client)
	// SyncLanes is the number of sync-job lanes. A conversation always maps
	// to the same lane, which keeps its sync jobs in arrival order. Zero
	// means 16; at most 4096.
	SyncLanes int
	// LaneQueue is each lane's queue, in messages. Zero means 1024; at most
	// 1048576.
	LaneQueue int
	// MaxTasks bounds ML background tasks running at once. Zero means 256.
	MaxTasks int
	// MaxPending bounds ML tasks started or waiting for a slot; beyond it
	// Dispatch answers chat.ErrOverloaded. Zero means 16 * MaxTasks.
	MaxPending int
	// MaxUserTasks is one sender's share of the ML capacity when it is
	// contended: its ML tasks running or waiting for a slot. A message
	// whose ML jobs would take the sender beyond it is admitted only if
	// they find free slots at once (no task waits behind them); otherwise
	// it is refused with the retryable overloaded. So one user's flood
	// slows that user, not everyone: another user's tasks wait behind at
	// most the flooders' shares, never behind their flood. A sender
	// holding none is always admitted (a message's ML jobs are admitted
	// together). Zero means DefaultUserShare of MaxTasks (at least 1);
	// negative, no share.
	MaxUserTasks int
	// JobTimeout bounds each job. Zero means 10s.
	JobTimeout time.Duration
	Logger     *slog.Logger          // nil = discard
	Registerer prometheus.Registerer // nil = metrics not registered
}

// DefaultUserShare is the share of MaxTasks one sender may hold under
// contention when Config.MaxUserTasks is zero: eight senders flooding at
// once still leave the others' tasks a slot soon.
const DefaultUserShare = 1.0 / 8

// Upper bounds of Config: lanes and their queues are allocated up front.
const (
	maxLanes     = 1 << 12
	maxLaneQueue = 1 << 20
)

// validate reports every value of c that is out of range, naming the field
// and the fix. Zero values are valid: they mean the defaults.
func (c *Config) validate() error {
	var errs []error
	if c.Catalog == nil {
		errs = append(errs, errors.New("directmode: Config.Catalog is required"))
	}
	errs = append(errs,
		inRange("Config.SyncLanes", c.SyncLanes, maxLanes, "16"),
		inRange("Config.LaneQueue", c.LaneQueue, maxLaneQueue, "1024"),
		inRange("Config.MaxTasks", c.MaxTasks, math.MaxInt, "256"),
		inRange("Config.MaxPending", c.MaxPending, math.MaxInt, "16 × MaxTasks"),
		inRange("Config.MaxUserTasks", max(c.MaxUserTasks, 0), math.MaxInt, "MaxTasks / 8"),
		inRange("Config.JobTimeout", c.JobTimeout, math.MaxInt64, "10s"),
	)
	return errors.Join(errs...)
}

// inRange refuses a size, count or duration of a config below zero or
// above most; zero means its default, def. field names it, e.g.
// "Config.SyncLanes".
func inRange[T ~int | ~int64](field string, v, most T, def string) error {
	switch {
	case v < 0:
		return fmt.Errorf("directmode: %s is %v: must be ≥ 0 (0 means %s)", field, v, def)
	case v > most:
		return fmt.Errorf("directmode: %s is %v: must be at most %v (0 means %s)", field, v, most, def)
	}
	return nil
}

// Dispatcher runs jobs on the server. It implements socket.Dispatcher and
// socket.Admitter and is safe for concurrent use.
type Dispatcher struct {
	cfg     Config
	log     *slog.Logger
	jobs    *obs.JobMetrics
	tasks   prometheus.Gauge
	refused *prometheus.CounterVec

	// users counts each sender's ML tasks running or waiting (its share,
	// Config.MaxUserTasks); senders with none are not kept.
	userMu sync.Mutex
	users  map[string]int

	sync     *SyncRunner // the sync jobs' lanes
	pending  atomic.Int64
	slots    chan struct{}
	taskCtx  context.Context // cancelled when a drain times out
	cancel   context.CancelFunc
	mu       sync.RWMutex // guards closed against concurrent Dispatch
	closed   bool
	taskWG   sync.WaitGroup
	shutdown sync.Once
	drainErr error
}

var (
	_ serve.Dispatcher = (*Dispatcher)(nil)
	_ socket.Admitter  = (*Dispatcher)(nil)
)

// The bounds an ML message is refused as overloaded for
// (chatbench_background_tasks_overloaded_total).
const (
	boundUser    = "user"    // the sender's share, Config.MaxUserTasks
	boundPending = "pending" // every sender's tasks, Config.MaxPending
)

func requireEmitter(e socket.Emitter) error {
	if e == nil {
		return errors.New("directmode: Config.Emitter is required (Start sets it to the hub)")
	}
	return nil
}

// New checks cfg and starts a Dispatcher's lanes. Stop it with Shutdown.
func New(cfg Config) (*Dispatcher, error) {
	if err := errors.Join(cfg.validate(), requireEmitter(cfg.Emitter)); err != nil {
		return nil, err
	}
	if cfg.MaxTasks == 0 {
		cfg.MaxTasks = 256
	}
	if cfg.MaxPending == 0 {
		cfg.MaxPending = 16 * cfg.MaxTasks
	}
	if cfg.MaxUserTasks == 0 {
		cfg.MaxUserTasks = max(1, int(float64(cfg.MaxTasks)*DefaultUserShare))
	}
	if cfg.JobTimeout == 0 {
		cfg.JobTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d := &Dispatcher{
		cfg:  cfg,
		log:  cfg.Logger,
		jobs: obs.NewJobMetrics(cfg.Registerer, cfg.Catalog.Jobs()...),
		tasks: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chatbench_background_tasks_in_flight",
			Help: "ML background tasks started and not yet finished (running or waiting for a slot).",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbench_background_tasks_overloaded_total",
			Help: "Messages refused as overloaded because their ML tasks would exceed a bound: the sender's share (user) or every sender's (pending).",
		}, []string{"bound"}),
		users: map[string]int{},
		slots: make(chan struct{}, cfg.MaxTasks),
	}
	for _, b := range []string{boundUser, boundPending} {
		d.refused.WithLabelValues(b) // from 0, so a rate of refusals reads 0
	}
	sr, err := NewSyncRunner(SyncConfig{
		Catalog: cfg.Catalog, Emitter: cfg.Emitter, Deps: cfg.Deps, Lanes: cfg.SyncLanes, LaneQueue: cfg.LaneQueue,
		JobTimeout: cfg.JobTimeout, Jobs: d.jobs, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	d.sync = sr
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(d.tasks, d.refused)
	}
	d.taskCtx, d.cancel = context.WithCancel(context.Background())
	return d, nil
}

// mlJobs returns the ML jobs msg triggers.
func (d *Dispatcher) mlJobs(msg *chat.Message) []*chat.Job {
	var ml []*chat.Job
	for _, j := range d.cfg.Catalog.JobsFor(msg.Type, msg.Role) {
		if j.Class == chat.ClassML {
			ml = append(ml, j)
		}
	}
	return ml
}

// Admit refuses, before the front door relays it, a message whose sender
// already holds its share of the contended ML capacity
// (Config.MaxUserTasks), with the retryable overloaded. It takes nothing:
// Dispatch does.
func (d *Dispatcher) Admit(msg *chat.Message) error {
	n := len(d.mlJobs(msg))
	if n == 0 {
		return nil
	}
	d.userMu.Lock()
	defer d.userMu.Unlock()
	return d.overShare(msg, n)
}

// overShare is the refusal of msg's n ML tasks when they would take its
// sender beyond its share and would wait for a slot; d.userMu is held.
func (d *Dispatcher) overShare(msg *chat.Message, n int) error {
	held, share := d.users[msg.From], d.cfg.MaxUserTasks
	if share < 0 || held == 0 || held+n <= share {
		return nil
	}
	// Beyond its share a sender may still use capacity nobody waits for.
	if d.pending.Load()+int64(n) <= int64(d.cfg.MaxTasks) {
		return nil
	}
	d.refused.WithLabelValues(boundUser).Inc()
	return chat.Errorf(chat.CodeOverloaded, msg.ID,
		"you have %d ML jobs running or waiting and this server's %d slots are taken (your share when busy: %d); resend the same frame later",
		held, d.cfg.MaxTasks, share)
}

// takeShare counts msg's n ML tasks against its sender's share, or refuses
// them.
func (d *Dispatcher) takeShare(msg *chat.Message, n int) error {
	d.userMu.Lock()
	defer d.userMu.Unlock()
	if err := d.overShare(msg, n); err != nil {
		return err
	}
	d.users[msg.From] += n
	return nil
}

// releaseShare gives back n of user's tasks.
func (d *Dispatcher) releaseShare(user string, n int) {
	d.userMu.Lock()
	defer d.userMu.Unlock()
	if d.users[user] <= n {
		delete(d.users, user)
		return
	}
	d.users[user] -= n
}

// Dispatch queues msg's sync jobs on its conversation's lane and starts its
// ML jobs as background tasks. It never waits for a job. ML jobs beyond
// the sender's share (Config.MaxUserTasks) or beyond MaxPending are
// refused with overloaded, and then so is the message's sync work.
func (d *Dispatcher) Dispatch(_ context.Context, msg *chat.Message) error {
	ml := d.mlJobs(msg)
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return chat.ErrShuttingDown
	}
	if n := len(ml); n > 0 {
		if err := d.takeShare(msg, n); err != nil {
			return err
		}
		if d.pending.Add(int64(n)) > int64(d.cfg.MaxPending) {
			d.pending.Add(-int64(n))
			d.releaseShare(msg.From, n)
			d.refused.WithLabelValues(boundPending).Inc()
			return chat.ErrOverloaded
		}
	}
	if err := d.sync.Run(msg); err != nil {
		d.pending.Add(-int64(len(ml)))
		d.releaseShare(msg.From, len(ml))
		return err
	}
	for _, j := range ml {
		d.taskWG.Add(1)
		d.tasks.Inc()
		go d.runTask(j, msg)
	}
	return nil
}

// runTask is one background task: wait for a slot, run the ML job, emit.
func (d *Dispatcher) runTask(j *chat.Job, msg *chat.Message) {
	defer func() {
		d.pending.Add(-1)
		d.tasks.Dec()
		d.taskWG.Done()
	}()
	select {
	case d.slots <- struct{}{}:
		defer func() { <-d.slots }()
	case <-d.taskCtx.Done():
	}
	runAndEmit(d.taskCtx, d.cfg.JobTimeout, j, msg, d.cfg.Deps, d.jobs, shareBack{d, msg.From}, d.log)
}

// shareBack emits a task's event once the task has given back its
// sender's share: a client that has its answer finds its share free.
type shareBack struct {
	d    *Dispatcher
	user string
}

func (s shareBack) Emit(ev *chat.Event) int {
	s.d.releaseShare(s.user, 1)
	return s.d.cfg.Emitter.Emit(ev)
}

// Shutdown stops accepting messages (Dispatch answers
// chat.ErrShuttingDown), then waits for queued sync jobs and background
// tasks to finish and emit. If ctx ends first, the remaining jobs are
// cancelled — they still emit, with status error — and Shutdown waits for
// them and returns ctx's error. It is safe to call more than once; later
// calls wait like the first and return its result.
func (d *Dispatcher) Shutdown(ctx context.Context) error {
	d.shutdown.Do(func() {
		d.mu.Lock()
		d.closed = true
		d.mu.Unlock()
		done := make(chan struct{})
		var syncErr error
		go func() {
			// The lanes cut their own jobs short when ctx ends.
			syncErr = d.sync.Shutdown(ctx)
			d.taskWG.Wait()
			close(done)
		}()
		select {
		case <-done:
			d.drainErr = syncErr
		case <-ctx.Done():
			d.cancel()
			<-done
			d.drainErr = ctx.Err()
		}
		d.cancel()
	})
	return d.drainErr
}
