package sqsconform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

const (
	guide  = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
	apiRef = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/"
)

// registry lists the checks in run order. Names are stable: expected-failure
// lists and Options.Only refer to them.
var registry = []Check{
	{
		Name: "queue-lifecycle",
		Doc:  "CreateQueue (idempotent for identical attributes), GetQueueUrl, ListQueues and DeleteQueue work on standard and FIFO queues, and a deleted queue stops resolving",
		Ref:  "SQS API Reference: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue " + apiRef + "API_CreateQueue.html",
		run:  checkQueueLifecycle,
	},
	{
		Name: "queue-missing-error",
		Doc:  "GetQueueUrl on a queue that does not exist fails with a typed *types.QueueDoesNotExist",
		Ref:  "SQS API Reference: GetQueueUrl, Errors " + apiRef + "API_GetQueueUrl.html",
		run:  checkQueueMissing,
	},
	{
		Name: "standard-basic",
		Doc:  "on a standard queue a sent message is received with the same MessageId and body, and is gone once deleted",
		Ref:  "SQS API Reference: SendMessage, ReceiveMessage, DeleteMessage " + apiRef + "API_ReceiveMessage.html",
		run:  checkStandardBasic,
	},
	{
		Name: "message-body-unicode",
		Doc:  "a body using every allowed Unicode range (tab, newline, Latin, CJK, emoji beyond U+FFFF) round-trips unchanged",
		Ref:  "SQS API Reference: SendMessage, MessageBody " + apiRef + "API_SendMessage.html",
		run:  checkBodyUnicode,
	},
	{
		Name: "message-size-default",
		Doc:  "a queue created without MaximumMessageSize reports 1048576 (1 MiB), SQS's default and most since the payload limit was raised from 256 KiB",
		Ref:  "SQS API Reference: CreateQueue, MaximumMessageSize " + apiRef + "API_CreateQueue.html",
		run:  checkMessageSizeDefault,
	},
	{
		Name: "message-size-limit",
		Doc:  "a body of exactly the queue's MaximumMessageSize is accepted and received whole; one byte more is refused with InvalidParameterValue",
		Ref:  "SQS API Reference: SendMessage, MessageBody " + apiRef + "API_SendMessage.html",
		run:  checkMessageSizeLimit,
	},
	{
		Name: "fifo-order",
		Doc:  "20 messages sent in one message group are received in send order with increasing SequenceNumbers",
		Ref:  "SQS Developer Guide: FIFO queue delivery logic " + guide + "FIFO-queues-understanding-logic.html",
		run:  checkFIFOOrder,
	},
	{
		Name: "fifo-group-inflight",
		Doc:  "while a message of group A is in flight no further A message is delivered, group B still is, and deleting it releases the next A",
		Ref:  "SQS Developer Guide: FIFO queue delivery logic, Receiving messages " + guide + "FIFO-queues-understanding-logic.html",
		run:  checkFIFOGroupInflight,
	},
	{
		Name: "fifo-groups-interleave",
		Doc:  "two message groups are in flight at once and both drain completely, each in its own order",
		Ref:  "SQS Developer Guide: Using the message group ID with Amazon SQS FIFO queues " + guide + "using-messagegroupid-property.html",
		run:  checkFIFOGroupsInterleave,
	},
	{
		Name: "fifo-group-id-required",
		Doc:  "SendMessage to a FIFO queue without MessageGroupId fails with MissingParameter (InvalidParameterValue also accepted)",
		Ref:  "SQS API Reference: SendMessage, MessageGroupId " + apiRef + "API_SendMessage.html; Common Errors " + apiRef + "CommonErrors.html",
		run:  checkGroupIDRequired,
	},
	{
		Name: "visibility-timeout",
		Doc:  "a received, undeleted message stays hidden, then reappears with a new receipt handle once the visibility timeout passes",
		Ref:  "SQS Developer Guide: Amazon SQS visibility timeout " + guide + "sqs-visibility-timeout.html",
		run:  checkVisibilityTimeout,
	},
	{
		Name: "change-visibility-zero",
		Doc:  "ChangeMessageVisibility to 0 makes an in-flight message visible at once",
		Ref:  "SQS API Reference: ChangeMessageVisibility " + apiRef + "API_ChangeMessageVisibility.html",
		run:  checkChangeVisibilityZero,
	},
	{
		Name: "change-visibility-extend",
		Doc:  "ChangeMessageVisibility to a longer timeout keeps a message hidden past the queue's timeout, then it reappears",
		Ref:  "SQS API Reference: ChangeMessageVisibility " + apiRef + "API_ChangeMessageVisibility.html",
		run:  checkChangeVisibilityExtend,
	},
	{
		Name: "receive-count",
		Doc:  "ApproximateReceiveCount is 1 on first delivery and 2 on redelivery",
		Ref:  "SQS API Reference: ReceiveMessage, MessageSystemAttributeNames " + apiRef + "API_ReceiveMessage.html",
		run:  checkReceiveCount,
	},
	{
		Name: "redrive-dlq",
		Doc:  "a FIFO message received maxReceiveCount times without deletion moves to the FIFO dead-letter queue with its body intact",
		Ref:  "SQS Developer Guide: Using dead-letter queues in Amazon SQS " + guide + "sqs-dead-letter-queues.html",
		run:  checkRedrive,
	},
	{
		Name: "dedup-explicit",
		Doc:  "a second send with the same MessageDeduplicationId within 5 minutes is accepted but not delivered, even after the first was deleted",
		Ref:  "SQS Developer Guide: Using the message deduplication ID in Amazon SQS " + guide + "using-messagededuplicationid-property.html",
		run:  checkDedupExplicit,
	},
	{
		Name: "dedup-content-based",
		Doc:  "with ContentBasedDeduplication=true an identical body sent twice is delivered once, a different body is delivered",
		Ref:  "SQS Developer Guide: Exactly-once processing in Amazon SQS " + guide + "FIFO-queues-exactly-once-processing.html",
		run:  checkDedupContentBased,
	},
	{
		Name: "dedup-id-required",
		Doc:  "SendMessage to a FIFO queue without ContentBasedDeduplication and without MessageDeduplicationId fails with InvalidParameterValue",
		Ref:  "SQS API Reference: SendMessage, MessageDeduplicationId " + apiRef + "API_SendMessage.html; Common Errors " + apiRef + "CommonErrors.html",
		run:  checkDedupIDRequired,
	},
	{
		Name: "batch-send",
		Doc:  "SendMessageBatch of 10 FIFO entries succeeds for all 10 and they are received in entry order",
		Ref:  "SQS API Reference: SendMessageBatch " + apiRef + "API_SendMessageBatch.html",
		run:  checkBatchSend,
	},
	{
		Name: "batch-duplicate-id",
		Doc:  "SendMessageBatch with two entries of the same Id fails with a typed *types.BatchEntryIdsNotDistinct and sends nothing",
		Ref:  "SQS API Reference: SendMessageBatch, Errors " + apiRef + "API_SendMessageBatch.html",
		run:  checkBatchDuplicateID,
	},
	{
		Name: "batch-delete-partial",
		Doc:  "DeleteMessageBatch with one good and one bad receipt handle reports one success and one ReceiptHandleIsInvalid sender-fault failure",
		Ref:  "SQS API Reference: DeleteMessageBatch " + apiRef + "API_DeleteMessageBatch.html",
		run:  checkBatchDeletePartial,
	},
	{
		Name: "delete-invalid-receipt",
		Doc:  "DeleteMessage with a receipt handle the endpoint never issued fails with a typed *types.ReceiptHandleIsInvalid",
		Ref:  "SQS API Reference: DeleteMessage, Errors " + apiRef + "API_DeleteMessage.html",
		run:  checkDeleteInvalidReceipt,
	},
	{
		Name: "long-poll-wakes",
		Doc:  "a ReceiveMessage long poll (WaitTimeSeconds=10) returns a message sent while it waits well before the wait ends (< 2 s)",
		Ref:  "SQS Developer Guide: Amazon SQS short and long polling " + guide + "sqs-short-and-long-polling.html",
		run:  checkLongPollWakes,
	},
	{
		Name: "long-poll-empty",
		Doc:  "a long poll (WaitTimeSeconds=1) on an empty queue waits about the wait time and returns no message",
		Ref:  "SQS Developer Guide: Amazon SQS short and long polling " + guide + "sqs-short-and-long-polling.html",
		run:  checkLongPollEmpty,
	},
	{
		Name: "approximate-count",
		Doc:  "GetQueueAttributes reports ApproximateNumberOfMessages and ApproximateNumberOfMessagesNotVisible as messages are sent and received",
		Ref:  "SQS API Reference: GetQueueAttributes " + apiRef + "API_GetQueueAttributes.html",
		run:  checkApproximateCount,
	},
	{
		Name: "purge",
		Doc:  "PurgeQueue empties a queue",
		Ref:  "SQS API Reference: PurgeQueue " + apiRef + "API_PurgeQueue.html",
		run:  checkPurge,
	},
	{
		Name: "stale-receipt-delete",
		Doc:  "informational: what DeleteMessage does with the receipt handle of an earlier delivery after the message was redelivered",
		Ref:  "SQS API Reference: DeleteMessage " + apiRef + "API_DeleteMessage.html",
		run:  checkStaleReceiptDelete,
	},
}

func checkQueueLifecycle(ctx context.Context, e *env) error {
	name := e.queueName("life", false)
	attrs := map[string]string{"VisibilityTimeout": "7"}
	u, err := e.createQueue(ctx, name, attrs)
	if err != nil {
		return err
	}
	again, err := e.client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return fmt.Errorf("CreateQueue again with identical attributes: %w (want the existing queue's URL)", err)
	}
	if got := aws.ToString(again.QueueUrl); got != u {
		return fmt.Errorf("CreateQueue again returned %q, want the existing %q", got, u)
	}
	g, err := e.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("GetQueueUrl %s: %w", name, err)
	}
	if got := aws.ToString(g.QueueUrl); got != u {
		return fmt.Errorf("GetQueueUrl returned %q, CreateQueue returned %q", got, u)
	}
	a, err := e.queueAttrs(ctx, u, types.QueueAttributeNameVisibilityTimeout)
	if err != nil {
		return err
	}
	if a["VisibilityTimeout"] != "7" {
		return fmt.Errorf("VisibilityTimeout attribute is %q, created with 7", a["VisibilityTimeout"])
	}

	fifoURL, err := e.fifoQueue(ctx, "life", nil)
	if err != nil {
		return err
	}
	fa, err := e.queueAttrs(ctx, fifoURL, types.QueueAttributeNameFifoQueue)
	if err != nil {
		return err
	}
	if fa["FifoQueue"] != "true" {
		return fmt.Errorf("FIFO queue's FifoQueue attribute is %q, want \"true\"", fa["FifoQueue"])
	}

	err = eventually(ctx, settleTimeout, func() (bool, string, error) {
		l, err := e.client.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(e.prefix)})
		if err != nil {
			return false, "", fmt.Errorf("ListQueues: %w", err)
		}
		return slices.Contains(l.QueueUrls, u) && slices.Contains(l.QueueUrls, fifoURL),
			fmt.Sprintf("ListQueues(prefix %s) = %v, want %s and %s", e.prefix, l.QueueUrls, u, fifoURL), nil
	})
	if err != nil {
		return err
	}

	if _, err := e.client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(u)}); err != nil {
		return fmt.Errorf("DeleteQueue: %w", err)
	}
	return eventually(ctx, settleTimeout, func() (bool, string, error) {
		_, err := e.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
		var missing *types.QueueDoesNotExist
		if errors.As(err, &missing) {
			return true, "", nil
		}
		if err != nil {
			return false, "", fmt.Errorf("GetQueueUrl after DeleteQueue: %w (want *types.QueueDoesNotExist)", err)
		}
		return false, "GetQueueUrl still resolves the deleted queue", nil
	})
}

func checkQueueMissing(ctx context.Context, e *env) error {
	name := e.queueName("never-created", false)
	_, err := e.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	var missing *types.QueueDoesNotExist
	if !errors.As(err, &missing) {
		code, _ := apiCode(err)
		return fmt.Errorf("GetQueueUrl of a missing queue returned err=%v (code %q); want *types.QueueDoesNotExist", err, code)
	}
	e.notef("code %q", missing.ErrorCode())
	return nil
}

func checkStandardBasic(ctx context.Context, e *env) error {
	u, err := e.stdQueue(ctx, "basic", nil)
	if err != nil {
		return err
	}
	body := `{"type":"chat.message","text":"hello"}`
	sent, err := e.send(ctx, u, body, "", "")
	if err != nil {
		return err
	}
	msgs, err := e.receiveSome(ctx, u, 10, 5*time.Second)
	if err != nil {
		return err
	}
	if len(msgs) != 1 {
		return fmt.Errorf("received %d messages %v, want 1", len(msgs), bodies(msgs))
	}
	m := msgs[0]
	if aws.ToString(m.Body) != body {
		return fmt.Errorf("received body %q, sent %q", aws.ToString(m.Body), body)
	}
	if aws.ToString(m.MessageId) != aws.ToString(sent.MessageId) {
		return fmt.Errorf("received MessageId %q, SendMessage returned %q", aws.ToString(m.MessageId), aws.ToString(sent.MessageId))
	}
	if aws.ToString(m.ReceiptHandle) == "" {
		return errors.New("received message has no ReceiptHandle")
	}
	if err := e.del(ctx, u, m); err != nil {
		return err
	}
	if err := e.changeVisibility(ctx, u, m, 0); err == nil {
		// Making a deleted message visible must not resurrect it; some
		// endpoints reject the call, which is fine too.
		e.notef("ChangeMessageVisibility on a deleted message succeeded")
	}
	return e.expectEmpty(ctx, u, 1, "the only message was deleted")
}

// unicodeBody spans the character ranges SendMessage allows: #x9, #xA, #xD,
// #x20 to #xD7FF, #xE000 to #xFFFD and #x10000 to #x10FFFF. Chat text has
// emoji, which live in the last range.
const unicodeBody = "line one\tcol\r\nTschüß, päivää, 你好, \ue000\ufffd, 🩺👋🏽 \U0010FFFD"

func checkBodyUnicode(ctx context.Context, e *env) error {
	u, err := e.fifoQueue(ctx, "unicode", nil)
	if err != nil {
		return err
	}
	if _, err := e.send(ctx, u, unicodeBody, "g", "u-1"); err != nil {
		return err
	}
	got, err := e.drain(ctx, u, 1, 5*time.Second)
	if err != nil {
		return err
	}
	if b := aws.ToString(got[0].Body); b != unicodeBody {
		return fmt.Errorf("body came back as %q, sent %q", b, unicodeBody)
	}
	return nil
}

// sizedQueue creates a standard queue without MaximumMessageSize and
// returns its URL and the MaximumMessageSize it reports.
func sizedQueue(ctx context.Context, e *env, suffix string) (string, string, error) {
	u, err := e.stdQueue(ctx, suffix, nil)
	if err != nil {
		return "", "", err
	}
	a, err := e.queueAttrs(ctx, u, types.QueueAttributeNameMaximumMessageSize)
	if err != nil {
		return "", "", err
	}
	return u, a[string(types.QueueAttributeNameMaximumMessageSize)], nil
}

func checkMessageSizeDefault(ctx context.Context, e *env) error {
	_, size, err := sizedQueue(ctx, e, "size-default")
	if err != nil {
		return err
	}
	if size != "1048576" {
		return fmt.Errorf("MaximumMessageSize is %q, want 1048576 (1 MiB)", size)
	}
	return nil
}

func checkMessageSizeLimit(ctx context.Context, e *env) error {
	u, size, err := sizedQueue(ctx, e, "size-limit")
	if err != nil {
		return err
	}
	limit, err := strconv.Atoi(size)
	if err != nil || limit < 1024 {
		return fmt.Errorf("MaximumMessageSize %q is not a size of at least 1024 bytes", size)
	}
	// Not e.send: its errors quote the body.
	body := strings.Repeat("s", limit)
	if _, err := e.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String(body)}); err != nil {
		return fmt.Errorf("SendMessage of a body of exactly MaximumMessageSize (%d bytes): %w", limit, err)
	}
	got, err := e.drain(ctx, u, 1, 5*time.Second)
	if err != nil {
		return err
	}
	if b := aws.ToString(got[0].Body); b != body {
		return fmt.Errorf("a %d-byte body came back as %d bytes", limit, len(b))
	}
	_, err = e.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String(body + "s")})
	_, err = expectAPIError(err, fmt.Sprintf("SendMessage of a body one byte over MaximumMessageSize (%d bytes)", limit+1), "InvalidParameterValue")
	return err
}

func checkFIFOOrder(ctx context.Context, e *env) error {
	u, err := e.fifoQueue(ctx, "order", nil)
	if err != nil {
		return err
	}
	const n = 20
	var sentSeq []string
	for i := range n {
		out, err := e.send(ctx, u, fmt.Sprintf("order-%02d", i), "conv-1", fmt.Sprintf("order-%02d", i))
		if err != nil {
			return err
		}
		sentSeq = append(sentSeq, aws.ToString(out.SequenceNumber))
	}
	if err := increasing("SendMessage SequenceNumber", sentSeq); err != nil {
		return err
	}
	got, err := e.drain(ctx, u, n, 15*time.Second)
	if err != nil {
		return err
	}
	if len(got) != n {
		return fmt.Errorf("received %d messages, want %d: %v", len(got), n, bodies(got))
	}
	var recvSeq []string
	for i, m := range got {
		if want := fmt.Sprintf("order-%02d", i); aws.ToString(m.Body) != want {
			return fmt.Errorf("message %d is %q, want %q; order received: %v", i, aws.ToString(m.Body), want, bodies(got))
		}
		if g := sysAttr(m, types.MessageSystemAttributeNameMessageGroupId); g != "conv-1" {
			return fmt.Errorf("message %q has MessageGroupId attribute %q, want conv-1", aws.ToString(m.Body), g)
		}
		s := sysAttr(m, types.MessageSystemAttributeNameSequenceNumber)
		if s != sentSeq[i] {
			return fmt.Errorf("message %q has SequenceNumber %q, SendMessage returned %q", aws.ToString(m.Body), s, sentSeq[i])
		}
		recvSeq = append(recvSeq, s)
	}
	return increasing("received SequenceNumber", recvSeq)
}

func increasing(what string, seqs []string) error {
	var prev string
	for i, s := range seqs {
		cur, ok := seqNum(s)
		if !ok {
			return fmt.Errorf("%s %d is %q, not a decimal number", what, i, s)
		}
		if i > 0 {
			p, _ := seqNum(prev)
			if cur.Cmp(p) <= 0 {
				return fmt.Errorf("%s not increasing: %s then %s", what, prev, s)
			}
		}
		prev = s
	}
	return nil
}

func checkFIFOGroupInflight(ctx context.Context, e *env) error {
	u, err := e.fifoQueue(ctx, "inflight", map[string]string{"VisibilityTimeout": "30"})
	if err != nil {
		return err
	}
	for _, g := range []string{"A", "B"} {
		for i := 1; i <= 3; i++ {
			body := fmt.Sprintf("%s%d", g, i)
			if _, err := e.send(ctx, u, body, g, body); err != nil {
				return err
			}
		}
	}
	// SQS orders messages within a group only, so either group may come
	// first; call it X and the other one Y.
	first, err := e.receiveSome(ctx, u, 1, 5*time.Second)
	if err != nil {
		return err
	}
	x1 := first[0]
	x := aws.ToString(x1.Body)[:1]
	y := map[string]string{"A": "B", "B": "A"}[x]
	if len(first) != 1 || aws.ToString(x1.Body) != x+"1" {
		return fmt.Errorf("first receive (MaxNumberOfMessages=1) returned %v, want [A1] or [B1]", bodies(first))
	}

	// With X1 in flight, group Y must still be served and group X must not.
	// SQS "attempts" to return as many messages of one group as it can in
	// one call, so Y may come as [Y1], [Y1 Y2] or [Y1 Y2 Y3]; the rest of Y
	// then waits behind Y1, which is in flight too.
	var ys []string
	deadline := time.Now().Add(10 * time.Second)
	for len(ys) == 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("with %s1 in flight, no message of group %s was delivered within 10s", x, y)
		}
		msgs, err := e.receive(ctx, u, 10, 1)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			b := aws.ToString(m.Body)
			if strings.HasPrefix(b, x) {
				return fmt.Errorf("%s was delivered while %s1 was in flight (group %s must wait)", b, x, x)
			}
			ys = append(ys, b)
		}
	}
	if want := []string{y + "1", y + "2", y + "3"}[:min(len(ys), 3)]; !slices.Equal(ys, want) {
		return fmt.Errorf("group %s arrived as %v, want %v", y, ys, want)
	}
	e.notef("%s1 held; group %s delivered as %v", x, y, ys)
	if err := e.expectEmpty(ctx, u, 0, fmt.Sprintf("%s1 and %s1 are in flight, blocking both groups", x, y)); err != nil {
		return err
	}
	if err := e.del(ctx, u, x1); err != nil {
		return err
	}
	next, err := e.receiveSome(ctx, u, 10, 5*time.Second)
	if err != nil {
		return fmt.Errorf("after deleting %s1: %w (want %s2)", x, err, x)
	}
	if b := bodies(next); !slices.Equal(b, []string{x + "2"}) && !slices.Equal(b, []string{x + "2", x + "3"}) {
		return fmt.Errorf("after deleting %s1 (%s1 still in flight) received %v, want [%s2] or [%s2 %s3]", x, y, b, x, x, x)
	}
	return nil
}

func checkFIFOGroupsInterleave(ctx context.Context, e *env) error {
	u, err := e.fifoQueue(ctx, "interleave", map[string]string{"VisibilityTimeout": "30"})
	if err != nil {
		return err
	}
	groups := []string{"A", "B"}
	const perGroup = 3
	for i := 1; i <= perGroup; i++ {
		for _, g := range groups {
			body := fmt.Sprintf("%s%d", g, i)
			if _, err := e.send(ctx, u, body, g, body); err != nil {
				return err
			}
		}
	}

	// Receive one message at a time and hold it (in flight) until every
	// group that still has messages has one in flight; then delete them all.
	// A correct endpoint hands out one message per group at a time and
	// returns to every group once its in-flight message is deleted.
	order := map[string][]string{}
	held := map[string]types.Message{}
	remaining := func() int {
		n := 0
		for _, g := range groups {
			if len(order[g]) < perGroup {
				n++
			}
		}
		return n
	}
	concurrent := 0
	deadline := time.Now().Add(20 * time.Second)
	for total := 0; total < perGroup*len(groups); {
		if time.Now().After(deadline) {
			return fmt.Errorf("received only %v within 20s (held in flight: %d)", order, len(held))
		}
		msgs, err := e.receive(ctx, u, 1, 1)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			continue
		}
		m := msgs[0]
		g := sysAttr(m, types.MessageSystemAttributeNameMessageGroupId)
		if g == "" {
			g = aws.ToString(m.Body)[:1]
		}
		if h, ok := held[g]; ok {
			return fmt.Errorf("%s delivered while %s of the same group was in flight", aws.ToString(m.Body), aws.ToString(h.Body))
		}
		held[g] = m
		order[g] = append(order[g], aws.ToString(m.Body))
		total++
		if len(held) > 1 {
			concurrent++
		}
		if len(held) >= remaining() || len(held) == len(groups) {
			for _, h := range held {
				if err := e.del(ctx, u, h); err != nil {
					return err
				}
			}
			clear(held)
		}
	}
	for _, g := range groups {
		want := []string{g + "1", g + "2", g + "3"}
		if !slices.Equal(order[g], want) {
			return fmt.Errorf("group %s arrived as %v, want %v", g, order[g], want)
		}
	}
	if concurrent == 0 {
		return errors.New("the two groups were never in flight at the same time")
	}
	e.notef("both groups in flight together %d times", concurrent)
	return nil
}

func checkGroupIDRequired(ctx context.Context, e *env) error {
	u, err := e.fifoQueue(ctx, "nogroup", nil)
	if err != nil {
		return err
	}
	_, err = e.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(u), MessageBody: aws.String("x"), MessageDeduplicationId: aws.String("x"),
	})
	// Real SQS answers MissingParameter ("The request must contain the
	// parameter MessageGroupId"); InvalidParameterValue has been reported too.
	code, err := expectAPIError(err, "SendMessage without MessageGroupId", "MissingParameter", "InvalidParameterValue")
	if err != nil {
		return err
	}
	e.notef("code %s", code)
	return nil
}

func checkVisibilityTimeout(ctx context.Context, e *env) error {
	u, err := e.fifoQueue(ctx, "vis", map[string]string{"VisibilityTimeout": "2"})
	if err != nil {
		return err
	}
	if _, err := e.send(ctx, u, "job-1", "g", "job-1"); err != nil {
		return err
	}
	first, err := e.receiveSome(ctx, u, 1, 5*time.Second)
	if err != nil {
		return err
	}
	received := time.Now()
	if err := e.expectEmpty(ctx, u, 0, "the message is within its 2s visibility timeout"); err != nil {
		return err
	}
	again, err := e.receiveSome(ctx, u, 1, 10*time.Second)
	if err != nil {
		return fmt.Errorf("undeleted message did not reappear after its 2s visibility timeout: %w", err)
	}
	e.notef("reappeared after %s", time.Since(received).Round(100*time.Millisecond))
	if aws.ToString(again[0].Body) != "job-1" {
		return fmt.Errorf("reappeared message is %q, want job-1", aws.ToString(again[0].Body))
	}
	if aws.ToString(again[0].ReceiptHandle) == aws.ToString(first[0].ReceiptHandle) {
		return errors.New("redelivery carries the same receipt handle as the first delivery; SQS issues a new one per receive")
	}
	if err := e.del(ctx, u, again[0]); err != nil {
		return err
	}
	return nil
}

func checkChangeVisibilityZero(ctx context.Context, e *env) error {
	u, err := e.fifoQueue(ctx, "vis0", map[string]string{"VisibilityTimeout": "30"})
	if err != nil {
		return err
	}
	if _, err := e.send(ctx, u, "job-1", "g", "job-1"); err != nil {
		return err
	}
	first, err := e.receiveSome(ctx, u, 1, 5*time.Second)
	if err != nil {
		return err
	}
	if err := e.expectEmpty(ctx, u, 0, "the message is within its 30s visibility timeout"); err != nil {
		return err
	}
	if err := e.changeVisibility(ctx, u, first[0], 0); err != nil {
		return err
	}
	start := time.Now()
	again, err := e.receiveSome(ctx, u, 1, 5*time.Second)
	if err != nil {
		return fmt.Errorf("after ChangeMessageVisibility(0) the message did not become visible: %w", err)
	}
	if aws.ToString(again[0].Body) != "job-1" {
		return fmt.Errorf("received %q, want job-1", aws.ToString(again[0].Body))
	}
	e.notef("visible again after %s", fmtLatency(time.Since(start)))
	return nil
}

func checkChangeVisibilityExtend(ctx context.Context, e *env) error {
	u, err := e.fifoQueue(ctx, "visext", map[string]string{"VisibilityTimeout": "1"})
	if err != nil {
		return err
	}
	if _, err := e.send(ctx, u, "job-1", "g", "job-1"); err != nil {
		return err
	}
	first, err := e.receiveSome(ctx, u, 1, 5*time.Second)
	if err != nil {
		return err
	}
	if err := e.changeVisibility(ctx, u, first[0], 4); err != nil {
		return err
	}
	extended := time.Now()
	// The queue's own 1s timeout has long passed at 2s; the extended 4s has not.
	if err := sleep(ctx, 2*time.Second); err != nil {
		return err
	}
	if err := e.expectEmpty(ctx, u, 0, "visibility was extended to 4s, 2s ago"); err != nil {
		return err
	}
	again, err := e.receiveSome(ctx, u, 1, 10*time.Second)
	if err != nil {
		return fmt.Errorf("message did not reappear after the extended timeout: %w", err)
	}
	e.notef("reappeared %s after the extension", time.Since(extended).Round(100*time.Millisecond))
	return e.del(ctx, u, again[0])
}

func checkReceiveCount(ctx context.Context, e *env) error {
	u, err := e.fifoQueue(ctx, "count", map[string]string{"VisibilityTimeout": "1"})
	if err != nil {
		return err
	}
	if _, err := e.send(ctx, u, "job-1", "g", "job-1"); err != nil {
		return err
	}
	first, err := e.receiveSome(ctx, u, 1, 5*time.Second)
	if err != nil {
		return err
	}
	n, err := receiveCount(first[0])
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("ApproximateReceiveCount on first delivery is %d, want 1", n)
	}
	again, err := e.receiveSome(ctx, u, 1, 10*time.Second)
	if err != nil {
		return fmt.Errorf("message did not come back after its 1s visibility timeout: %w", err)
	}
	n, err = receiveCount(again[0])
	if err != nil {
		return err
	}
	if n != 2 {
		return fmt.Errorf("ApproximateReceiveCount on redelivery is %d, want 2", n)
	}
	return e.del(ctx, u, again[0])
}

func checkRedrive(ctx context.Context, e *env) error {
	dlq, err := e.fifoQueue(ctx, "dlq", nil)
	if err != nil {
		return err
	}
	dlqArn, err := e.queueArn(ctx, dlq)
	if err != nil {
		return err
	}
	policy, _ := json.Marshal(map[string]string{"deadLetterTargetArn": dlqArn, "maxReceiveCount": "2"})
	src, err := e.fifoQueue(ctx, "src", map[string]string{"VisibilityTimeout": "30", "RedrivePolicy": string(policy)})
	if err != nil {
		return err
	}
	a, err := e.queueAttrs(ctx, src, types.QueueAttributeNameRedrivePolicy)
	if err != nil {
		return err
	}
	if !strings.Contains(a["RedrivePolicy"], dlqArn) {
		return fmt.Errorf("source queue's RedrivePolicy is %q, want one naming %s", a["RedrivePolicy"], dlqArn)
	}
	body := `{"job":"ml.triage","payload":"poison ☠"}`
	sent, err := e.send(ctx, src, body, "conv-9", "poison-1")
	if err != nil {
		return err
	}
	// Two deliveries without deletion (each made visible again at once).
	for i := 1; i <= 2; i++ {
		msgs, err := e.receiveSome(ctx, src, 1, 5*time.Second)
		if err != nil {
			return fmt.Errorf("delivery %d from the source queue: %w", i, err)
		}
		if n, err := receiveCount(msgs[0]); err != nil {
			return err
		} else if n != i {
			return fmt.Errorf("delivery %d has ApproximateReceiveCount %d", i, n)
		}
		if err := e.changeVisibility(ctx, src, msgs[0], 0); err != nil {
			return err
		}
	}
	// The next receive would exceed maxReceiveCount=2: the message moves to
	// the DLQ instead of being delivered.
	if err := e.expectEmpty(ctx, src, 1, "the message was received maxReceiveCount=2 times and should have moved to the DLQ"); err != nil {
		return err
	}
	moved, err := e.receiveSome(ctx, dlq, 1, 10*time.Second)
	if err != nil {
		return fmt.Errorf("message did not arrive in the dead-letter queue: %w", err)
	}
	m := moved[0]
	if aws.ToString(m.Body) != body {
		return fmt.Errorf("DLQ message body is %q, want %q", aws.ToString(m.Body), body)
	}
	e.notef("MessageId kept: %v; MessageGroupId in DLQ: %q",
		aws.ToString(m.MessageId) == aws.ToString(sent.MessageId), sysAttr(m, types.MessageSystemAttributeNameMessageGroupId))
	return e.del(ctx, dlq, m)
}

func checkDedupExplicit(ctx context.Context, e *env) error {
	u, err := e.fifoQueue(ctx, "dedup", nil)
	if err != nil {
		return err
	}
	first, err := e.send(ctx, u, "one", "g", "dedup-1")
	if err != nil {
		return err
	}
	dup, err := e.send(ctx, u, "one (resent)", "g", "dedup-1")
	if err != nil {
		return fmt.Errorf("duplicate send must be accepted: %w", err)
	}
	e.notef("duplicate send returned the original MessageId: %v", aws.ToString(dup.MessageId) == aws.ToString(first.MessageId))
	if _, err := e.send(ctx, u, "two", "g", "dedup-2"); err != nil {
		return err
	}
	got, err := e.drain(ctx, u, 2, 10*time.Second)
	if err != nil {
		return err
	}
	if b := bodies(got); !slices.Equal(b, []string{"one", "two"}) {
		return fmt.Errorf("received %v, want [one two] (the resend with dedup-1 must not be delivered)", b)
	}
	if err := e.expectEmpty(ctx, u, 1, "the resend with dedup-1 is a duplicate"); err != nil {
		return err
	}
	// SQS keeps tracking a deduplication ID after the message is deleted.
	if _, err := e.send(ctx, u, "one (after delete)", "g", "dedup-1"); err != nil {
		return fmt.Errorf("duplicate send after delete must be accepted: %w", err)
	}
	return e.expectEmpty(ctx, u, 1, "dedup-1 was sent less than 5 minutes ago (and deleted since)")
}

func checkDedupContentBased(ctx context.Context, e *env) error {
	u, err := e.fifoQueue(ctx, "cbd", map[string]string{"ContentBasedDeduplication": "true"})
	if err != nil {
		return err
	}
	a, err := e.queueAttrs(ctx, u, types.QueueAttributeNameContentBasedDeduplication)
	if err != nil {
		return err
	}
	if a["ContentBasedDeduplication"] != "true" {
		return fmt.Errorf("ContentBasedDeduplication attribute is %q, want \"true\"", a["ContentBasedDeduplication"])
	}
	for _, b := range []string{"same body", "same body", "other body"} {
		if _, err := e.send(ctx, u, b, "g", ""); err != nil {
			return err
		}
	}
	got, err := e.drain(ctx, u, 2, 10*time.Second)
	if err != nil {
		return err
	}
	if b := bodies(got); !slices.Equal(b, []string{"same body", "other body"}) {
		return fmt.Errorf("received %v, want [same body, other body]", b)
	}
	return e.expectEmpty(ctx, u, 1, "the second \"same body\" is a content-based duplicate")
}

func checkDedupIDRequired(ctx context.Context, e *env) error {
	u, err := e.fifoQueue(ctx, "nodedup", nil)
	if err != nil {
		return err
	}
	_, err = e.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(u), MessageBody: aws.String("x"), MessageGroupId: aws.String("g"),
	})
	// Real SQS: InvalidParameterValue, "The queue should either have
	// ContentBasedDeduplication enabled or MessageDeduplicationId provided
	// explicitly".
	if _, err := expectAPIError(err, "SendMessage without MessageDeduplicationId", "InvalidParameterValue"); err != nil {
		return err
	}
	return e.expectEmpty(ctx, u, 0, "the send was rejected")
}

func checkBatchSend(ctx context.Context, e *env) error {
	u, err := e.fifoQueue(ctx, "batch", nil)
	if err != nil {
		return err
	}
	var entries []types.SendMessageBatchRequestEntry
	var want []string
	for i := range 10 {
		body := fmt.Sprintf("batch-%d", i)
		want = append(want, body)
		entries = append(entries, types.SendMessageBatchRequestEntry{
			Id: aws.String(fmt.Sprintf("e%d", i)), MessageBody: aws.String(body),
			MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String(body),
		})
	}
	out, err := e.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(u), Entries: entries})
	if err != nil {
		return fmt.Errorf("SendMessageBatch: %w", err)
	}
	if len(out.Failed) != 0 {
		return fmt.Errorf("SendMessageBatch reported %d failures: %+v", len(out.Failed), out.Failed)
	}
	if len(out.Successful) != 10 {
		return fmt.Errorf("SendMessageBatch reported %d successes, want 10", len(out.Successful))
	}
	ids := map[string]bool{}
	for _, s := range out.Successful {
		ids[aws.ToString(s.Id)] = true
		if aws.ToString(s.MessageId) == "" || aws.ToString(s.SequenceNumber) == "" {
			return fmt.Errorf("batch result entry %s lacks MessageId or SequenceNumber", aws.ToString(s.Id))
		}
	}
	if len(ids) != 10 {
		return fmt.Errorf("batch results name %d distinct entry ids, want 10", len(ids))
	}
	got, err := e.drain(ctx, u, 10, 10*time.Second)
	if err != nil {
		return err
	}
	if b := bodies(got); !slices.Equal(b, want) {
		return fmt.Errorf("received %v, want %v", b, want)
	}
	return nil
}

func checkBatchDuplicateID(ctx context.Context, e *env) error {
	u, err := e.stdQueue(ctx, "batchdup", nil)
	if err != nil {
		return err
	}
	_, err = e.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(u), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("same"), MessageBody: aws.String("first")},
		{Id: aws.String("same"), MessageBody: aws.String("second")},
	}})
	var notDistinct *types.BatchEntryIdsNotDistinct
	if !errors.As(err, &notDistinct) {
		code, _ := apiCode(err)
		return fmt.Errorf("SendMessageBatch with duplicate entry ids returned err=%v (code %q); want *types.BatchEntryIdsNotDistinct", err, code)
	}
	return e.expectEmpty(ctx, u, 1, "the whole batch was rejected")
}

func checkBatchDeletePartial(ctx context.Context, e *env) error {
	u, err := e.stdQueue(ctx, "batchdel", nil)
	if err != nil {
		return err
	}
	if _, err := e.send(ctx, u, "to-delete", "", ""); err != nil {
		return err
	}
	msgs, err := e.receiveSome(ctx, u, 1, 5*time.Second)
	if err != nil {
		return err
	}
	out, err := e.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(u), Entries: []types.DeleteMessageBatchRequestEntry{
		{Id: aws.String("good"), ReceiptHandle: msgs[0].ReceiptHandle},
		{Id: aws.String("bad"), ReceiptHandle: aws.String("not-a-receipt-handle")},
	}})
	if err != nil {
		return fmt.Errorf("DeleteMessageBatch with one bad handle failed as a whole (%w); want a partial failure in the response", err)
	}
	var okIDs, failIDs []string
	for _, s := range out.Successful {
		okIDs = append(okIDs, aws.ToString(s.Id))
	}
	for _, f := range out.Failed {
		failIDs = append(failIDs, fmt.Sprintf("%s(%s)", aws.ToString(f.Id), aws.ToString(f.Code)))
	}
	if !slices.Equal(okIDs, []string{"good"}) || len(out.Failed) != 1 || aws.ToString(out.Failed[0].Id) != "bad" {
		return fmt.Errorf("DeleteMessageBatch reported successful=%v failed=%v; want successful=[good] failed=[bad(ReceiptHandleIsInvalid)]", okIDs, failIDs)
	}
	f := out.Failed[0]
	if aws.ToString(f.Code) != "ReceiptHandleIsInvalid" || !f.SenderFault {
		return fmt.Errorf("failure entry has Code %q SenderFault %v, want ReceiptHandleIsInvalid and true", aws.ToString(f.Code), f.SenderFault)
	}
	return eventually(ctx, settleTimeout, func() (bool, string, error) {
		a, err := e.queueAttrs(ctx, u, types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)
		if err != nil {
			return false, "", err
		}
		return a["ApproximateNumberOfMessages"] == "0" && a["ApproximateNumberOfMessagesNotVisible"] == "0",
			fmt.Sprintf("after deleting the only message the queue reports visible=%s in-flight=%s",
				a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"]), nil
	})
}

func checkDeleteInvalidReceipt(ctx context.Context, e *env) error {
	u, err := e.stdQueue(ctx, "badhandle", nil)
	if err != nil {
		return err
	}
	_, err = e.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(u), ReceiptHandle: aws.String("not-a-receipt-handle")})
	var invalid *types.ReceiptHandleIsInvalid
	if !errors.As(err, &invalid) {
		code, _ := apiCode(err)
		return fmt.Errorf("DeleteMessage with a made-up receipt handle returned err=%v (code %q); want *types.ReceiptHandleIsInvalid", err, code)
	}
	return nil
}

func checkLongPollWakes(ctx context.Context, e *env) error {
	u, err := e.fifoQueue(ctx, "wake", nil)
	if err != nil {
		return err
	}
	type polled struct {
		msgs []types.Message
		at   time.Time
		err  error
	}
	done := make(chan polled, 1)
	pollStart := time.Now()
	go func() {
		msgs, err := e.receive(ctx, u, 1, 10)
		done <- polled{msgs, time.Now(), err}
	}()
	// Give the poll time to reach the endpoint and park there.
	select {
	case p := <-done:
		return fmt.Errorf("long poll on an empty queue returned after %s with %v (err %v); want it to wait", time.Since(pollStart).Round(time.Millisecond), bodies(p.msgs), p.err)
	case <-time.After(300 * time.Millisecond):
	}
	// Measured from before the send, so the figure includes SendMessage's
	// own round trip: an upper bound on the wake-up delay.
	sent := time.Now()
	if _, err := e.send(ctx, u, "wake-up", "g", "wake-up"); err != nil {
		<-done
		return err
	}
	p := <-done
	if p.err != nil {
		return p.err
	}
	latency := p.at.Sub(sent)
	if len(p.msgs) != 1 || aws.ToString(p.msgs[0].Body) != "wake-up" {
		return fmt.Errorf("long poll returned %v after %s, want [wake-up]", bodies(p.msgs), p.at.Sub(pollStart).Round(time.Millisecond))
	}
	if latency > 2*time.Second {
		return fmt.Errorf("long poll returned the message %s after the send began; want well under the 10s wait (< 2s)", latency.Round(time.Millisecond))
	}
	e.notef("woke within %s of the send", fmtLatency(latency))
	return e.del(ctx, u, p.msgs[0])
}

// fmtLatency rounds d for a report: to 10 µs below a millisecond, to 0.1 ms
// below a second, else to 10 ms.
func fmtLatency(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}

func checkLongPollEmpty(ctx context.Context, e *env) error {
	u, err := e.fifoQueue(ctx, "idle", nil)
	if err != nil {
		return err
	}
	start := time.Now()
	msgs, err := e.receive(ctx, u, 10, 1)
	took := time.Since(start)
	if err != nil {
		return err
	}
	if len(msgs) != 0 {
		return fmt.Errorf("long poll on an empty queue returned %v", bodies(msgs))
	}
	if took < 800*time.Millisecond {
		return fmt.Errorf("long poll with WaitTimeSeconds=1 on an empty queue returned after %s; a long poll waits for the wait time", took.Round(time.Millisecond))
	}
	if took > 5*time.Second {
		return fmt.Errorf("long poll with WaitTimeSeconds=1 took %s", took.Round(time.Millisecond))
	}
	e.notef("returned empty after %s", took.Round(10*time.Millisecond))
	return nil
}

func checkApproximateCount(ctx context.Context, e *env) error {
	u, err := e.stdQueue(ctx, "count", map[string]string{"VisibilityTimeout": "30"})
	if err != nil {
		return err
	}
	counts := func(visible, inflight string) error {
		return eventually(ctx, settleTimeout, func() (bool, string, error) {
			a, err := e.queueAttrs(ctx, u, types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)
			if err != nil {
				return false, "", err
			}
			return a["ApproximateNumberOfMessages"] == visible && a["ApproximateNumberOfMessagesNotVisible"] == inflight,
				fmt.Sprintf("ApproximateNumberOfMessages=%q NotVisible=%q, want %s and %s",
					a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"], visible, inflight), nil
		})
	}
	if err := counts("0", "0"); err != nil {
		return fmt.Errorf("new queue: %w", err)
	}
	for i := range 3 {
		if _, err := e.send(ctx, u, fmt.Sprintf("m%d", i), "", ""); err != nil {
			return err
		}
	}
	if err := counts("3", "0"); err != nil {
		return fmt.Errorf("after 3 sends: %w", err)
	}
	msgs, err := e.receiveSome(ctx, u, 1, 5*time.Second)
	if err != nil {
		return err
	}
	if err := counts("2", "1"); err != nil {
		return fmt.Errorf("after receiving 1: %w", err)
	}
	if err := e.del(ctx, u, msgs[0]); err != nil {
		return err
	}
	if err := counts("2", "0"); err != nil {
		return fmt.Errorf("after deleting it: %w", err)
	}
	return nil
}

func checkPurge(ctx context.Context, e *env) error {
	u, err := e.stdQueue(ctx, "purge", nil)
	if err != nil {
		return err
	}
	for i := range 5 {
		if _, err := e.send(ctx, u, fmt.Sprintf("m%d", i), "", ""); err != nil {
			return err
		}
	}
	if _, err := e.client.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(u)}); err != nil {
		return fmt.Errorf("PurgeQueue: %w", err)
	}
	err = eventually(ctx, settleTimeout, func() (bool, string, error) {
		a, err := e.queueAttrs(ctx, u, types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)
		if err != nil {
			return false, "", err
		}
		return a["ApproximateNumberOfMessages"] == "0" && a["ApproximateNumberOfMessagesNotVisible"] == "0",
			fmt.Sprintf("after PurgeQueue ApproximateNumberOfMessages=%q NotVisible=%q", a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"]), nil
	})
	if err != nil {
		return err
	}
	// Messages sent during a purge "might be deleted" (PurgeQueue
	// reference), so nothing is sent afterwards.
	return e.expectEmpty(ctx, u, 1, "the queue was purged")
}

// checkStaleReceiptDelete records what DeleteMessage does with the receipt
// handle of an earlier delivery. The API reference says the request "will
// succeed, but the message might not be deleted"; real FIFO queues have been
// observed to reject expired handles instead (InvalidParameterValue, "The
// receipt handle has expired"). Either is defensible, so this check is
// informational: it fails only when the redelivery it needs does not happen
// or the endpoint answers with something that is not an AWS error.
func checkStaleReceiptDelete(ctx context.Context, e *env) error {
	var seen []string
	for _, fifo := range []bool{true, false} {
		kind := "standard"
		var u string
		var err error
		if fifo {
			kind = "FIFO"
			u, err = e.fifoQueue(ctx, "stale", map[string]string{"VisibilityTimeout": "30"})
		} else {
			u, err = e.stdQueue(ctx, "stale", map[string]string{"VisibilityTimeout": "30"})
		}
		if err != nil {
			return err
		}
		group, dedup := "", ""
		if fifo {
			group, dedup = "g", "stale-1"
		}
		if _, err := e.send(ctx, u, "job-1", group, dedup); err != nil {
			return err
		}
		first, err := e.receiveSome(ctx, u, 1, 5*time.Second)
		if err != nil {
			return err
		}
		if err := e.changeVisibility(ctx, u, first[0], 0); err != nil {
			return err
		}
		second, err := e.receiveSome(ctx, u, 1, 5*time.Second)
		if err != nil {
			return fmt.Errorf("%s: redelivery: %w", kind, err)
		}
		if aws.ToString(second[0].ReceiptHandle) == aws.ToString(first[0].ReceiptHandle) {
			return fmt.Errorf("%s: redelivery carries the same receipt handle", kind)
		}
		_, derr := e.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(u), ReceiptHandle: first[0].ReceiptHandle})
		outcome := "succeeded"
		if derr != nil {
			code, ok := apiCode(derr)
			if !ok {
				return fmt.Errorf("%s: DeleteMessage with a stale handle failed without an AWS error: %w", kind, derr)
			}
			outcome = "failed with " + code
		}
		// Is the message still there? Make it visible through the current
		// handle and look.
		still := "message deleted"
		if err := e.changeVisibility(ctx, u, second[0], 0); err == nil {
			if msgs, err := e.receive(ctx, u, 1, 1); err == nil && len(msgs) > 0 {
				still = "message kept"
				_ = e.del(ctx, u, msgs[0])
			}
		}
		seen = append(seen, fmt.Sprintf("%s: stale delete %s, %s", kind, outcome, still))
	}
	return informational("docs: request succeeds but the message might not be deleted (real FIFO queues reject expired handles); endpoint: %s", strings.Join(seen, "; "))
}
