package queuemode

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Deleting processed messages. By default each is deleted with its own
// DeleteMessage call, as soon as its events are posted. With
// WorkerConfig.BatchDeletes one goroutine, the deleter, takes the deletes
// of every chain and sends those waiting together as one
// DeleteMessageBatch of up to 10 — without waiting to fill a batch, so an
// idle worker deletes at once and a busy one makes a tenth of the calls:
// SQS's own advice for throughput, and what a design that queues every job
// as its own message (GroupJob) needs not to spend its CPU on deletes.
//
// A partial batch goes out when no other delete call is in flight; while
// one is, deletes gather into the next batch, which goes out at once when
// it is full — up to deleteCalls calls at a time. So a quiet worker makes
// one call per round trip with whatever gathered meanwhile, and a busy one
// is not capped: with one call at a time a worker could delete at most ten
// messages per round trip — about 800 a second at the region profile's
// 10 ms median — and since a message keeps its in-flight slot until it is
// deleted, the slots filled, the pollers stopped receiving and the queue
// backed up at a few hundred messages a second while the worker's CPU sat
// idle (docs/performance.md). Sending every partial batch at once instead
// made calls of one or two deletes: the worker's CPU was half again as
// much (23.3 against 15.8 s in one compare).

// deleteCalls bounds the DeleteMessageBatch calls in flight at once: 16
// full batches per 10 ms round trip are 16,000 deletes/s, beyond what one
// worker processes.
const deleteCalls = 16

// deleteReq asks the deleter to delete one message; done receives the
// outcome.
type deleteReq struct {
	receipt *string
	done    chan error
}

// deleteMessage deletes a processed message, through the deleter when
// deletes are batched. It deletes even during a hard shutdown: the gateway
// has the events.
func (w *Worker) deleteMessage(receipt *string) error {
	if w.deletes == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(w.workCtx), w.cfg.CallTimeout)
		defer cancel()
		start := time.Now()
		_, err := w.cfg.Client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(w.cfg.QueueURL), ReceiptHandle: receipt})
		w.m.observe("DeleteMessage", start, err)
		return err
	}
	r := deleteReq{receipt: receipt, done: make(chan error, 1)}
	w.deletes <- r
	return <-r.done
}

// runDeleter sends the deletes it is given as batches, as described
// above, until the channel is closed (after every chain has finished); it
// returns once every batch has its answer.
func (w *Worker) runDeleter() {
	defer close(w.deleterDone)
	var calls sync.WaitGroup
	defer calls.Wait()
	finished := make(chan struct{}, deleteCalls)
	in, inFlight := w.deletes, 0
	var batch []deleteReq
	for in != nil || len(batch) > 0 {
		full := len(batch) == maxBatchEntries
		if len(batch) > 0 && inFlight < deleteCalls && (full || inFlight == 0 || in == nil) {
			b := batch
			batch, inFlight = nil, inFlight+1
			calls.Go(func() {
				w.deleteBatch(b)
				finished <- struct{}{}
			})
			continue
		}
		recv := in
		if full {
			recv = nil // every call is busy: wait for one
		}
		select {
		case r, ok := <-recv:
			if !ok {
				in = nil
				continue
			}
			batch = append(batch, r)
		case <-finished:
			inFlight--
		}
	}
}

// deleteBatch deletes batch with one DeleteMessageBatch and tells each
// request its outcome.
func (w *Worker) deleteBatch(batch []deleteReq) {
	entries := make([]types.DeleteMessageBatchRequestEntry, len(batch))
	for i, r := range batch {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: r.receipt}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.workCtx), w.cfg.CallTimeout)
	start := time.Now()
	out, err := w.cfg.Client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(w.cfg.QueueURL), Entries: entries})
	cancel()
	w.m.observe("DeleteMessageBatch", start, err)
	failed := map[string]error{}
	if err == nil {
		for _, f := range out.Failed {
			failed[aws.ToString(f.Id)] = fmt.Errorf("queuemode: delete refused: %s", aws.ToString(f.Code))
		}
	}
	for i, r := range batch {
		switch {
		case err != nil:
			r.done <- err
		case failed[strconv.Itoa(i)] != nil:
			r.done <- failed[strconv.Itoa(i)]
		default:
			r.done <- nil
		}
	}
}
