package queuemode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/obs"
)

// WorkerConfig configures a Worker. Zero values mean the documented defaults.
type WorkerConfig struct {
	Catalog  *chat.Catalog // required
	Deps     chat.Deps     // what handlers use (the ML client)
	Client   *sqs.Client   // required
	QueueURL string        // required: the FIFO job queue
	// DLQURL is the dead-letter queue whose depth is exported as
	// chatbench_queue_dlq_depth; empty = not polled.
	DLQURL string
	Poster Poster // required: where events go
	// Pollers is the number of ReceiveMessage loops. Zero means 2.
	Pollers int
	// MaxInFlight bounds the messages being processed at once, across
	// pollers — the worker's concurrency, the counterpart of the direct
	// path's background-task bound. A poller receives only as many
	// messages as there are free slots. Zero means 256.
	MaxInFlight int
	// GroupConcurrency is how many messages of one FIFO group, received
	// in one batch, run at once: their jobs run side by side, and their
	// events are still posted, and the messages deleted, in receive
	// order, so the group's order holds. 1 runs them one after another,
	// each event posted as soon as it is ready — the legacy design, whose
	// conversation runs one ML call at a time. More lets a group whose
	// messages arrive faster than one job takes (a slow model behind a fast
	// writer) keep up without giving up order (worker_chain.go). Zero
	// means 1; at most 10, the most one receive returns.
	GroupConcurrency int
	// JobTimeout bounds each job. Zero means 10s.
	JobTimeout time.Duration
	// VisibilityTimeout is asked for on every receive and renewed every half
	// of it (the heartbeat) while the worker holds a message — running its
	// jobs or waiting its turn behind its group's earlier ones — so it may
	// be shorter than JobTimeout: a short one brings a dead worker's
	// messages back soon (docs/reliability.md). Zero means 30s (or
	// JobTimeout + 5s if that is more); at least 2s (a heartbeat a second),
	// at most 12h (SQS's limit). Whole seconds.
	VisibilityTimeout time.Duration
	// WaitTime is the long-poll wait. Zero means 20s, the most SQS allows.
	WaitTime time.Duration
	// CallTimeout bounds SQS calls other than the long poll. Zero means 5s.
	CallTimeout time.Duration
	// DLQPoll is how often the DLQ depth is read. Zero means 5s.
	DLQPoll time.Duration
	// Recreate, when set, is how the queues were set up: when SQS says the
	// job queue or the DLQ does not exist (an endpoint that restarted
	// empty), the worker creates them again, with backoff between failed
	// attempts, logs it and carries on. Nil: it keeps retrying its
	// receives until someone else creates them.
	Recreate *QueueSpec
	// BatchDeletes deletes processed messages in DeleteMessageBatch calls
	// of those ready together (worker_delete.go) instead of one
	// DeleteMessage each.
	BatchDeletes bool
	// Metrics receives the queue metrics; nil means NewMetrics(Registerer).
	Metrics *Metrics
	// Jobs receives the job metrics; nil means obs.NewJobMetrics(Registerer,
	// Catalog.Jobs()...).
	// A process that runs jobs elsewhere too (a hybrid gateway with embedded
	// workers) shares one.
	Jobs *obs.JobMetrics
	// Registerer receives the job metrics (when Jobs is nil) and, when
	// Metrics is nil, the queue metrics. Nil = not registered.
	Registerer prometheus.Registerer
	Logger     *slog.Logger // nil = discard
}

// validate reports every value of c that is missing or out of range.
func (c *WorkerConfig) validate() error {
	var errs []error
	if c.Catalog == nil || c.Client == nil || c.QueueURL == "" || c.Poster == nil {
		errs = append(errs, errors.New("queuemode: WorkerConfig.Catalog, Client, QueueURL and Poster are required"))
	}
	return errors.Join(append(errs,
		notNegative("WorkerConfig.Pollers", c.Pollers, "2"),
		notNegative("WorkerConfig.MaxInFlight", c.MaxInFlight, "256"),
		notNegative("WorkerConfig.GroupConcurrency", c.GroupConcurrency, "1"),
		atMost("WorkerConfig.GroupConcurrency", c.GroupConcurrency, maxBatchEntries, "the most messages one receive returns"),
		notNegative("WorkerConfig.JobTimeout", c.JobTimeout, "10s"),
		notNegative("WorkerConfig.VisibilityTimeout", c.VisibilityTimeout, "30s, or JobTimeout + 5s if that is more"),
		atMost("WorkerConfig.VisibilityTimeout", c.VisibilityTimeout, maxVisibility, "SQS's limit"),
		notNegative("WorkerConfig.WaitTime", c.WaitTime, "20s"),
		atMost("WorkerConfig.WaitTime", c.WaitTime, maxWaitTime, "SQS's longest long poll"),
		notNegative("WorkerConfig.CallTimeout", c.CallTimeout, "5s"),
		notNegative("WorkerConfig.DLQPoll", c.DLQPoll, "5s"),
	)...)
}

// Worker consumes the job queue: each poller long-polls for up to 10
// messages (as many as MaxInFlight leaves free) and hands them on without
// waiting for them; each is run with chat.RunJob (the same handlers as the
// direct path), its event posted to the gateway, and the message deleted
// only after the gateway accepted it. Messages of one FIFO group in a
// receive are posted and deleted in receive order — run one after another,
// or up to GroupConcurrency side by side (worker_chain.go) — and SQS
// delivers no further message of a group while one is in flight, so with
// the defaults a group's jobs run one at a time, in order. A message that
// fails (the handler panicked, the gateway refused) is left for
// redelivery, and the rest of its group in that batch with it, so order
// holds; after maxReceiveCount receives SQS moves it to the DLQ.
type Worker struct {
	cfg  WorkerConfig
	log  *slog.Logger
	m    *Metrics
	jobs *obs.JobMetrics
	rec  *recreator // nil without cfg.Recreate

	pollCtx    context.Context // ends when Shutdown begins: stop receiving
	stopPoll   context.CancelFunc
	workCtx    context.Context // ends when a Shutdown's ctx ends: abandon jobs
	cancelWork context.CancelFunc
	wg         sync.WaitGroup // pollers, the DLQ watcher and group chains
	slots      chan struct{}  // one per message in flight
	// deletes feeds the deleter with BatchDeletes (nil otherwise); it is
	// closed once every chain has finished, and deleterDone then closes.
	deletes     chan deleteReq
	deleterDone chan struct{}
	once        sync.Once
	err         error
}

// StartWorker checks cfg and starts the pollers (and the DLQ depth poller).
// Stop it with Shutdown.
func StartWorker(cfg WorkerConfig) (*Worker, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Pollers == 0 {
		cfg.Pollers = 2
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 256
	}
	if cfg.GroupConcurrency == 0 {
		cfg.GroupConcurrency = 1
	}
	if cfg.JobTimeout == 0 {
		cfg.JobTimeout = 10 * time.Second
	}
	if cfg.VisibilityTimeout == 0 {
		cfg.VisibilityTimeout = max(30*time.Second, cfg.JobTimeout+5*time.Second)
	}
	cfg.VisibilityTimeout = time.Duration(seconds(cfg.VisibilityTimeout)) * time.Second
	if cfg.VisibilityTimeout < minVisibility {
		return nil, fmt.Errorf("queuemode: WorkerConfig.VisibilityTimeout is %v: must be at least %v (the heartbeat renews it every half of it)", cfg.VisibilityTimeout, minVisibility)
	}
	if cfg.WaitTime == 0 {
		cfg.WaitTime = 20 * time.Second
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 5 * time.Second
	}
	if cfg.DLQPoll == 0 {
		cfg.DLQPoll = 5 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(cfg.Registerer)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Jobs == nil {
		cfg.Jobs = obs.NewJobMetrics(cfg.Registerer, cfg.Catalog.Jobs()...)
	}
	w := &Worker{cfg: cfg, log: cfg.Logger, m: cfg.Metrics, jobs: cfg.Jobs,
		slots: make(chan struct{}, cfg.MaxInFlight),
		rec:   newRecreator(cfg.Client, cfg.Recreate, cfg.QueueURL, "worker", cfg.Logger, cfg.Metrics)}
	w.pollCtx, w.stopPoll = context.WithCancel(context.Background())
	w.workCtx, w.cancelWork = context.WithCancel(context.Background())
	if cfg.BatchDeletes {
		w.deletes, w.deleterDone = make(chan deleteReq, cfg.MaxInFlight), make(chan struct{})
		go w.runDeleter()
	}
	for range cfg.Pollers {
		w.wg.Add(1)
		go w.poll()
	}
	if cfg.DLQURL != "" {
		w.wg.Add(1)
		go w.watchDLQ()
	}
	return w, nil
}

// Shutdown stops receiving (an outstanding long poll is cancelled), lets
// in-flight jobs finish, post and delete, and waits for every goroutine.
// When ctx ends first, in-flight jobs are abandoned without posting or
// deleting — SQS redelivers them after the visibility timeout — and ctx's
// error is returned. Safe to call more than once; later calls wait like the
// first and return its result.
func (w *Worker) Shutdown(ctx context.Context) error {
	w.once.Do(func() {
		w.stopPoll()
		done := make(chan struct{})
		go func() { w.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			w.cancelWork()
			<-done
			w.err = ctx.Err()
		}
		w.cancelWork()
		if w.deletes != nil {
			// Every chain has finished: no delete can come any more.
			close(w.deletes)
			<-w.deleterDone
		}
	})
	return w.err
}

// poll is one receive loop.
func (w *Worker) poll() {
	defer w.wg.Done()
	backoff := 100 * time.Millisecond
	for w.pollCtx.Err() == nil {
		n := w.acquire()
		if n == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(w.pollCtx, w.cfg.WaitTime+w.cfg.CallTimeout)
		start := time.Now()
		out, err := w.cfg.Client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(w.cfg.QueueURL),
			MaxNumberOfMessages: int32(n),
			WaitTimeSeconds:     int32(seconds(w.cfg.WaitTime)),
			VisibilityTimeout:   int32(seconds(w.cfg.VisibilityTimeout)),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{
				types.MessageSystemAttributeNameApproximateReceiveCount,
				types.MessageSystemAttributeNameMessageGroupId,
			},
		})
		cancel()
		if err != nil || w.pollCtx.Err() != nil {
			w.release(n)
		} else {
			w.release(n - len(out.Messages))
		}
		if w.pollCtx.Err() != nil {
			// Shutting down. Anything received in this call stays
			// invisible until its visibility timeout and is redelivered.
			return
		}
		w.m.observe("ReceiveMessage", start, err)
		if err != nil && w.rec.recover(w.pollCtx, err) {
			// The endpoint lost the queue, and with it the messages
			// this worker held; receive from the new one at once.
			backoff = 100 * time.Millisecond
			continue
		}
		if err != nil {
			w.log.Warn("receive failed", "err", err, "retry_in", backoff)
			select {
			case <-w.pollCtx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		w.processBatch(out.Messages)
	}
}

// acquire waits for one free in-flight slot and takes up to 9 more that are
// free at once; it returns how many it took (0 when polling stops).
func (w *Worker) acquire() int {
	select {
	case w.slots <- struct{}{}:
	case <-w.pollCtx.Done():
		return 0
	}
	n := 1
	for n < 10 {
		select {
		case w.slots <- struct{}{}:
			n++
			continue
		default:
		}
		break
	}
	return n
}

func (w *Worker) release(n int) {
	for range n {
		<-w.slots
	}
}

// processBatch starts one receive's messages without waiting for them:
// groups in parallel, each group sequentially in receive order, stopping at
// a group's first failure. Each message's slot is released when it is done.
func (w *Worker) processBatch(msgs []types.Message) {
	var order []string
	groups := map[string][]types.Message{}
	for i, m := range msgs {
		g, ok := m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]
		if !ok || g == "" {
			// No group (a standard queue): nothing orders it after the
			// others, so it runs on its own.
			g = "\x00" + strconv.Itoa(i)
		}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], m)
	}
	w.m.JobsInFlight.Add(float64(len(msgs)))
	for _, g := range order {
		w.wg.Add(1)
		go func(ms []types.Message) {
			defer w.wg.Done()
			// Every message of the chain is kept invisible while it waits
			// its turn, not only the one running: with a short visibility
			// timeout a waiting message would otherwise reappear and run
			// twice, out of order.
			hb := w.startHeartbeat(ms)
			defer hb.stop()
			w.runChain(ms, hb)
		}(groups[g])
	}
}

// process runs one queue message and reports whether it was deleted. A
// message that is not deleted (undecodable, unknown job, handler panic,
// gateway refusal, hard shutdown) becomes visible again after the visibility
// timeout and, after maxReceiveCount receives, moves to the DLQ.
func (w *Worker) process(m types.Message) bool {
	p, ok := w.prepare(m)
	if !ok {
		return false
	}
	// The jobs of one queue message (those of one group: the legacy
	// design's whole message) run one after another, each event posted as
	// soon as it is ready, as if each were its own queue message.
	for _, j := range p.jobs {
		ev, ok := w.runJob(j, p)
		if !ok || !w.post(j, p, ev) {
			return false
		}
	}
	return w.deleteProcessed(m, p)
}

// prepared is a received queue message, decoded, with its jobs.
type prepared struct {
	mid  string // SQS's message id, for the logs
	msg  *chat.Message
	jobs []*chat.Job
}

// prepare decodes a received message; false means it is left for the DLQ
// (or the worker is stopping).
func (w *Worker) prepare(m types.Message) (*prepared, bool) {
	if w.workCtx.Err() != nil {
		return nil, false
	}
	dequeued := chat.NowMicros()
	mid := aws.ToString(m.MessageId)
	if n, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]); n > 1 {
		w.m.Redeliveries.Inc()
	}
	msg, names, err := decodeEnvelope(aws.ToString(m.Body))
	if err != nil {
		w.log.Error("undecodable queue message left for the DLQ", "sqs_id", mid, "err", err)
		return nil, false
	}
	jobs := make([]*chat.Job, len(names))
	for i, name := range names {
		if jobs[i] = w.cfg.Catalog.Job(name); jobs[i] == nil {
			w.log.Error("queue message names an unknown job; left for the DLQ", "sqs_id", mid, "job", name)
			return nil, false
		}
	}
	msg.Hops.Dequeued = dequeued
	return &prepared{mid: mid, msg: msg, jobs: jobs}, true
}

// deleteProcessed deletes m once the gateway has all its events.
func (w *Worker) deleteProcessed(m types.Message, p *prepared) bool {
	// The gateway has the events: delete even during a hard shutdown.
	if err := w.deleteMessage(m.ReceiptHandle); err != nil {
		// The gateway deduplicates the redelivery's events.
		w.log.Warn("delete failed; the jobs will run again", "jobs", len(p.jobs), "msg", p.msg.ID, "err", err)
		return false
	}
	return true
}

// runJob runs job j of p; false means the handler panicked (the message
// is left for redelivery).
func (w *Worker) runJob(j *chat.Job, p *prepared) (*chat.Event, bool) {
	ev, err := w.run(j, p.msg)
	if err != nil {
		w.log.Error("job panicked; message left for redelivery", "job", j.Name, "msg", p.msg.ID, "sqs_id", p.mid, "err", err)
		return nil, false
	}
	w.jobs.Observe(j, ev)
	return ev, true
}

// post posts ev, job j's event for p, to the gateway and reports whether
// it was accepted.
func (w *Worker) post(j *chat.Job, p *prepared, ev *chat.Event) bool {
	if w.workCtx.Err() != nil {
		return false // abandoned by a hard shutdown: let SQS redeliver
	}
	pctx, cancel := context.WithTimeout(w.workCtx, w.cfg.CallTimeout)
	err := w.cfg.Poster.Post(pctx, []*chat.Event{ev})
	cancel()
	if err != nil {
		w.log.Warn("posting events failed; message left for redelivery", "job", j.Name, "msg", p.msg.ID, "err", err)
		return false
	}
	return true
}

// run runs the job with the job timeout, turning a handler panic into an
// error.
func (w *Worker) run(j *chat.Job, msg *chat.Message) (ev *chat.Event, err error) {
	defer func() {
		if r := recover(); r != nil {
			ev, err = nil, fmt.Errorf("handler panic: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(w.workCtx, w.cfg.JobTimeout)
	defer cancel()
	return chat.RunJob(ctx, j, msg, w.cfg.Deps), nil
}

// heartbeat keeps a chain's messages invisible while the chain holds
// them: every half visibility timeout it extends the visibility of those
// not yet done, until stop.
type heartbeat struct {
	mu     sync.Mutex
	ms     []types.Message // the chain's messages not yet done, in order
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startHeartbeat starts the heartbeat of a chain of messages.
func (w *Worker) startHeartbeat(ms []types.Message) *heartbeat {
	ctx, cancel := context.WithCancel(w.workCtx)
	h := &heartbeat{ms: ms, cancel: cancel}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		w.beat(ctx, h)
	}()
	return h
}

// done stops extending the first n messages still held (done with, or
// given up).
func (h *heartbeat) done(n int) {
	h.mu.Lock()
	h.ms = h.ms[min(n, len(h.ms)):]
	h.mu.Unlock()
}

// stop ends the heartbeat and waits for it.
func (h *heartbeat) stop() {
	h.cancel()
	h.wg.Wait()
}

// beat extends the visibility of h's messages every half visibility
// timeout until ctx ends.
func (w *Worker) beat(ctx context.Context, h *heartbeat) {
	t := time.NewTicker(w.cfg.VisibilityTimeout / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		held := slices.Clone(h.ms)
		h.mu.Unlock()
		for start := 0; start < len(held); start += maxBatchEntries {
			w.extend(ctx, held[start:min(start+maxBatchEntries, len(held))])
		}
	}
}

// extend sets the visibility of up to 10 messages to the visibility
// timeout from now.
func (w *Worker) extend(ctx context.Context, ms []types.Message) {
	entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(ms))
	for i, m := range ms {
		entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle,
			VisibilityTimeout: int32(seconds(w.cfg.VisibilityTimeout)),
		}
	}
	cctx, cancel := context.WithTimeout(ctx, w.cfg.CallTimeout)
	start := time.Now()
	out, err := w.cfg.Client.ChangeMessageVisibilityBatch(cctx, &sqs.ChangeMessageVisibilityBatchInput{
		QueueUrl: aws.String(w.cfg.QueueURL), Entries: entries,
	})
	cancel()
	if ctx.Err() != nil {
		return
	}
	w.m.observe("ChangeMessageVisibilityBatch", start, err)
	switch {
	case err != nil:
		w.log.Warn("extending visibility failed", "messages", len(ms), "err", err)
	case len(out.Failed) > 0:
		// A message deleted meanwhile is no longer in flight: harmless.
		w.log.Debug("extending visibility refused for some messages", "failed", len(out.Failed), "code", aws.ToString(out.Failed[0].Code))
	}
}

// watchDLQ exports the DLQ depth every DLQPoll until polling stops.
func (w *Worker) watchDLQ() {
	defer w.wg.Done()
	t := time.NewTicker(w.cfg.DLQPoll)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(w.pollCtx, w.cfg.CallTimeout)
		start := time.Now()
		out, err := w.cfg.Client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl:       aws.String(w.cfg.DLQURL),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages},
		})
		cancel()
		if w.pollCtx.Err() != nil {
			return
		}
		w.m.observe("GetQueueAttributes", start, err)
		w.rec.recover(w.pollCtx, err)
		if err == nil {
			if n, perr := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)]); perr == nil {
				w.m.DLQDepth.Set(float64(n))
			}
		}
		select {
		case <-w.pollCtx.Done():
			return
		case <-t.C:
		}
	}
}
