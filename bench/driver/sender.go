package driver

import (
	"context"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat"
)

// runAll splits recs among n senders (plan) and runs them until done or
// ctx ends.
func (s *scheduler) runAll(ctx context.Context, recs []trace.Record, n int) {
	var wg sync.WaitGroup
	for _, part := range s.plan(recs, n) {
		wg.Go(func() { s.run(ctx, part) })
	}
	wg.Wait()
}

// run sends the planned records, each at its instant.
func (s *scheduler) run(ctx context.Context, plan []planned) {
	nice := pinThread() // never unlocked: the thread retires with this goroutine
	s.niceOnce.Do(func() { s.nice = nice })
	if cpu0, wait0, ok := threadTimes(); ok {
		defer func() {
			if cpu, wait, ok := threadTimes(); ok {
				s.senderCPU.Add(int64(cpu - cpu0))
				s.senderWait.Add(int64(wait - wait0))
			}
		}()
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var buf []byte
	for k := range plan {
		pl := &plan[k]
		due := s.start.Add(pl.at)
		if !s.waitUntil(ctx, timer, due) {
			return
		}
		s.scheduled.Add(1)
		if s.holds(pl) {
			// Sent by releaseHeld (hold.go). What the user was owed may
			// have arrived since holds asked, with no frame to come after.
			s.releaseIfHeld()
			continue
		}
		buf = s.send(pl, due, buf)
	}
}

// send writes pl's frame now, encoding it into buf (returned for reuse);
// due is its scheduled instant (zero for a held leave, which is left out of
// the schedule lag).
func (s *scheduler) send(pl *planned, due time.Time, buf []byte) []byte {
	p, r := pl.p, pl.r
	f := r.Frame()
	p.wmu.Lock()
	now := time.Now()
	f.SentAt = now.UnixMicro()
	buf = chat.AppendClientFrame(buf[:0], &f)
	s.led.SentHandle(pl.led, now)
	if !s.cfg.NoResend {
		// Until answered, a reconnect resends it (resend.go); while the
		// connection is down it waits for that.
		p.track(r)
	}
	if now.Add(writeDeadline - time.Second).After(p.deadline) {
		// Moving the deadline is a call into the runtime's poller; once a
		// second per connection is enough to keep it 4–5 s ahead.
		p.deadline = now.Add(writeDeadline)
		_ = p.ws.SetWriteDeadline(p.deadline)
	}
	if p.dead.Load() || p.ws.WriteMessage(websocket.TextMessage, buf) != nil {
		p.dead.Store(true)
		if s.cfg.NoResend {
			s.led.Rejected(r.User, r.ID, "send_failed")
		} else {
			p.drop() // the reader notices and reconnects
		}
	}
	p.wmu.Unlock()
	s.sent.Add(1)
	s.mu.Lock()
	if !due.IsZero() && !due.Before(s.warmEnd) {
		_ = s.lag.RecordValue(max(0, min(now.Sub(due).Microseconds(), int64(time.Hour/time.Microsecond))))
	}
	if now.After(s.lastSend) {
		s.lastSend = now
	}
	s.mu.Unlock()
	return buf
}

// writeDeadline is how long a send may block before its connection
// counts as dead.
const writeDeadline = 5 * time.Second

// coarse is how far ahead of a message the scheduler stops relying on the
// runtime's timers, which can fire a millisecond late, and sleeps its own
// thread precisely instead.
const coarse = 2 * time.Millisecond

// waitUntil waits for due; it reports false when ctx ended first.
func (s *scheduler) waitUntil(ctx context.Context, timer *time.Timer, due time.Time) bool {
	for {
		d := time.Until(due)
		switch {
		case ctx.Err() != nil:
			return false
		case d <= 0:
			return true
		case d > coarse:
			timer.Reset(d - coarse/2)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return false
			}
		default:
			preciseSleep(max(d, s.cfg.Quantum))
		}
	}
}
