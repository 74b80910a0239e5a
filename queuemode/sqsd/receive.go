package sqsd

import (
	"container/heap"
	"time"
)

// ReceiveMessage, long polling and redrive.
//
// A long poll registers a waiter on its queue and sleeps until one of: a
// wake-up (a send, a visibility change to 0, a FIFO delete that may unblock
// a group, a redrive into the queue), its own timer for the queue's next
// visibility or delay deadline, the end of WaitTimeSeconds, or the end of
// the call (client gone, or Close). Wake-ups go to the oldest waiter first
// and only as many as messages became available; a waiter that receives
// something passes a wake-up on to the next, so a burst drains without
// waking every poller for every message.

func (s *Server) receiveMessage(c *call, body []byte) (any, *apiError) {
	var in receiveMessageInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	maxN := 1
	if in.MaxNumberOfMessages != nil {
		maxN = *in.MaxNumberOfMessages
		if maxN < 1 || maxN > maxBatchEntries {
			return nil, errInvalidParameterValue("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", maxN)
		}
	}
	if in.WaitTimeSeconds != nil && (*in.WaitTimeSeconds < 0 || *in.WaitTimeSeconds > maxWaitTimeSeconds) {
		return nil, errInvalidParameterValue("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", *in.WaitTimeSeconds)
	}
	if in.VisibilityTimeout != nil && (*in.VisibilityTimeout < 0 || *in.VisibilityTimeout > maxVisibilityTimeout) {
		return nil, errInvalidParameterValue("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.", *in.VisibilityTimeout)
	}
	sel := newSelection(append(in.AttributeNames, in.MessageSystemAttributeNames...), in.MessageAttributeNames)

	s.mu.Lock()
	q, err := s.queueByURL(c, in.QueueUrl)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	wait := q.attrs.waitTime
	if in.WaitTimeSeconds != nil {
		wait = *in.WaitTimeSeconds
	}
	deadline := time.Now().Add(time.Duration(wait) * time.Second)
	var (
		w     *waiter
		timer *time.Timer
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		// s.mu is held here.
		if w != nil {
			q.dropWaiter(w, true)
			w = nil
		}
		if q.deleted {
			s.mu.Unlock()
			return nil, errQueueDoesNotExist()
		}
		now := s.now()
		vt := q.attrs.visibilityTimeout
		if in.VisibilityTimeout != nil {
			vt = *in.VisibilityTimeout
		}
		msgs := s.receiveNow(q, now, maxN, vt, sel)
		if len(msgs) > 0 {
			// More may be available: let the next poller look.
			q.wake(1)
			s.mu.Unlock()
			c.messages = len(msgs)
			return receiveMessageOutput{Messages: msgs}, nil
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			s.mu.Unlock()
			return receiveMessageOutput{}, nil
		}
		d := remaining
		if next := q.nextWake(now); !next.IsZero() && next.Sub(now) < d {
			d = next.Sub(now)
		}
		w = q.addWaiter()
		if s.waitHook != nil {
			s.waitHook()
		}
		s.mu.Unlock()

		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case <-w.ch:
			// Since Go 1.23 a Reset timer never delivers a stale tick.
		case <-timer.C:
		case <-c.ctx.Done():
			s.mu.Lock()
			q.dropWaiter(w, false)
			s.mu.Unlock()
			// Close ends long polls with an empty result, as if WaitTimeSeconds had passed.
			return receiveMessageOutput{}, nil
		}
		s.mu.Lock()
	}
}

// receiveNow takes up to maxN receivable messages and puts them in flight
// for vt seconds. s.mu must be held.
func (s *Server) receiveNow(q *queue, now time.Time, maxN, vt int, sel receiveSelection) []wireMessage {
	var out []wireMessage
	if !q.fifo {
		q.promote(now)
		var copies []*message
		for len(out) < maxN && q.ready.Len() > 0 {
			m := q.ready.Remove(q.ready.Front()).(*message)
			m.elem = nil
			if s.expiredOrRedriven(q, m, now) {
				continue
			}
			s.deliver(q, m, now, vt)
			out = append(out, m.wire(sel))
			if s.dupRate > 0 && s.dupRNG.Float64() < s.dupRate {
				copies = append(copies, m.copyLeftBehind(now))
			}
		}
		// After the loop: one receive does not return both copies.
		for _, c := range copies {
			q.enqueue(c, now)
		}
		return out
	}
	// FIFO: take as many messages as possible from the oldest receivable
	// group, in order, then from the next group.
	var used []*group
	for len(out) < maxN {
		g := q.nextGroup(now, used)
		if g == nil {
			break
		}
		used = append(used, g)
		for e := g.msgs.Front(); e != nil && len(out) < maxN; {
			m := e.Value.(*message)
			next := e.Next()
			if m.visibleAt.After(now) {
				break
			}
			if !s.expiredOrRedriven(q, m, now) {
				s.deliver(q, m, now, vt)
				out = append(out, m.wire(sel))
			}
			e = next
		}
	}
	return out
}

// nextGroup returns the receivable FIFO group with the oldest head, not in
// used. A group is receivable when none of its messages is in flight and its
// head is visible (not delayed).
func (q *queue) nextGroup(now time.Time, used []*group) *group {
	var best *group
	var bestSeq uint64
	for _, g := range q.groups {
		front := g.msgs.Front()
		if front == nil {
			continue
		}
		head := front.Value.(*message)
		if best != nil && head.seq >= bestSeq {
			continue
		}
		if !q.groupReceivable(g, now) || containsGroup(used, g) {
			continue
		}
		best, bestSeq = g, head.seq
	}
	return best
}

func containsGroup(gs []*group, g *group) bool {
	for _, x := range gs {
		if x == g {
			return true
		}
	}
	return false
}

func (q *queue) groupReceivable(g *group, now time.Time) bool {
	// Received messages form a prefix of the group: if one is still in
	// flight, the whole group waits.
	for e := g.msgs.Front(); e != nil; e = e.Next() {
		m := e.Value.(*message)
		if m.receiveCount == 0 {
			break
		}
		if m.visibleAt.After(now) {
			return false
		}
	}
	return !g.msgs.Front().Value.(*message).visibleAt.After(now)
}

// deliver puts m in flight for one receive. s.mu must be held; m must not
// be in the ready list.
func (s *Server) deliver(q *queue, m *message, now time.Time, vt int) {
	m.receiveCount++
	if m.firstReceive.IsZero() {
		m.firstReceive = now
	}
	m.lastReceive = now
	m.receipt = newReceipt(q, m)
	m.visibleAt = now.Add(time.Duration(vt) * time.Second)
	if !q.fifo {
		// Pending even with vt 0, so one call cannot return it twice.
		heap.Push(&q.pending, m)
	}
}

// expiredOrRedriven drops m if it outlived the retention period, or moves
// it to the dead-letter queue if it has been received maxReceiveCount times
// already: like SQS, the move happens on the receive attempt after the last
// allowed one, not when the last visibility timeout expires. It reports
// whether m left q. s.mu must be held.
func (s *Server) expiredOrRedriven(q *queue, m *message, now time.Time) bool {
	if !m.sentAt.Add(time.Duration(q.attrs.retention) * time.Second).After(now) {
		q.remove(m)
		return true
	}
	rp := q.attrs.redrive
	if rp == nil || m.receiveCount < rp.MaxReceiveCount {
		return false
	}
	dlq := s.queueByARN(rp.DeadLetterTargetArn)
	if dlq == nil || dlq == q || dlq.fifo != q.fifo {
		// The target was deleted (or replaced by one of another kind):
		// SQS keeps the message where it is; so does sqsd.
		return false
	}
	q.remove(m)
	// The message keeps its id, body, attributes, sender and sent time
	// (retention counts from the original enqueue); its receive count starts over.
	moved := &message{
		id: m.id, body: m.body, md5Body: m.md5Body,
		attrs: m.attrs, md5Attrs: m.md5Attrs, trace: m.trace, md5Sys: m.md5Sys,
		groupID: m.groupID, dedupID: m.dedupID, senderID: m.senderID,
		sentAt: m.sentAt, dlqFrom: q.arn, visibleAt: now,
	}
	dlq.enqueue(moved, now)
	if dlq.fifo {
		moved.seqNum = sequenceNumber(moved.seq)
	}
	dlq.wake(1)
	return true
}

// copyLeftBehind returns the copy of m that an at-least-once receive left
// on another server: the same message, receivable at once, with a receive
// count and receipt handle of its own, not deleted when m is.
func (m *message) copyLeftBehind(now time.Time) *message {
	return &message{
		id: m.id, body: m.body, md5Body: m.md5Body,
		attrs: m.attrs, md5Attrs: m.md5Attrs, trace: m.trace, md5Sys: m.md5Sys,
		groupID: m.groupID, senderID: m.senderID, sentAt: m.sentAt, visibleAt: now,
	}
}
