package sqsd

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// BenchmarkSendReceiveDelete measures one message's full trip through the
// SDK over loopback: SendMessage, ReceiveMessage, DeleteMessage — singly, or
// ten at a time with the batch calls (ns/op is then per batch of 10; see
// ns/msg).
func BenchmarkSendReceiveDelete(b *testing.B) {
	for _, kind := range []string{"standard", "fifo"} {
		b.Run(kind+"/single", func(b *testing.B) {
			e := newEnv(b, Config{})
			url := benchQueue(e, kind)
			body := aws.String(`{"type":"chat.message","text":"hello from the benchmark"}`)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				_, err := e.sqs.SendMessage(e.ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: body,
					MessageGroupId: benchGroup(kind, i), MessageDeduplicationId: benchDedup(kind, i)})
				if err != nil {
					b.Fatal(err)
				}
				out, err := e.sqs.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 1})
				if err != nil || len(out.Messages) != 1 {
					b.Fatalf("receive: %v %v", out, err)
				}
				if _, err := e.sqs.DeleteMessage(e.ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: out.Messages[0].ReceiptHandle}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/msg")
		})
		b.Run(kind+"/batch10", func(b *testing.B) {
			e := newEnv(b, Config{})
			url := benchQueue(e, kind)
			body := aws.String(`{"type":"chat.message","text":"hello from the benchmark"}`)
			entries := make([]types.SendMessageBatchRequestEntry, 10)
			dels := make([]types.DeleteMessageBatchRequestEntry, 0, 10)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				for j := range entries {
					entries[j] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)), MessageBody: body,
						MessageGroupId: benchGroup(kind, j), MessageDeduplicationId: benchDedup(kind, i*10+j)}
				}
				out, err := e.sqs.SendMessageBatch(e.ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries})
				if err != nil || len(out.Failed) != 0 {
					b.Fatalf("send batch: %v %v", err, out)
				}
				for got := 0; got < 10; {
					rec, err := e.sqs.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10})
					if err != nil || len(rec.Messages) == 0 {
						b.Fatalf("receive: %v %v", rec, err)
					}
					dels = dels[:0]
					for k, m := range rec.Messages {
						dels = append(dels, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(k)), ReceiptHandle: m.ReceiptHandle})
					}
					if _, err := e.sqs.DeleteMessageBatch(e.ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: dels}); err != nil {
						b.Fatal(err)
					}
					got += len(rec.Messages)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10, "ns/msg")
		})
	}
}

func benchQueue(e *env, kind string) string {
	if kind == "fifo" {
		return e.fifo("bench.fifo", nil)
	}
	return e.createQueue("bench", nil)
}

// benchGroup spreads FIFO messages over ten groups.
func benchGroup(kind string, i int) *string {
	if kind != "fifo" {
		return nil
	}
	return aws.String(fmt.Sprint("conv-", i%10))
}

func benchDedup(kind string, i int) *string {
	if kind != "fifo" {
		return nil
	}
	return aws.String(strconv.Itoa(i))
}

// BenchmarkLongPollWake measures how long a ReceiveMessage that is already
// long-polling takes to return after SendMessage is called: from just
// before SendMessage until the receive returns, through the SDK over
// loopback. ns/op covers a whole iteration; wake-ns/op (mean), wake-p50-ns
// and wake-p99-ns are the wake latency itself.
func BenchmarkLongPollWake(b *testing.B) {
	for _, kind := range []string{"standard", "fifo"} {
		b.Run(kind, func(b *testing.B) {
			e := newEnv(b, Config{})
			url := benchQueue(e, kind)
			body := aws.String("wake up")
			var wakes []time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				r := e.receiveAsync(url, 1, 20)
				e.waitForWaiters(queueName(kind), 1)
				start := time.Now()
				_, err := e.sqs.SendMessage(e.ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: body,
					MessageGroupId: benchGroup(kind, i), MessageDeduplicationId: benchDedup(kind, i)})
				if err != nil {
					b.Fatal(err)
				}
				<-r.done
				wakes = append(wakes, time.Since(start))
				if r.err != nil || len(r.msgs) != 1 {
					b.Fatalf("receive: %v %v", r.msgs, r.err)
				}
				if _, err := e.sqs.DeleteMessage(e.ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: r.msgs[0].ReceiptHandle}); err != nil {
					b.Fatal(err)
				}
			}
			var sum time.Duration
			for _, w := range wakes {
				sum += w
			}
			slices.Sort(wakes)
			b.ReportMetric(float64(sum.Nanoseconds())/float64(len(wakes)), "wake-ns/op")
			b.ReportMetric(float64(wakes[len(wakes)/2].Nanoseconds()), "wake-p50-ns")
			b.ReportMetric(float64(wakes[len(wakes)*99/100].Nanoseconds()), "wake-p99-ns")
		})
	}
}

func queueName(kind string) string {
	if kind == "fifo" {
		return "bench.fifo"
	}
	return "bench"
}
