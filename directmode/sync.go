package directmode

import (
	"context"
	"errors"
	"hash/fnv"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/obs"
	"github.com/chatbench/chatbench/socket"
)

// SyncConfig configures a SyncRunner. Zero values mean the documented
// defaults.
type SyncConfig struct {
	Catalog *chat.Catalog  // required
	Emitter socket.Emitter // required: where events go (the front door's hub)
	Deps    chat.Deps      // what handlers use
	// Lanes is the number of lanes. A conversation always maps to the same
	// lane, which keeps its sync jobs in arrival order. Zero means 16; at
	// most 4096.
	Lanes int
	// LaneQueue is each lane's queue, in messages. Zero means 1024; at most
	// 1048576.
	LaneQueue int
	// JobTimeout bounds each job. Zero means 10s.
	JobTimeout time.Duration
	// Jobs receives the job metrics; nil means unregistered ones.
	Jobs   *obs.JobMetrics
	Logger *slog.Logger // nil = discard
}

func (c *SyncConfig) validate() error {
	var errs []error
	if c.Catalog == nil {
		errs = append(errs, errors.New("directmode: Catalog is required"))
	}
	return errors.Join(append(errs,
		inRange("SyncLanes", c.Lanes, maxLanes, "16"),
		inRange("LaneQueue", c.LaneQueue, maxLaneQueue, "1024"),
		inRange("JobTimeout", c.JobTimeout, 1<<63-1, "10s"),
	)...)
}

// SyncRunner runs the sync jobs of accepted messages on the server, the
// direct path's way: in lanes, one message at a time per lane, so the sync
// jobs of one conversation run in arrival order. A message whose lane is
// idle runs at once on the goroutine that hands it over (a connection's
// reader), without a hand-off to another goroutine; one arriving while its
// lane is busy is queued, and the lane's own goroutine runs the queue once
// the job ahead of it is done. Sync jobs are quick by definition (the ML
// ones run as background tasks), so the reader is held for about as long
// as a hand-off would take; the hand-off cost 0.18 ms at the median
// (docs/performance.md, "The direct path's own overhead"). The direct
// Dispatcher runs its sync jobs with one; the queue path's hybrid gateway
// runs its sync jobs with one too, so both run them the same way. It is
// safe for concurrent use.
type SyncRunner struct {
	cfg  SyncConfig
	log  *slog.Logger
	jobs *obs.JobMetrics

	lanes  []*lane
	ctx    context.Context // cancelled when a drain times out
	cancel context.CancelFunc
	mu     sync.RWMutex // guards closed against concurrent Run
	closed bool
	inline sync.WaitGroup // messages running on their caller's goroutine
	wg     sync.WaitGroup // the lanes' goroutines
	once   sync.Once
	err    error
}

// lane is one lane: whether a message of it is running (busy), and those
// waiting behind it. Whoever set busy owns the lane — a Run running its
// message inline, or the lane's goroutine after the owner handed it over
// through wake — and only the owner runs messages of it or clears busy,
// which it does on finding queue empty; so the lane's messages run one at a
// time, in the order Run took them.
type lane struct {
	mu    sync.Mutex
	busy  bool
	queue []*chat.Message
	wake  chan struct{} // hands ownership to the lane's goroutine; closed by Shutdown
}

// NewSyncRunner checks cfg and starts the lanes. Stop it with Shutdown.
func NewSyncRunner(cfg SyncConfig) (*SyncRunner, error) {
	if err := errors.Join(cfg.validate(), requireEmitter(cfg.Emitter)); err != nil {
		return nil, err
	}
	if cfg.Lanes == 0 {
		cfg.Lanes = 16
	}
	if cfg.LaneQueue == 0 {
		cfg.LaneQueue = 1024
	}
	if cfg.JobTimeout == 0 {
		cfg.JobTimeout = 10 * time.Second
	}
	if cfg.Jobs == nil {
		cfg.Jobs = obs.NewJobMetrics(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &SyncRunner{cfg: cfg, log: cfg.Logger, jobs: cfg.Jobs, lanes: make([]*lane, cfg.Lanes)}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	for i := range r.lanes {
		l := &lane{wake: make(chan struct{}, 1)}
		r.lanes[i] = l
		r.wg.Go(func() { r.runLane(l) })
	}
	return r, nil
}

// Jobs returns the sync jobs msg triggers, in catalog order.
func (r *SyncRunner) Jobs(msg *chat.Message) []*chat.Job {
	var out []*chat.Job
	for _, j := range r.cfg.Catalog.JobsFor(msg.Type, msg.Role) {
		if j.Class != chat.ClassML {
			out = append(out, j)
		}
	}
	return out
}

// Run runs msg's sync jobs: at once, before it returns, when its
// conversation's lane is idle; else it queues them behind the lane's
// running message and returns at once. A message without sync jobs is
// neither run nor queued. It answers chat.ErrOverloaded when the lane's
// queue is full and chat.ErrShuttingDown after Shutdown began.
func (r *SyncRunner) Run(msg *chat.Message) error {
	r.mu.RLock()
	if r.closed {
		r.mu.RUnlock()
		return chat.ErrShuttingDown
	}
	jobs := r.Jobs(msg)
	if len(jobs) == 0 {
		r.mu.RUnlock()
		return nil
	}
	l := r.lanes[r.lane(msg.Conv)]
	l.mu.Lock()
	if l.busy {
		defer r.mu.RUnlock()
		defer l.mu.Unlock()
		if len(l.queue) >= r.cfg.LaneQueue {
			return chat.ErrOverloaded
		}
		l.queue = append(l.queue, msg)
		return nil
	}
	l.busy = true
	l.mu.Unlock()
	r.inline.Add(1) // before Shutdown can wait: it takes mu first
	r.mu.RUnlock()
	defer r.inline.Done()
	r.runJobs(jobs, msg)
	l.mu.Lock()
	if len(l.queue) == 0 {
		l.busy = false
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	// Messages queued behind this one: the lane's goroutine runs them, so
	// this caller (a connection's reader) goes back to its own work.
	l.wake <- struct{}{} // never blocks: only the owner sends, once per hand-over
	return nil
}

func (r *SyncRunner) lane(conv string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(conv))
	return int(h.Sum32() % uint32(len(r.lanes)))
}

// runLane runs the queue of l each time ownership is handed to it, one
// message at a time, until the queue is empty (and l idle again); it ends
// once Shutdown closed wake and the queue is run.
func (r *SyncRunner) runLane(l *lane) {
	for range l.wake {
		for {
			l.mu.Lock()
			if len(l.queue) == 0 {
				l.busy = false
				l.mu.Unlock()
				break
			}
			msg := l.queue[0]
			l.queue[0] = nil
			l.queue = l.queue[1:]
			l.mu.Unlock()
			r.runJobs(r.Jobs(msg), msg)
		}
	}
}

// runJobs runs jobs, msg's sync jobs, in order.
func (r *SyncRunner) runJobs(jobs []*chat.Job, msg *chat.Message) {
	for _, j := range jobs {
		runAndEmit(r.ctx, r.cfg.JobTimeout, j, msg, r.cfg.Deps, r.jobs, r.cfg.Emitter, r.log)
	}
}

// runAndEmit runs job j for msg within timeout, records it and emits its
// event (an error event when the job failed).
func runAndEmit(parent context.Context, timeout time.Duration, j *chat.Job, msg *chat.Message, deps chat.Deps,
	jobs *obs.JobMetrics, em socket.Emitter, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(parent, timeout)
	ev := chat.RunJob(ctx, j, msg, deps)
	cancel()
	jobs.Observe(j, ev)
	if ev.Status != chat.StatusOK {
		log.Warn("job failed", "job", j.Name, "msg", msg.ID, "type", msg.Type, "code", ev.ErrCode)
	}
	em.Emit(ev)
}

// Shutdown stops taking messages (Run answers chat.ErrShuttingDown) and
// waits for the queued jobs to run and emit. If ctx ends first, the rest
// are cancelled — they still emit, with status error — and Shutdown waits
// for them and returns ctx's error. Safe to call more than once; later
// calls wait like the first and return its result.
func (r *SyncRunner) Shutdown(ctx context.Context) error {
	r.once.Do(func() {
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		done := make(chan struct{})
		go func() {
			// Once no message runs inline, none can hand a lane over any
			// more: the lanes' goroutines run what is queued and end.
			r.inline.Wait()
			for _, l := range r.lanes {
				close(l.wake)
			}
			r.wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			r.cancel()
			<-done
			r.err = ctx.Err()
		}
		r.cancel()
	})
	return r.err
}
