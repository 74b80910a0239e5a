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
// jobs of one conversation run in arrival order and never on a
// connection's reader. The direct Dispatcher runs its sync jobs with one;
// the queue path's hybrid gateway runs its sync jobs with one too, so both
// run them the same way. It is safe for concurrent use.
type SyncRunner struct {
	cfg  SyncConfig
	log  *slog.Logger
	jobs *obs.JobMetrics

	lanes  []chan *chat.Message
	ctx    context.Context // cancelled when a drain times out
	cancel context.CancelFunc
	mu     sync.RWMutex // guards closed against concurrent Run
	closed bool
	wg     sync.WaitGroup
	once   sync.Once
	err    error
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
	r := &SyncRunner{cfg: cfg, log: cfg.Logger, jobs: cfg.Jobs, lanes: make([]chan *chat.Message, cfg.Lanes)}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	for i := range r.lanes {
		r.lanes[i] = make(chan *chat.Message, cfg.LaneQueue)
		r.wg.Add(1)
		go r.runLane(r.lanes[i])
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

// Run queues msg's sync jobs on its conversation's lane and returns at
// once; a message without sync jobs is not queued. It answers
// chat.ErrOverloaded when the lane is full and chat.ErrShuttingDown after
// Shutdown began.
func (r *SyncRunner) Run(msg *chat.Message) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return chat.ErrShuttingDown
	}
	if len(r.Jobs(msg)) == 0 {
		return nil
	}
	select {
	case r.lanes[r.lane(msg.Conv)] <- msg:
		return nil
	default:
		return chat.ErrOverloaded
	}
}

func (r *SyncRunner) lane(conv string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(conv))
	return int(h.Sum32() % uint32(len(r.lanes)))
}

// runLane runs the sync jobs of each message on the lane, one message at a
// time, until the lane is closed and empty.
func (r *SyncRunner) runLane(lane chan *chat.Message) {
	defer r.wg.Done()
	for msg := range lane {
		for _, j := range r.Jobs(msg) {
			runAndEmit(r.ctx, r.cfg.JobTimeout, j, msg, r.cfg.Deps, r.jobs, r.cfg.Emitter, r.log)
		}
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
		for _, l := range r.lanes {
			close(l)
		}
		r.mu.Unlock()
		done := make(chan struct{})
		go func() { r.wg.Wait(); close(done) }()
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
