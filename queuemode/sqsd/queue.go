package sqsd

import (
	"container/heap"
	"container/list"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Queue attribute limits and defaults, as documented for SQS.
const (
	defaultVisibilityTimeout = 30
	maxVisibilityTimeout     = 43200 // 12 hours, also the cap on a message's total visibility
	defaultRetention         = 345600
	defaultMaxMessageSize    = 1048576 // 1 MiB: SQS's default and most (doc.go)
	maxMaxMessageSize        = 1048576
	maxBatchPayload          = 1048576 // the bodies of one SendMessageBatch together
	maxDelaySeconds          = 900
	maxWaitTimeSeconds       = 20
	maxBatchEntries          = 10
	maxMessageAttributes     = 10
	dedupInterval            = 5 * time.Minute
	maxQueueNameLen          = 80
)

var queueNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// queueAttrs holds a queue's settable attributes, parsed. Every field is
// guarded by Server.mu.
type queueAttrs struct {
	visibilityTimeout int
	maxMessageSize    int
	retention         int
	delay             int
	waitTime          int
	redrive           *redrivePolicy
	contentDedup      bool
	dedupScope        string // FIFO: "queue" or "messageGroup"
	throughputLimit   string // FIFO: "perQueue" or "perMessageGroupId"
	// opaque holds attributes sqsd stores and returns but does not act on
	// (Policy, KMS and SSE settings, RedriveAllowPolicy).
	opaque map[string]string
}

type redrivePolicy struct {
	DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	MaxReceiveCount     int    `json:"maxReceiveCount"`
}

func defaultAttrs(fifo bool) queueAttrs {
	a := queueAttrs{
		visibilityTimeout: defaultVisibilityTimeout,
		maxMessageSize:    defaultMaxMessageSize,
		retention:         defaultRetention,
		opaque:            map[string]string{},
	}
	if fifo {
		a.dedupScope = "queue"
		a.throughputLimit = "perQueue"
	}
	return a
}

// queue is one SQS queue. Every field is guarded by Server.mu.
type queue struct {
	id       uint64 // incarnation: receipt handles of a deleted namesake are rejected
	name     string
	arn      string
	fifo     bool
	attrs    queueAttrs
	created  time.Time
	modified time.Time
	tags     map[string]string
	deleted  bool

	msgs    map[uint64]*message // live messages by internal sequence
	nextSeq uint64

	// Standard queues: ready holds visible messages (oldest first); pending
	// is a min-heap by visibleAt of delayed and in-flight messages.
	ready   list.List
	pending pendingHeap

	// FIFO queues: messages per group in send order. A message stays in its
	// group until deleted, so the received (possibly in-flight) messages of
	// a group always form a prefix of its list.
	groups     map[string]*group
	dedup      map[string]dedupEntry
	dedupOrder []dedupKey // insertion order, for expiry

	waiters list.List // of *waiter, oldest first
}

type group struct {
	id   string
	msgs list.List // of *message
}

type dedupEntry struct {
	messageID string
	seqNum    string
	at        time.Time
}

type dedupKey struct {
	key string
	at  time.Time
}

// waiter is one long-polling ReceiveMessage. ch has room for one wake-up.
type waiter struct {
	ch    chan struct{}
	elem  *list.Element
	woken bool
}

func newQueue(id uint64, name, arn string, fifo bool, now time.Time) *queue {
	q := &queue{
		id:       id,
		name:     name,
		arn:      arn,
		fifo:     fifo,
		attrs:    defaultAttrs(fifo),
		created:  now,
		modified: now,
		tags:     map[string]string{},
		msgs:     map[uint64]*message{},
	}
	if fifo {
		q.groups = map[string]*group{}
		q.dedup = map[string]dedupEntry{}
	}
	return q
}

func validateQueueName(name string) *apiError {
	if name == "" {
		return errMissingParameter("QueueName")
	}
	if base, ok := strings.CutSuffix(name, ".fifo"); ok {
		if len(name) > maxQueueNameLen || !queueNameRE.MatchString(base) {
			return errInvalidParameterValue("The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length (got %q).", name)
		}
		return nil
	}
	if !queueNameRE.MatchString(name) {
		return errInvalidParameterValue("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length (got %q).", name)
	}
	return nil
}

// attrChange is one validated attribute assignment.
type attrChange struct {
	name  string
	apply func(*queueAttrs)
	// canon is the value in the form GetQueueAttributes reports, used to
	// decide whether CreateQueue on an existing queue is idempotent.
	canon string
}

// parseAttrs validates a CreateQueue or SetQueueAttributes attribute map for
// a queue of the given kind. lookupDLQ resolves a dead-letter target ARN.
func parseAttrs(in map[string]string, fifo bool, creating bool, lookupDLQ func(arn string) *queue) ([]attrChange, *apiError) {
	var out []attrChange
	intAttr := func(name, v string, lo, hi int, set func(*queueAttrs, int)) *apiError {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < lo || n > hi {
			return errInvalidAttributeValue("Invalid value for the parameter %s: %q must be an integer between %d and %d.", name, v, lo, hi)
		}
		out = append(out, attrChange{name: name, canon: strconv.Itoa(n), apply: func(a *queueAttrs) { set(a, n) }})
		return nil
	}
	boolAttr := func(name, v string) (bool, *apiError) {
		switch strings.ToLower(v) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, errInvalidAttributeValue("Invalid value for the parameter %s: %q must be true or false.", name, v)
	}
	for name, v := range in {
		var err *apiError
		switch name {
		case "VisibilityTimeout":
			err = intAttr(name, v, 0, maxVisibilityTimeout, func(a *queueAttrs, n int) { a.visibilityTimeout = n })
		case "MaximumMessageSize":
			err = intAttr(name, v, 1024, maxMaxMessageSize, func(a *queueAttrs, n int) { a.maxMessageSize = n })
		case "MessageRetentionPeriod":
			err = intAttr(name, v, 60, 1209600, func(a *queueAttrs, n int) { a.retention = n })
		case "DelaySeconds":
			err = intAttr(name, v, 0, maxDelaySeconds, func(a *queueAttrs, n int) { a.delay = n })
		case "ReceiveMessageWaitTimeSeconds":
			err = intAttr(name, v, 0, maxWaitTimeSeconds, func(a *queueAttrs, n int) { a.waitTime = n })
		case "KmsDataKeyReusePeriodSeconds":
			err = intAttr(name, v, 60, 86400, func(a *queueAttrs, n int) { a.opaque["KmsDataKeyReusePeriodSeconds"] = strconv.Itoa(n) })
		case "RedrivePolicy":
			var rp *redrivePolicy
			rp, err = parseRedrivePolicy(v, fifo, lookupDLQ)
			if err == nil {
				canon := ""
				if rp != nil {
					canon = rp.String()
				}
				out = append(out, attrChange{name: name, canon: canon, apply: func(a *queueAttrs) { a.redrive = rp }})
			}
		case "FifoQueue":
			var b bool
			b, err = boolAttr(name, v)
			switch {
			case err != nil:
			case !fifo && !creating:
				err = errInvalidAttributeName("Unknown Attribute FifoQueue.")
			case b != fifo && creating:
				err = errInvalidParameterValue("The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length; FifoQueue=%s needs a name that %s in .fifo.", v, map[bool]string{true: "ends", false: "does not end"}[b])
			case b != fifo:
				err = errInvalidAttributeValue("Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.")
			}
			if err == nil && fifo {
				out = append(out, attrChange{name: name, canon: "true", apply: func(*queueAttrs) {}})
			}
		case "ContentBasedDeduplication":
			if !fifo {
				err = errInvalidAttributeName("Unknown Attribute ContentBasedDeduplication.")
				break
			}
			var b bool
			if b, err = boolAttr(name, v); err == nil {
				out = append(out, attrChange{name: name, canon: strconv.FormatBool(b), apply: func(a *queueAttrs) { a.contentDedup = b }})
			}
		case "DeduplicationScope", "FifoThroughputLimit":
			if !fifo {
				err = errInvalidAttributeName("Unknown Attribute %s.", name)
				break
			}
			allowed := map[string][]string{
				"DeduplicationScope":  {"queue", "messageGroup"},
				"FifoThroughputLimit": {"perQueue", "perMessageGroupId"},
			}[name]
			if v != allowed[0] && v != allowed[1] {
				err = errInvalidAttributeValue("Invalid value for the parameter %s: %q must be %s or %s.", name, v, allowed[0], allowed[1])
				break
			}
			if name == "DeduplicationScope" {
				out = append(out, attrChange{name: name, canon: v, apply: func(a *queueAttrs) { a.dedupScope = v }})
			} else {
				out = append(out, attrChange{name: name, canon: v, apply: func(a *queueAttrs) { a.throughputLimit = v }})
			}
		case "SqsManagedSseEnabled":
			var b bool
			if b, err = boolAttr(name, v); err == nil {
				s := strconv.FormatBool(b)
				out = append(out, attrChange{name: name, canon: s, apply: func(a *queueAttrs) { a.opaque[name] = s }})
			}
		case "Policy", "RedriveAllowPolicy", "KmsMasterKeyId":
			if v != "" && name != "KmsMasterKeyId" && !json.Valid([]byte(v)) {
				err = errInvalidAttributeValue("Invalid value for the parameter %s: not a JSON document.", name)
				break
			}
			out = append(out, attrChange{name: name, canon: v, apply: func(a *queueAttrs) {
				if v == "" {
					delete(a.opaque, name)
				} else {
					a.opaque[name] = v
				}
			}})
		default:
			// Read-only attributes (QueueArn, ApproximateNumberOfMessages, ...)
			// are "unknown" to CreateQueue and SetQueueAttributes too.
			err = errInvalidAttributeName("Unknown Attribute %s.", name)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func parseRedrivePolicy(v string, fifo bool, lookupDLQ func(string) *queue) (*redrivePolicy, *apiError) {
	if v == "" {
		return nil, nil
	}
	// maxReceiveCount arrives as a number or as a string, depending on the tool that wrote it.
	var raw struct {
		DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
		MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, errInvalidParameterValue("Value %s for parameter RedrivePolicy is invalid. Reason: Invalid value for the parameter RedrivePolicy: not JSON (%v).", v, err)
	}
	n, err := strconv.Atoi(strings.Trim(string(raw.MaxReceiveCount), `"`))
	if raw.DeadLetterTargetArn == "" || err != nil {
		return nil, errInvalidParameterValue("Value %s for parameter RedrivePolicy is invalid. Reason: Redrive policy does not contain mandatory attribute: deadLetterTargetArn and maxReceiveCount (an integer).", v)
	}
	if n < 1 || n > 1000 {
		return nil, errInvalidParameterValue("Value %s for parameter RedrivePolicy is invalid. Reason: Invalid value for maxReceiveCount: %d, valid values are from 1 to 1000 both inclusive.", v, n)
	}
	dlq := lookupDLQ(raw.DeadLetterTargetArn)
	if dlq == nil {
		return nil, errInvalidParameterValue("Value %s for parameter RedrivePolicy is invalid. Reason: Dead-letter target does not exist.", v)
	}
	if dlq.fifo != fifo {
		return nil, errInvalidParameterValue("Value %s for parameter RedrivePolicy is invalid. Reason: Dead-letter queue must be same type of queue as the source.", v)
	}
	return &redrivePolicy{DeadLetterTargetArn: raw.DeadLetterTargetArn, MaxReceiveCount: n}, nil
}

// String renders the policy as GetQueueAttributes reports it.
func (p *redrivePolicy) String() string {
	b, _ := json.Marshal(p)
	return string(b)
}

// attributes reports the queue's attributes as GetQueueAttributes does.
func (q *queue) attributes(now time.Time) map[string]string {
	visible, inflight, delayed := q.counts(now)
	a := map[string]string{
		"ApproximateNumberOfMessages":           strconv.Itoa(visible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(inflight),
		"ApproximateNumberOfMessagesDelayed":    strconv.Itoa(delayed),
		"CreatedTimestamp":                      strconv.FormatInt(q.created.Unix(), 10),
		"LastModifiedTimestamp":                 strconv.FormatInt(q.modified.Unix(), 10),
		"QueueArn":                              q.arn,
		"VisibilityTimeout":                     strconv.Itoa(q.attrs.visibilityTimeout),
		"MaximumMessageSize":                    strconv.Itoa(q.attrs.maxMessageSize),
		"MessageRetentionPeriod":                strconv.Itoa(q.attrs.retention),
		"DelaySeconds":                          strconv.Itoa(q.attrs.delay),
		"ReceiveMessageWaitTimeSeconds":         strconv.Itoa(q.attrs.waitTime),
	}
	if q.attrs.redrive != nil {
		a["RedrivePolicy"] = q.attrs.redrive.String()
	}
	if q.fifo {
		a["FifoQueue"] = "true"
		a["ContentBasedDeduplication"] = strconv.FormatBool(q.attrs.contentDedup)
		a["DeduplicationScope"] = q.attrs.dedupScope
		a["FifoThroughputLimit"] = q.attrs.throughputLimit
	}
	for k, v := range q.attrs.opaque {
		a[k] = v
	}
	return a
}

// counts returns how many messages are visible, in flight, and delayed.
func (q *queue) counts(now time.Time) (visible, inflight, delayed int) {
	for _, m := range q.msgs {
		switch {
		case !m.visibleAt.After(now):
			visible++
		case m.receiveCount > 0:
			inflight++
		default:
			delayed++
		}
	}
	return
}

// --- message placement -------------------------------------------------

// enqueue adds a new message to the queue.
func (q *queue) enqueue(m *message, now time.Time) {
	q.nextSeq++
	m.seq = q.nextSeq
	m.heapIdx = -1
	q.msgs[m.seq] = m
	if q.fifo {
		g := q.groups[m.groupID]
		if g == nil {
			g = &group{id: m.groupID}
			q.groups[m.groupID] = g
		}
		m.group = g
		m.elem = g.msgs.PushBack(m)
		return
	}
	q.place(m, now)
}

// place files a standard-queue message under ready or pending by its visibility.
func (q *queue) place(m *message, now time.Time) {
	if m.visibleAt.After(now) {
		heap.Push(&q.pending, m)
	} else {
		m.elem = q.ready.PushBack(m)
	}
}

// remove takes a message out of the queue for good.
func (q *queue) remove(m *message) {
	delete(q.msgs, m.seq)
	if q.fifo {
		g := m.group
		g.msgs.Remove(m.elem)
		m.elem = nil
		if g.msgs.Len() == 0 {
			delete(q.groups, g.id)
		}
		return
	}
	if m.elem != nil {
		q.ready.Remove(m.elem)
		m.elem = nil
	}
	if m.heapIdx >= 0 {
		heap.Remove(&q.pending, m.heapIdx)
	}
}

// setVisibleAt changes when a message next becomes visible.
func (q *queue) setVisibleAt(m *message, t, now time.Time) {
	m.visibleAt = t
	if q.fifo {
		return
	}
	switch {
	case m.heapIdx >= 0:
		heap.Fix(&q.pending, m.heapIdx)
	case m.elem != nil && t.After(now):
		q.ready.Remove(m.elem)
		m.elem = nil
		heap.Push(&q.pending, m)
	}
}

// promote moves standard-queue messages whose visibility has come back into ready.
func (q *queue) promote(now time.Time) {
	for len(q.pending) > 0 && !q.pending[0].visibleAt.After(now) {
		m := heap.Pop(&q.pending).(*message)
		m.elem = q.ready.PushBack(m)
	}
}

// purge deletes every message.
func (q *queue) purge() {
	q.msgs = map[uint64]*message{}
	q.ready.Init()
	q.pending = nil
	if q.fifo {
		q.groups = map[string]*group{}
	}
}

// nextWake returns the earliest instant after now at which a message of q
// may become receivable, or the zero time if none is scheduled.
func (q *queue) nextWake(now time.Time) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if !q.fifo {
		if len(q.pending) > 0 {
			consider(q.pending[0].visibleAt)
		}
		return next
	}
	for _, g := range q.groups {
		// Only the received prefix and the first message after it can
		// change whether the group is receivable.
		for e := g.msgs.Front(); e != nil; e = e.Next() {
			m := e.Value.(*message)
			consider(m.visibleAt)
			if m.receiveCount == 0 {
				break
			}
		}
	}
	return next
}

// --- waiters ---------------------------------------------------------------

func (q *queue) addWaiter() *waiter {
	w := &waiter{ch: make(chan struct{}, 1)}
	w.elem = q.waiters.PushBack(w)
	return w
}

// dropWaiter unregisters w. If w had been woken but is leaving without
// trying to receive, the wake-up passes to the next waiter.
func (q *queue) dropWaiter(w *waiter, tried bool) {
	if w.woken {
		if !tried {
			q.wake(1)
		}
		return
	}
	q.waiters.Remove(w.elem)
}

// wake wakes up to n waiters, oldest first. A woken waiter that receives
// something wakes the next one (see Server.receive), so n need only be a
// lower bound of the messages that became available.
func (q *queue) wake(n int) {
	for ; n > 0 && q.waiters.Len() > 0; n-- {
		w := q.waiters.Remove(q.waiters.Front()).(*waiter)
		w.woken = true
		w.ch <- struct{}{}
	}
}

func (q *queue) wakeAll() { q.wake(q.waiters.Len()) }

// --- pending heap ----------------------------------------------------------

type pendingHeap []*message

func (h pendingHeap) Len() int { return len(h) }
func (h pendingHeap) Less(i, j int) bool {
	if h[i].visibleAt.Equal(h[j].visibleAt) {
		return h[i].seq < h[j].seq
	}
	return h[i].visibleAt.Before(h[j].visibleAt)
}
func (h pendingHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}
func (h *pendingHeap) Push(x any) {
	m := x.(*message)
	m.heapIdx = len(*h)
	*h = append(*h, m)
}
func (h *pendingHeap) Pop() any {
	old := *h
	m := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	m.heapIdx = -1
	return m
}

// queueURL builds the URL of queue name for a client that addressed base.
func queueURL(base, account, name string) string {
	return fmt.Sprintf("%s/%s/%s", strings.TrimSuffix(base, "/"), account, name)
}
