package queuemode

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/internal/ttlset"
	"github.com/chatbench/chatbench/socket"
)

// GroupBy says which of a message's queued jobs share an SQS FIFO message
// group — and so run one at a time, in order — and travel in one queue
// message.
type GroupBy string

const (
	// GroupConversation is the legacy design: one group per conversation;
	// a message's jobs travel in one queue message and run one after
	// another, behind every earlier job of the conversation.
	GroupConversation GroupBy = "conversation"
	// GroupJob is one group per conversation and job: each job's events
	// keep the order of the messages, and no job waits behind another
	// job's (ML) call.
	GroupJob GroupBy = "job"
	// GroupMessage is one group per message and job: no order across
	// messages (as the direct path's background tasks), FIFO only for its
	// 5-minute deduplication of sends.
	GroupMessage GroupBy = "message"
)

// GroupByNames lists the GroupBy values, the default first.
func GroupByNames() []string {
	return []string{string(GroupConversation), string(GroupJob), string(GroupMessage)}
}

// ParseGroupBy returns the GroupBy named s ("" = GroupConversation).
func ParseGroupBy(s string) (GroupBy, error) {
	switch g := GroupBy(s); g {
	case "":
		return GroupConversation, nil
	case GroupConversation, GroupJob, GroupMessage:
		return g, nil
	}
	return "", fmt.Errorf("group-by %q: use one of %s", s, strings.Join(GroupByNames(), ", "))
}

// SQS's message size quota (AWS SQS API Reference, SendMessage and
// SendMessageBatch: "The maximum allowed individual message size and the
// maximum total payload size ... are both 1 MiB"; docs/methodology.md
// cites the pages).
const (
	// DefaultMaxMessageBytes is the largest message body SQS takes.
	DefaultMaxMessageBytes = 1 << 20
	// maxBatchBytes bounds the bodies of one SendMessageBatch together.
	maxBatchBytes = 1 << 20
	// maxBatchEntries is the most entries of one SendMessageBatch.
	maxBatchEntries = 10
)

// DispatcherConfig configures a Dispatcher. Zero values mean the documented
// defaults.
type DispatcherConfig struct {
	Catalog  *chat.Catalog // required
	Client   *sqs.Client   // required
	QueueURL string        // required: the job queue, from Setup
	// Standard says QueueURL is a standard queue (Queues.FIFO false):
	// messages carry no group and no deduplication id, and every job is
	// its own queue message.
	Standard bool
	// GroupBy groups a FIFO queue's jobs. Zero means GroupConversation.
	// Ignored on a standard queue.
	GroupBy GroupBy
	// MaxMessageBytes is the largest queue message body the job queue
	// takes (Queues.MaxMessageSize). Zero means DefaultMaxMessageBytes; at
	// most that.
	MaxMessageBytes int
	// Inline, when set, runs each message's sync jobs at the gateway — the
	// direct path's lanes — and queues only its ML jobs: the hybrid design.
	// The gateway builds it (GatewayConfig.InlineSync); the Dispatcher
	// shuts it down.
	Inline *directmode.SyncRunner
	// CallTimeout bounds each SQS call, SDK retries included. Zero means 5s.
	CallTimeout time.Duration
	// BatchRetries is how often entries a batch send refused are sent again
	// before Dispatch fails. Zero means 2.
	BatchRetries int
	// MaxConvOutstanding bounds a conversation's outstanding messages:
	// accepted, with queued jobs not all answered yet (their events back
	// through the callback, Dispatcher.Answered). Beyond it a send is
	// refused with the retryable overloaded, before it is relayed. Zero
	// means DefaultMaxConvOutstanding; negative, no bound.
	MaxConvOutstanding int
	// MaxUserOutstanding bounds a sender's outstanding messages over all
	// its conversations, as MaxConvOutstanding. Zero means
	// DefaultMaxUserOutstanding; negative, no bound.
	MaxUserOutstanding int
	// OutstandingTTL is how long a message counts as outstanding when not
	// all its events come back (a job left for the DLQ). Zero means
	// DefaultOutstandingTTL.
	OutstandingTTL time.Duration
	Metrics        *Metrics     // nil = unregistered metrics
	Logger         *slog.Logger // nil = discard
}

// Dispatcher sends the jobs a message triggers to the job queue, one queue
// message per group of jobs (GroupBy): the envelope holds the message's
// body once however many jobs travel in it, encoded so that any body
// survives SQS's character rules (envelope.go). On a FIFO queue the
// MessageDeduplicationId is derived from sender, message id and jobs (a
// resent frame is not queued twice within SQS's 5-minute window). It
// bounds the messages outstanding per conversation and per sender
// (DispatcherConfig.MaxConvOutstanding; outstanding.go). It implements
// socket.Dispatcher and socket.Admitter and is safe for concurrent use.
type Dispatcher struct {
	cfg DispatcherConfig
	log *slog.Logger
	m   *Metrics

	// syncRan remembers, in the hybrid design, the messages whose sync jobs
	// were handed to Inline, so that a resend after a refused queue send
	// does not run them twice.
	syncRan *ttlset.Set[msgKey, bool]
	// backlog counts the messages whose jobs are not answered yet.
	backlog *outstanding

	mu       sync.RWMutex // guards closed against concurrent Dispatch
	closed   bool
	inflight sync.WaitGroup
}

// msgKey names one accepted message.
type msgKey struct{ from, id string }

var (
	_ socket.Dispatcher = (*Dispatcher)(nil)
	_ socket.Admitter   = (*Dispatcher)(nil)
)

// validate reports every value of c that is missing or out of range.
func (c *DispatcherConfig) validate() error {
	var errs []error
	if c.Catalog == nil || c.Client == nil || c.QueueURL == "" {
		errs = append(errs, errors.New("queuemode: DispatcherConfig.Catalog, Client and QueueURL are required"))
	}
	if _, err := ParseGroupBy(string(c.GroupBy)); err != nil {
		errs = append(errs, fmt.Errorf("queuemode: DispatcherConfig.GroupBy: %w", err))
	}
	return errors.Join(append(errs,
		notNegative("DispatcherConfig.CallTimeout", c.CallTimeout, "5s"),
		notNegative("DispatcherConfig.BatchRetries", c.BatchRetries, "2"),
		notNegative("DispatcherConfig.MaxMessageBytes", c.MaxMessageBytes, "1 MiB"),
		notNegative("DispatcherConfig.OutstandingTTL", c.OutstandingTTL, DefaultOutstandingTTL.String()),
		atMost("DispatcherConfig.MaxMessageBytes", c.MaxMessageBytes, DefaultMaxMessageBytes, "SQS's limit"),
	)...)
}

// NewDispatcher checks cfg and returns a Dispatcher.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.GroupBy, _ = ParseGroupBy(string(cfg.GroupBy))
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 5 * time.Second
	}
	if cfg.BatchRetries == 0 {
		cfg.BatchRetries = 2
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg.MaxConvOutstanding = cmp.Or(cfg.MaxConvOutstanding, DefaultMaxConvOutstanding)
	cfg.MaxUserOutstanding = cmp.Or(cfg.MaxUserOutstanding, DefaultMaxUserOutstanding)
	cfg.OutstandingTTL = cmp.Or(cfg.OutstandingTTL, DefaultOutstandingTTL)
	d := &Dispatcher{cfg: cfg, log: cfg.Logger, m: cfg.Metrics,
		backlog: newOutstanding(cfg.MaxConvOutstanding, cfg.MaxUserOutstanding, cfg.OutstandingTTL, cfg.Metrics)}
	if cfg.Inline != nil {
		d.syncRan = ttlset.New[msgKey, bool](ttlset.Config{TTL: socket.RelayWindow, MaxKeys: 200000})
	}
	return d, nil
}

// DedupID is the MessageDeduplicationId of the queue message carrying job
// (several jobs joined by "+") for the message with id from sender: hex
// SHA-256 of from + "/" + id + "/" + job (64 characters).
func DedupID(from, id, job string) string {
	sum := sha256.Sum256([]byte(from + "/" + id + "/" + job))
	return hex.EncodeToString(sum[:])
}

// fifoID matches what SQS takes as a MessageGroupId: 1 to 128 alphanumeric
// or punctuation characters.
var fifoID = regexp.MustCompile("^[A-Za-z0-9!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~]{1,128}$")

// groupID returns parts joined by "/" as a MessageGroupId, or, when that
// is not one SQS takes (a conversation id with other characters, or too
// long), "sha256-" and its hex SHA-256.
func groupID(parts ...string) string {
	s := strings.Join(parts, "/")
	if fifoID.MatchString(s) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + hex.EncodeToString(sum[:])
}

// queued returns the jobs of msg that go through the queue: all, or with
// Inline its ML jobs.
func (d *Dispatcher) queued(msg *chat.Message) []*chat.Job {
	jobs := d.cfg.Catalog.JobsFor(msg.Type, msg.Role)
	if d.cfg.Inline == nil {
		return jobs
	}
	var ml []*chat.Job
	for _, j := range jobs {
		if j.Class == chat.ClassML {
			ml = append(ml, j)
		}
	}
	return ml
}

// bundled reports whether all of a message's queued jobs travel in one
// queue message.
func (d *Dispatcher) bundled() bool { return !d.cfg.Standard && d.cfg.GroupBy == GroupConversation }

// split returns the job names of each queue message msg needs for jobs,
// and each one's MessageGroupId ("" on a standard queue).
func (d *Dispatcher) split(msg *chat.Message, jobs []*chat.Job) (names [][]string, groups []string) {
	if d.bundled() {
		return [][]string{jobNames(jobs)}, []string{groupID(msg.Conv)}
	}
	for _, j := range jobs {
		names = append(names, []string{j.Name})
		switch {
		case d.cfg.Standard:
			groups = append(groups, "")
		case d.cfg.GroupBy == GroupJob:
			groups = append(groups, groupID(msg.Conv, j.Name))
		default:
			groups = append(groups, DedupID(msg.From, msg.ID, j.Name))
		}
	}
	return names, groups
}

// entries encodes the queue messages carrying m's jobs; a message too large
// for the queue is refused for good.
func (d *Dispatcher) entries(m *chat.Message, jobs []*chat.Job) ([]types.SendMessageBatchRequestEntry, error) {
	names, groups := d.split(m, jobs)
	out := make([]types.SendMessageBatchRequestEntry, 0, len(names))
	for i, js := range names {
		body, err := encodeEnvelope(m, js)
		if err != nil {
			return nil, err
		}
		if len(body) > d.cfg.MaxMessageBytes {
			return nil, d.tooLarge(m, len(body))
		}
		e := types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body))}
		if !d.cfg.Standard {
			e.MessageGroupId = aws.String(groups[i])
			e.MessageDeduplicationId = aws.String(DedupID(m.From, m.ID, strings.Join(js, "+")))
		}
		out = append(out, e)
	}
	return out, nil
}

// tooLarge is the permanent refusal of m, whose queue message would take
// size bytes.
func (d *Dispatcher) tooLarge(m *chat.Message, size int) error {
	return chat.Errorf(chat.CodeTooLarge, m.ID,
		"this path carries at most %d bytes per job queue message; your %d-byte body needs %d: send a shorter body (resending it cannot succeed)",
		d.cfg.MaxMessageBytes, len(m.Body), size)
}

// Admit refuses, before the front door relays it, a message whose jobs
// cannot be queued: it returns a *chat.ProtocolError with code
// message_too_large when the largest queue message msg needs exceeds the
// queue's limit (MaxMessageBytes), or with the retryable overloaded when
// its conversation or sender has as many messages outstanding as allowed
// (MaxConvOutstanding, MaxUserOutstanding); nil otherwise. It sends
// nothing.
func (d *Dispatcher) Admit(msg *chat.Message) error {
	jobs := d.queued(msg)
	if len(jobs) == 0 {
		return nil
	}
	if err := d.backlog.check(msg, time.Now()); err != nil {
		return err
	}
	m := *msg
	m.Hops.Enqueued = chat.NowMicros() // as long as the stamp Dispatch sets
	names, _ := d.split(&m, jobs)
	largest := names[0]
	for _, js := range names[1:] {
		if len(strings.Join(js, "")) > len(strings.Join(largest, "")) {
			largest = js
		}
	}
	body, err := encodeEnvelope(&m, largest)
	if err != nil {
		return err
	}
	if len(body) > d.cfg.MaxMessageBytes {
		return d.tooLarge(&m, len(body))
	}
	return nil
}

// Dispatch stamps msg's enqueued hop and sends the queue messages of the
// jobs it triggers (with Inline: hands its sync jobs to the lanes first,
// then queues its ML jobs); it returns nil only when SQS accepted every
// one. A message with queued jobs counts as outstanding until their events
// are back (Answered); beyond the bounds a send is refused with
// overloaded, as Admit does (joins and leaves are counted, never refused). A message too large for the queue, or one SQS refuses as invalid,
// gets a permanent *chat.ProtocolError (message_too_large,
// queue_rejected); when SQS stays unreachable the error wraps
// chat.ErrUnavailable. A message that triggers no queued job is accepted
// without an SQS call.
func (d *Dispatcher) Dispatch(ctx context.Context, msg *chat.Message) error {
	jobs := d.queued(msg)
	d.mu.RLock()
	if d.closed {
		d.mu.RUnlock()
		return chat.ErrShuttingDown
	}
	d.inflight.Add(1)
	d.mu.RUnlock()
	defer d.inflight.Done()
	if len(jobs) > 0 {
		// Counted before anything runs or is sent: a refusal leaves nothing
		// done, and an event that comes back at once finds its record.
		force := msg.Type == chat.OpJoin || msg.Type == chat.OpLeave
		if err := d.backlog.take(msg, jobNames(jobs), force, time.Now()); err != nil {
			return err
		}
	}
	err := d.dispatch(ctx, msg, jobs)
	if err != nil && len(jobs) > 0 {
		d.backlog.drop(msg.From, msg.ID)
	}
	return err
}

// Answered tells the dispatcher that the event of job for the message id
// from sender from came back (the callback emitted it, with status ok or
// error): the message stops counting as outstanding once all its queued
// jobs are answered. Events it does not know of are ignored. The gateway's
// callback calls it (CallbackConfig.Answered).
func (d *Dispatcher) Answered(from, id, job string) { d.backlog.answered(from, id, job) }

// jobNames returns the names of jobs.
func jobNames(jobs []*chat.Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.Name
	}
	return out
}

// dispatch is Dispatch once msg is counted: the inline sync jobs, then the
// queue messages of jobs.
func (d *Dispatcher) dispatch(ctx context.Context, msg *chat.Message, jobs []*chat.Job) error {
	if d.cfg.Inline != nil {
		// Sync jobs first, as on the direct path: they do not wait for the
		// queue's round trip.
		if err := d.runInline(msg, len(jobs) > 0); err != nil {
			return err
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	m := *msg
	m.Hops.Enqueued = chat.NowMicros()
	entries, err := d.entries(&m, jobs)
	if err != nil {
		return err
	}
	if len(entries) == 1 {
		return d.sendOne(ctx, m.ID, entries[0])
	}
	// Entries go in order (FIFO order within a group), packed into batches
	// of at most 10 whose bodies together fit SQS's batch limit.
	limit := min(d.cfg.MaxMessageBytes, maxBatchBytes)
	for start := 0; start < len(entries); {
		end, total := start, 0
		for end < len(entries) && end-start < maxBatchEntries {
			n := len(aws.ToString(entries[end].MessageBody))
			if end > start && total+n > limit {
				break
			}
			total += n
			end++
		}
		if err := d.sendBatch(ctx, m.ID, entries[start:end]); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// runInline hands msg's sync jobs to the lanes, unless a refused earlier
// attempt of the same message already did. queuedToo says ML jobs follow:
// only then can the attempt still fail, so only then is it remembered.
func (d *Dispatcher) runInline(msg *chat.Message, queuedToo bool) error {
	k := msgKey{msg.From, msg.ID}
	now := time.Now()
	if ran, _ := d.syncRan.Get(k, now); ran {
		return nil
	}
	if err := d.cfg.Inline.Run(msg); err != nil {
		return err
	}
	if queuedToo && len(d.cfg.Inline.Jobs(msg)) > 0 {
		d.syncRan.Put(k, true, now)
	}
	return nil
}

func (d *Dispatcher) sendOne(ctx context.Context, ref string, e types.SendMessageBatchRequestEntry) error {
	cctx, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout)
	defer cancel()
	start := time.Now()
	_, err := d.cfg.Client.SendMessage(cctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(d.cfg.QueueURL), MessageBody: e.MessageBody,
		MessageGroupId: e.MessageGroupId, MessageDeduplicationId: e.MessageDeduplicationId,
	})
	d.m.observe("SendMessage", start, err)
	if err != nil {
		return refusal(ref, "SendMessage", err)
	}
	return nil
}

// sendBatch sends up to 10 entries, resending those SQS refused for a
// passing cause.
func (d *Dispatcher) sendBatch(ctx context.Context, ref string, entries []types.SendMessageBatchRequestEntry) error {
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout)
		start := time.Now()
		out, err := d.cfg.Client.SendMessageBatch(cctx, &sqs.SendMessageBatchInput{
			QueueUrl: aws.String(d.cfg.QueueURL), Entries: entries,
		})
		cancel()
		d.m.observe("SendMessageBatch", start, err)
		if err != nil {
			return refusal(ref, "SendMessageBatch", err)
		}
		if len(out.Failed) == 0 {
			return nil
		}
		failed := make(map[string]bool, len(out.Failed))
		for _, f := range out.Failed {
			code := aws.ToString(f.Code)
			if f.SenderFault && permanent(code) {
				return chat.Errorf(chat.CodeQueueRejected, ref,
					"the job queue refused the message (SQS %s); resending it cannot succeed", code)
			}
			failed[aws.ToString(f.Id)] = true
		}
		d.log.Warn("sqs refused batch entries", "failed", len(out.Failed), "of", len(entries),
			"code", aws.ToString(out.Failed[0].Code), "attempt", attempt+1)
		if attempt >= d.cfg.BatchRetries {
			return fmt.Errorf("%w: SendMessageBatch: %d entries refused (%s)", chat.ErrUnavailable,
				len(out.Failed), aws.ToString(out.Failed[0].Code))
		}
		var again []types.SendMessageBatchRequestEntry
		for _, e := range entries {
			if failed[aws.ToString(e.Id)] {
				again = append(again, e)
			}
		}
		entries = again
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", chat.ErrUnavailable, ctx.Err())
		case <-time.After(time.Duration(50*(attempt+1)) * time.Millisecond):
		}
	}
}

// permanent reports whether an SQS error code refuses a send for what it
// is, not for the moment it was made: the same request is refused again.
// SQS reports each by its legacy code (the x-amzn-query-error header, what
// the SDK's ErrorCode returns, some with an "AWS.SimpleQueueService."
// prefix) or by its current name.
func permanent(code string) bool {
	switch strings.TrimPrefix(code, "AWS.SimpleQueueService.") {
	case "InvalidMessageContents", "InvalidParameterValue", "InvalidParameterValueException",
		"BatchRequestTooLong", "InvalidBatchEntryId", "BatchEntryIdsNotDistinct":
		return true
	}
	return false
}

// refusal turns a failed send call into what the client is told: a
// permanent queue_rejected for a request SQS refuses as invalid, the
// retryable unavailable (chat.ErrUnavailable) for anything else — SQS
// unreachable, throttling, a server error.
func refusal(ref, op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorFault() != smithy.FaultServer && permanent(ae.ErrorCode()) {
		return chat.Errorf(chat.CodeQueueRejected, ref,
			"the job queue refused the message (SQS %s); resending it cannot succeed", ae.ErrorCode())
	}
	return fmt.Errorf("%w: %s: %w", chat.ErrUnavailable, op, err)
}

// Shutdown stops accepting messages (Dispatch answers chat.ErrShuttingDown),
// waits for sends in progress and, in the hybrid design, for the inline
// sync jobs to run, or for ctx. Safe to call more than once.
func (d *Dispatcher) Shutdown(ctx context.Context) error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	done := make(chan struct{})
	go func() { d.inflight.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		<-done // sends are bounded by CallTimeout
		err = ctx.Err()
	}
	if d.cfg.Inline != nil {
		err = errors.Join(err, d.cfg.Inline.Shutdown(ctx))
	}
	return err
}
