// Package queuemode is the legacy (queue) path: the shared WebSocket front
// door with a Dispatcher that sends every triggered job to an SQS FIFO queue,
// a Worker that long-polls the queue, runs the shared handlers and posts
// their events back to the gateway over a signed internal HTTP endpoint, and
// the queue set-up (FIFO queue plus dead-letter queue with a redrive policy).
//
// The flow of one job:
//
//	front door → Dispatcher.Dispatch → SendMessage(Batch) → <name>.fifo
//	→ Worker ReceiveMessage → chat.RunJob → POST /internal/events (HMAC signed)
//	→ Callback (dedup) → Hub.Emit → client; then the worker deletes the message.
//
// SQS is reached through aws-sdk-go-v2 with the standard AWS configuration
// (AWS_ENDPOINT_URL_SQS, region, credential chain), or through an explicit
// endpoint such as the embedded one in the sqsd subpackage.
package queuemode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/chatbench/chatbench/internal/httppool"
)

// ClientConfig configures NewClient. Zero values mean the documented defaults.
type ClientConfig struct {
	// Endpoint is an explicit SQS endpoint URL (e.g. the embedded sqsd's).
	// When set, dummy static credentials are used (emulators accept any).
	// Empty means the standard AWS configuration decides: AWS_ENDPOINT_URL_SQS,
	// AWS_REGION, the credential chain.
	Endpoint string
	// Region is used when the AWS configuration names none. Empty means
	// "us-east-1".
	Region string
	// MaxAttempts bounds the SDK's attempts per call (retry.Standard with
	// exponential backoff and jitter). Zero means 3.
	MaxAttempts int
	// MaxBackoff caps the backoff between attempts. Zero means 500ms.
	MaxBackoff time.Duration
}

// NewClient builds an SQS client from the standard AWS configuration, with
// bounded retries. Per-call timeouts are applied by the callers (Dispatcher,
// Worker) through contexts.
func NewClient(ctx context.Context, cfg ClientConfig) (*sqs.Client, error) {
	if err := errors.Join(
		notNegative("ClientConfig.MaxAttempts", cfg.MaxAttempts, "3"),
		notNegative("ClientConfig.MaxBackoff", cfg.MaxBackoff, "500ms"),
	); err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 500 * time.Millisecond
	}
	opts := []func(*config.LoadOptions) error{
		config.WithDefaultRegion(cfg.Region),
		// Pollers, the deleter's calls and every connection's sends at
		// once: more than the SDK's 10 idle connections per host.
		// (The SDK's own client, so that AWS_CA_BUNDLE still applies.)
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConns, t.MaxIdleConnsPerHost = httppool.MaxIdle, httppool.MaxIdlePerHost
		})),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = cfg.MaxAttempts
				o.MaxBackoff = cfg.MaxBackoff
			})
		}),
	}
	if cfg.Endpoint != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("queuemode: load AWS configuration: %w", err)
	}
	return sqs.NewFromConfig(awsCfg, func(o *sqs.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	}), nil
}

// SetupOptions configures Setup. Zero values mean the documented defaults.
type SetupOptions struct {
	// VisibilityTimeout of the job queue; it must exceed the job timeout.
	// Zero means 30s; at most 12h (SQS's limit). Rounded up to whole
	// seconds.
	VisibilityTimeout time.Duration
	// MaxReceiveCount is how many receives a message gets before SQS moves
	// it to the DLQ. Zero means 5; at most 1000 (SQS's limit).
	MaxReceiveCount int
	// CallTimeout bounds each SQS call. Zero means 10s.
	CallTimeout time.Duration
	// Standard creates standard queues, <name> and <name>-dlq
	// (at-least-once delivery, no ordering, no deduplication), instead of
	// the FIFO queues <name>.fifo and <name>-dlq.fifo.
	Standard bool
}

// validate reports every value of o that is out of range.
func (o *SetupOptions) validate() error {
	return errors.Join(
		notNegative("SetupOptions.VisibilityTimeout", o.VisibilityTimeout, "30s"),
		atMost("SetupOptions.VisibilityTimeout", o.VisibilityTimeout, maxVisibility, "SQS's limit"),
		notNegative("SetupOptions.MaxReceiveCount", o.MaxReceiveCount, "5"),
		atMost("SetupOptions.MaxReceiveCount", o.MaxReceiveCount, maxReceives, "SQS's limit"),
		notNegative("SetupOptions.CallTimeout", o.CallTimeout, "10s"),
	)
}

// Queues are the URLs and ARNs of the job queue and its dead-letter queue,
// as SQS reported them.
type Queues struct {
	URL    string // <name>.fifo (<name> for a standard queue)
	DLQURL string // <name>-dlq.fifo (<name>-dlq)
	DLQARN string
	// FIFO says the queues are FIFO queues.
	FIFO bool
	// MaxMessageSize is the job queue's MaximumMessageSize as SQS reported
	// it: the largest message body it takes, in bytes (AWS's default and
	// most is 1 MiB; older emulators say 256 KiB).
	MaxMessageSize int
}

// BaseName strips a trailing ".fifo" from a queue name.
func BaseName(name string) string { return strings.TrimSuffix(name, ".fifo") }

// queueNames returns the job queue's and the DLQ's names for base.
func queueNames(base string, standard bool) (queue, dlq string) {
	if standard {
		return base, base + "-dlq"
	}
	return base + ".fifo", base + "-dlq.fifo"
}

// Setup idempotently creates the FIFO job queue <name>.fifo and its
// dead-letter queue <name>-dlq.fifo (standard queues <name> and <name>-dlq
// with opts.Standard), with the redrive policy moving a message to the DLQ
// after MaxReceiveCount receives. Existing queues get their attributes
// brought up to date. URLs come from CreateQueue/GetQueueUrl; the queue's
// MaximumMessageSize is read back.
func Setup(ctx context.Context, client *sqs.Client, name string, opts SetupOptions) (Queues, error) {
	if err := opts.validate(); err != nil {
		return Queues{}, err
	}
	if opts.VisibilityTimeout == 0 {
		opts.VisibilityTimeout = 30 * time.Second
	}
	if opts.MaxReceiveCount == 0 {
		opts.MaxReceiveCount = 5
	}
	if opts.CallTimeout == 0 {
		opts.CallTimeout = 10 * time.Second
	}
	base := BaseName(name)
	if base == "" {
		return Queues{}, errors.New("queuemode: empty queue name")
	}
	qName, dlqName := queueNames(base, opts.Standard)
	q := Queues{FIFO: !opts.Standard}
	var err error
	dlqAttrs := map[string]string{
		string(types.QueueAttributeNameMessageRetentionPeriod): strconv.Itoa(14 * 24 * 3600),
	}
	attrs := map[string]string{
		string(types.QueueAttributeNameVisibilityTimeout): strconv.Itoa(seconds(opts.VisibilityTimeout)),
	}
	if q.FIFO {
		for _, m := range []map[string]string{dlqAttrs, attrs} {
			m[string(types.QueueAttributeNameFifoQueue)] = "true"
			m[string(types.QueueAttributeNameContentBasedDeduplication)] = "false"
		}
	}
	if q.DLQURL, err = ensureQueue(ctx, client, dlqName, dlqAttrs, opts.CallTimeout); err != nil {
		return Queues{}, err
	}
	if q.DLQARN, err = queueAttr(ctx, client, q.DLQURL, dlqName, types.QueueAttributeNameQueueArn, opts.CallTimeout); err != nil {
		return Queues{}, err
	}
	redrive, _ := json.Marshal(map[string]any{"deadLetterTargetArn": q.DLQARN, "maxReceiveCount": opts.MaxReceiveCount})
	attrs[string(types.QueueAttributeNameRedrivePolicy)] = string(redrive)
	if q.URL, err = ensureQueue(ctx, client, qName, attrs, opts.CallTimeout); err != nil {
		return Queues{}, err
	}
	size, err := queueAttr(ctx, client, q.URL, qName, types.QueueAttributeNameMaximumMessageSize, opts.CallTimeout)
	if err != nil {
		return Queues{}, err
	}
	if q.MaxMessageSize, err = strconv.Atoi(size); err != nil || q.MaxMessageSize <= 0 {
		return Queues{}, fmt.Errorf("queuemode: SQS reported MaximumMessageSize %q for %s: want a number of bytes", size, qName)
	}
	return q, nil
}

// queueAttr reads one attribute of the queue at url (named name, for
// errors); an empty value is an error.
func queueAttr(ctx context.Context, client *sqs.Client, url, name string, attr types.QueueAttributeName, timeout time.Duration) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := client.GetQueueAttributes(cctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{attr},
	})
	if err != nil {
		return "", fmt.Errorf("queuemode: %s of %s: %w", attr, name, err)
	}
	v := out.Attributes[string(attr)]
	if v == "" {
		return "", fmt.Errorf("queuemode: SQS reported no %s for %s", attr, name)
	}
	return v, nil
}

// ensureQueue creates the queue, or — when it exists with other attributes —
// looks its URL up and sets the attributes that may change.
func ensureQueue(ctx context.Context, client *sqs.Client, name string, attrs map[string]string, timeout time.Duration) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := client.CreateQueue(cctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err == nil {
		return aws.ToString(out.QueueUrl), nil
	}
	var exists *types.QueueNameExists
	var ae smithy.APIError
	if !errors.As(err, &exists) && !(errors.As(err, &ae) && ae.ErrorCode() == "QueueAlreadyExists") {
		return "", fmt.Errorf("queuemode: create queue %s: %w", name, err)
	}
	got, err := client.GetQueueUrl(cctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("queuemode: get URL of queue %s: %w", name, err)
	}
	url := aws.ToString(got.QueueUrl)
	mutable := make(map[string]string, len(attrs))
	for k, v := range attrs {
		if k != string(types.QueueAttributeNameFifoQueue) {
			mutable[k] = v
		}
	}
	if _, err := client.SetQueueAttributes(cctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: mutable}); err != nil {
		return "", fmt.Errorf("queuemode: update attributes of queue %s: %w", name, err)
	}
	return url, nil
}

// QueueSpec is what the queues were set up with (Setup's name and
// options): enough to create them again when the endpoint has lost them.
type QueueSpec struct {
	Name    string
	Options SetupOptions
}

// queueMissing reports whether err says the queue does not exist: SQS's
// QueueDoesNotExist, by its type, its current name or its legacy code
// (AWS.SimpleQueueService.NonExistentQueue).
func queueMissing(err error) bool {
	var qdne *types.QueueDoesNotExist
	if errors.As(err, &qdne) {
		return true
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch strings.TrimPrefix(ae.ErrorCode(), "AWS.SimpleQueueService.") {
	case "NonExistentQueue", "QueueDoesNotExist":
		return true
	}
	return false
}

// Backoff of recreating lost queues after a failed attempt.
const (
	recreateFirstBackoff = 200 * time.Millisecond
	recreateMaxBackoff   = 10 * time.Second
	// recreateFresh is how long a recreation answers for every caller
	// whose call failed before it: they retry rather than create again.
	recreateFresh = 2 * time.Second
)

// recreator creates the queues again (Setup, so the DLQ and the redrive
// policy too) when a call says they do not exist — an SQS endpoint that
// restarted empty, as the embedded one does — at most once per failure,
// with backoff between failed attempts. Nil recreates nothing. Safe for
// concurrent use: callers that fail together wait for one recreation.
type recreator struct {
	client *sqs.Client
	spec   QueueSpec
	url    string // the job queue's URL, which callers keep using
	by     string // "worker" or "gateway", for the metric
	log    *slog.Logger
	m      *Metrics

	mu      sync.Mutex
	done    time.Time // of the last recreation
	next    time.Time // no attempt before, after a failure
	backoff time.Duration
}

// newRecreator returns the recreator of spec's queues, or nil when spec is
// nil.
func newRecreator(client *sqs.Client, spec *QueueSpec, url, by string, log *slog.Logger, m *Metrics) *recreator {
	if spec == nil {
		return nil
	}
	return &recreator{client: client, spec: *spec, url: url, by: by, log: log, m: m}
}

// recover recreates the queues when err says they are missing, and
// reports whether they exist again: the failed call may be retried now.
func (r *recreator) recover(ctx context.Context, err error) bool {
	if r == nil || !queueMissing(err) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.done) < recreateFresh {
		return true
	}
	if now.Before(r.next) {
		return false
	}
	start := now
	q, serr := Setup(ctx, r.client, r.spec.Name, r.spec.Options)
	if serr != nil {
		r.backoff = min(max(2*r.backoff, recreateFirstBackoff), recreateMaxBackoff)
		r.next = time.Now().Add(r.backoff)
		r.log.Warn("queues missing; creating them again failed", "queue", r.url, "retry_in", r.backoff, "err", serr)
		return false
	}
	r.backoff, r.done = 0, time.Now()
	r.m.QueueRecreated.WithLabelValues(r.by).Inc()
	r.log.Warn("queues were missing (the SQS endpoint lost them); created them again with the DLQ and redrive policy",
		"queue", q.URL, "dlq", q.DLQURL, "took", time.Since(start))
	if q.URL != r.url {
		r.log.Error("the queue was created again at another URL; restart to use it", "was", r.url, "now", q.URL)
	}
	return true
}

// notNegative refuses a negative size, count or duration of a config (field
// names it, e.g. "WorkerConfig.Pollers"); zero means its default, def.
func notNegative[T ~int | ~int64](field string, v T, def string) error {
	if v < 0 {
		return fmt.Errorf("queuemode: %s is %v: must be ≥ 0 (0 means %s)", field, v, def)
	}
	return nil
}

// atMost refuses a value above SQS's limit for it.
func atMost[T ~int | ~int64](field string, v, most T, why string) error {
	if v > most {
		return fmt.Errorf("queuemode: %s is %v: must be at most %v (%s)", field, v, most, why)
	}
	return nil
}

// SQS's limits on the values the queue path asks for.
const (
	maxVisibility = 12 * time.Hour   // VisibilityTimeout
	minVisibility = 2 * time.Second  // the worker's: its heartbeat beats every half of it
	maxWaitTime   = 20 * time.Second // WaitTimeSeconds of a long poll
	maxReceives   = 1000             // maxReceiveCount of a redrive policy
)

// seconds rounds d up to whole seconds (at least 1).
func seconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
