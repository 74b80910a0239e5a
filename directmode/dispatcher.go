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
	"hash/fnv"
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
	// JobTimeout bounds each job. Zero means 10s.
	JobTimeout time.Duration
	Logger     *slog.Logger          // nil = discard
	Registerer prometheus.Registerer // nil = metrics not registered
}

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
		inRange("SyncLanes", c.SyncLanes, maxLanes, "16"),
		inRange("LaneQueue", c.LaneQueue, maxLaneQueue, "1024"),
		inRange("MaxTasks", c.MaxTasks, math.MaxInt, "256"),
		inRange("MaxPending", c.MaxPending, math.MaxInt, "16 × MaxTasks"),
		inRange("JobTimeout", c.JobTimeout, math.MaxInt64, "10s"),
	)
	return errors.Join(errs...)
}

// inRange refuses a size, count or duration of Config below zero or above
// most; zero means its default, def.
func inRange[T ~int | ~int64](field string, v, most T, def string) error {
	switch {
	case v < 0:
		return fmt.Errorf("directmode: Config.%s is %v: must be ≥ 0 (0 means %s)", field, v, def)
	case v > most:
		return fmt.Errorf("directmode: Config.%s is %v: must be at most %v (0 means %s)", field, v, most, def)
	}
	return nil
}

// Dispatcher runs jobs on the server. It implements socket.Dispatcher and is
// safe for concurrent use.
type Dispatcher struct {
	cfg   Config
	log   *slog.Logger
	jobs  *obs.JobMetrics
	tasks prometheus.Gauge

	lanes    []chan *chat.Message
	pending  atomic.Int64
	slots    chan struct{}
	taskCtx  context.Context // cancelled when a drain times out
	cancel   context.CancelFunc
	mu       sync.RWMutex // guards closed against concurrent Dispatch
	closed   bool
	laneWG   sync.WaitGroup
	taskWG   sync.WaitGroup
	shutdown sync.Once
	drainErr error
}

var _ serve.Dispatcher = (*Dispatcher)(nil)

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
	if cfg.SyncLanes == 0 {
		cfg.SyncLanes = 16
	}
	if cfg.LaneQueue == 0 {
		cfg.LaneQueue = 1024
	}
	if cfg.MaxTasks == 0 {
		cfg.MaxTasks = 256
	}
	if cfg.MaxPending == 0 {
		cfg.MaxPending = 16 * cfg.MaxTasks
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
		lanes: make([]chan *chat.Message, cfg.SyncLanes),
		slots: make(chan struct{}, cfg.MaxTasks),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(d.tasks)
	}
	d.taskCtx, d.cancel = context.WithCancel(context.Background())
	for i := range d.lanes {
		d.lanes[i] = make(chan *chat.Message, cfg.LaneQueue)
		d.laneWG.Add(1)
		go d.runLane(d.lanes[i])
	}
	return d, nil
}

// Dispatch queues msg's sync jobs on its conversation's lane and starts its
// ML jobs as background tasks. It never waits for a job.
func (d *Dispatcher) Dispatch(_ context.Context, msg *chat.Message) error {
	var sync, ml []*chat.Job
	for _, j := range d.cfg.Catalog.JobsFor(msg.Type, msg.Role) {
		if j.Class == chat.ClassML {
			ml = append(ml, j)
		} else {
			sync = append(sync, j)
		}
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return chat.ErrShuttingDown
	}
	if n := int64(len(ml)); n > 0 && d.pending.Add(n) > int64(d.cfg.MaxPending) {
		d.pending.Add(-n)
		return chat.ErrOverloaded
	}
	if len(sync) > 0 {
		select {
		case d.lanes[d.lane(msg.Conv)] <- msg:
		default:
			d.pending.Add(-int64(len(ml)))
			return chat.ErrOverloaded
		}
	}
	for _, j := range ml {
		d.taskWG.Add(1)
		d.tasks.Inc()
		go d.runTask(j, msg)
	}
	return nil
}

func (d *Dispatcher) lane(conv string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(conv))
	return int(h.Sum32() % uint32(len(d.lanes)))
}

// runLane runs the sync jobs of each message on the lane, one message at a
// time, until the lane is closed and empty.
func (d *Dispatcher) runLane(lane chan *chat.Message) {
	defer d.laneWG.Done()
	for msg := range lane {
		for _, j := range d.cfg.Catalog.JobsFor(msg.Type, msg.Role) {
			if j.Class != chat.ClassML {
				d.run(d.taskCtx, j, msg)
			}
		}
	}
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
	d.run(d.taskCtx, j, msg)
}

func (d *Dispatcher) run(parent context.Context, j *chat.Job, msg *chat.Message) {
	ctx, cancel := context.WithTimeout(parent, d.cfg.JobTimeout)
	ev := chat.RunJob(ctx, j, msg, d.cfg.Deps)
	cancel()
	d.jobs.Observe(j, ev)
	if ev.Status != chat.StatusOK {
		d.log.Warn("job failed", "job", j.Name, "msg", msg.ID, "type", msg.Type, "code", ev.ErrCode)
	}
	d.cfg.Emitter.Emit(ev)
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
		for _, l := range d.lanes {
			close(l)
		}
		d.mu.Unlock()
		done := make(chan struct{})
		go func() {
			d.laneWG.Wait()
			d.taskWG.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			d.cancel()
			<-done
			d.drainErr = ctx.Err()
		}
		d.cancel()
	})
	return d.drainErr
}
