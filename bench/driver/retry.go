package driver

import (
	"container/heap"
	"encoding/json"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat"
)

// Retrying refused frames (docs/protocol.md, "Relays, refusals and
// resending"): a frame refused with a retryable code (overloaded,
// unavailable, shutting_down, rate_limited: chat.Retryable's table, and
// flagged retryable by the server), or a send refused not_joined
// while its conversation's join awaits an answer, is sent again with the same id
// after a backoff — 50 ms doubling up to 2 s, for at most retryAttempts
// sends — instead of being counted as rejected at once. Latency stays
// measured from the scheduled instant. Config.NoResend turns it off with
// the rest of the resend protocol.
const (
	retryBase     = 50 * time.Millisecond
	retryMax      = 2 * time.Second
	retryAttempts = 10
)

type retryItem struct {
	due     time.Time
	p       *peer
	r       *trace.Record
	attempt int
}

type retryHeap []retryItem

func (h retryHeap) Len() int           { return len(h) }
func (h retryHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h retryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *retryHeap) Push(x any)        { *h = append(*h, x.(retryItem)) }
func (h *retryHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// retryable reports whether a refusal of id with code is worth a retry: a
// retryable code, or not_joined for a send whose conversation's join is
// itself still unanswered — refused for a passing cause and waiting for
// its own retry, or in flight. A client app queues such a send behind its
// join; refusing it for good would turn every retried join into a cascade
// of not_joined (docs/reliability.md, sqs-down). A code is retryable when
// the server flagged it so and the protocol's table agrees: a permanent
// refusal (message_too_large, queue_rejected, …) is never resent, whatever
// the flag says — resending it could only fail again.
func (p *peer) retryable(id, code string, flagged bool) bool {
	if flagged && chat.Retryable(code) {
		return true
	}
	if code != chat.CodeNotJoined {
		return false
	}
	p.rs.mu.Lock()
	defer p.rs.mu.Unlock()
	r, ok := p.rs.pending[id]
	if !ok {
		return false
	}
	for _, q := range p.rs.pending {
		if q.Type == chat.OpJoin && q.Conv == r.Conv {
			return true
		}
	}
	return false
}

// retryLater schedules r's next send after a refusal; it reports false
// when r has used its attempts (the refusal then stands).
func (s *scheduler) retryLater(p *peer, id string) bool {
	p.rs.mu.Lock()
	r, ok := p.rs.pending[id]
	if ok {
		if p.rs.attempts == nil {
			p.rs.attempts = map[string]int{}
		}
		p.rs.attempts[id]++
	}
	attempt := p.rs.attempts[id]
	p.rs.mu.Unlock()
	if !ok || attempt >= retryAttempts {
		return false
	}
	wait := min(retryBase<<(attempt-1), retryMax)
	s.retryMu.Lock()
	heap.Push(&s.retries, retryItem{due: time.Now().Add(wait), p: p, r: r, attempt: attempt})
	s.retryMu.Unlock()
	select {
	case s.retryWake <- struct{}{}:
	default:
	}
	s.retried.Add(1)
	return true
}

// runRetries sends due retries until stop is closed.
func (s *scheduler) runRetries() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.retryMu.Lock()
		var next time.Time
		var due []retryItem
		now := time.Now()
		for s.retries.Len() > 0 {
			if s.retries[0].due.After(now) {
				next = s.retries[0].due
				break
			}
			due = append(due, heap.Pop(&s.retries).(retryItem))
		}
		s.retryMu.Unlock()
		for _, it := range due {
			s.resendOne(it.p, it.r)
		}
		if len(due) > 0 {
			continue
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = time.Until(next)
		}
		timer.Reset(wait)
		select {
		case <-s.stop:
			return
		case <-s.retryWake:
		case <-timer.C:
		}
	}
}

// resendOne writes r's frame again on p's current connection (a dead one
// is left to the reconnect, which resends every unanswered message), unless
// r was answered meanwhile (resent after a reconnect, or refused by a
// close).
func (s *scheduler) resendOne(p *peer, r *trace.Record) {
	if !p.unanswered(r.ID) {
		return
	}
	f := r.Frame()
	f.SentAt = time.Now().UnixMicro()
	b, _ := json.Marshal(&f) // cannot fail
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.dead.Load() {
		return
	}
	_ = p.ws.SetWriteDeadline(time.Now().Add(writeDeadline))
	if p.ws.WriteMessage(websocket.TextMessage, b) != nil {
		p.dead.Store(true)
	}
}
