// Package sqsd is chatbench's embedded SQS endpoint: a small, in-process
// server for the Amazon SQS JSON protocol on loopback, used by the queue
// path when no SQS endpoint is configured — the queue path's counterpart of
// an embedded database. The aws-sdk-go-v2 sqs client talks to it unchanged
// (BaseEndpoint = Server.URL()).
//
//	srv := sqsd.New(sqsd.Config{Logger: log, Registerer: reg})
//	url, err := srv.Start("127.0.0.1:0")
//	...
//	defer srv.Close()
//
// It exists because the Go emulators at hand get the semantics chatbench
// measures wrong, so it is faithful where the comparison depends on it:
//
//   - FIFO queues deliver each message group in order, and while any message
//     of a group is in flight (received, not deleted, visibility not expired)
//     no later message of that group is delivered; groups interleave, and one
//     receive returns as many messages of the oldest receivable group as it
//     can, in order, before moving to the next group. SequenceNumber
//     increases per queue.
//   - Deduplication: a FIFO send repeating a MessageDeduplicationId (or, with
//     ContentBasedDeduplication, the SHA-256 of the body) within 5 minutes
//     succeeds with the original MessageId and is not enqueued again, even if
//     the original was already deleted. DeduplicationScope=messageGroup is
//     honoured.
//   - Visibility timeouts, delays and ChangeMessageVisibility are kept to the
//     clock's resolution; ApproximateReceiveCount counts receives.
//   - Long polls (WaitTimeSeconds up to 20) return as soon as a message
//     becomes receivable: on a send, on a visibility change to 0, on a FIFO
//     delete that unblocks a group, and — through a timer set to the queue's
//     next deadline — when a visibility timeout or delay runs out. No
//     polling ticks.
//   - Redrive: with RedrivePolicy {"deadLetterTargetArn", "maxReceiveCount": N}
//     a message received N times is moved to the dead-letter queue (which
//     must be of the same kind) on the next receive attempt that finds it
//     visible, as SQS does; it keeps its MessageId, body, attributes and
//     sent time and gains DeadLetterQueueSourceArn.
//   - Errors are AWS-shaped: HTTP status, "__type" and the
//     x-amzn-query-error header as the service model declares them, so
//     errors.As(err, &types.QueueDoesNotExist{}) and friends work and
//     ErrorCode() reports the legacy code (e.g.
//     "AWS.SimpleQueueService.NonExistentQueue").
//   - Sizes follow AWS's current quotas: MaximumMessageSize defaults to
//     1 MiB (1048576), its most, and may be set down to 1 KiB; a message
//     over its queue's limit is InvalidParameterValue; the bodies of one
//     SendMessageBatch may total 1 MiB (BatchRequestTooLong beyond). See
//     the SendMessage and SendMessageBatch pages of the SQS API Reference
//     ("The maximum allowed individual message size and the maximum total
//     payload size ... are both 1 MiB"); the developer guide's quota page
//     (quotas-messages.html) said 256 KiB before the 2025/2026 raise.
//   - A body may hold only the characters SQS allows (#x9 | #xA | #xD |
//     #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF); others are
//     InvalidMessageContents, as the SendMessage reference says (one SDK's
//     copy of that page says SQS replaces them with U+FFFD instead: either
//     way a sender must escape them).
//   - MD5OfMessageBody, MD5OfMessageAttributes and
//     MD5OfMessageSystemAttributes are computed as SQS computes them; on
//     receive the attribute digest covers the attributes returned.
//
// # Protocol
//
// Requests are POSTs with Content-Type application/x-amz-json-1.0 and
// X-Amz-Target: AmazonSQS.<Action>, on any path. The SigV4 Authorization
// header is accepted without verification (its access key id becomes the
// SenderId); sqsd is for loopback use and has no notion of identity. Queue
// URLs are http://HOST/<AccountID>/<QueueName>, HOST being the one the
// client addressed; requests name a queue by the last path element of
// QueueUrl. The older AWS Query (form-encoded) protocol is not served.
//
// Actions: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue,
// GetQueueAttributes, SetQueueAttributes, PurgeQueue,
// ListDeadLetterSourceQueues, TagQueue, UntagQueue, ListQueueTags,
// SendMessage, SendMessageBatch, ReceiveMessage, DeleteMessage,
// DeleteMessageBatch, ChangeMessageVisibility, ChangeMessageVisibilityBatch.
// AddPermission, RemovePermission and the message-move-task actions return
// UnsupportedOperation.
//
// # Receipt handles
//
// A receipt handle belongs to one receive. DeleteMessage with a malformed
// handle, or one issued by another queue, is ReceiptHandleIsInvalid. On a
// standard queue, the latest handle deletes the message even after its
// visibility timeout ran out; an older one (the message was received again
// since) succeeds without deleting — AWS documents that such a call
// "succeeds, but the message might not be deleted", and sqsd takes the
// strict reading. On a FIFO queue an older handle, or the latest after its
// visibility timeout, is InvalidParameterValue "The receipt handle has
// expired", as AWS answers. Deleting a message that is already gone
// succeeds. ChangeMessageVisibility needs the latest handle
// (InvalidParameterValue otherwise) and a message still in flight
// (MessageNotInflight otherwise).
//
// # Deliberate differences from SQS
//
//   - A deleted queue's name can be reused at once (SQS asks for 60 s,
//     QueueDeletedRecently), and PurgeQueue acts at once and may be repeated
//     (SQS takes up to 60 s and answers PurgeQueueInProgress meanwhile):
//     waiting would only slow tests down.
//   - Standard queues are exact unless Config.Duplicates is set: no missed
//     messages on short polls (SQS samples a subset of servers), no
//     reordering beyond redelivery, and duplicate deliveries only at the
//     rate Config.Duplicates asks for (SQS states none): a receive then
//     leaves a copy of the message receivable by the next one, which the
//     first consumer's delete does not remove.
//   - ReceiveRequestAttemptId is accepted and ignored; KMS, Policy and
//     RedriveAllowPolicy attributes are stored and reported, not enforced;
//     in-flight limits (OverLimit) and throttling are not modelled.
//   - A MessageGroupId on a standard queue is accepted and reported (SQS
//     fair queues), with no ordering effect.
//
// # Latency
//
// Config.Latency puts a cloud-like round trip in front of every call (see
// LatencyProfile; "region" assumes about 10 ms median and 40 ms p99 for a
// same-region call). Half the delay is spent before the call takes effect,
// half after.
//
// # Metrics
//
// With Config.Registerer set: chatbench_sqsd_requests_total{action,outcome},
// chatbench_sqsd_request_duration_seconds{action} (including long-poll
// waits) and the gauge chatbench_sqsd_messages{queue_kind,state}. Labels
// never carry queue names.
//
// # State
//
// A Server holds all its state (queues, messages, metrics, goroutines)
// itself; the package has no mutable globals, so servers in one process are
// independent. State lives in memory only and is lost on Close.
package sqsd
