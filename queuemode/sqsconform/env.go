package sqsconform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	smithy "github.com/aws/smithy-go"
)

// settleTimeout bounds the wait for values SQS documents as eventually
// consistent: queue deletion ("takes up to 60 seconds"), PurgeQueue ("up to
// 60 seconds") and the ApproximateNumberOf* attributes ("may not achieve
// consistency until at least 1 minute after the producers stop sending").
// A local endpoint settles at once, so a passing run never waits this long.
const settleTimeout = 65 * time.Second

// env is what a check runs with: the client, queue helpers that remember
// what to delete afterwards, and notes that end up in Result.Detail.
type env struct {
	client *sqs.Client
	log    *slog.Logger
	prefix string // per-check queue name prefix, e.g. "conform-1a2b3c-04"
	seq    int
	queues []string // URLs to delete in cleanup
	notes  []string
}

// infoError marks an informational outcome: the check ran, but the
// documentation leaves the behaviour open, so the result is a skip.
type infoError struct{ msg string }

func (e *infoError) Error() string { return e.msg }

func informational(format string, args ...any) error {
	return &infoError{msg: fmt.Sprintf(format, args...)}
}

func (e *env) notef(format string, args ...any) {
	e.notes = append(e.notes, fmt.Sprintf(format, args...))
}

// queueName returns a fresh queue name: prefix, a sequence number, the
// suffix, and ".fifo" for FIFO queues.
func (e *env) queueName(suffix string, fifo bool) string {
	e.seq++
	name := fmt.Sprintf("%s-%d-%s", e.prefix, e.seq, suffix)
	max := 80
	if fifo {
		max -= len(".fifo")
	}
	if len(name) > max {
		name = name[:max]
	}
	if fifo {
		name += ".fifo"
	}
	return name
}

// createQueue creates a queue and registers it for deletion.
func (e *env) createQueue(ctx context.Context, name string, attrs map[string]string) (string, error) {
	out, err := e.client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", fmt.Errorf("CreateQueue %s: %w", name, err)
	}
	u := aws.ToString(out.QueueUrl)
	if u == "" {
		return "", fmt.Errorf("CreateQueue %s returned no QueueUrl", name)
	}
	e.queues = append(e.queues, u)
	return u, nil
}

// fifoQueue creates a FIFO queue with the given extra attributes.
func (e *env) fifoQueue(ctx context.Context, suffix string, attrs map[string]string) (string, error) {
	a := map[string]string{"FifoQueue": "true"}
	for k, v := range attrs {
		a[k] = v
	}
	return e.createQueue(ctx, e.queueName(suffix, true), a)
}

// stdQueue creates a standard queue with the given attributes.
func (e *env) stdQueue(ctx context.Context, suffix string, attrs map[string]string) (string, error) {
	return e.createQueue(ctx, e.queueName(suffix, false), attrs)
}

// cleanup deletes every queue the check created. It runs even when the
// run's context is cancelled, with its own short deadline.
func (e *env) cleanup(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	for _, u := range e.queues {
		_, err := e.client.DeleteQueue(cctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(u)})
		var missing *types.QueueDoesNotExist
		if err != nil && !errors.As(err, &missing) {
			e.log.Warn("sqs conformance: deleting queue failed", "queue", u, "err", err)
		}
	}
	e.queues = nil
}

func (e *env) queueAttrs(ctx context.Context, url string, names ...types.QueueAttributeName) (map[string]string, error) {
	out, err := e.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: names})
	if err != nil {
		return nil, fmt.Errorf("GetQueueAttributes: %w", err)
	}
	return out.Attributes, nil
}

func (e *env) queueArn(ctx context.Context, url string) (string, error) {
	a, err := e.queueAttrs(ctx, url, types.QueueAttributeNameQueueArn)
	if err != nil {
		return "", err
	}
	if a["QueueArn"] == "" {
		return "", fmt.Errorf("GetQueueAttributes returned no QueueArn for %s", url)
	}
	return a["QueueArn"], nil
}

// send sends one message; group and dedup are left out when empty.
func (e *env) send(ctx context.Context, url, body, group, dedup string) (*sqs.SendMessageOutput, error) {
	in := &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}
	if group != "" {
		in.MessageGroupId = aws.String(group)
	}
	if dedup != "" {
		in.MessageDeduplicationId = aws.String(dedup)
	}
	out, err := e.client.SendMessage(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("SendMessage %q: %w", body, err)
	}
	if aws.ToString(out.MessageId) == "" {
		return nil, fmt.Errorf("SendMessage %q returned no MessageId", body)
	}
	return out, nil
}

// receive makes one ReceiveMessage call asking for every system attribute.
func (e *env) receive(ctx context.Context, url string, max, wait int32) ([]types.Message, error) {
	out, err := e.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(url),
		MaxNumberOfMessages:         max,
		WaitTimeSeconds:             wait,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	})
	if err != nil {
		return nil, fmt.Errorf("ReceiveMessage: %w", err)
	}
	return out.Messages, nil
}

// receiveSome long-polls (1 s at a time) until a message arrives or within
// passes; it fails when none arrives. It may return several messages.
func (e *env) receiveSome(ctx context.Context, url string, max int32, within time.Duration) ([]types.Message, error) {
	deadline := time.Now().Add(within)
	for {
		msgs, err := e.receive(ctx, url, max, 1)
		if err != nil {
			return nil, err
		}
		if len(msgs) > 0 {
			return msgs, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no message received within %s", within)
		}
	}
}

// drain receives and deletes until n messages have been received, failing
// when within passes first. It returns the messages in the order received.
func (e *env) drain(ctx context.Context, url string, n int, within time.Duration) ([]types.Message, error) {
	deadline := time.Now().Add(within)
	var got []types.Message
	for len(got) < n {
		if time.Now().After(deadline) {
			return got, fmt.Errorf("received %d of %d messages within %s (bodies %v)", len(got), n, within, bodies(got))
		}
		msgs, err := e.receive(ctx, url, 10, 1)
		if err != nil {
			return got, err
		}
		for _, m := range msgs {
			if err := e.del(ctx, url, m); err != nil {
				return got, err
			}
		}
		got = append(got, msgs...)
	}
	return got, nil
}

// expectEmpty makes one receive call (wait seconds long) and fails if it
// returns anything.
func (e *env) expectEmpty(ctx context.Context, url string, wait int32, why string) error {
	msgs, err := e.receive(ctx, url, 10, wait)
	if err != nil {
		return err
	}
	if len(msgs) > 0 {
		return fmt.Errorf("%s, but ReceiveMessage returned %v", why, bodies(msgs))
	}
	return nil
}

func (e *env) del(ctx context.Context, url string, m types.Message) error {
	_, err := e.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
	if err != nil {
		return fmt.Errorf("DeleteMessage %q: %w", aws.ToString(m.Body), err)
	}
	return nil
}

func (e *env) changeVisibility(ctx context.Context, url string, m types.Message, seconds int32) error {
	_, err := e.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: seconds,
	})
	if err != nil {
		return fmt.Errorf("ChangeMessageVisibility(%d) %q: %w", seconds, aws.ToString(m.Body), err)
	}
	return nil
}

// eventually calls probe until it reports done, an error, or within passes;
// it then fails with probe's last description of what it saw.
func eventually(ctx context.Context, within time.Duration, probe func() (done bool, saw string, err error)) error {
	deadline := time.Now().Add(within)
	wait := 50 * time.Millisecond
	for {
		done, saw, err := probe()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not settled within %s: %s", within, saw)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last seen: %s)", ctx.Err(), saw)
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func bodies(msgs []types.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = aws.ToString(m.Body)
	}
	return out
}

func sysAttr(m types.Message, name types.MessageSystemAttributeName) string {
	return m.Attributes[string(name)]
}

func receiveCount(m types.Message) (int, error) {
	s := sysAttr(m, types.MessageSystemAttributeNameApproximateReceiveCount)
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("message %q: ApproximateReceiveCount %q is not a number (attributes %v)", aws.ToString(m.Body), s, m.Attributes)
	}
	return n, nil
}

// seqNum parses a FIFO SequenceNumber (a decimal of up to 128 bits).
func seqNum(s string) (*big.Int, bool) {
	if s == "" {
		return nil, false
	}
	return new(big.Int).SetString(s, 10)
}

// apiCode returns the AWS error code of err, and false when err is no AWS API error.
func apiCode(err error) (code string, ok bool) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode(), true
	}
	return "", false
}

// expectAPIError checks that err is an AWS API error whose code is one of
// codes, and returns the code seen.
func expectAPIError(err error, op string, codes ...string) (string, error) {
	if err == nil {
		return "", fmt.Errorf("%s succeeded; want an error with code %s", op, strings.Join(codes, " or "))
	}
	code, ok := apiCode(err)
	if !ok {
		return "", fmt.Errorf("%s failed with %v; want an AWS API error with code %s", op, err, strings.Join(codes, " or "))
	}
	for _, c := range codes {
		if code == c {
			return code, nil
		}
	}
	return code, fmt.Errorf("%s failed with code %q (%v); want %s", op, code, err, strings.Join(codes, " or "))
}
