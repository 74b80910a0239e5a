package queuemode

import (
	"container/list"
	"sync"
	"time"

	"github.com/chatbench/chatbench/chat"
)

// Defaults of the gateway's backpressure (DispatcherConfig).
const (
	// DefaultMaxConvOutstanding bounds a conversation's outstanding
	// messages. A visit of the shipped day has 18 messages with jobs (the
	// median; 51 at most), so only a conversation sending far faster than
	// its jobs are answered meets it; and in the legacy design, where a
	// conversation's jobs run one after another (about 0.55 s a text on
	// the default ML profile), 32 queued messages drain in under 20 s —
	// within the gateway's 30 s shutdown drain.
	DefaultMaxConvOutstanding = 32
	// DefaultMaxUserOutstanding bounds a sender's outstanding messages
	// over all its conversations: a provider in twenty visits at once
	// stays well under it.
	DefaultMaxUserOutstanding = 256
	// DefaultOutstandingTTL is how long a message counts when not all its
	// events come back: longer than a job with every redelivery takes on
	// the defaults (5 receives × 30 s visibility).
	DefaultOutstandingTTL = 3 * time.Minute
)

// outstanding counts, per conversation and per sender, the messages the
// gateway accepted whose queued jobs have not all been answered (their
// events back through the callback): the queue path's backpressure. It
// keeps the backlog — and so the gateway's memory, when the SQS endpoint
// is embedded, and the events' lateness — bounded however fast one
// conversation or user sends. Safe for concurrent use.
//
// A message stops counting when the last of its queued jobs is answered,
// when its send fails, or after its TTL (a job left for the DLQ, or
// answered through another gateway of several sharing a broker: each
// gateway counts only what it accepted and what it is told).
type outstanding struct {
	maxConv, maxUser int // ≤ 0: no bound
	ttl              time.Duration
	m                *Metrics

	mu    sync.Mutex
	conv  map[string]int
	user  map[string]int
	msgs  map[msgKey]*pendingMsg
	order list.List // *pendingMsg, oldest first: with one TTL, soonest deadline first
}

// pendingMsg is one accepted message whose queued jobs are not all
// answered.
type pendingMsg struct {
	key      msgKey
	conv     string
	jobs     []string // queued jobs not yet answered
	deadline time.Time
	el       *list.Element
}

func newOutstanding(maxConv, maxUser int, ttl time.Duration, m *Metrics) *outstanding {
	return &outstanding{maxConv: maxConv, maxUser: maxUser, ttl: ttl, m: m,
		conv: map[string]int{}, user: map[string]int{}, msgs: map[msgKey]*pendingMsg{}}
}

// check refuses msg, with the retryable overloaded, when its conversation
// or its sender is at its bound. It takes nothing.
func (o *outstanding) check(msg *chat.Message, now time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.expire(now)
	return o.full(msg)
}

// full is check's test; o.mu is held.
func (o *outstanding) full(msg *chat.Message) error {
	if n := o.conv[msg.Conv]; o.maxConv > 0 && n >= o.maxConv {
		o.m.Overloaded.WithLabelValues(boundConversation).Inc()
		return chat.Errorf(chat.CodeOverloaded, msg.ID,
			"conversation %q has %d messages whose jobs are not answered yet (at most %d); resend the same frame later", msg.Conv, n, o.maxConv)
	}
	if n := o.user[msg.From]; o.maxUser > 0 && n >= o.maxUser {
		o.m.Overloaded.WithLabelValues(boundUser).Inc()
		return chat.Errorf(chat.CodeOverloaded, msg.ID,
			"you have %d messages whose jobs are not answered yet (at most %d); resend the same frame later", n, o.maxUser)
	}
	return nil
}

// take counts msg, whose queued jobs are jobs, as outstanding, or refuses
// it as check does. force counts it even beyond the bounds (joins and
// leaves, which are not refused for load). A message already counted (a
// resend racing its first attempt) is not counted twice.
func (o *outstanding) take(msg *chat.Message, jobs []string, force bool, now time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.expire(now)
	k := msgKey{msg.From, msg.ID}
	if o.msgs[k] != nil {
		return nil
	}
	if !force {
		if err := o.full(msg); err != nil {
			return err
		}
	}
	p := &pendingMsg{key: k, conv: msg.Conv, jobs: jobs, deadline: now.Add(o.ttl)}
	p.el = o.order.PushBack(p)
	o.msgs[k] = p
	o.conv[msg.Conv]++
	o.user[msg.From]++
	o.m.Outstanding.Set(float64(len(o.msgs)))
	return nil
}

// answered marks job of the message id from sender from answered; the
// message stops counting when it was its last. Unknown messages and jobs
// are ignored (an event repeated, or for a message another gateway
// accepted).
func (o *outstanding) answered(from, id, job string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.msgs[msgKey{from, id}]
	if p == nil {
		return
	}
	for i, j := range p.jobs {
		if j == job {
			p.jobs = append(p.jobs[:i], p.jobs[i+1:]...)
			break
		}
	}
	if len(p.jobs) == 0 {
		o.remove(p)
	}
}

// drop stops counting the message id from sender from (its send failed).
func (o *outstanding) drop(from, id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if p := o.msgs[msgKey{from, id}]; p != nil {
		o.remove(p)
	}
}

// expire stops counting the messages past their TTL; o.mu is held.
func (o *outstanding) expire(now time.Time) {
	for el := o.order.Front(); el != nil; el = o.order.Front() {
		p := el.Value.(*pendingMsg)
		if now.Before(p.deadline) {
			return
		}
		o.m.OutstandingExpired.Inc()
		o.remove(p)
	}
}

// remove forgets p; o.mu is held.
func (o *outstanding) remove(p *pendingMsg) {
	o.order.Remove(p.el)
	delete(o.msgs, p.key)
	decr(o.conv, p.conv)
	decr(o.user, p.key.from)
	o.m.Outstanding.Set(float64(len(o.msgs)))
}

// decr lowers m[k], forgetting it at zero so that the maps hold only
// conversations and users with work outstanding.
func decr(m map[string]int, k string) {
	if m[k] <= 1 {
		delete(m, k)
		return
	}
	m[k]--
}
