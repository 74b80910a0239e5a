package queuemode

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/socket"
)

// DispatcherConfig configures a Dispatcher. Zero values mean the documented
// defaults.
type DispatcherConfig struct {
	Catalog  *chat.Catalog // required
	Client   *sqs.Client   // required
	QueueURL string        // required: the FIFO job queue, from Setup
	// CallTimeout bounds each SQS call, SDK retries included. Zero means 5s.
	CallTimeout time.Duration
	// BatchRetries is how often entries a batch send refused are sent again
	// before Dispatch fails. Zero means 2.
	BatchRetries int
	Metrics      *Metrics     // nil = unregistered metrics
	Logger       *slog.Logger // nil = discard
}

// Dispatcher sends every job a message triggers to the FIFO job queue:
// MessageGroupId is the conversation (order per conversation) and
// MessageDeduplicationId is derived from sender, message id and job (a
// resent frame is not queued twice within SQS's 5-minute window). It
// implements socket.Dispatcher and is safe for concurrent use.
type Dispatcher struct {
	cfg DispatcherConfig
	log *slog.Logger
	m   *Metrics

	mu       sync.RWMutex // guards closed against concurrent Dispatch
	closed   bool
	inflight sync.WaitGroup
}

var _ socket.Dispatcher = (*Dispatcher)(nil)

// validate reports every value of c that is missing or out of range.
func (c *DispatcherConfig) validate() error {
	var errs []error
	if c.Catalog == nil || c.Client == nil || c.QueueURL == "" {
		errs = append(errs, errors.New("queuemode: DispatcherConfig.Catalog, Client and QueueURL are required"))
	}
	return errors.Join(append(errs,
		notNegative("DispatcherConfig.CallTimeout", c.CallTimeout, "5s"),
		notNegative("DispatcherConfig.BatchRetries", c.BatchRetries, "2"),
	)...)
}

// NewDispatcher checks cfg and returns a Dispatcher.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 5 * time.Second
	}
	if cfg.BatchRetries == 0 {
		cfg.BatchRetries = 2
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Dispatcher{cfg: cfg, log: cfg.Logger, m: cfg.Metrics}, nil
}

// DedupID is the MessageDeduplicationId of job for the message with id from
// sender: hex SHA-256 of from + "/" + id + "/" + job (64 characters).
func DedupID(from, id, job string) string {
	sum := sha256.Sum256([]byte(from + "/" + id + "/" + job))
	return hex.EncodeToString(sum[:])
}

// Dispatch stamps msg's enqueued hop and sends one queue message per job it
// triggers; it returns nil only when SQS accepted every one. When SQS stays
// unreachable it returns an error wrapping chat.ErrUnavailable. A message
// that triggers no job is accepted without an SQS call.
func (d *Dispatcher) Dispatch(ctx context.Context, msg *chat.Message) error {
	jobs := d.cfg.Catalog.JobsFor(msg.Type, msg.Role)
	d.mu.RLock()
	if d.closed {
		d.mu.RUnlock()
		return chat.ErrShuttingDown
	}
	d.inflight.Add(1)
	d.mu.RUnlock()
	defer d.inflight.Done()
	if len(jobs) == 0 {
		return nil
	}
	m := *msg
	m.Hops.Enqueued = chat.NowMicros()
	entries := make([]types.SendMessageBatchRequestEntry, 0, len(jobs))
	for i, j := range jobs {
		body, err := json.Marshal(envelope{Job: j.Name, Message: &m})
		if err != nil {
			return fmt.Errorf("queuemode: encode job %s: %w", j.Name, err)
		}
		entries = append(entries, types.SendMessageBatchRequestEntry{
			Id:                     aws.String(strconv.Itoa(i)),
			MessageBody:            aws.String(string(body)),
			MessageGroupId:         aws.String(m.Conv),
			MessageDeduplicationId: aws.String(DedupID(m.From, m.ID, j.Name)),
		})
	}
	if len(entries) == 1 {
		return d.sendOne(ctx, entries[0])
	}
	for start := 0; start < len(entries); start += 10 {
		if err := d.sendBatch(ctx, entries[start:min(start+10, len(entries))]); err != nil {
			return err
		}
	}
	return nil
}

func (d *Dispatcher) sendOne(ctx context.Context, e types.SendMessageBatchRequestEntry) error {
	cctx, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout)
	defer cancel()
	start := time.Now()
	_, err := d.cfg.Client.SendMessage(cctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(d.cfg.QueueURL), MessageBody: e.MessageBody,
		MessageGroupId: e.MessageGroupId, MessageDeduplicationId: e.MessageDeduplicationId,
	})
	d.m.observe("SendMessage", start, err)
	if err != nil {
		return fmt.Errorf("%w: SendMessage: %w", chat.ErrUnavailable, err)
	}
	return nil
}

// sendBatch sends up to 10 entries, resending those SQS refused.
func (d *Dispatcher) sendBatch(ctx context.Context, entries []types.SendMessageBatchRequestEntry) error {
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout)
		start := time.Now()
		out, err := d.cfg.Client.SendMessageBatch(cctx, &sqs.SendMessageBatchInput{
			QueueUrl: aws.String(d.cfg.QueueURL), Entries: entries,
		})
		cancel()
		d.m.observe("SendMessageBatch", start, err)
		if err != nil {
			return fmt.Errorf("%w: SendMessageBatch: %w", chat.ErrUnavailable, err)
		}
		if len(out.Failed) == 0 {
			return nil
		}
		failed := make(map[string]bool, len(out.Failed))
		for _, f := range out.Failed {
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

// Shutdown stops accepting messages (Dispatch answers chat.ErrShuttingDown)
// and waits for sends in progress, or for ctx. Safe to call more than once.
func (d *Dispatcher) Shutdown(ctx context.Context) error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	done := make(chan struct{})
	go func() { d.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		<-done // sends are bounded by CallTimeout
		return ctx.Err()
	}
}
