package sqsd

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

func TestQueueLifecycle(t *testing.T) {
	e := newEnv(t, Config{Region: "eu-west-1", AccountID: "123456789012"})
	url := e.createQueue("jobs", map[string]string{"VisibilityTimeout": "45"})
	if want := e.url + "/123456789012/jobs"; url != want {
		t.Errorf("queue url = %q, want %q", url, want)
	}

	// Idempotent with matching attributes, QueueNameExists otherwise.
	if again := e.createQueue("jobs", map[string]string{"VisibilityTimeout": "45"}); again != url {
		t.Errorf("second create = %q, want %q", again, url)
	}
	_, err := e.sqs.CreateQueue(e.ctx, &sqs.CreateQueueInput{QueueName: aws.String("jobs"), Attributes: map[string]string{"VisibilityTimeout": "46"}})
	var exists *types.QueueNameExists
	if !errors.As(err, &exists) || errCode(err) != "QueueAlreadyExists" {
		t.Errorf("create with other attributes: %v (code %q), want QueueNameExists/QueueAlreadyExists", err, errCode(err))
	}

	got, err := e.sqs.GetQueueUrl(e.ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("jobs")})
	if err != nil || aws.ToString(got.QueueUrl) != url {
		t.Errorf("GetQueueUrl = %v, %v; want %s", aws.ToString(got.QueueUrl), err, url)
	}

	a := e.attrs(url)
	for k, want := range map[string]string{
		"VisibilityTimeout":             "45",
		"QueueArn":                      "arn:aws:sqs:eu-west-1:123456789012:jobs",
		"DelaySeconds":                  "0",
		"MessageRetentionPeriod":        "345600",
		"ReceiveMessageWaitTimeSeconds": "0",
		"MaximumMessageSize":            "1048576",
		"ApproximateNumberOfMessages":   "0",
	} {
		if a[k] != want {
			t.Errorf("attribute %s = %q, want %q", k, a[k], want)
		}
	}
	if _, ok := a["FifoQueue"]; ok {
		t.Errorf("standard queue reports FifoQueue")
	}
	if _, err := strconv.ParseInt(a["CreatedTimestamp"], 10, 64); err != nil {
		t.Errorf("CreatedTimestamp %q: %v", a["CreatedTimestamp"], err)
	}

	if _, err := e.sqs.SetQueueAttributes(e.ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url),
		Attributes: map[string]string{"DelaySeconds": "5", "ReceiveMessageWaitTimeSeconds": "3"}}); err != nil {
		t.Fatal(err)
	}
	one, err := e.sqs.GetQueueAttributes(e.ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameDelaySeconds}})
	if err != nil || len(one.Attributes) != 1 || one.Attributes["DelaySeconds"] != "5" {
		t.Errorf("GetQueueAttributes(DelaySeconds) = %v, %v", one.Attributes, err)
	}

	// ListQueues: prefix and pagination.
	for _, n := range []string{"jobs-dlq", "other", "jobs-b"} {
		e.createQueue(n, nil)
	}
	lq, err := e.sqs.ListQueues(e.ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String("jobs")})
	if err != nil || len(lq.QueueUrls) != 3 || lq.NextToken != nil {
		t.Errorf("ListQueues(jobs) = %v next %v, %v", lq.QueueUrls, lq.NextToken, err)
	}
	var pages [][]string
	p := sqs.NewListQueuesPaginator(e.sqs, &sqs.ListQueuesInput{MaxResults: aws.Int32(3)})
	for p.HasMorePages() {
		pg, err := p.NextPage(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, pg.QueueUrls)
	}
	if len(pages) != 2 || len(pages[0]) != 3 || len(pages[1]) != 1 || !strings.HasSuffix(pages[1][0], "/other") {
		t.Errorf("ListQueues pages = %v", pages)
	}

	// Tags.
	if _, err := e.sqs.TagQueue(e.ctx, &sqs.TagQueueInput{QueueUrl: aws.String(url), Tags: map[string]string{"team": "chat"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := e.sqs.ListQueueTags(e.ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(url)})
	if err != nil || tags.Tags["team"] != "chat" {
		t.Errorf("ListQueueTags = %v, %v", tags.Tags, err)
	}

	if _, err := e.sqs.DeleteQueue(e.ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.sqs.SendMessage(e.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x")})
	var dne *types.QueueDoesNotExist
	if !errors.As(err, &dne) {
		t.Fatalf("send to deleted queue: %v, want QueueDoesNotExist", err)
	}
	if errCode(err) != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Errorf("error code = %q, want the legacy Query code", errCode(err))
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorFault() != smithy.FaultClient {
		t.Errorf("fault = %v, want client", ae.ErrorFault())
	}
	_, err = e.sqs.GetQueueUrl(e.ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("jobs")})
	if !errors.As(err, &dne) {
		t.Errorf("GetQueueUrl of deleted queue: %v", err)
	}
}

func TestCreateQueueValidation(t *testing.T) {
	e := newEnv(t, Config{})
	e.createQueue("dlq-std", nil)
	cases := []struct {
		name  string
		queue string
		attrs map[string]string
		code  string // SDK ErrorCode()
		typed any    // pointer to the typed error expected, or nil
	}{
		{"fifo name without FifoQueue", "a.fifo", nil, "InvalidParameterValue", nil},
		{"FifoQueue without .fifo name", "a", map[string]string{"FifoQueue": "true"}, "InvalidParameterValue", nil},
		{"dot in a standard name", "a.b", nil, "InvalidParameterValue", nil},
		{"name too long", strings.Repeat("a", 81), nil, "InvalidParameterValue", nil},
		{"visibility out of range", "a", map[string]string{"VisibilityTimeout": "43201"}, "InvalidAttributeValue", new(*types.InvalidAttributeValue)},
		{"wait time out of range", "a", map[string]string{"ReceiveMessageWaitTimeSeconds": "21"}, "InvalidAttributeValue", new(*types.InvalidAttributeValue)},
		{"unknown attribute", "a", map[string]string{"Colour": "blue"}, "InvalidAttributeName", new(*types.InvalidAttributeName)},
		{"read-only attribute", "a", map[string]string{"QueueArn": "x"}, "InvalidAttributeName", new(*types.InvalidAttributeName)},
		{"content dedup on standard", "a", map[string]string{"ContentBasedDeduplication": "true"}, "InvalidAttributeName", new(*types.InvalidAttributeName)},
		// The dead-letter target must exist and be of the same kind.
		{"redrive to missing queue", "a", map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:nope","maxReceiveCount":3}`}, "InvalidParameterValue", nil},
		{"fifo redrive to standard dlq", "a.fifo", map[string]string{"FifoQueue": "true", "RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq-std","maxReceiveCount":3}`}, "InvalidParameterValue", nil},
		{"maxReceiveCount zero", "a", map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq-std","maxReceiveCount":0}`}, "InvalidParameterValue", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.sqs.CreateQueue(e.ctx, &sqs.CreateQueueInput{QueueName: aws.String(tc.queue), Attributes: tc.attrs})
			if err == nil {
				t.Fatal("created; want an error")
			}
			if got := errCode(err); got != tc.code {
				t.Errorf("code = %q, want %q (%v)", got, tc.code, err)
			}
			if tc.typed != nil && !errors.As(err, tc.typed) {
				t.Errorf("%v is not %T", err, tc.typed)
			}
		})
	}
	// A string maxReceiveCount is accepted, as SQS accepts it.
	e.createQueue("a", map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq-std","maxReceiveCount":"3"}`})
}

func TestSendReceiveDelete(t *testing.T) {
	e := newEnv(t, Config{})
	url := e.createQueue("std", nil)
	attrs := map[string]types.MessageAttributeValue{
		"kind":  {DataType: aws.String("String"), StringValue: aws.String("chat")},
		"n":     {DataType: aws.String("Number"), StringValue: aws.String("42")},
		"blob":  {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2, 255}},
		"a.tag": {DataType: aws.String("String.custom"), StringValue: aws.String("é✓")},
	}
	sent, err := e.sqs.SendMessage(e.ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(url), MessageBody: aws.String(`{"hello":"wörld"}`), MessageAttributes: attrs,
		MessageSystemAttributes: map[string]types.MessageSystemAttributeValue{
			"AWSTraceHeader": {DataType: aws.String("String"), StringValue: aws.String("Root=1-5759e988-bd862e3fe1be46a994272793")},
		},
	})
	if err != nil {
		t.Fatal(err) // the SDK has validated MD5OfMessageBody
	}
	if want := refMD5OfAttributes(attrs); aws.ToString(sent.MD5OfMessageAttributes) != want {
		t.Errorf("MD5OfMessageAttributes = %s, want %s", aws.ToString(sent.MD5OfMessageAttributes), want)
	}
	if sent.MD5OfMessageSystemAttributes == nil || sent.SequenceNumber != nil {
		t.Errorf("send output: system MD5 %v, sequence %v", sent.MD5OfMessageSystemAttributes, sent.SequenceNumber)
	}

	ms := e.receive(url, 10, 0, nil)
	if len(ms) != 1 {
		t.Fatalf("received %d messages, want 1", len(ms))
	}
	m := ms[0]
	if aws.ToString(m.MessageId) != aws.ToString(sent.MessageId) || aws.ToString(m.Body) != `{"hello":"wörld"}` {
		t.Errorf("received %s %q", aws.ToString(m.MessageId), aws.ToString(m.Body))
	}
	if aws.ToString(m.MD5OfMessageAttributes) != aws.ToString(sent.MD5OfMessageAttributes) {
		t.Errorf("receive MD5OfMessageAttributes %s != send's %s", aws.ToString(m.MD5OfMessageAttributes), aws.ToString(sent.MD5OfMessageAttributes))
	}
	if got := m.MessageAttributes["blob"].BinaryValue; string(got) != "\x00\x01\x02\xff" {
		t.Errorf("binary attribute = %v", got)
	}
	if m.Attributes["ApproximateReceiveCount"] != "1" || m.Attributes["SenderId"] != "AKIDSQSDTEST" ||
		m.Attributes["AWSTraceHeader"] == "" || m.Attributes["SentTimestamp"] == "" || m.Attributes["ApproximateFirstReceiveTimestamp"] == "" {
		t.Errorf("system attributes = %v", m.Attributes)
	}
	if a := e.attrs(url); a["ApproximateNumberOfMessagesNotVisible"] != "1" || a["ApproximateNumberOfMessages"] != "0" {
		t.Errorf("counts while in flight: %v", a)
	}
	if again := e.receive(url, 10, 0, nil); len(again) != 0 {
		t.Errorf("in-flight message received again: %v", bodies(again))
	}
	e.del(url, m)
	e.del(url, m) // deleting what is gone succeeds
	if a := e.attrs(url); a["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Errorf("counts after delete: %v", a)
	}

	// Only the attributes asked for come back, and their digest covers just those.
	e.sqs.SendMessage(e.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("b"), MessageAttributes: attrs})
	out, err := e.sqs.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MessageAttributeNames: []string{"a.*", "n"}})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive: %v %v", out, err)
	}
	got := out.Messages[0]
	if len(got.MessageAttributes) != 2 || got.Attributes != nil {
		t.Errorf("selected attributes = %v, system %v", got.MessageAttributes, got.Attributes)
	}
	if want := refMD5OfAttributes(got.MessageAttributes); aws.ToString(got.MD5OfMessageAttributes) != want {
		t.Errorf("partial MD5 = %s, want %s", aws.ToString(got.MD5OfMessageAttributes), want)
	}
}

// refMD5OfAttributes is an independent rendering of SQS's documented
// message-attribute digest, for cross-checking.
func refMD5OfAttributes(attrs map[string]types.MessageAttributeValue) string {
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	slices.Sort(names)
	h := md5.New()
	put := func(b []byte) {
		h.Write([]byte{byte(len(b) >> 24), byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))})
		h.Write(b)
	}
	for _, n := range names {
		v := attrs[n]
		put([]byte(n))
		put([]byte(aws.ToString(v.DataType)))
		if strings.HasPrefix(aws.ToString(v.DataType), "Binary") {
			h.Write([]byte{2})
			put(v.BinaryValue)
		} else {
			h.Write([]byte{1})
			put([]byte(aws.ToString(v.StringValue)))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestMD5OfAttributesKnownVectors(t *testing.T) {
	s := func(v string) *string { return &v }
	// Digests published by other SQS implementations' test suites.
	cases := []struct {
		attrs map[string]attributeValue
		want  string
	}{
		{map[string]attributeValue{"timestamp": {DataType: s("Number"), StringValue: s("1493147359900")}}, "235c5c510d26fb653d073faed50ae77c"},
		{map[string]attributeValue{"SellerName": {DataType: s("String"), StringValue: s("Example Store")}}, "cd28f3b68aeee4b2eac9c66f2f694b58"},
		{map[string]attributeValue{
			"ordinal":  {DataType: s("Number"), StringValue: s("1")},
			"category": {DataType: s("String"), StringValue: s("test")},
		}, "d21ae90c49061e927f57df5f5d72be1f"},
		{nil, ""},
	}
	for _, tc := range cases {
		if got := md5OfAttributes(tc.attrs); got != tc.want {
			t.Errorf("md5OfAttributes(%v) = %q, want %q", tc.attrs, got, tc.want)
		}
	}
}

func TestSendValidation(t *testing.T) {
	e := newEnv(t, Config{})
	std := e.createQueue("std", nil)
	fifo := e.fifo("f.fifo", nil)
	big := strings.Repeat("x", 1048577)
	cases := []struct {
		name string
		in   *sqs.SendMessageInput
		code string
	}{
		{"too big", &sqs.SendMessageInput{QueueUrl: &std, MessageBody: &big}, "InvalidParameterValue"},
		{"invalid character", &sqs.SendMessageInput{QueueUrl: &std, MessageBody: aws.String("a\x01b")}, "InvalidMessageContents"},
		{"delay out of range", &sqs.SendMessageInput{QueueUrl: &std, MessageBody: aws.String("a"), DelaySeconds: 901}, "InvalidParameterValue"},
		{"dedup id on standard", &sqs.SendMessageInput{QueueUrl: &std, MessageBody: aws.String("a"), MessageDeduplicationId: aws.String("d")}, "InvalidParameterValue"},
		{"attribute of unknown type", &sqs.SendMessageInput{QueueUrl: &std, MessageBody: aws.String("a"),
			MessageAttributes: map[string]types.MessageAttributeValue{"k": {DataType: aws.String("Text"), StringValue: aws.String("v")}}}, "InvalidParameterValue"},
		{"number attribute not a number", &sqs.SendMessageInput{QueueUrl: &std, MessageBody: aws.String("a"),
			MessageAttributes: map[string]types.MessageAttributeValue{"k": {DataType: aws.String("Number"), StringValue: aws.String("1x")}}}, "InvalidParameterValue"},
		{"attribute named AWS.x", &sqs.SendMessageInput{QueueUrl: &std, MessageBody: aws.String("a"),
			MessageAttributes: map[string]types.MessageAttributeValue{"AWS.k": {DataType: aws.String("String"), StringValue: aws.String("v")}}}, "InvalidParameterValue"},
		{"fifo without group", &sqs.SendMessageInput{QueueUrl: &fifo, MessageBody: aws.String("a"), MessageDeduplicationId: aws.String("d")}, "MissingParameter"},
		{"fifo without dedup id", &sqs.SendMessageInput{QueueUrl: &fifo, MessageBody: aws.String("a"), MessageGroupId: aws.String("g")}, "InvalidParameterValue"},
		{"fifo per-message delay", &sqs.SendMessageInput{QueueUrl: &fifo, MessageBody: aws.String("a"), MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("d"), DelaySeconds: 3}, "InvalidParameterValue"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.sqs.SendMessage(e.ctx, tc.in)
			if got := errCode(err); got != tc.code {
				t.Errorf("code = %q, want %q (%v)", got, tc.code, err)
			}
		})
	}
	// Exactly at the limit is fine.
	e.send(std, strings.Repeat("x", 1048576))
}

func TestFIFOOrderAndGroupLock(t *testing.T) {
	e := newEnv(t, Config{})
	url := e.fifo("jobs.fifo", nil)
	var seqs []string
	for i := 1; i <= 3; i++ {
		out := e.sendGroup(url, "A", fmt.Sprint("a", i), fmt.Sprint("a", i))
		seqs = append(seqs, aws.ToString(out.SequenceNumber))
	}
	for i := 1; i <= 2; i++ {
		e.sendGroup(url, "B", fmt.Sprint("b", i), fmt.Sprint("b", i))
	}
	if !slices.IsSorted(seqs) || len(seqs[0]) != 20 {
		t.Errorf("sequence numbers %v are not increasing 20-digit strings", seqs)
	}

	// One message at a time: A's head, then B's head; both groups are then locked.
	first := e.receive(url, 1, 0, nil)
	second := e.receive(url, 1, 0, nil)
	if got := append(bodies(first), bodies(second)...); !slices.Equal(got, []string{"a1", "b1"}) {
		t.Fatalf("first receives = %v, want [a1 b1]", got)
	}
	if m := first[0]; m.Attributes["MessageGroupId"] != "A" || m.Attributes["MessageDeduplicationId"] != "a1" || m.Attributes["SequenceNumber"] != seqs[0] {
		t.Errorf("FIFO attributes = %v", m.Attributes)
	}
	if more := e.receive(url, 10, 0, nil); len(more) != 0 {
		t.Fatalf("received %v while both groups have a message in flight", bodies(more))
	}
	// Deleting B's head unlocks B only.
	e.del(url, second[0])
	if got := bodies(e.receive(url, 10, 0, nil)); !slices.Equal(got, []string{"b2"}) {
		t.Fatalf("after deleting b1 got %v, want [b2]", got)
	}
	// Deleting A's head unlocks A; one receive returns the rest of A in order.
	e.del(url, first[0])
	rest := e.receive(url, 10, 0, nil)
	if got := bodies(rest); !slices.Equal(got, []string{"a2", "a3"}) {
		t.Fatalf("after deleting a1 got %v, want [a2 a3]", got)
	}
	// Releasing a3 alone does not unlock A while a2 is in flight.
	e.setVisibility(url, rest[1], 0)
	if more := e.receive(url, 10, 0, nil); len(more) != 0 {
		t.Fatalf("received %v while a2 is in flight", bodies(more))
	}
	// Releasing a2 makes A receivable again from a2, in order.
	e.setVisibility(url, rest[0], 0)
	again := e.receive(url, 10, 0, nil)
	if got := bodies(again); !slices.Equal(got, []string{"a2", "a3"}) {
		t.Fatalf("redelivery = %v, want [a2 a3]", got)
	}
	if again[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Errorf("receive count = %s, want 2", again[0].Attributes["ApproximateReceiveCount"])
	}
}

func TestFIFOManyGroupsInterleave(t *testing.T) {
	// Many groups active at once, consumed by several receivers: each group
	// stays in order and never has two messages in flight. (goaws v0.5.4's
	// group lock breaks once two groups are active.)
	e := newEnv(t, Config{})
	url := e.fifo("many.fifo", map[string]string{"ContentBasedDeduplication": "true"})
	const groups, perGroup = 5, 8
	for i := 0; i < perGroup; i++ {
		var entries []types.SendMessageBatchRequestEntry
		for g := 0; g < groups; g++ {
			entries = append(entries, types.SendMessageBatchRequestEntry{
				Id: aws.String(fmt.Sprint("e", g)), MessageBody: aws.String(fmt.Sprintf("g%d-%d", g, i)), MessageGroupId: aws.String(fmt.Sprint("g", g)),
			})
		}
		out, err := e.sqs.SendMessageBatch(e.ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries})
		if err != nil || len(out.Failed) != 0 {
			t.Fatalf("batch: %v %v", err, out.Failed)
		}
	}
	next := map[string]int{}
	inflight := map[string]int{} // messages held per group
	var held []types.Message
	for done := 0; done < groups*perGroup; {
		ms := e.receive(url, 3, 0, nil)
		if len(ms) == 0 {
			if len(held) == 0 {
				t.Fatalf("nothing receivable with %d of %d messages done", done, groups*perGroup)
			}
			// Finish the oldest held message.
			m := held[0]
			held = held[1:]
			e.del(url, m)
			inflight[m.Attributes["MessageGroupId"]]--
			done++
			continue
		}
		thisCall := map[string]bool{}
		for _, m := range ms {
			g := m.Attributes["MessageGroupId"]
			var gi, i int
			fmt.Sscanf(aws.ToString(m.Body), "g%d-%d", &gi, &i)
			if i != next[g] {
				t.Fatalf("group %s: got message %d, want %d", g, i, next[g])
			}
			// Several messages of a group may come in one receive, never
			// while an earlier receive's message of the group is in flight.
			if inflight[g] > 0 && !thisCall[g] {
				t.Fatalf("group %s delivered %s while another of its messages is in flight", g, aws.ToString(m.Body))
			}
			thisCall[g] = true
			next[g]++
			inflight[g]++
			held = append(held, m)
		}
	}
}

func TestLongPollWakesOnSend(t *testing.T) {
	e := newEnv(t, Config{})
	for _, name := range []string{"std", "lp.fifo"} {
		t.Run(name, func(t *testing.T) {
			var url string
			if strings.HasSuffix(name, ".fifo") {
				url = e.fifo(name, map[string]string{"ContentBasedDeduplication": "true"})
			} else {
				url = e.createQueue(name, nil)
			}
			r := e.receiveAsync(url, 1, 20)
			e.waitForWaiters(name, 1)
			sent, err := e.sqs.SendMessage(e.ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("wake"), MessageGroupId: groupFor(name)})
			if err != nil {
				t.Fatal(err)
			}
			ms, err := r.result(t)
			if err != nil || len(ms) != 1 || aws.ToString(ms[0].MessageId) != aws.ToString(sent.MessageId) {
				t.Fatalf("long poll returned %v, %v; want the sent message", bodies(ms), err)
			}
		})
	}
}

func groupFor(queue string) *string {
	if strings.HasSuffix(queue, ".fifo") {
		return aws.String("g")
	}
	return nil
}

func TestLongPollManyWaitersEachGetOne(t *testing.T) {
	e := newEnv(t, Config{})
	url := e.createQueue("fan", nil)
	const n = 4
	rs := make([]*asyncReceive, n)
	for i := range rs {
		rs[i] = e.receiveAsync(url, 1, 20)
	}
	e.waitForWaiters("fan", n)
	var entries []types.SendMessageBatchRequestEntry
	for i := 0; i < n; i++ {
		entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(fmt.Sprint("m", i))})
	}
	if _, err := e.sqs.SendMessageBatch(e.ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		ms, err := r.result(t)
		if err != nil || len(ms) != 1 {
			t.Fatalf("waiter got %v, %v", bodies(ms), err)
		}
		got = append(got, bodies(ms)...)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"m0", "m1", "m2", "m3"}) {
		t.Errorf("waiters got %v", got)
	}
}

func TestVisibilityExpiryRedelivers(t *testing.T) {
	e := newEnv(t, Config{})
	url := e.createQueue("vis", nil)
	e.send(url, "again")
	first := e.receive(url, 1, 0, aws.Int32(1))
	if len(first) != 1 {
		t.Fatal("nothing received")
	}
	// The long poll must wake when the 1 s visibility timeout runs out,
	// without any send.
	second := e.receive(url, 1, 20, nil)
	if len(second) != 1 || aws.ToString(second[0].MessageId) != aws.ToString(first[0].MessageId) {
		t.Fatalf("redelivery = %v", bodies(second))
	}
	if c := second[0].Attributes["ApproximateReceiveCount"]; c != "2" {
		t.Errorf("ApproximateReceiveCount = %s, want 2", c)
	}
	if second[0].Attributes["ApproximateFirstReceiveTimestamp"] != first[0].Attributes["ApproximateFirstReceiveTimestamp"] {
		t.Errorf("first-receive timestamp changed")
	}
	if aws.ToString(second[0].ReceiptHandle) == aws.ToString(first[0].ReceiptHandle) {
		t.Errorf("receipt handle reused across receives")
	}

	// The first receive's handle no longer deletes (standard: succeeds, deletes nothing).
	e.del(url, first[0])
	if a := e.attrs(url); a["ApproximateNumberOfMessagesNotVisible"] != "1" {
		t.Errorf("stale handle deleted the message: %v", a)
	}
	_, err := e.sqs.ChangeMessageVisibility(e.ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: first[0].ReceiptHandle, VisibilityTimeout: 5})
	if errCode(err) != "InvalidParameterValue" {
		t.Errorf("change visibility with stale handle: %v", err)
	}
	e.del(url, second[0])
	if a := e.attrs(url); a["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Errorf("latest handle did not delete: %v", a)
	}
}

func TestFIFOExpiredHandle(t *testing.T) {
	e := newEnv(t, Config{})
	url := e.fifo("h.fifo", nil)
	e.sendGroup(url, "g", "1", "x")
	m := e.receive(url, 1, 0, nil)[0]
	e.setVisibility(url, m, 0)
	_, err := e.sqs.DeleteMessage(e.ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle})
	if errCode(err) != "InvalidParameterValue" || !strings.Contains(err.Error(), "expired") {
		t.Errorf("FIFO delete with an expired handle: %v", err)
	}
	_, err = e.sqs.ChangeMessageVisibility(e.ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 5})
	var notInflight *types.MessageNotInflight
	if !errors.As(err, &notInflight) {
		t.Errorf("change visibility of a visible message: %v, want MessageNotInflight", err)
	}
}

func TestReceiptHandleErrors(t *testing.T) {
	e := newEnv(t, Config{})
	a := e.createQueue("a", nil)
	b := e.createQueue("b", nil)
	e.send(a, "x")
	m := e.receive(a, 1, 0, nil)[0]
	for _, tc := range []struct {
		name, queue, handle string
	}{
		{"garbage", a, "not-a-handle"},
		{"another queue's handle", b, aws.ToString(m.ReceiptHandle)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var invalid *types.ReceiptHandleIsInvalid
			_, err := e.sqs.DeleteMessage(e.ctx, &sqs.DeleteMessageInput{QueueUrl: &tc.queue, ReceiptHandle: &tc.handle})
			if !errors.As(err, &invalid) {
				t.Errorf("delete: %v, want ReceiptHandleIsInvalid", err)
			}
			_, err = e.sqs.ChangeMessageVisibility(e.ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &tc.queue, ReceiptHandle: &tc.handle, VisibilityTimeout: 1})
			if !errors.As(err, &invalid) {
				t.Errorf("change visibility: %v, want ReceiptHandleIsInvalid", err)
			}
		})
	}
	// A queue deleted and created again does not honour its namesake's handles.
	e.sqs.DeleteQueue(e.ctx, &sqs.DeleteQueueInput{QueueUrl: &a})
	e.createQueue("a", nil)
	var invalid *types.ReceiptHandleIsInvalid
	if _, err := e.sqs.DeleteMessage(e.ctx, &sqs.DeleteMessageInput{QueueUrl: &a, ReceiptHandle: m.ReceiptHandle}); !errors.As(err, &invalid) {
		t.Errorf("delete with the old queue's handle: %v", err)
	}
}

func TestChangeVisibilityExtendsAndReleases(t *testing.T) {
	e := newEnv(t, Config{})
	url := e.createQueue("cv", nil)
	e.send(url, "x")
	m := e.receive(url, 1, 0, nil)[0]
	r := e.receiveAsync(url, 1, 20)
	e.waitForWaiters("cv", 1)
	// Setting the visibility to 0 makes the message receivable at once and wakes the poll.
	e.setVisibility(url, m, 0)
	ms, err := r.result(t)
	if err != nil || len(ms) != 1 || ms[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("after release: %v %v", ms, err)
	}
	_, err = e.sqs.ChangeMessageVisibility(e.ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: ms[0].ReceiptHandle, VisibilityTimeout: 43200})
	if errCode(err) != "InvalidParameterValue" {
		t.Errorf("extending past 12 h since the receive: %v", err)
	}
	e.setVisibility(url, ms[0], 600)
}

func TestDeadLetterRedrive(t *testing.T) {
	for _, kind := range []string{"standard", "fifo"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, Config{})
			suffix, attrs := "", map[string]string{}
			if kind == "fifo" {
				suffix = ".fifo"
				attrs["FifoQueue"] = "true"
				attrs["ContentBasedDeduplication"] = "true"
			}
			dlq := e.createQueue("dlq"+suffix, attrs)
			dlqArn := e.attrs(dlq)["QueueArn"]
			attrs["RedrivePolicy"] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":2}`, dlqArn)
			src := e.createQueue("src"+suffix, attrs)

			in := &sqs.SendMessageInput{QueueUrl: &src, MessageBody: aws.String("poison"), MessageGroupId: groupFor(suffix),
				MessageAttributes: map[string]types.MessageAttributeValue{"k": {DataType: aws.String("String"), StringValue: aws.String("v")}}}
			sent, err := e.sqs.SendMessage(e.ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if kind == "fifo" {
				// Queued behind the poison message in its group.
				e.sqs.SendMessage(e.ctx, &sqs.SendMessageInput{QueueUrl: &src, MessageBody: aws.String("next"), MessageGroupId: groupFor(suffix)})
			}
			// Received maxReceiveCount times, released each time.
			for i := 1; i <= 2; i++ {
				ms := e.receive(src, 1, 0, nil)
				if len(ms) != 1 || aws.ToString(ms[0].Body) != "poison" || ms[0].Attributes["ApproximateReceiveCount"] != strconv.Itoa(i) {
					t.Fatalf("receive %d: %v", i, ms)
				}
				e.setVisibility(src, ms[0], 0)
			}
			// The next attempt moves it to the DLQ and goes on with the queue.
			want := []string(nil)
			if kind == "fifo" {
				want = []string{"next"}
			}
			if got := bodies(e.receive(src, 1, 0, nil)); !slices.Equal(got, want) {
				t.Fatalf("third receive = %v, want %v", got, want)
			}
			dl := e.receive(dlq, 10, 0, nil)
			if len(dl) != 1 {
				t.Fatalf("DLQ holds %d messages", len(dl))
			}
			d := dl[0]
			if aws.ToString(d.MessageId) != aws.ToString(sent.MessageId) || aws.ToString(d.Body) != "poison" ||
				aws.ToString(d.MessageAttributes["k"].StringValue) != "v" || d.Attributes["DeadLetterQueueSourceArn"] == "" {
				t.Errorf("DLQ message = %+v", d)
			}
			if kind == "fifo" && d.Attributes["MessageGroupId"] != "g" {
				t.Errorf("DLQ message lost its group: %v", d.Attributes)
			}
			srcs, err := e.sqs.ListDeadLetterSourceQueues(e.ctx, &sqs.ListDeadLetterSourceQueuesInput{QueueUrl: &dlq})
			if err != nil || len(srcs.QueueUrls) != 1 || srcs.QueueUrls[0] != src {
				t.Errorf("ListDeadLetterSourceQueues = %v, %v", srcs, err)
			}
		})
	}
}

func TestDeduplication(t *testing.T) {
	clk := newClock()
	e := newEnv(t, Config{Now: clk.Now})
	t.Run("explicit id", func(t *testing.T) {
		url := e.fifo("d.fifo", nil)
		a := e.sendGroup(url, "g", "same", "one")
		b := e.sendGroup(url, "g", "same", "two") // different body, same id: still a duplicate
		if aws.ToString(a.MessageId) != aws.ToString(b.MessageId) || aws.ToString(a.SequenceNumber) != aws.ToString(b.SequenceNumber) {
			t.Errorf("duplicate got id %s seq %s, want %s %s", aws.ToString(b.MessageId), aws.ToString(b.SequenceNumber), aws.ToString(a.MessageId), aws.ToString(a.SequenceNumber))
		}
		ms := e.receive(url, 10, 0, nil)
		if got := bodies(ms); !slices.Equal(got, []string{"one"}) {
			t.Fatalf("received %v, want [one]", got)
		}
		// Deleting the original does not end the window.
		e.del(url, ms[0])
		e.sendGroup(url, "g", "same", "three")
		if ms := e.receive(url, 10, 0, nil); len(ms) != 0 {
			t.Fatalf("duplicate enqueued after delete: %v", bodies(ms))
		}
		clk.Advance(5*time.Minute + time.Millisecond)
		c := e.sendGroup(url, "g", "same", "four")
		if aws.ToString(c.MessageId) == aws.ToString(a.MessageId) {
			t.Error("id still deduplicated after 5 minutes")
		}
		if got := bodies(e.receive(url, 10, 0, nil)); !slices.Equal(got, []string{"four"}) {
			t.Errorf("after the window: %v", got)
		}
	})
	t.Run("content based", func(t *testing.T) {
		url := e.fifo("c.fifo", map[string]string{"ContentBasedDeduplication": "true"})
		a := e.sendGroup(url, "g1", "", "body")
		b := e.sendGroup(url, "g2", "", "body") // queue-scoped: another group is still a duplicate
		if aws.ToString(a.MessageId) != aws.ToString(b.MessageId) {
			t.Error("same body not deduplicated")
		}
		e.sendGroup(url, "g1", "", "other")
		ms := e.receive(url, 10, 0, nil)
		if got := bodies(ms); !slices.Equal(got, []string{"body", "other"}) {
			t.Fatalf("received %v", got)
		}
		if id := ms[0].Attributes["MessageDeduplicationId"]; len(id) != 64 {
			t.Errorf("content dedup id = %q, want the body's SHA-256", id)
		}
	})
	t.Run("message group scope", func(t *testing.T) {
		url := e.fifo("s.fifo", map[string]string{"ContentBasedDeduplication": "true", "DeduplicationScope": "messageGroup"})
		a := e.sendGroup(url, "g1", "", "body")
		b := e.sendGroup(url, "g2", "", "body")
		if aws.ToString(a.MessageId) == aws.ToString(b.MessageId) {
			t.Error("per-group scope deduplicated across groups")
		}
	})
}

func TestDelayAndRetention(t *testing.T) {
	e := newEnv(t, Config{})
	url := e.createQueue("delay", nil)
	_, err := e.sqs.SendMessage(e.ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("later"), DelaySeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if a := e.attrs(url); a["ApproximateNumberOfMessagesDelayed"] != "1" {
		t.Errorf("delayed count: %v", a)
	}
	if ms := e.receive(url, 1, 0, nil); len(ms) != 0 {
		t.Fatal("delayed message received early")
	}
	// The long poll wakes when the delay ends.
	if got := bodies(e.receive(url, 1, 20, nil)); !slices.Equal(got, []string{"later"}) {
		t.Fatalf("after the delay: %v", got)
	}

	clk := newClock()
	e2 := newEnv(t, Config{Now: clk.Now})
	url2 := e2.createQueue("ret", map[string]string{"MessageRetentionPeriod": "60"})
	e2.send(url2, "old")
	clk.Advance(60 * time.Second)
	if ms := e2.receive(url2, 1, 0, nil); len(ms) != 0 {
		t.Errorf("message outlived its retention: %v", bodies(ms))
	}
}

func TestBatches(t *testing.T) {
	e := newEnv(t, Config{})
	fifo := e.fifo("b.fifo", nil)
	out, err := e.sqs.SendMessageBatch(e.ctx, &sqs.SendMessageBatchInput{QueueUrl: &fifo, Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("ok1"), MessageBody: aws.String("1"), MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("1")},
		{Id: aws.String("nogroup"), MessageBody: aws.String("2"), MessageDeduplicationId: aws.String("2")},
		{Id: aws.String("ok2"), MessageBody: aws.String("3"), MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("3")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Successful) != 2 || len(out.Failed) != 1 {
		t.Fatalf("successful %d failed %d", len(out.Successful), len(out.Failed))
	}
	if f := out.Failed[0]; aws.ToString(f.Id) != "nogroup" || aws.ToString(f.Code) != "MissingParameter" || !f.SenderFault {
		t.Errorf("failed entry = %+v", f)
	}
	if aws.ToString(out.Successful[0].SequenceNumber) >= aws.ToString(out.Successful[1].SequenceNumber) {
		t.Errorf("batch sequence numbers not increasing")
	}

	std := e.createQueue("b", nil)
	many := make([]types.SendMessageBatchRequestEntry, 11)
	for i := range many {
		many[i] = types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String("x")}
	}
	_, err = e.sqs.SendMessageBatch(e.ctx, &sqs.SendMessageBatchInput{QueueUrl: &std, Entries: many})
	var tooMany *types.TooManyEntriesInBatchRequest
	if !errors.As(err, &tooMany) {
		t.Errorf("11 entries: %v", err)
	}
	_, err = e.sqs.SendMessageBatch(e.ctx, &sqs.SendMessageBatchInput{QueueUrl: &std, Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("x"), MessageBody: aws.String("1")}, {Id: aws.String("x"), MessageBody: aws.String("2")},
	}})
	var notDistinct *types.BatchEntryIdsNotDistinct
	if !errors.As(err, &notDistinct) {
		t.Errorf("repeated ids: %v", err)
	}
	_, err = e.sqs.SendMessageBatch(e.ctx, &sqs.SendMessageBatchInput{QueueUrl: &std, Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("bad id!"), MessageBody: aws.String("1")},
	}})
	var badID *types.InvalidBatchEntryId
	if !errors.As(err, &badID) {
		t.Errorf("invalid id: %v", err)
	}
	half := strings.Repeat("x", 600000)
	_, err = e.sqs.SendMessageBatch(e.ctx, &sqs.SendMessageBatchInput{QueueUrl: &std, Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: &half}, {Id: aws.String("b"), MessageBody: &half},
	}})
	var tooLong *types.BatchRequestTooLong
	if !errors.As(err, &tooLong) {
		t.Errorf("oversized batch: %v", err)
	}
	_, err = e.sqs.DeleteMessageBatch(e.ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &std, Entries: []types.DeleteMessageBatchRequestEntry{}})
	var empty *types.EmptyBatchRequest
	if !errors.As(err, &empty) {
		t.Errorf("empty batch: %v", err)
	}

	// Delete and change-visibility batches with one bad handle each.
	for i := 0; i < 3; i++ {
		e.send(std, fmt.Sprint(i))
	}
	ms := e.receive(std, 10, 0, nil)
	if len(ms) != 3 {
		t.Fatalf("received %d", len(ms))
	}
	cv, err := e.sqs.ChangeMessageVisibilityBatch(e.ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &std, Entries: []types.ChangeMessageVisibilityBatchRequestEntry{
		{Id: aws.String("a"), ReceiptHandle: ms[0].ReceiptHandle, VisibilityTimeout: 100},
		{Id: aws.String("b"), ReceiptHandle: aws.String("bogus"), VisibilityTimeout: 100},
	}})
	if err != nil || len(cv.Successful) != 1 || len(cv.Failed) != 1 || aws.ToString(cv.Failed[0].Code) != "ReceiptHandleIsInvalid" {
		t.Errorf("change visibility batch = %+v, %v", cv, err)
	}
	dm, err := e.sqs.DeleteMessageBatch(e.ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &std, Entries: []types.DeleteMessageBatchRequestEntry{
		{Id: aws.String("a"), ReceiptHandle: ms[0].ReceiptHandle},
		{Id: aws.String("b"), ReceiptHandle: ms[1].ReceiptHandle},
		{Id: aws.String("c"), ReceiptHandle: aws.String("bogus")},
	}})
	if err != nil || len(dm.Successful) != 2 || len(dm.Failed) != 1 || aws.ToString(dm.Failed[0].Id) != "c" {
		t.Errorf("delete batch = %+v, %v", dm, err)
	}
}

func TestReceiveValidation(t *testing.T) {
	e := newEnv(t, Config{})
	url := e.createQueue("rv", nil)
	for _, in := range []*sqs.ReceiveMessageInput{
		{QueueUrl: &url, MaxNumberOfMessages: 11},
		{QueueUrl: &url, WaitTimeSeconds: 21},
		{QueueUrl: &url, VisibilityTimeout: 43201},
	} {
		if _, err := e.sqs.ReceiveMessage(e.ctx, in); errCode(err) != "InvalidParameterValue" {
			t.Errorf("%+v: %v", in, err)
		}
	}
}

func TestPurgeQueue(t *testing.T) {
	e := newEnv(t, Config{})
	url := e.createQueue("p", nil)
	e.send(url, "a")
	e.send(url, "b")
	e.receive(url, 1, 0, nil)
	if _, err := e.sqs.PurgeQueue(e.ctx, &sqs.PurgeQueueInput{QueueUrl: &url}); err != nil {
		t.Fatal(err)
	}
	a := e.attrs(url)
	if a["ApproximateNumberOfMessages"] != "0" || a["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Errorf("after purge: %v", a)
	}
}

func TestTwoServersAreIndependent(t *testing.T) {
	a := newEnv(t, Config{})
	b := newEnv(t, Config{})
	ua := a.createQueue("same", nil)
	a.send(ua, "only in a")
	ub := b.createQueue("same", nil)
	if ms := b.receive(ub, 10, 0, nil); len(ms) != 0 {
		t.Errorf("server b sees %v", bodies(ms))
	}
	// A handle from server a means nothing to server b.
	m := a.receive(ua, 1, 0, nil)[0]
	var invalid *types.ReceiptHandleIsInvalid
	if _, err := b.sqs.DeleteMessage(b.ctx, &sqs.DeleteMessageInput{QueueUrl: &ub, ReceiptHandle: m.ReceiptHandle}); !errors.As(err, &invalid) {
		t.Errorf("server b accepted server a's handle: %v", err)
	}
	if err := a.srv.Close(); err != nil {
		t.Fatal(err)
	}
	b.send(ub, "b still serves")
}

func TestCloseEndsLongPolls(t *testing.T) {
	srv := New(Config{})
	waiting := make(chan struct{}, 1)
	srv.waitHook = func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, url: url, sqs: newClient(t, url), ctx: t.Context(), waiting: waiting}
	q := e.createQueue("closing", nil)
	rs := []*asyncReceive{e.receiveAsync(q, 1, 20), e.receiveAsync(q, 1, 20)}
	e.waitForWaiters("closing", 2)
	if err := srv.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	for _, r := range rs {
		if ms, _ := r.result(t); len(ms) != 0 {
			t.Errorf("poll ended by Close returned %v", bodies(ms))
		}
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if _, err := srv.Start("127.0.0.1:0"); err == nil {
		t.Error("Start after Close succeeded")
	}
}

func TestUnsupportedAndUnknownActions(t *testing.T) {
	e := newEnv(t, Config{})
	url := e.createQueue("u", nil)
	_, err := e.sqs.AddPermission(e.ctx, &sqs.AddPermissionInput{QueueUrl: &url, Label: aws.String("l"), AWSAccountIds: []string{"1"}, Actions: []string{"SendMessage"}})
	var unsupported *types.UnsupportedOperation
	if !errors.As(err, &unsupported) {
		t.Errorf("AddPermission: %v", err)
	}
}

// TestChangeVisibilityBatchPartial checks a batch with one good and one bad
// receipt handle: the good entry takes effect, the bad one is reported
// failed (ReceiptHandleIsInvalid, sender's fault), and a repeated entry id
// fails the whole call.
func TestChangeVisibilityBatchPartial(t *testing.T) {
	e := newEnv(t, Config{})
	url := e.createQueue("cvb", nil)
	e.send(url, "x")
	m := e.receive(url, 1, 0, nil)[0]
	out, err := e.sqs.ChangeMessageVisibilityBatch(e.ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &url,
		Entries: []types.ChangeMessageVisibilityBatchRequestEntry{
			{Id: aws.String("good"), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0},
			{Id: aws.String("bad"), ReceiptHandle: aws.String("not-a-handle"), VisibilityTimeout: 0},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Successful) != 1 || aws.ToString(out.Successful[0].Id) != "good" ||
		len(out.Failed) != 1 || aws.ToString(out.Failed[0].Id) != "bad" ||
		aws.ToString(out.Failed[0].Code) != "ReceiptHandleIsInvalid" || !out.Failed[0].SenderFault {
		t.Fatalf("successful %+v failed %+v", out.Successful, out.Failed)
	}
	// The good entry released the message at once.
	if ms := e.receive(url, 1, 0, nil); len(ms) != 1 || ms[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("after the batch released it: %v", ms)
	}
	_, err = e.sqs.ChangeMessageVisibilityBatch(e.ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &url,
		Entries: []types.ChangeMessageVisibilityBatchRequestEntry{
			{Id: aws.String("a"), ReceiptHandle: m.ReceiptHandle}, {Id: aws.String("a"), ReceiptHandle: m.ReceiptHandle},
		}})
	var notDistinct *types.BatchEntryIdsNotDistinct
	if !errors.As(err, &notDistinct) {
		t.Fatalf("repeated ids: %v, want BatchEntryIdsNotDistinct", err)
	}
}

// TestStandardDuplicates checks the at-least-once model: with Duplicates
// set, a receive from a standard queue leaves a copy that the next receive
// gets — the same MessageId and body, its own receipt handle — and that
// the first copy's delete leaves in place; a FIFO queue never duplicates.
func TestStandardDuplicates(t *testing.T) {
	e := newEnv(t, Config{Duplicates: 1})
	std := e.createQueue("std", nil)
	e.send(std, "hello")
	first := e.receive(std, 10, 0, nil)
	if len(first) != 1 {
		t.Fatalf("first receive: %d messages, want 1 (a receive never returns both copies)", len(first))
	}
	e.del(std, first[0])
	again := e.receive(std, 10, 0, nil)
	if len(again) != 1 || aws.ToString(again[0].MessageId) != aws.ToString(first[0].MessageId) ||
		aws.ToString(again[0].Body) != "hello" || aws.ToString(again[0].ReceiptHandle) == aws.ToString(first[0].ReceiptHandle) {
		t.Fatalf("after deleting the first copy the next receive got %+v, want the same message under a new receipt", again)
	}

	fifo := e.fifo("f.fifo", nil)
	e.sendGroup(fifo, "g", "d1", "once")
	got := e.receive(fifo, 10, 0, nil)
	e.del(fifo, got[0])
	if more := e.receive(fifo, 10, 0, nil); len(got) != 1 || len(more) != 0 {
		t.Errorf("FIFO queue: received %d then %d messages, want 1 then 0", len(got), len(more))
	}

	exact := newEnv(t, Config{})
	q := exact.createQueue("std", nil)
	exact.send(q, "hello")
	exact.del(q, exact.receive(q, 10, 0, nil)[0])
	if more := exact.receive(q, 10, 0, nil); len(more) != 0 {
		t.Errorf("without Duplicates a deleted message came back: %+v", more)
	}
}

// TestQueueMessageSizeLimit checks that a queue's own MaximumMessageSize
// bounds each message, while a batch may hold up to 1 MiB of them.
func TestQueueMessageSizeLimit(t *testing.T) {
	e := newEnv(t, Config{})
	small := e.createQueue("small", map[string]string{"MaximumMessageSize": "1024"})
	if _, err := e.sqs.SendMessage(e.ctx, &sqs.SendMessageInput{QueueUrl: &small, MessageBody: aws.String(strings.Repeat("x", 1025))}); errCode(err) != "InvalidParameterValue" {
		t.Errorf("1025 bytes to a 1024-byte queue: %v, want InvalidParameterValue", err)
	}
	e.send(small, strings.Repeat("x", 1024))
	kb := strings.Repeat("x", 1000)
	out, err := e.sqs.SendMessageBatch(e.ctx, &sqs.SendMessageBatchInput{QueueUrl: &small, Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: &kb}, {Id: aws.String("b"), MessageBody: &kb},
	}})
	if err != nil || len(out.Successful) != 2 {
		t.Errorf("two 1000-byte messages in one batch: %+v, %v", out, err)
	}
}
